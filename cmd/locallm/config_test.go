package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llm"
)

// dumpConfig runs `generate --dump-config` with args and returns the YAML.
func dumpConfig(t *testing.T, args ...string) string {
	t.Helper()
	var o, e bytes.Buffer
	code := run(append([]string{"generate", "--dump-config"}, args...), &o, &e)
	require.Equal(t, 0, code, e.String())
	return o.String()
}

func TestRunFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	first := dumpConfig(t, "--model", "m.gguf", "--ctx", "2048", "--parallel", "4", "--cache-type", "f32",
		"--flash-attn", "off", "--temperature", "0", "--seed", "42", "--stop", "\n\n", "--stop", "END", "--stop", "off", "--stop", "42", "--stop", " lead", "--stop", "- x: y",
		"--max-tokens", "77", "--num-generations", "3", "--input", "in.jsonl", "--output", "out.jsonl",
		"--shard", "1/4", "--chat-template", "chatml")
	path := filepath.Join(dir, "job.yaml")
	require.NoError(t, os.WriteFile(path, []byte(first), 0o644))

	s, err := loadRunFile(path)
	require.NoError(t, err)
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		require.NoError(t, err)
		return a
	}
	assert.Equal(t, jobSettings{
		Model: llamacpp.Options{
			ModelPath: abs("m.gguf"),
			Context: llamacpp.ContextOptions{
				ContextSize: 2048, Sequences: 4, CacheType: llamacpp.CacheType("f32"),
				FlashAttention: llamacpp.FlashAttention("off"),
			},
			ChatTemplate: "chatml",
		},
		Params: llm.GenerationParams{
			MaxNewTokens: 77, Temperature: 0, TopK: 40, TopP: 0.95, MinP: 0.05, TypicalP: 1,
			RepeatPenalty: 1, PenaltyLastN: 64, Seed: 42, Stop: []string{"\n\n", "END", "off", "42", " lead", "- x: y"},
		},
		NumGenerations: 3, Input: abs("in.jsonl"), Output: abs("out.jsonl"), Shard: "1/4",
	}, s, "--dump-config writes absolute paths")

	// The file dumped again is the same file.
	assert.Equal(t, first, dumpConfig(t, "--config", path))
	assert.Contains(t, first, "type: llamacpp")
	assert.Contains(t, first, "model_path: "+abs("m.gguf"))
	assert.Contains(t, first, `flash_attention: "off"`, "quoted for YAML 1.1 readers")
	assert.NotContains(t, first, "model: {}", "empty mappings are left out")
}

func TestRunFileFlagsOverride(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "job.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`
llm:
  type: llamacpp
  config:
    model_path: file.gguf
    context: {context_size: 1024, threads: 2}
generation:
  max_new_tokens: 10
  temperature: 0.7
  stop: ["a"]
num_generations: 2
input: file-in.jsonl
output: file-out.jsonl
`), 0o644))

	got := func(args ...string) jobSettings {
		t.Helper()
		var mf modelFlags
		var gf genFlags
		var jf jobFlags
		fs2 := pflag.NewFlagSet("values", pflag.ContinueOnError)
		mf.addFlags(fs2)
		gf.addFlags(fs2)
		jf.addFlags(fs2)
		require.NoError(t, fs2.Parse(args))
		s, err := effectiveSettings(fs2, path, settingsFromFlags(&mf, &gf, &jf))
		require.NoError(t, err)
		return s
	}

	s := got()
	assert.Equal(t, filepath.Join(dir, "file.gguf"), s.Model.ModelPath, "relative to the run file")
	assert.Equal(t, 1024, s.Model.Context.ContextSize)
	assert.Equal(t, 0.7, s.Params.Temperature)
	assert.Equal(t, 0, s.Params.TopK, "flag defaults do not apply over a run file")
	assert.Equal(t, int64(0), s.Params.Seed)
	assert.Equal(t, 2, s.NumGenerations)

	s = got("--temperature", "0", "--ctx", "4096", "--output", "flag-out.jsonl", "--stop", "b", "--model", "flag.gguf", "--top-k", "5")
	assert.Equal(t, 0.0, s.Params.Temperature, "a flag set to its zero value still overrides")
	assert.Equal(t, 4096, s.Model.Context.ContextSize)
	assert.Equal(t, 2, s.Model.Context.Threads, "settings no flag names are kept")
	assert.Equal(t, "flag-out.jsonl", s.Output)
	assert.Equal(t, filepath.Join(dir, "file-in.jsonl"), s.Input)
	assert.Equal(t, []string{"b"}, s.Params.Stop)
	assert.Equal(t, "flag.gguf", s.Model.ModelPath)
	assert.Equal(t, 5, s.Params.TopK)
	assert.Equal(t, 10, s.Params.MaxNewTokens)

	// The same through the command.
	out := dumpConfig(t, "--config", path, "--temperature", "0.25", "--shard", "0/2")
	assert.Contains(t, out, "temperature: 0.25")
	assert.Contains(t, out, "shard: 0/2")
	assert.Contains(t, out, "max_new_tokens: 10")
}

func TestEveryGenerateFlagIsClassified(t *testing.T) {
	fs := generateCmd().Flags()
	fs.VisitAll(func(f *pflag.Flag) {
		_, inConfig := configFlags[f.Name]
		assert.True(t, inConfig != flagsNotInConfig[f.Name], "flag -%s must be in exactly one of configFlags and flagsNotInConfig", f.Name)
	})
	for name := range configFlags {
		assert.NotNil(t, fs.Lookup(name), "configFlags names -%s, which generate lacks", name)
	}
}

func TestRunFileErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, err string }{
		{"empty", "", "empty"},
		{"no type", "llm: {config: {model_path: m}}", "llm.type is missing"},
		{"other type", "llm: {type: openai}", `llm.type "openai"`},
		{"unknown key", "llm: {type: llamacpp}\ntemperature: 1", "line 2: unknown key temperature"},
		{"unknown generation key", "llm: {type: llamacpp}\ngeneration: {temprature: 1}", "line 2: unknown key temprature"},
		{"unknown llm key", "llm: {type: llamacpp, config: {model: {gpu_layer: 1}}}", `unknown field "gpu_layer"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseRunFile([]byte(tc.yaml))
			assert.ErrorContains(t, err, tc.err)
		})
	}
	var o, e bytes.Buffer
	assert.Equal(t, 2, run([]string{"generate", "--config", filepath.Join(t.TempDir(), "none.yaml")}, &o, &e))
}
