package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCommandLineConvention checks the one convention every command
// follows: flags anywhere, two dashes for long flags, one line and exit
// status 2 for a bad command line.
func TestCommandLineConvention(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string // the single stderr line contains it
	}{
		{"no command", nil, 2, ""},
		{"unknown command", []string{"genrate"}, 2, `unknown command "genrate"; did you mean generate?`},
		{"mistyped flag", []string{"generate", "--modle", "m.gguf"}, 2, "unknown flag --modle; did you mean --model?"},
		{"one-dash long flag", []string{"generate", "-model", "m.gguf"}, 2, "-model: long flags take two dashes: --model"},
		{"one-dash unknown word", []string{"generate", "-modle", "m.gguf"}, 2, "unknown flag -modle; did you mean --model?"},
		{"missing value", []string{"generate", "--max-tokens"}, 2, "--max-tokens needs a value: an integer from 1 to 1048576"},
		{"not a number", []string{"generate", "--top-p", "abc"}, 2, "--top-p abc: want a number in (0, 1]"},
		{"out of range", []string{"generate", "--top-p", "0"}, 2, "--top-p 0: want a number in (0, 1]"},
		{"bad bool", []string{"generate", "--stats=maybe"}, 2, "--stats maybe: want true or false"},
		{"stray argument", []string{"info", "m.gguf"}, 2, `unexpected argument "m.gguf"; give the model as --model m.gguf`},
		{"bad log level", []string{"grammar", "--log-level", "loud", "--schema", "x"}, 2, "--log-level loud: want one of off, debug, info, warn, error"},
		{"closing tokens alone", []string{"generate", "-m", "m.gguf", "--closing-tokens", "5", "--dump-config"}, 2, "--strict, --lenient, --retries and --closing-tokens need --schema, --grammar or --regex"},
		{"two constraints", []string{"generate", "-m", "m.gguf", "--regex", "a", "--grammar", "g.gbnf"}, 2, "--grammar and --regex: give one of --schema, --grammar and --regex"},
		{"prompt and input", []string{"generate", "-m", "m.gguf", "-p", "x", "-i", "in.jsonl"}, 2, "give --prompt or --messages, or --input, not both"},
		{"quantize positional", []string{"quantize", "in.gguf", "out.gguf"}, 2, `unexpected argument "in.gguf"; give the model as --model in.gguf`},
		{"help", []string{"generate", "--help"}, 0, ""},
		{"help command", []string{"help", "merge"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errText := cli(t, tc.args...)
			assert.Equal(t, tc.code, code, errText)
			if tc.err != "" {
				assert.Equal(t, 1, strings.Count(errText, "\n"), "one line: %q", errText)
				assert.Contains(t, errText, tc.err)
			}
		})
	}
}

func TestFlagsAfterArguments(t *testing.T) {
	dir := t.TempDir()
	a := dir + "/a.jsonl"
	writeLines(t, a, `{"id": 1, "generations": ["x"]}`)
	code, _, errText := cli(t, "merge", a, "--output", dir+"/m.jsonl", "--allow-missing")
	require.Equal(t, 0, code, errText)
	code, _, errText = cli(t, "grammar", "--schema", "-", "--whitespace")
	assert.Equal(t, 2, code)
	assert.Contains(t, errText, "--whitespace needs a value")
}

func TestVersion(t *testing.T) {
	code, out, _ := cli(t, "--version")
	require.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(out, "locallm "), out)
	assert.Contains(t, out, "llama.cpp from github.com/ollama/ollama")
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, errText := cli(t, "completion", shell)
		require.Equal(t, 0, code, errText)
		assert.Contains(t, out, "locallm", shell)
	}
}

// TestCompletionRequests: the shell's requests for completions reach cobra.
func TestCompletionRequests(t *testing.T) {
	code, out, errText := cli(t, "__complete", "generate", "--cache-type", "")
	require.Equal(t, 0, code, errText)
	assert.Contains(t, out, "q8_0")
	code, out, errText = cli(t, "__complete", "gen")
	require.Equal(t, 0, code, errText)
	assert.Contains(t, out, "generate")
	code, out, errText = cli(t, "__complete", "quantize", "--type", "q4")
	require.Equal(t, 0, code, errText)
	assert.Contains(t, out, "q4_k_m")
	code, out, errText = cli(t, "__complete", "embed", "--input", "")
	require.Equal(t, 0, code, errText)
	assert.Contains(t, out, "jsonl", "file flags complete by extension")
}
