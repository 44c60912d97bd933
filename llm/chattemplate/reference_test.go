package chattemplate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp/gguf"
	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/chattemplate"
)

// conversation is one entry of testdata/conversations.json: messages in
// OpenAI's JSON form and the other apply_chat_template arguments.
type conversation struct {
	Name                 string                     `json:"name"`
	Messages             []llm.Message              `json:"messages"`
	Tools                []llm.Tool                 `json:"tools"`
	Documents            []json.RawMessage          `json:"documents"`
	AddGenerationPrompt  bool                       `json:"add_generation_prompt"`
	ContinueFinalMessage bool                       `json:"continue_final_message"`
	Vars                 map[string]json.RawMessage `json:"vars"`
}

func loadConversations(t testing.TB) []conversation {
	data, err := os.ReadFile("testdata/conversations.json")
	require.NoError(t, err)
	var convs []conversation
	require.NoError(t, json.Unmarshal(data, &convs))
	return convs
}

// The pinned clock and token texts both renderers use.
var (
	refNow = time.Date(2024, 7, 26, 10, 30, 0, 0, time.UTC)
	refBOS = "<s>"
	refEOS = "</s>"
)

func (c *conversation) input() chattemplate.Input {
	in := chattemplate.Input{
		Messages: c.Messages, Tools: c.Tools, Documents: c.Documents,
		AddGenerationPrompt: c.AddGenerationPrompt, ContinueFinalMessage: c.ContinueFinalMessage,
		BOSToken: refBOS, EOSToken: refEOS, Now: refNow,
	}
	if len(c.Vars) > 0 {
		in.Vars = map[string]any{}
		for k, v := range c.Vars {
			in.Vars[k] = v
		}
	}
	return in
}

// refCase is one render asked of testdata/render.py.
type refCase struct {
	Template             string                     `json:"template"`
	Messages             []llm.Message              `json:"messages"`
	Tools                []llm.Tool                 `json:"tools"`
	Documents            []json.RawMessage          `json:"documents"`
	AddGenerationPrompt  bool                       `json:"add_generation_prompt"`
	ContinueFinalMessage bool                       `json:"continue_final_message"`
	BOSToken             string                     `json:"bos_token"`
	EOSToken             string                     `json:"eos_token"`
	Now                  string                     `json:"now"`
	Vars                 map[string]json.RawMessage `json:"vars,omitempty"`
}

type refResult struct {
	Output *string `json:"output"`
	Error  *string `json:"error"`
}

// python returns the Python interpreter with jinja2, or skips the test
// (fails it in CI, which installs python3-jinja2).
func python(t *testing.T) string {
	py, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(py, "-c", "import jinja2").Run()
	}
	if err != nil {
		msg := fmt.Sprintf("the reference renderer needs python3 with jinja2 (apt-get install python3-jinja2): %v", err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

// renderReference renders every template × conversation with jinja2.
func renderReference(t *testing.T, templates map[string]string, names []string, convs []conversation) [][]refResult {
	var cases []refCase
	for _, n := range names {
		for _, c := range convs {
			cases = append(cases, refCase{
				Template: n, Messages: c.Messages, Tools: c.Tools, Documents: c.Documents,
				AddGenerationPrompt: c.AddGenerationPrompt, ContinueFinalMessage: c.ContinueFinalMessage,
				BOSToken: refBOS, EOSToken: refEOS, Now: refNow.Format("2006-01-02T15:04:05"), Vars: c.Vars,
			})
		}
	}
	req, err := json.Marshal(map[string]any{"templates": templates, "cases": cases})
	require.NoError(t, err)
	cmd := exec.Command(python(t), "testdata/render.py")
	cmd.Stdin = bytes.NewReader(req)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "render.py: %s", stderr.String())
	var flat []refResult
	require.NoError(t, json.Unmarshal(out, &flat))
	require.Len(t, flat, len(cases))
	res := make([][]refResult, len(names))
	for i := range names {
		res[i] = flat[i*len(convs) : (i+1)*len(convs)]
	}
	return res
}

// templateSet is the templates of one source, by name.
type templateSet struct {
	names   []string
	sources map[string]string
}

func readTemplateDir(t *testing.T, dir string) templateSet {
	files, err := filepath.Glob(filepath.Join(dir, "*.jinja"))
	require.NoError(t, err)
	sort.Strings(files)
	set := templateSet{sources: map[string]string{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		n := strings.TrimSuffix(filepath.Base(f), ".jinja")
		set.names = append(set.names, n)
		set.sources[n] = string(data)
	}
	return set
}

// TestReferenceOwn compares the templates written for this package, which
// exercise the features real templates use, with jinja2: every render
// byte-identical, every error an error on both sides.
func TestReferenceOwn(t *testing.T) {
	set := readTemplateDir(t, "testdata/templates")
	require.NotEmpty(t, set.names)
	compareWithReference(t, set, true)
}

// TestReferencePhi3 compares the chat template carried by the phi-3 vocab
// file in ../shared.
func TestReferencePhi3(t *testing.T) {
	path := "../../../shared/vocab/ggml-vocab-phi-3.gguf"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("shared data absent: %v", err)
	}
	f, err := gguf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	src, err := f.String("tokenizer.chat_template")
	require.NoError(t, err)
	compareWithReference(t, templateSet{names: []string{"phi-3"}, sources: map[string]string{"phi-3": src}}, true)
}

// TestReferenceReal compares real model templates, kept outside the
// repository: every *.jinja in $LOCALLM_CHAT_TEMPLATES, or else in
// ../shared/chat-templates. Renders must be byte-identical and templates
// that raise_exception must raise the same message; where jinja2 fails
// otherwise (a template's own bug met by a conversation it was not written
// for: iterating None, adding a dict to a string, ...) and the engine
// renders, the difference is reported, not failed (see the package doc).
func TestReferenceReal(t *testing.T) {
	dir := os.Getenv("LOCALLM_CHAT_TEMPLATES")
	if dir == "" {
		dir = "../../../shared/chat-templates"
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Skipf("no real chat templates: set LOCALLM_CHAT_TEMPLATES to a directory of *.jinja files (or add ../shared/chat-templates)")
	}
	set := readTemplateDir(t, dir)
	if len(set.names) == 0 {
		t.Skipf("no *.jinja files in %s", dir)
	}
	compareWithReference(t, set, false)
}

// knownDifferences are the renders of real templates where the engine
// differs from jinja2, with why (see the package doc).
var knownDifferences = map[string]string{
	// "..."|safe + text: markupsafe escapes text added to a safe string,
	// so jinja2 writes the tools' JSON with &#34; for each quote.
	"meetkai-functionary-medium-v3.1/tools": "no markupsafe semantics",
}

// compareWithReference renders every template of set with every
// conversation, here and with jinja2, and compares. strictErrors fails a
// case where only jinja2 fails.
func compareWithReference(t *testing.T, set templateSet, strictErrors bool) {
	convs := loadConversations(t)
	want := renderReference(t, set.sources, set.names, convs)
	var identical, bothRaise, total, lenient int
	for i, name := range set.names {
		tmpl, parseErr := chattemplate.Parse(name, set.sources[name])
		t.Run(name, func(t *testing.T) {
			var ok, n int
			for j, c := range convs {
				w := want[i][j]
				n++
				var got string
				err := parseErr
				if err == nil {
					got, err = tmpl.Render(c.input())
				}
				switch {
				case w.Error != nil && err != nil:
					// Both refuse. A raise_exception must say the same thing.
					if msg, found := strings.CutPrefix(*w.Error, "TemplateError: "); found {
						var te *chattemplate.Error
						if !errors.As(err, &te) || te.Raised != msg {
							t.Errorf("%s: jinja2 raised %q, here: %v", c.Name, msg, err)
							continue
						}
					}
					ok++
					bothRaise++
				case w.Error != nil:
					if strictErrors || strings.HasPrefix(*w.Error, "TemplateError: ") {
						t.Errorf("%s: jinja2 fails (%s), here it renders %q", c.Name, *w.Error, got)
						continue
					}
					lenient++
					t.Logf("%s: jinja2 fails (%s), the engine renders", c.Name, *w.Error)
				case err != nil:
					t.Errorf("%s: %v; jinja2 renders %q", c.Name, err, *w.Output)
				case got != *w.Output && knownDifferences[name+"/"+c.Name] != "":
					t.Logf("%s: known difference from jinja2 (%s)", c.Name, knownDifferences[name+"/"+c.Name])
				case got != *w.Output:
					t.Errorf("%s: differs from jinja2 at byte %d\n got: %q\nwant: %q", c.Name, firstDiff(got, *w.Output), got, *w.Output)
				default:
					ok++
				}
			}
			identical += ok
			total += n
			if ok < n {
				t.Logf("%d of %d conversations identical", ok, n)
			}
		})
	}
	t.Logf("%d templates × %d conversations: %d of %d identical to jinja2 (%d of them errors on both sides); %d where only jinja2 fails",
		len(set.names), len(convs), identical, total, bothRaise, lenient)
}

func firstDiff(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}
