package llamacpp_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llamacpp/tinyllama"
	"github.com/locallm/locallm/llm"
)

// TestOptionsCheckedBeforeC: every out-of-range option is refused by New,
// in Go, with an error naming it, before llama.cpp sees it.
func TestOptionsCheckedBeforeC(t *testing.T) {
	cases := []struct {
		name string
		opts llamacpp.Options
		want string
	}{
		{"no model", llamacpp.Options{}, "model_path"},
		{"gpu layers", llamacpp.Options{Model: llamacpp.ModelOptions{GPULayers: -2}}, "gpu_layers"},
		{"context size", llamacpp.Options{Context: llamacpp.ContextOptions{ContextSize: -1}}, "context_size"},
		{"huge context", llamacpp.Options{Context: llamacpp.ContextOptions{ContextSize: 1 << 30}}, "context_size"},
		{"batch", llamacpp.Options{Context: llamacpp.ContextOptions{BatchSize: -8}}, "batch_size"},
		{"ubatch", llamacpp.Options{Context: llamacpp.ContextOptions{UBatchSize: -1}}, "ubatch_size"},
		{"sequences", llamacpp.Options{Context: llamacpp.ContextOptions{Sequences: 100000}}, "sequences"},
		{"threads", llamacpp.Options{Context: llamacpp.ContextOptions{Threads: -1}}, "threads"},
		{"batch threads", llamacpp.Options{Context: llamacpp.ContextOptions{BatchThreads: 5000}}, "batch_threads"},
		{"cache type", llamacpp.Options{Context: llamacpp.ContextOptions{CacheType: "f8"}}, "cache_type"},
		{"flash attention", llamacpp.Options{Context: llamacpp.ContextOptions{FlashAttention: "maybe"}}, "flash_attention"},
		{"structured", llamacpp.Options{Structured: &llm.StructuredOutput{}}, "structured output"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.opts.ModelPath == "" && c.name != "no model" {
				c.opts.ModelPath = "model.gguf"
			}
			_, err := llamacpp.New(c.opts)
			require.Error(t, err)
			assert.ErrorContains(t, err, c.want)
		})
	}
}

// TestParametersCheckedBeforeC: bad generation parameters fail the call (or
// the input, for those that need the model) with an error naming them.
func TestParametersCheckedBeforeC(t *testing.T) {
	l := openLLM(t, tinyModel(t, ""), llamacpp.ContextOptions{})
	in := []llm.Input{llm.Prompt("x")}
	bad := []struct {
		name string
		p    llm.GenerationParams
	}{
		{"temperature", llm.GenerationParams{Temperature: -1}},
		{"temperature", llm.GenerationParams{Temperature: math.NaN()}},
		{"top_p", llm.GenerationParams{TopP: 1.01}},
		{"top_p", llm.GenerationParams{TopP: -0.1}},
		{"min_p", llm.GenerationParams{MinP: math.Inf(1)}},
		{"typical_p", llm.GenerationParams{TypicalP: 7}},
		{"top_k", llm.GenerationParams{TopK: -3}},
		{"max_new_tokens", llm.GenerationParams{MaxNewTokens: 1 << 40}},
		{"repeat_penalty", llm.GenerationParams{RepeatPenalty: math.Inf(1)}},
		{"presence_penalty", llm.GenerationParams{PresencePenalty: math.NaN()}},
		{"stop[0]", llm.GenerationParams{Stop: []string{""}}},
	}
	for _, c := range bad {
		_, err := l.Generate(context.Background(), in, 1, c.p)
		assert.ErrorIs(t, err, llm.ErrBadParameter, c.name)
		assert.ErrorContains(t, err, c.name)
	}
	out, err := l.Generate(context.Background(), in, 1, llm.GenerationParams{LogitBias: map[int32]float64{int32(l.Model().VocabSize()): 1}})
	require.NoError(t, err)
	assert.ErrorIs(t, out[0].Err, llm.ErrBadParameter)
	assert.ErrorContains(t, out[0].Err, "logit_bias")
	// Absurd budgets against the context are refused before any work.
	out, err = l.Generate(context.Background(), in, 1, llm.GenerationParams{MaxNewTokens: 1 << 19})
	require.NoError(t, err)
	assert.ErrorIs(t, out[0].Err, llm.ErrContextTooLong)
	// Empty inputs.
	out, err = l.Generate(context.Background(), []llm.Input{{}, llm.Chat()}, 1, llm.GenerationParams{})
	require.NoError(t, err)
	assert.ErrorIs(t, out[0].Err, llm.ErrEmptyInput)
	assert.ErrorIs(t, out[1].Err, llm.ErrEmptyInput)
	hs, err := l.HiddenStates(context.Background(), []llm.Input{{}}, []int{-1})
	require.NoError(t, err)
	assert.ErrorIs(t, hs[0].Err, llm.ErrEmptyInput)
	_, err = l.HiddenStates(context.Background(), in, []int{99})
	assert.ErrorIs(t, err, llm.ErrBadParameter)
}

// TestLowLevelGuards: the low-level API refuses what llama.cpp would abort on.
func TestLowLevelGuards(t *testing.T) {
	l := openLLM(t, tinyModel(t, ""), llamacpp.ContextOptions{})
	m := l.Model()
	c, err := m.NewContext(&llama.ContextParams{BatchSize: 8, Sequences: 2, Threads: 1})
	require.NoError(t, err)
	defer c.Close()
	b, err := llama.NewBatch(16, 1)
	require.NoError(t, err)
	defer b.Close()
	_, err = b.Add(int32(m.VocabSize()), 0, []int32{0}, true)
	require.NoError(t, err)
	assert.ErrorContains(t, c.Decode(context.Background(), b), "outside the vocabulary")
	b.Clear()
	_, err = b.Add(1, 0, []int32{5}, true)
	require.NoError(t, err)
	assert.ErrorContains(t, c.Decode(context.Background(), b), "sequence 5")
	b.Clear()
	for i := 0; i < 9; i++ {
		_, err = b.Add(1, i, []int32{0}, false)
		require.NoError(t, err)
	}
	assert.ErrorContains(t, c.Decode(context.Background(), b), "batch size")
	_, err = b.Add(1, -1, []int32{0}, false)
	assert.ErrorContains(t, err, "negative position")
	_, err = llama.NewBatch(0, 1)
	assert.Error(t, err)
	_, err = m.Piece(-1, false)
	assert.ErrorIs(t, err, llm.ErrBadInput)
	_, err = m.Detokenize([]int32{1, 1 << 30}, false, false)
	assert.ErrorIs(t, err, llm.ErrBadInput)
	_, err = c.Logits(0, make([]float32, 3))
	assert.Error(t, err)
	s, err := llama.NewSampler(m, llama.SamplerParams{Seed: 1}, false)
	require.NoError(t, err)
	defer s.Close()
	assert.ErrorIs(t, s.Accept(int32(m.VocabSize())), llm.ErrBadInput)
	_, err = s.SampleFrom(c, 0, []int32{int32(m.VocabSize())})
	assert.ErrorIs(t, err, llama.ErrBadOption, "a candidate outside the vocabulary is refused before llama.cpp sees it")
	_, err = llama.NewSampler(m, llama.SamplerParams{LogitBias: map[int32]float64{int32(m.VocabSize()): 1}}, false)
	assert.ErrorIs(t, err, llm.ErrBadParameter)
	require.NoError(t, c.Close())
	assert.ErrorIs(t, c.Decode(context.Background(), b), llm.ErrClosed)
	require.NoError(t, m.Close())
	_, err = m.Tokenize("x", true, false)
	assert.ErrorIs(t, err, llm.ErrClosed)
}

// TestPooledBatchNeedsOutputs: with pooled embeddings on, a batch with a
// token that is not an output is an error, not a GGML_ASSERT abort.
func TestPooledBatchNeedsOutputs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qwen2-mean.gguf")
	require.NoError(t, tinyllama.Write(path, tinyllama.Config{Arch: "qwen2", Pooling: "mean"}))
	m, err := llama.LoadModel(context.Background(), path, nil)
	require.NoError(t, err)
	defer m.Close()
	c, err := m.NewContext(&llama.ContextParams{ContextSize: 256, Threads: 1, Embeddings: true})
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, "mean", c.PoolingType())
	b, err := llama.NewBatch(8, 1)
	require.NoError(t, err)
	defer b.Close()
	toks, err := m.Tokenize("one two three", true, false)
	require.NoError(t, err)
	for p, tk := range toks {
		_, err := b.Add(tk, p, []int32{0}, p == len(toks)-1)
		require.NoError(t, err)
	}
	assert.ErrorContains(t, c.Decode(context.Background(), b), "every token of a batch must be an output")
	for i := range toks {
		b.SetOutput(i, true)
	}
	require.NoError(t, c.Decode(context.Background(), b))
	v, err := c.SequenceEmbedding(0)
	require.NoError(t, err)
	assert.Len(t, v, m.Info().NEmbd)
}

// TestSplitKVGuards: with a KV stream per sequence, what llama.cpp would
// assert on (a partial copy across streams, a token in two sequences) is an
// error; a whole copy works.
func TestSplitKVGuards(t *testing.T) {
	m, err := llama.LoadModel(context.Background(), tinyModel(t, ""), nil)
	require.NoError(t, err)
	defer m.Close()
	c, err := m.NewContext(&llama.ContextParams{ContextSize: 512, Sequences: 2, Threads: 1, SplitKV: true})
	require.NoError(t, err)
	defer c.Close()
	b, err := llama.NewBatch(8, 2)
	require.NoError(t, err)
	defer b.Close()
	_, err = b.Add(1, 0, []int32{0, 1}, true)
	require.NoError(t, err)
	assert.ErrorContains(t, c.Decode(context.Background(), b), "in 2 sequences")
	b.Clear()
	for p := 0; p < 3; p++ {
		_, err = b.Add(int32(10+p), p, []int32{0}, p == 2)
		require.NoError(t, err)
	}
	require.NoError(t, c.Decode(context.Background(), b))
	assert.ErrorContains(t, c.CopySequence(0, 1, 0, 2), "copied whole")
	require.NoError(t, c.CopySequence(0, 1, -1, -1))
	b.Clear()
	_, err = b.Add(20, 3, []int32{1}, true)
	require.NoError(t, err)
	require.NoError(t, c.Decode(context.Background(), b), "sequence 1 continues from the copied stream")
}
