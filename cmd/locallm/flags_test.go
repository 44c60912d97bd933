package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEveryFlagRefusesBadValues sweeps every flag of every command with
// values outside what it accepts: each must fail with exit status 2 and one
// line on stderr that names the flag. A flag is covered by its rule's bad
// values (rules.go), by its type (bool, int, float) or by a case in
// badStrings below; a flag that is none of these fails the test, so a new
// flag must say how it is checked.
func TestEveryFlagRefusesBadValues(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	writeLines(t, in, `{"id": 1, "prompt": "x"}`)
	fake := filepath.Join(dir, "fake.gguf") // never loaded: the checks come first
	require.NoError(t, os.WriteFile(fake, []byte("not a model"), 0o644))
	missing := filepath.Join(dir, "missing")
	nodir := filepath.Join(dir, "no", "such", "dir", "out")
	out := filepath.Join(dir, "out.jsonl")
	npy := filepath.Join(dir, "out.npy")

	// badStrings are the string flags that no rule checks (paths, mostly),
	// with a command line that reaches their check.
	badStrings := map[string][]string{
		"generate --model":       {"-p", "x", "--model", missing},
		"generate --messages":    {"-m", fake, "--messages", missing},
		"generate --schema":      {"-m", fake, "-p", "x", "--schema", missing},
		"generate --grammar":     {"-m", fake, "-p", "x", "--grammar", missing},
		"generate --regex":       {"-m", fake, "-p", "x", "--regex", "(unclosed"},
		"generate --input":       {"-m", fake, "-o", out, "--input", missing},
		"generate --output":      {"-m", fake, "-i", in, "--output", nodir},
		"generate --config":      {"--config", missing},
		"generate --backend-dir": {"-m", fake, "-p", "x", "--backend-dir", missing},
		"embed --model":          {"-i", in, "-o", npy, "--model", missing},
		"embed --input":          {"-m", fake, "-o", npy, "--input", missing},
		"embed --output":         {"-m", fake, "-i", in, "--output", nodir},
		"embed --plot":           {"-m", fake, "-i", in, "-o", npy, "--plot", "pca.bmp"},
		"embed --backend-dir":    {"-m", fake, "-i", in, "-o", npy, "--backend-dir", missing},
		"hidden --model":         {"-p", "x", "-o", npy, "--model", missing},
		"hidden --input":         {"-m", fake, "-o", npy, "--input", missing},
		"hidden --output":        {"-m", fake, "-p", "x", "--output", nodir},
		"hidden --layers":        {"-m", fake, "-p", "x", "-o", npy, "--layers", "one,two"},
		"hidden --backend-dir":   {"-m", fake, "-p", "x", "-o", npy, "--backend-dir", missing},
		"grammar --schema":       {"--schema", missing},
		"info --model":           {"--model", missing},
		"info --backend-dir":     {"--devices", "--backend-dir", missing},
		"quantize --model":       {"-o", out, "--model", missing},
		"quantize --output":      {"-m", fake, "--output", nodir},
		"merge --output":         {in, "--output", nodir},
		"merge --input":          {in, "-o", out, "--input", missing},
		"testmodel --output":     {"--output", nodir},
		"testmodel --vocab":      {"-o", out, "--vocab", missing},
		"serve --model":          {"--model", missing},
		"serve --host":           {"-m", fake, "--host", "not a host!"},
		"serve --backend-dir":    {"-m", fake, "--backend-dir", missing},
	}
	// freeText are the flags that take any text.
	freeText := map[string]bool{
		"generate --prompt": true, "hidden --prompt": true,
		"serve --api-key": true, "serve --model-id": true,
	}

	root := newRoot(io.Discard, io.Discard)
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			continue
		}
		fs := pflag.NewFlagSet("all", pflag.ContinueOnError)
		c.InitDefaultHelpFlag()
		fs.AddFlagSet(c.Flags())
		fs.AddFlagSet(c.InheritedFlags())
		fs.VisitAll(func(f *pflag.Flag) {
			name := c.Name() + " --" + f.Name
			var cases [][]string
			bads := f.Annotations[badAnnotation]
			switch {
			case len(bads) > 0:
				for _, b := range bads {
					cases = append(cases, []string{"--" + f.Name, b})
				}
			case badStrings[name] != nil:
				cases = append(cases, badStrings[name])
			case f.Value.Type() == "bool":
				cases = append(cases, []string{"--" + f.Name + "=maybe"})
			case f.Value.Type() == "int" || f.Value.Type() == "int64" || f.Value.Type() == "float64":
				cases = append(cases, []string{"--" + f.Name, "x"}, []string{"--" + f.Name, "1e999"})
			case freeText[name]:
			default:
				t.Errorf("%s: no bad values to try: give it a rule, or a case in badStrings", name)
			}
			for _, args := range cases {
				t.Run(name+"="+strings.Join(args, " "), func(t *testing.T) {
					code, _, errText := cli(t, append(commandPath(c), args...)...)
					assert.Equal(t, 2, code, errText)
					assert.Equal(t, 1, strings.Count(errText, "\n"), "one line: %q", errText)
					assert.Contains(t, errText, "--"+f.Name, "the message names the flag")
				})
			}
		})
	}
}

func commandPath(c *cobra.Command) []string {
	return strings.Fields(strings.TrimPrefix(c.CommandPath(), "locallm"))
}

// TestRuleEdgesAccepted checks that the flags take the edges of their
// ranges, so that the rules are no stricter than the help says.
func TestRuleEdgesAccepted(t *testing.T) {
	for _, args := range [][]string{
		{"--top-p", "1", "--top-p", "1e-9", "--min-p", "0", "--min-p", "1", "--typical-p", "1"},
		{"--temperature", "0", "--repeat-penalty", "1e-9", "--presence-penalty", "-2", "--frequency-penalty", "2"},
		{"--max-tokens", "1", "--max-tokens", "1048576", "--num-generations", "1", "--num-generations", "65536"},
		{"--top-k", "0", "--penalty-last-n", "-1", "--seed", "-5", "--seed", "0", "--retries", "100", "--closing-tokens", "0", "--regex", "a+"},
		{"--threads", "1", "--threads", "1024", "--parallel", "256", "--ctx", "1", "--gpu-layers", "-1"},
		{"--cache-type", "q8_0", "--flash-attn", "off", "--chat-template", "chatml", "--shard", "3/4", "--stop", "\n"},
	} {
		code, out, errText := cli(t, append([]string{"generate", "--dump-config", "-m", "m.gguf"}, args...)...)
		assert.Equal(t, 0, code, "%v: %s", args, errText)
		assert.NotEmpty(t, out)
	}
}

func TestParseLayers(t *testing.T) {
	for in, want := range map[string][]int{"-1": {-1}, "0, 2,-1": {0, 2, -1}, "1,1": {1, 1}} {
		got, err := parseLayers(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", ",", "1,,2", "1,", "one", "1.5"} {
		_, err := parseLayers(in)
		assert.Error(t, err, "%q", in)
	}
}
