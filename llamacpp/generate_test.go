package llamacpp_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llm"
)

// greedyReference generates n tokens with the low-level API: decode the
// prompt, take the arg-max of the logits in Go, feed it back. It is the
// independent reference for the scheduler's greedy path.
func greedyReference(t *testing.T, m *llama.Model, prompt string, n int) []int32 {
	t.Helper()
	c, err := m.NewContext(&exactParams)
	require.NoError(t, err)
	defer c.Close()
	toks, err := m.Tokenize(prompt, true, true)
	require.NoError(t, err)
	b, err := llama.NewBatch(c.BatchSize(), 1)
	require.NoError(t, err)
	defer b.Close()
	for i, tok := range toks {
		_, err := b.Add(tok, i, []int32{0}, i == len(toks)-1)
		require.NoError(t, err)
	}
	require.NoError(t, c.Decode(context.Background(), b))
	var out []int32
	logits := make([]float32, m.VocabSize())
	pos := len(toks)
	for len(out) < n {
		_, err := c.Logits(-1, logits)
		require.NoError(t, err)
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		out = append(out, int32(best))
		b.Clear()
		_, err = b.Add(int32(best), pos, []int32{0}, true)
		require.NoError(t, err)
		pos++
		require.NoError(t, c.Decode(context.Background(), b))
	}
	return out
}

func TestGreedyMatchesReference(t *testing.T) {
	path := tinyModel(t, "llama-spm")
	l := openLLM(t, path, exact)
	m := l.Model()
	const n = 24
	prompt := "The quick brown fox"
	want := greedyReference(t, m, prompt, n)
	wantText, err := m.Detokenize(want, false, false)
	require.NoError(t, err)

	out, err := l.Generate(context.Background(), []llm.Input{llm.Prompt(prompt)}, 1, llm.GenerationParams{MaxNewTokens: n, IgnoreEOS: true})
	require.NoError(t, err)
	require.NoError(t, out[0].Err)
	assert.Equal(t, wantText, out[0].Generations[0])
	assert.Equal(t, []int{n}, out[0].Statistics.OutputTokens)
	assert.Equal(t, []llm.FinishReason{llm.FinishLength}, out[0].FinishReasons)
	toks, _ := m.Tokenize(prompt, true, true)
	assert.Equal(t, len(toks), out[0].Statistics.InputTokens)
}

func TestBatchedEqualsOneAtATime(t *testing.T) {
	l := openLLM(t, tinyModel(t, "llama-spm"), exact)
	prompts := []string{"Hello", "A much longer prompt about the weather in Paris today", "1 2 3 4", "Once upon a time", "x", "Go is a language"}
	var inputs []llm.Input
	for _, p := range prompts {
		inputs = append(inputs, llm.Prompt(p))
	}
	params := llm.GenerationParams{MaxNewTokens: 16, IgnoreEOS: true}
	together, err := l.Generate(context.Background(), inputs, 1, params)
	require.NoError(t, err)
	for i, in := range inputs {
		alone, err := l.Generate(context.Background(), []llm.Input{in}, 1, params)
		require.NoError(t, err)
		assert.Equal(t, alone[0].Generations, together[i].Generations, "input %d", i)
	}
}

func TestNumGenerationsSeeds(t *testing.T) {
	l := openLLM(t, tinyModel(t, ""), llamacpp.ContextOptions{})
	in := []llm.Input{llm.Prompt("Once upon a time")}
	p := llm.GenerationParams{MaxNewTokens: 12, Temperature: 1.5, Seed: 42, IgnoreEOS: true}
	a, err := l.Generate(context.Background(), in, 6, p)
	require.NoError(t, err)
	require.Len(t, a[0].Generations, 6)
	distinct := map[string]bool{}
	for _, g := range a[0].Generations {
		distinct[g] = true
	}
	assert.Greater(t, len(distinct), 3, "generations with different seeds should differ: %q", a[0].Generations)
	// Same seed, same generations, whether asked together or one by one.
	b, err := l.Generate(context.Background(), in, 6, p)
	require.NoError(t, err)
	assert.Equal(t, a[0].Generations, b[0].Generations)
	for i := 0; i < 6; i++ {
		q := p
		q.Seed = p.Seed + int64(i)
		one, err := l.Generate(context.Background(), in, 1, q)
		require.NoError(t, err)
		assert.Equal(t, a[0].Generations[i], one[0].Generations[0], "generation %d", i)
	}
}

func TestStopSequences(t *testing.T) {
	l := openLLM(t, tinyModel(t, "llama-spm"), exact)
	in := []llm.Input{llm.Prompt("The quick brown fox")}
	full, err := l.Generate(context.Background(), in, 1, llm.GenerationParams{MaxNewTokens: 32, IgnoreEOS: true})
	require.NoError(t, err)
	text := full[0].Generations[0]
	require.Greater(t, len(text), 12)
	stop := text[len(text)/2 : len(text)/2+3]
	want := text[:strings.Index(text, stop)]

	var streamed strings.Builder
	out, err := l.GenerateStream(context.Background(), in, 1, llm.GenerationParams{MaxNewTokens: 32, IgnoreEOS: true, Stop: []string{"\x00never", stop}},
		func(c llm.Chunk) { streamed.WriteString(c.Text) })
	require.NoError(t, err)
	assert.Equal(t, want, out[0].Generations[0])
	assert.Equal(t, llm.FinishStop, out[0].FinishReasons[0])
	assert.Equal(t, want, streamed.String(), "streamed text must not include the stop sequence")
}

func TestStreamingConcatenatesToResult(t *testing.T) {
	l := openLLM(t, tinyModel(t, "gpt-2"), llamacpp.ContextOptions{})
	got := map[[2]int]*strings.Builder{}
	done := map[[2]int]llm.FinishReason{}
	out, err := l.GenerateStream(context.Background(), []llm.Input{llm.Prompt("héllo wörld ✓"), llm.Prompt("日本語のテキスト")}, 3,
		llm.GenerationParams{MaxNewTokens: 20, Temperature: 1, Seed: 7},
		func(c llm.Chunk) {
			k := [2]int{c.Input, c.Generation}
			if got[k] == nil {
				got[k] = &strings.Builder{}
			}
			got[k].WriteString(c.Text)
			if c.Done {
				done[k] = c.FinishReason
			}
		})
	require.NoError(t, err)
	for i, o := range out {
		for g, text := range o.Generations {
			k := [2]int{i, g}
			require.NotNil(t, got[k], "no chunks for %v", k)
			assert.Equal(t, text, got[k].String())
			assert.Equal(t, o.FinishReasons[g], done[k])
		}
	}
}

func TestChatTemplate(t *testing.T) {
	path := tinyModel(t, "")
	l := openLLM(t, path, llamacpp.ContextOptions{})
	m := l.Model()
	require.NotEmpty(t, m.Info().ChatTemplate)
	msgs := []llm.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}}
	text, err := m.ApplyChatTemplate("", msgs, true)
	require.NoError(t, err)
	assert.Equal(t, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", text)
	// The control tokens are parsed as special tokens, one ID each.
	toks, err := m.Tokenize(text, false, true)
	require.NoError(t, err)
	start, err := m.Tokenize("<|im_start|>", false, true)
	require.NoError(t, err)
	require.Len(t, start, 1)
	assert.Contains(t, toks, start[0])

	out, err := l.Generate(context.Background(), []llm.Input{llm.Chat(msgs...)}, 1, llm.GenerationParams{MaxNewTokens: 4})
	require.NoError(t, err)
	require.NoError(t, out[0].Err)
	assert.Equal(t, len(toks)+boolInt(m.Info().Special.AddBOS), out[0].Statistics.InputTokens)

	// A model without a template: a clear error unless one is named.
	noTmpl := tinyModel(t, "gpt-2")
	l2 := openLLM(t, noTmpl, llamacpp.ContextOptions{})
	if l2.Model().Info().ChatTemplate == "" {
		out, err = l2.Generate(context.Background(), []llm.Input{llm.Chat(msgs...)}, 1, llm.GenerationParams{MaxNewTokens: 2})
		require.NoError(t, err)
		assert.ErrorIs(t, out[0].Err, llm.ErrNoChatTemplate)
		text, err := l2.Model().ApplyChatTemplate("chatml", msgs, true)
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(text, "<|im_start|>system"))
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestContextLimits(t *testing.T) {
	l := openLLM(t, tinyModel(t, ""), llamacpp.ContextOptions{ContextSize: 256})
	long := strings.Repeat("word ", 300)
	out, err := l.Generate(context.Background(), []llm.Input{llm.Prompt(long), llm.Prompt("short")}, 1, llm.GenerationParams{MaxNewTokens: 8})
	require.NoError(t, err)
	assert.ErrorIs(t, out[0].Err, llm.ErrContextTooLong)
	assert.Contains(t, out[0].Err.Error(), "context size 256")
	assert.NoError(t, out[1].Err, "other inputs go on")
	assert.Len(t, out[1].Generations, 1)

	// More generations than fit at once run in turns.
	out, err = l.Generate(context.Background(), []llm.Input{llm.Prompt("hi")}, 5, llm.GenerationParams{MaxNewTokens: 100, IgnoreEOS: true})
	require.NoError(t, err)
	require.NoError(t, out[0].Err)
	assert.Equal(t, []int{100, 100, 100, 100, 100}, out[0].Statistics.OutputTokens)
}

func TestBadParameters(t *testing.T) {
	l := openLLM(t, tinyModel(t, ""), llamacpp.ContextOptions{})
	ctx := context.Background()
	in := []llm.Input{llm.Prompt("x")}
	_, err := l.Generate(ctx, in, 1, llm.GenerationParams{TopP: 2})
	assert.ErrorIs(t, err, llm.ErrBadParameter)
	out, err := l.Generate(ctx, in, 1, llm.GenerationParams{LogitBias: map[int32]float64{1 << 30: 1}})
	require.NoError(t, err)
	assert.ErrorIs(t, out[0].Err, llm.ErrBadParameter)
	out, err = l.Generate(ctx, []llm.Input{{}}, 1, llm.GenerationParams{})
	require.NoError(t, err)
	assert.ErrorIs(t, out[0].Err, llm.ErrEmptyInput)
	_, err = l.Generate(ctx, in, llamacpp.MaxGenerations+1, llm.GenerationParams{})
	assert.ErrorIs(t, err, llm.ErrBadParameter)
}

func TestCancelAndClose(t *testing.T) {
	l := openLLM(t, tinyModel(t, ""), llamacpp.ContextOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{}, 1)
	go func() {
		<-started
		cancel()
	}()
	t0 := time.Now()
	out, err := l.GenerateStream(ctx, []llm.Input{llm.Prompt("x")}, 2, llm.GenerationParams{MaxNewTokens: 1500, IgnoreEOS: true},
		func(c llm.Chunk) {
			select {
			case started <- struct{}{}:
			default:
			}
		})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(t0), 20*time.Second)
	require.Len(t, out, 1)
	assert.Equal(t, llm.FinishCancelled, out[0].FinishReasons[0])
	assert.NotEmpty(t, out[0].Generations[0], "text produced before cancellation is kept")

	// The LLM is still usable afterwards.
	out, err = l.Generate(context.Background(), []llm.Input{llm.Prompt("x")}, 1, llm.GenerationParams{MaxNewTokens: 3, IgnoreEOS: true})
	require.NoError(t, err)
	assert.Equal(t, 3, out[0].Statistics.OutputTokens[0])

	// Close during a generation ends it; later calls fail cleanly.
	closed := make(chan error, 1)
	go func() {
		time.Sleep(200 * time.Millisecond)
		closed <- l.Close()
	}()
	_, err = l.Generate(context.Background(), []llm.Input{llm.Prompt("x")}, 1, llm.GenerationParams{MaxNewTokens: 1500, IgnoreEOS: true})
	assert.ErrorIs(t, err, llm.ErrClosed)
	require.NoError(t, <-closed)
	_, err = l.Generate(context.Background(), []llm.Input{llm.Prompt("x")}, 1, llm.GenerationParams{})
	assert.ErrorIs(t, err, llm.ErrClosed)
	assert.NoError(t, l.Close())
	_, err = l.HiddenStates(context.Background(), []llm.Input{llm.Prompt("x")}, []int{-1})
	assert.ErrorIs(t, err, llm.ErrClosed)
}

func TestBadModelFiles(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(tinyModel(t, ""))
	require.NoError(t, err)
	notGGUF := filepath.Join(dir, "notgguf.bin")
	require.NoError(t, os.WriteFile(notGGUF, []byte("this is not a model at all"), 0o644))
	truncated := filepath.Join(dir, "truncated.gguf")
	require.NoError(t, os.WriteFile(truncated, good[:len(good)/2], 0o644))
	empty := filepath.Join(dir, "empty.gguf")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	cases := map[string]struct{ path, want string }{
		"missing":   {filepath.Join(dir, "nope.gguf"), "does not exist"},
		"directory": {dir, "directory"},
		"not gguf":  {notGGUF, "GGUF"},
		"empty":     {empty, "GGUF"},
		"truncated": {truncated, "truncated"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := llama.LoadModel(context.Background(), c.path, nil)
			require.Error(t, err)
			assert.True(t, errors.Is(err, llamacpp.ErrLoad), "%v", err)
			assert.Contains(t, strings.ToLower(err.Error()), strings.ToLower(c.want))
		})
	}
}

func TestUseBeforeLoad(t *testing.T) {
	l, err := llamacpp.New(llamacpp.Options{ModelPath: "x.gguf"})
	require.NoError(t, err)
	_, err = l.Generate(context.Background(), []llm.Input{llm.Prompt("x")}, 1, llm.GenerationParams{})
	assert.ErrorIs(t, err, llm.ErrNotLoaded)
	_, err = llamacpp.New(llamacpp.Options{})
	assert.ErrorIs(t, err, llamacpp.ErrBadOption)
	_, err = llamacpp.New(llamacpp.Options{ModelPath: "x", Context: llamacpp.ContextOptions{CacheType: "q3"}})
	assert.ErrorContains(t, err, "cache_type")
	_, err = llamacpp.New(llamacpp.Options{ModelPath: "x", Context: llamacpp.ContextOptions{BatchSize: -1}})
	assert.ErrorContains(t, err, "batch_size")
}

func TestConfigRoundTrip(t *testing.T) {
	path := tinyModel(t, "")
	l, err := llamacpp.New(llamacpp.Options{ModelPath: path, Context: llamacpp.ContextOptions{ContextSize: 1024, CacheType: llamacpp.CacheF32}})
	require.NoError(t, err)
	c, err := llm.ConfigOf(l)
	require.NoError(t, err)
	l2, err := llm.New(c)
	require.NoError(t, err)
	assert.Equal(t, l.Options(), l2.(*llamacpp.LLM).Options())
	require.NoError(t, l2.Load(context.Background()))
	defer l2.Close()
	assert.Equal(t, "tinyllama", l2.ModelName())
}

// TestSharedPrefix: inputs that share a long prefix (a system prompt) reuse
// its evaluation, and give what they give alone.
func TestSharedPrefix(t *testing.T) {
	l := openLLM(t, tinyModel(t, "llama-spm"), exact)
	system := strings.Repeat("You are a careful assistant who answers in one short sentence. ", 4)
	var inputs []llm.Input
	for _, q := range []string{"What is the capital of France?", "Name a prime number.", "Why is the sky blue?", "Count to three."} {
		inputs = append(inputs, llm.Prompt(system+q))
	}
	params := llm.GenerationParams{MaxNewTokens: 12, IgnoreEOS: true}
	var alone []llm.Output
	for _, in := range inputs {
		out, err := l.Generate(context.Background(), []llm.Input{in}, 1, params)
		require.NoError(t, err)
		assert.Zero(t, out[0].Statistics.CachedTokens)
		alone = append(alone, out[0])
	}
	// The first input starts its prompt; the others join once its shared
	// prefix is in the cache.
	together, err := l.Generate(context.Background(), inputs, 1, params)
	require.NoError(t, err)
	cached := 0
	for i, out := range together {
		require.NoError(t, out.Err)
		assert.Equal(t, alone[i].Generations, out.Generations, "input %d", i)
		cached += out.Statistics.CachedTokens
	}
	assert.Greater(t, cached, 2*16, "the shared system prompt should be evaluated once, not four times")
	t.Logf("prompt tokens reused: %d", cached)
}

// TestSeedReproducible: generation i of n draws with seed+i, so it equals a
// single generation with that seed, with and without a schema (whose
// grammar masks are drawn from the same seeded sampler).
func TestSeedReproducible(t *testing.T) {
	l := openLLM(t, tinyModel(t, "llama-spm"), llamacpp.ContextOptions{})
	ctx := context.Background()
	for _, schema := range []string{"", `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"]}`} {
		in := llm.Prompt("Answer in JSON: ")
		if schema != "" {
			in.Structured = &llm.StructuredOutput{Schema: schema}
		}
		p := llm.GenerationParams{MaxNewTokens: 40, Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, Seed: 3}
		six, err := l.Generate(ctx, []llm.Input{in}, 6, p)
		require.NoError(t, err)
		require.NoError(t, six[0].Err)
		for i := 0; i < 6; i++ {
			q := p
			q.Seed = p.Seed + int64(i)
			one, err := l.Generate(ctx, []llm.Input{in}, 1, q)
			require.NoError(t, err)
			assert.Equal(t, one[0].Generations[0], six[0].Generations[i], "schema %v, generation %d", schema != "", i)
		}
	}
}
