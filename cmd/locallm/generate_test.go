package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llm"
)

// TestGenerateTextEndsWithNewline: the text is followed by a newline, so
// that the --stats line (or the shell's prompt) starts on a line of its own,
// and it is the text the JSON form of the same generation holds.
func TestGenerateTextEndsWithNewline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model")
	}
	model := tinyModel(t)
	args := []string{"generate", "-m", model, "-t", "1", "-p", "Once upon a time", "--max-tokens", "12", "--temperature", "0"}
	code, text, errText := cli(t, args...)
	require.Equal(t, 0, code, errText)
	require.True(t, strings.HasSuffix(text, "\n"), "%q", text)
	assert.True(t, utf8.ValidString(text))

	// The same generation, twice, as JSON lines.
	code, lines, errText := cli(t, append(args, "--num-generations", "2")...)
	require.Equal(t, 0, code, errText)
	var first struct{ Text string }
	require.NoError(t, json.Unmarshal([]byte(strings.SplitN(lines, "\n", 2)[0]), &first))
	assert.Equal(t, first.Text+"\n", text)
}

// TestTextWriterUTF8 checks that streamed text is written as encoding/json
// writes it: a character split across chunks whole, stray bytes as U+FFFD.
func TestTextWriterUTF8(t *testing.T) {
	for _, chunks := range [][]string{
		{"caf\xc3", "\xa9 ok"},
		{"a\xe2", "\x82", "\xac b"},
		{"cut \xe2\x82"},
		{"bad \xff\xfe byte", " then \xc3"},
		{"\xf0\x9f", "\x98", "\x80!"},
	} {
		var b bytes.Buffer
		w := newTextWriter(&b)
		for _, c := range chunks {
			w.write(c)
		}
		final := strings.Join(chunks, "")
		w.finish(final)
		js, err := json.Marshal(final)
		require.NoError(t, err)
		var viaJSON string
		require.NoError(t, json.Unmarshal(js, &viaJSON))
		assert.Equal(t, viaJSON+"\n", b.String(), "%q", chunks)
		assert.True(t, utf8.Valid(b.Bytes()))
	}
	// Text the stream did not carry (appended at the end) is written too.
	var b bytes.Buffer
	w := newTextWriter(&b)
	w.write(`{"a": "x`)
	w.finish(`{"a": "x"}`)
	assert.Equal(t, `{"a": "x"}`+"\n", b.String())
}

// TestStatsLineFields: the --stats line has the same fields with and
// without a schema, the rates included.
func TestStatsLineFields(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model")
	}
	model := tinyModel(t)
	schema := filepath.Join(t.TempDir(), "s.json")
	require.NoError(t, os.WriteFile(schema, []byte(`{"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}`), 0o644))
	fields := func(args ...string) []string {
		t.Helper()
		code, _, errText := cli(t, append([]string{"generate", "-m", model, "-t", "1", "-p", "Hello", "--max-tokens", "6", "--temperature", "0", "--stats"}, args...)...)
		require.Equal(t, 0, code, errText)
		lines := strings.Split(strings.TrimSpace(errText), "\n")
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &m), errText)
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	}
	plain := fields()
	assert.Equal(t, []string{"cached_tokens", "closing_tokens", "decode_tokens_per_s", "finish_reason", "generate_s",
		"generated_tokens", "prefill_tokens_per_s", "prompt_tokens", "wall_s"}, plain)
	assert.Equal(t, plain, fields("--schema", schema))
	assert.Equal(t, plain, fields("--schema", schema, "--closing-tokens", "40"))
	assert.Equal(t, plain, fields("--num-generations", "2"))
}

func TestPromptFromStdin(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model in a subprocess")
	}
	model := tinyModel(t)
	args := []string{"generate", "-m", model, "-t", "1", "--max-tokens", "6", "--temperature", "0"}
	want, err := cliCommand(append(args, "-p", "Once upon a time")...).Output()
	require.NoError(t, err)
	cmd := cliCommand(append(args, "-p", "-")...)
	cmd.Stdin = strings.NewReader("Once upon a time")
	got, err := cmd.Output()
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
}

func TestMessagesFile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model")
	}
	model := tinyModel(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, json string
		code       int
		err        string
	}{
		{"array", `[{"role": "user", "content": "Hi"}]`, 0, ""},
		{"request body", `{"model": "x", "messages": [{"role": "user", "content": "Hi"}]}`, 0, ""},
		{"object", `{"role": "user", "content": "Hi"}`, 2, `want an array of messages [{"role": ..., "content": ...}, ...], or an object with "messages", got an object without`},
		{"string", `"Hi"`, 2, `want an array of messages [{"role": ..., "content": ...}, ...], got a string`},
		{"no content", `[{"role": "user"}]`, 2, "message 0: user message has no content"},
		{"bad content", `[{"role": "user", "content": 3}]`, 2, "content: want a string, got a number"},
		{"not JSON", `[{"role": "user",`, 2, "not valid JSON"},
		{"empty", `[]`, 2, "no messages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".json")
			require.NoError(t, os.WriteFile(path, []byte(tc.json), 0o644))
			code, _, errText := cli(t, "generate", "-m", model, "-t", "1", "--messages", path, "--max-tokens", "2")
			assert.Equal(t, tc.code, code, errText)
			assert.Contains(t, errText, tc.err)
			assert.NotContains(t, errText, "Go value")
		})
	}
}

func TestHiddenLayerOutOfRange(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the tiny model")
	}
	model := tinyModel(t)
	out := filepath.Join(t.TempDir(), "h.npy")
	code, _, errText := cli(t, "hidden", "-m", model, "-p", "x", "-o", out, "--layers", "-1,99")
	assert.Equal(t, 2, code)
	assert.Equal(t, "locallm hidden: --layers -1,99: want layer numbers from -3 to 2: this model has 2 blocks; 0 is the token embeddings, 2 (or -1) the final normed output\n", errText)
	code, _, errText = cli(t, "embed", "-m", model, "-i", writeTemp(t, `{"id": 1, "prompt": "x"}`), "-o", out, "--layer", "7")
	assert.Equal(t, 2, code)
	assert.Contains(t, errText, "--layer 7: want layer numbers from -3 to 2")
}

func writeTemp(t *testing.T, lines ...string) string {
	path := filepath.Join(t.TempDir(), "rows.jsonl")
	writeLines(t, path, lines...)
	return path
}

// TestRowsAndRunFilesFollowTheFlagsRules: a row's fields and a run file's
// keys are checked with the flags' rules and named as they are written.
func TestRowsAndRunFilesFollowTheFlagsRules(t *testing.T) {
	for _, tc := range []struct{ row, err string }{
		{`{"id": 1, "prompt": "p", "generation_params": {"top_p": 0}}`, "generation_params.top_p = 0: want a number in (0, 1]"},
		{`{"id": 1, "prompt": "p", "generation_params": {"max_new_tokens": 0}}`, "generation_params.max_new_tokens = 0: want an integer from 1 to 1048576"},
		{`{"id": 1, "prompt": "p", "generation_params": {"temperature": -1}}`, "generation_params.temperature = -1: want a number >= 0"},
		{`{"id": 1, "prompt": "p", "generation_params": {"stop": ["a", ""]}}`, `generation_params.stop[1] = "": want a non-empty string`},
		{`{"id": 1, "prompt": "p", "generation_params": {"top_p": "high"}}`, "generation_params.top_p: want a number, got a string"},
		{`{"id": 1, "prompt": "p", "generation_params": {"top_pp": 1}}`, `generation_params: unknown field "top_pp"`},
		{`{"id": 1, "prompt": "p", "num_generations": -3}`, "num_generations = -3: want an integer from 1 to 65536"},
		{`{"id": 1, "prompt": "p", "structured_output": {"regex": "a+", "retries": 500}}`, "structured_output.retries = 500: want an integer from 0 to 100"},
		{`{"id": 1, "prompt": "p", "structured_output": {"regex": "a+", "closing_tokens": -1}}`, "structured_output.closing_tokens = -1"},
		{`{"id": 1, "prompt": "p", "structured_output": {"lenient": true}}`, "structured_output: want exactly one of schema, gbnf and regex"},
		{`{"id": 1, "messages": {"role": "user", "content": "hi"}}`, `messages: want an array of messages [{"role": ..., "content": ...}, ...], got an object`},
		{`{"id": 1, "messages": [{"role": "user"}]}`, "user message has no content"},
		{`[1, 2]`, "want an object, got an array"},
	} {
		_, err := parseRow([]byte(tc.row), llm.GenerationParams{}, 1)
		if assert.Error(t, err, tc.row) {
			assert.Contains(t, err.Error(), tc.err, tc.row)
			assert.NotContains(t, err.Error(), "Go value", tc.row)
		}
	}

	for _, tc := range []struct{ yaml, err string }{
		{"llm: {type: llamacpp}\ngeneration: {top_p: 0}", "generation.top_p = 0: want a number in (0, 1]"},
		{"llm: {type: llamacpp}\ngeneration: {top_p: high}", `line 2: want a number, got the string "high"`},
		{"llm: {type: llamacpp}\nnum_generations: 0", "num_generations = 0: want an integer from 1 to 65536"},
		{"llm: {type: llamacpp}\nshard: 4/4", "shard = \"4/4\": want I/N with 0 <= I < N"},
		{"llm: {type: llamacpp, config: {context: {threads: 0}}}", "llm.config.context.threads = 0: want an integer from 1 to 1024"},
		{"llm: {type: llamacpp, config: {context: {cache_type: f8}}}", `llm.config.context.cache_type = "f8": want one of f16, f32, q8_0`},
		{"llm: {type: llamacpp, config: {chat_template: not a name}}", `llm.config.chat_template = "not a name": want a template name`},
		{"llm: {type: llamacpp, config: {structured_output: {regex: a, retries: -1}}}", "llm.config.structured_output.retries = -1"},
		{"llm: {type: llamacpp, config: {context: {threads: many}}}", "llm.config.context.threads: want an integer, got a string"},
	} {
		_, err := parseRunFile([]byte(tc.yaml))
		if assert.Error(t, err, tc.yaml) {
			assert.Contains(t, err.Error(), tc.err, tc.yaml)
			assert.NotContains(t, err.Error(), "Go ", tc.yaml)
			assert.NotContains(t, err.Error(), "\n", tc.yaml)
		}
	}
}

// TestRunFilePathsRelativeToTheFile: a run file's relative paths are read
// from its directory, whatever the working directory.
func TestRunFilePathsRelativeToTheFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "job"), 0o755))
	path := filepath.Join(dir, "job", "job.yaml")
	require.NoError(t, os.WriteFile(path, []byte("llm: {type: llamacpp, config: {model_path: ../models/m.gguf}}\ninput: rows.jsonl\noutput: /abs/out.jsonl\n"), 0o644))
	s, err := loadRunFile(path)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "models", "m.gguf"), s.Model.ModelPath)
	assert.Equal(t, filepath.Join(dir, "job", "rows.jsonl"), s.Input)
	assert.Equal(t, "/abs/out.jsonl", s.Output)
}

// TestResumeHintNamesTheBinary: after Ctrl-C, the command to resume is the
// one that was run, with the binary's path as it was typed.
func TestResumeHintNamesTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model in a subprocess")
	}
	model := tinyModel(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.jsonl"), filepath.Join(dir, "out.jsonl")
	var rows []string
	for i := range 400 {
		b, _ := json.Marshal(map[string]any{"id": i, "prompt": "Once upon a time"})
		rows = append(rows, string(b))
	}
	writeLines(t, in, rows...)
	cmd := cliCommand("generate", "-m", model, "-t", "1", "--parallel", "2", "-i", in, "-o", out, "--max-tokens", "64", "--ignore-eos", "-q")
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := os.Stat(out); err == nil && st.Size() > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	require.Error(t, err)
	assert.Equal(t, 130, cmd.ProcessState.ExitCode(), errBuf.String())
	assert.Contains(t, errBuf.String(), "to resume, run the same command again:\n  "+shellQuote(cmd.Args[:1]))
}

func TestQuantizeCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("quantises the tiny model")
	}
	model := tinyModel(t)
	dir := t.TempDir()
	// Flags after the arguments, and the default model's shapes quantise.
	code, _, errText := cli(t, "quantize", "-m", model, "-o", filepath.Join(dir, "q8.gguf"), "--type", "q8_0", "-t", "1")
	require.Equal(t, 0, code, errText)
	code, _, errText = cli(t, "quantize", "--model", model, "--output", filepath.Join(dir, "q4.gguf"), "--type", "q4_0")
	require.Equal(t, 0, code, errText)

	odd := filepath.Join(dir, "ff176.gguf")
	code, _, errText = cli(t, "testmodel", "-o", odd, "--ff", "176")
	require.Equal(t, 0, code, errText)
	code, _, errText = cli(t, "quantize", "-m", odd, "-o", filepath.Join(dir, "x.gguf"), "--type", "q8_0")
	assert.Equal(t, 2, code)
	assert.Equal(t, `locallm quantize: --type q8_0: tensor "blk.0.ffn_down.weight" of shape [176 64] has rows of 176 elements, not a multiple of the block size 32`+"\n", errText)
}

func TestTestmodelHelpStatesDefaults(t *testing.T) {
	code, out, _ := cli(t, "testmodel", "--help")
	require.Equal(t, 0, code)
	assert.NotContains(t, out, "tinyllama.Config")
	assert.Contains(t, out, "(default 192)")
}

// TestChatTemplateNames: --chat-template takes the model's named templates,
// llama.cpp's built-ins and Jinja text; another word is refused with the
// names this model has, before it loads.
func TestChatTemplateNames(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model")
	}
	model := tinyModel(t)
	msgs := filepath.Join(t.TempDir(), "chat.json")
	require.NoError(t, os.WriteFile(msgs, []byte(`[{"role": "user", "content": "Hi"}]`), 0o644))
	for _, tc := range []struct {
		template string
		code     int
		err      string
	}{
		{"llama3", 0, ""},
		{"{% for m in messages %}{{ m.content }}{% endfor %}", 0, ""},
		{"nonsense", 2, "--chat-template nonsense: want a template name (one of the model's tokenizer.chat_template.NAME, or a llama.cpp built-in: locallm info --chat-templates) or Jinja template text; this model has no named templates"},
		{"{% if %}", 2, `--chat-template "{% if %}": want a template name`},
	} {
		code, _, errText := cli(t, "generate", "-m", model, "-t", "1", "--messages", msgs, "--max-tokens", "2", "--chat-template", tc.template)
		assert.Equal(t, tc.code, code, "%s: %s", tc.template, errText)
		assert.Contains(t, errText, tc.err, tc.template)
	}
}
