package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/cmd/locallm/internal/job"
	"github.com/locallm/locallm/hiddenstates"
	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/tinyllama"
	"github.com/locallm/locallm/llm"
)

// tinyModel writes the project's tiny llama (2 blocks, hidden size 64, a
// built-in vocabulary of about 2200 tokens, ChatML) for one test.
func tinyModel(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	require.NoError(t, tinyllama.Write(path, tinyllama.Config{}))
	return path
}

// cli runs the command in this process and returns its exit status, stdout
// and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var o, e bytes.Buffer
	old := stderr
	defer func() { stderr = old }()
	code := run(args, &o, &e)
	return code, o.String(), e.String()
}

// e2eRows are the rows of the end-to-end job: plain prompts, a chat, a
// structured row, a row with its own parameters and a row over the context.
func e2eRows(n int) []string {
	var rows []string
	for i := range n {
		rows = append(rows, fmt.Sprintf(`{"id": "p%d", "prompt": "The story of number %d is"}`, i, i))
	}
	return append(rows,
		`{"id": "chat", "messages": [{"role": "user", "content": "Tell me a story"}]}`,
		`{"id": "json", "prompt": "Yes or no?", "structured_output": {"gbnf": "root ::= \"yes\" | \"no\""}}`,
		`{"id": "own", "prompt": "Own parameters", "generation_params": {"max_new_tokens": 2}, "num_generations": 3}`,
		`{"id": "logprobs", "prompt": "With logprobs", "generation_params": {"max_new_tokens": 3, "top_logprobs": 2}}`,
		`{"id": "long", "prompt": "`+strings.Repeat("many words ", 400)+`"}`,
		`{"id": "noprompt"}`,
	)
}

func TestGenerateJobEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model")
	}
	model := tinyModel(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.jsonl"), filepath.Join(dir, "out.jsonl")
	writeLines(t, in, e2eRows(20)...)
	args := []string{"generate", "--model", model, "--threads", "1", "--ctx", "512", "--parallel", "4",
		"--input", in, "--output", out, "--max-tokens", "8", "--temperature", "0", "--num-generations", "2", "--quiet", "--stats"}
	code, stdout, stderrText := cli(t, args...)
	require.Equal(t, 0, code, stderrText)
	assert.Empty(t, stdout, "a job writes nothing on stdout")
	var stats map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(stderrText)), &stats), "--stats: one JSON line: %q", stderrText)
	assert.Equal(t, 26.0, stats["rows"])
	assert.Equal(t, 24.0, stats["done"])
	assert.Equal(t, 2.0, stats["failed"])

	rows := readOutput(t, out)
	require.Len(t, rows, 24)
	for i := range 20 {
		r := rows[fmt.Sprintf("p%d", i)]
		require.Len(t, r.Generations, 2)
		assert.Equal(t, r.Generations[0], r.Generations[1], "greedy generations agree")
		for g, n := range r.Statistics.OutputTokens {
			assert.True(t, n > 0 && n <= 8, "p%d generation %d: %d tokens", i, g, n)
		}
	}
	assert.Len(t, rows["chat"].Generations, 2)
	for _, g := range rows["json"].Generations {
		assert.Contains(t, []string{"yes", "no"}, g, "the row's grammar applies")
	}
	assert.Len(t, rows["own"].Generations, 3)
	assert.Equal(t, []int{2, 2, 2}, rows["own"].Statistics.OutputTokens)
	// A row that asks for logprobs gets one entry per sampled token, its
	// text the generation's, its top alternatives most likely first.
	lp := rows["logprobs"]
	require.Len(t, lp.Logprobs, 2)
	for g, entries := range lp.Logprobs {
		require.Len(t, entries, lp.Statistics.OutputTokens[g])
		text := ""
		for _, e := range entries {
			text += e.Text
			require.Len(t, e.Top, 2)
			assert.GreaterOrEqual(t, e.Top[0].Logprob, e.Top[1].Logprob)
			assert.LessOrEqual(t, e.Logprob, 0.0)
			assert.Equal(t, e.Top[0].Token, e.Token, "greedy picks the most likely token")
		}
		assert.Equal(t, lp.Generations[g], text)
	}
	assert.Nil(t, rows["own"].Logprobs, "only rows that ask get logprobs")
	errs := readErrors(t, out)
	require.Len(t, errs, 2)
	got := map[string]job.RowError{}
	for _, e := range errs {
		k, _ := job.IDKey(e.ID)
		got[k] = e
	}
	assert.Contains(t, got["long"].Error, "does not fit the context")
	assert.Equal(t, 25, got["long"].Line)
	assert.Contains(t, got["noprompt"].Error, "neither messages nor prompt")

	// Run again: nothing left to do, the output is unchanged.
	before, err := os.ReadFile(out)
	require.NoError(t, err)
	code, _, stderrText = cli(t, args...)
	require.Equal(t, 0, code, stderrText)
	after, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, before, after)
	assert.Contains(t, stderrText, `"skipped":24`)
}

// Two shards merged hold what one unsharded run does: the same ids and,
// with greedy decoding, the same generations.
func TestGenerateShardsMergeEqualsWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model")
	}
	model := tinyModel(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	writeLines(t, in, promptRows(30)...)
	common := []string{"generate", "--model", model, "--threads", "1", "--ctx", "512", "--parallel", "4",
		"--input", in, "--max-tokens", "6", "--temperature", "0", "--quiet"}
	whole := filepath.Join(dir, "whole.jsonl")
	code, _, e := cli(t, append(common, "--output", whole)...)
	require.Equal(t, 0, code, e)
	var shards []string
	for i := range 2 {
		p := filepath.Join(dir, fmt.Sprintf("shard%d.jsonl", i))
		code, _, e := cli(t, append(common, "--output", p, "--shard", fmt.Sprintf("%d/2", i))...)
		require.Equal(t, 0, code, e)
		shards = append(shards, p)
	}
	merged := filepath.Join(dir, "merged.jsonl")
	code, _, e = cli(t, append([]string{"merge", "-o", merged, "--input", in}, shards...)...)
	require.Equal(t, 0, code, e)
	w, m := readOutput(t, whole), readOutput(t, merged)
	require.Equal(t, sortedKeys(keysOf(w)), sortedKeys(keysOf(m)))
	for k := range w {
		assert.Equal(t, w[k].Generations, m[k].Generations, k)
	}
}

// A bad flag or a bad model fails before any row is read: no output and no
// errors file, although the input has bad rows.
func TestGenerateJobFailsBeforeRows(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.jsonl"), filepath.Join(dir, "out.jsonl")
	writeLines(t, in, `not json`, `{"id": "a", "prompt": "x"}`)
	bad := filepath.Join(dir, "bad.gguf")
	require.NoError(t, os.WriteFile(bad, []byte("GGUF but not really"), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"bad model", []string{"--model", bad}, 1},
		{"missing model", []string{"--model", filepath.Join(dir, "none.gguf")}, 2},
		{"no model", nil, 2},
		{"bad temperature", []string{"--model", bad, "--temperature", "-1"}, 2},
		{"bad shard", []string{"--model", bad, "--shard", "2/2"}, 2},
		{"bad cache type", []string{"--model", bad, "--cache-type", "f8"}, 2},
		{"missing input", []string{"--model", bad, "--input", filepath.Join(dir, "none.jsonl")}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"generate", "--input", in, "--output", out}, tc.args...)
			code, _, e := cli(t, args...)
			assert.Equal(t, tc.code, code, e)
			assert.NoFileExists(t, out)
			assert.NoFileExists(t, job.ErrorsPath(out))
		})
	}
}

func TestEmbedEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model")
	}
	model := tinyModel(t)
	dir := t.TempDir()
	in, out, plot := filepath.Join(dir, "in.jsonl"), filepath.Join(dir, "emb.npy"), filepath.Join(dir, "pca.png")
	var rows []string
	for i := range 12 {
		label := []string{"cat", "dog", "fish"}[i%3]
		rows = append(rows, fmt.Sprintf(`{"id": %d, "prompt": "the %s number %d", "label": %q}`, i, label, i, label))
	}
	rows = append(rows, `{"id": "x"}`, `{"id": "long", "prompt": "`+strings.Repeat("many words ", 400)+`"}`)
	writeLines(t, in, rows...)
	code, _, e := cli(t, "embed", "--model", model, "--threads", "1", "--ctx", "512", "--input", in, "--output", out,
		"--pooling", "mean", "--normalize", "--plot", plot, "--quiet")
	require.Equal(t, 0, code, e)
	assert.Contains(t, e, "12 of 14 rows are in "+out+" (12 this run); 2 failed, see "+job.ErrorsPath(out))

	f, err := os.Open(out)
	require.NoError(t, err)
	defer f.Close()
	emb, err := hiddenstates.ReadMatrix(f)
	require.NoError(t, err)
	r, c := emb.Dims()
	assert.Equal(t, 12, r)
	assert.Equal(t, 64, c)
	for i := range r {
		n := 0.0
		for _, x := range emb.RawRowView(i) {
			n += x * x
		}
		assert.InDelta(t, 1, n, 1e-5, "row %d is normalised", i)
	}
	var ids []any
	data, err := os.ReadFile(filepath.Join(dir, "emb.ids.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &ids))
	assert.Len(t, ids, 12)
	assert.Equal(t, 0.0, ids[0], "numeric ids stay numbers")
	st, err := os.Stat(plot)
	require.NoError(t, err)
	assert.Greater(t, st.Size(), int64(1000))
	assert.Len(t, readErrors(t, out), 2)

	// Each row's embedding is the mean of its last hidden states.
	l, err := llamacpp.Open(context.Background(), llamacpp.Options{ModelPath: model, Context: llamacpp.ContextOptions{ContextSize: 512, Threads: 1}})
	require.NoError(t, err)
	defer l.Close()
	hs, err := l.HiddenStates(context.Background(), []llm.Input{llm.Prompt("the fish number 5")}, []int{-1})
	require.NoError(t, err)
	want := hiddenstates.Pool(nil, hs[0].States[0], nil, hiddenstates.Mean)
	norm := 0.0
	for _, x := range want {
		norm += x * x
	}
	for j, x := range want {
		assert.InDelta(t, x/math.Sqrt(norm), emb.At(5, j), 1e-5)
	}
}

func TestHiddenEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model")
	}
	model := tinyModel(t)
	dir := t.TempDir()
	common := []string{"hidden", "--model", model, "--threads", "1", "--ctx", "512", "--cache-type", "f32", "--flash-attn", "off"}

	l, err := llamacpp.Open(context.Background(), llamacpp.Options{ModelPath: model,
		Context: llamacpp.ContextOptions{ContextSize: 512, Threads: 1, CacheType: "f32", FlashAttention: "off"}})
	require.NoError(t, err)
	defer l.Close()
	prompts := []string{"Hello world", "A longer prompt with more tokens in it", "x"}
	want, err := l.HiddenStates(context.Background(), []llm.Input{llm.Prompt(prompts[0]), llm.Prompt(prompts[1]), llm.Prompt(prompts[2])}, []int{-1, 0, 1})
	require.NoError(t, err)

	// One prompt: [layers, tokens, hidden], layers in the order given.
	out := filepath.Join(dir, "h.npy")
	code, _, e := cli(t, append(common, "--prompt", prompts[1], "--layers", "-1,0,1", "--output", out)...)
	require.Equal(t, 0, code, e)
	shape, data := readNPY[float32](t, out)
	T := len(want[1].Tokens)
	require.Equal(t, []int{3, T, 64}, shape)
	for k := range 3 {
		for i := range T {
			for j := range 64 {
				require.InDelta(t, want[1].States[k].At(i, j), data[(k*T+i)*64+j], 1e-5, "layer %d token %d", k, i)
			}
		}
	}
	tshape, toks := readNPY[int32](t, filepath.Join(dir, "h.tokens.npy"))
	assert.Equal(t, []int{T}, tshape)
	assert.Equal(t, want[1].Tokens, toks)

	// The default is the last layer only, still 3-D.
	code, _, e = cli(t, append(common, "--prompt", prompts[0], "--output", out)...)
	require.Equal(t, 0, code, e)
	shape, _ = readNPY[float32](t, out)
	assert.Equal(t, []int{1, len(want[0].Tokens), 64}, shape)

	// Many rows: concatenated tokens, offsets and ids.
	in := filepath.Join(dir, "in.jsonl")
	writeLines(t, in,
		`{"id": "a", "prompt": "Hello world"}`,
		`{"id": "bad"}`,
		`{"id": "b", "prompt": "A longer prompt with more tokens in it"}`,
		`{"id": 3, "prompt": "x"}`)
	out = filepath.Join(dir, "rows.npy")
	code, _, e = cli(t, append(common, "--input", in, "--layers", "-1,0,1", "--output", out, "--batch-rows", "2", "--quiet")...)
	require.Equal(t, 0, code, e)
	shape, data = readNPY[float32](t, out)
	_, toks = readNPY[int32](t, filepath.Join(dir, "rows.tokens.npy"))
	_, offs := readNPY[int64](t, filepath.Join(dir, "rows.offsets.npy"))
	total := len(want[0].Tokens) + len(want[1].Tokens) + len(want[2].Tokens)
	require.Equal(t, []int{3, total, 64}, shape)
	require.Equal(t, []int64{0, int64(len(want[0].Tokens)), int64(len(want[0].Tokens) + len(want[1].Tokens)), int64(total)}, offs)
	for r := range 3 {
		assert.Equal(t, want[r].Tokens, toks[offs[r]:offs[r+1]])
		for k := range 3 {
			for i := range len(want[r].Tokens) {
				for j := range 64 {
					require.InDelta(t, want[r].States[k].At(i, j), data[(k*total+int(offs[r])+i)*64+j], 1e-5, "row %d layer %d token %d", r, k, i)
				}
			}
		}
	}
	ids, err := os.ReadFile(filepath.Join(dir, "rows.ids.json"))
	require.NoError(t, err)
	assert.JSONEq(t, `["a", "b", 3]`, string(ids))
	assert.Len(t, readErrors(t, out), 1)
	left, _ := filepath.Glob(filepath.Join(dir, ".rows*"))
	assert.Empty(t, left, "temporary files are removed")
	assert.NoFileExists(t, out+".part", "the parts go once joined")

	// A layer the model lacks fails before anything is written.
	code, _, e = cli(t, append(common, "--prompt", "x", "--layers", "3", "--output", filepath.Join(dir, "none.npy"))...)
	assert.Equal(t, 2, code, e)
	assert.NoFileExists(t, filepath.Join(dir, "none.npy"))
}

func readNPY[T hiddenstates.Elem](t *testing.T, path string) ([]int, []T) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	shape, data, err := hiddenstates.ReadNPY[T](f)
	require.NoError(t, err)
	return shape, data
}

// Shards of embed and of hidden, merged, are byte for byte one run over the
// whole input; merge refuses a shard that has not finished.
func TestArrayShardsMergeEqualsWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model")
	}
	model := tinyModel(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	writeLines(t, in, append(promptRows(30), `{"id": "bad"}`)...)
	for _, tc := range []struct {
		name  string
		args  []string
		files []string
	}{
		{"embed", []string{"embed", "--pooling", "last"}, []string{".npy", ".ids.json"}},
		{"hidden", []string{"hidden", "--layers", "2,0"}, []string{".npy", ".tokens.npy", ".offsets.npy", ".ids.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			common := append(tc.args, "--model", model, "--threads", "1", "--ctx", "512", "--input", in, "--batch-rows", "3", "--quiet")
			whole := filepath.Join(dir, tc.name+"-whole.npy")
			code, _, e := cli(t, append(common, "--output", whole)...)
			require.Equal(t, 0, code, e)
			var shards []string
			for i := range 3 {
				p := filepath.Join(dir, fmt.Sprintf("%s-shard%d.npy", tc.name, i))
				code, _, e := cli(t, append(common, "--output", p, "--shard", fmt.Sprintf("%d/3", i))...)
				require.Equal(t, 0, code, e)
				shards = append(shards, p)
			}
			merged := filepath.Join(dir, tc.name+"-merged.npy")
			code, _, e = cli(t, append([]string{"merge", "-o", merged, "--input", in, "--allow-missing"}, shards...)...)
			require.Equal(t, 0, code, e)
			assert.Contains(t, e, `merged 30 rows from 3 files`)
			assert.Contains(t, e, `1 input ids are missing: "bad"`)
			assert.Equal(t, outputFiles(t, whole, tc.files...), outputFiles(t, merged, tc.files...))

			require.NoError(t, os.WriteFile(shards[1]+".part", nil, 0o644))
			code, _, e = cli(t, append([]string{"merge", "-o", filepath.Join(dir, "again.npy")}, shards...)...)
			assert.Equal(t, 1, code)
			assert.Contains(t, e, "has not finished")
			require.NoError(t, os.Remove(shards[1]+".part"))
		})
	}
}
