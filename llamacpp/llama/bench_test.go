package llama_test

import (
	"context"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/internal/testmodel"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llamacpp/llama/internal/cloop"
	"github.com/locallm/locallm/llm"
)

const benchPrompt = "The history of the printing press begins in the fifteenth century, when a goldsmith in Mainz"

func benchThreads() int {
	if n, err := strconv.Atoi(os.Getenv("LOCALLM_BENCH_THREADS")); err == nil && n > 0 {
		return n
	}
	return llama.PhysicalCores()
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// goLoop is the same greedy generation as cloop.Run, written against the
// binding: tokenise, decode the prompt, then sample and decode one token
// at a time. It returns the decode rate of the tokens after the first.
func goLoop(b *testing.B, m *llama.Model, c *llama.Context, n int) float64 {
	toks, err := m.Tokenize(benchPrompt, true, true)
	require.NoError(b, err)
	c.ClearKV()
	batch, err := llama.NewBatch(c.BatchSize(), 1)
	require.NoError(b, err)
	defer batch.Close()
	s, err := llama.NewSampler(m, llama.SamplerParams{}, true)
	require.NoError(b, err)
	defer s.Close()
	seq := []int32{0}
	for p, t := range toks {
		_, err := batch.Add(t, p, seq, p == len(toks)-1)
		require.NoError(b, err)
	}
	require.NoError(b, c.Decode(context.Background(), batch))
	tok, err := s.Sample(c, batch.Len()-1)
	require.NoError(b, err)
	t0 := time.Now()
	for i := 1; i < n; i++ {
		require.NoError(b, s.Accept(tok))
		batch.Clear()
		_, err := batch.Add(tok, len(toks)+i-1, seq, true)
		require.NoError(b, err)
		require.NoError(b, c.Decode(context.Background(), batch))
		tok, err = s.Sample(c, 0)
		require.NoError(b, err)
	}
	return float64(n-1) / time.Since(t0).Seconds()
}

// BenchmarkBindingOverhead: the same greedy generation (64 tokens, the
// benchmark model in q8_0, end-of-generation ignored) through a plain C
// loop over the llama.cpp calls, through the binding (a Go loop over the
// same calls), and through the whole stack (LLM.Generate: engine,
// scheduler, sampler chain), in rotation. It reports each decode rate's
// median and their ratios to C (1 means no overhead).
func BenchmarkBindingOverhead(b *testing.B) {
	path, err := testmodel.Bench("q8_0")
	if err != nil {
		b.Skip(err)
	}
	threads := benchThreads()
	const n = 64
	m, err := llama.LoadModel(context.Background(), path, nil)
	require.NoError(b, err)
	defer m.Close()
	c, err := m.NewContext(&llama.ContextParams{ContextSize: 4096, Sequences: 1, Threads: threads})
	require.NoError(b, err)
	defer c.Close()
	l, err := llamacpp.Open(context.Background(), llamacpp.Options{ModelPath: path,
		Context: llamacpp.ContextOptions{Threads: threads, Sequences: 1, ContextSize: 4096, Preallocate: true}})
	require.NoError(b, err)
	defer l.Close()
	runs := []func() float64{
		func() float64 {
			r, err := cloop.Run(path, benchPrompt, n, cloop.Options{Threads: threads, ContextSize: 4096, BatchSize: 512, FlashAttention: -1, CacheType: 1})
			require.NoError(b, err)
			return r.DecodeTokensPerSecond()
		},
		func() float64 { return goLoop(b, m, c, n) },
		func() float64 {
			out, err := l.Generate(context.Background(), []llm.Input{llm.Prompt(benchPrompt)}, 1, llm.GenerationParams{MaxNewTokens: n, IgnoreEOS: true})
			require.NoError(b, err)
			st := out[0].Statistics
			return float64(st.OutputTokens[0]-1) / st.GenerationSeconds
		},
	}
	rates := make([][]float64, len(runs))
	var goC, llmC []float64
	for i := 0; i < max(b.N, 7); i++ {
		var r [3]float64
		for k := range runs {
			// Rotate which goes first, so that none always runs on a CPU
			// another has just warmed or heated.
			j := (k + i) % len(runs)
			r[j] = runs[j]()
		}
		for k := range runs {
			rates[k] = append(rates[k], r[k])
		}
		goC, llmC = append(goC, r[1]/r[0]), append(llmC, r[2]/r[0])
	}
	b.ReportMetric(median(rates[0]), "c_decode_tok/s")
	b.ReportMetric(median(rates[1]), "binding_decode_tok/s")
	b.ReportMetric(median(rates[2]), "llm_decode_tok/s")
	b.ReportMetric(median(goC), "binding/c")
	b.ReportMetric(median(llmC), "llm/c")
}

// BenchmarkCaptureCallback: decode speed of a context with the
// hidden-state callback installed but capturing nothing (as the engine's
// one context always is) against one without it.
func BenchmarkCaptureCallback(b *testing.B) {
	path, err := testmodel.Bench("q8_0")
	if err != nil {
		b.Skip(err)
	}
	m, err := llama.LoadModel(context.Background(), path, nil)
	require.NoError(b, err)
	defer m.Close()
	ctx := func(hs bool) *llama.Context {
		c, err := m.NewContext(&llama.ContextParams{ContextSize: 4096, Sequences: 1, Threads: benchThreads(), HiddenStates: hs})
		require.NoError(b, err)
		goLoop(b, m, c, 8) // warm up: the first decode touches the buffers
		return c
	}
	plain, callback := ctx(false), ctx(true)
	defer plain.Close()
	defer callback.Close()
	var with, without []float64
	for i := 0; i < max(b.N, 7); i++ {
		if i%2 == 0 {
			without = append(without, goLoop(b, m, plain, 64))
			with = append(with, goLoop(b, m, callback, 64))
		} else {
			with = append(with, goLoop(b, m, callback, 64))
			without = append(without, goLoop(b, m, plain, 64))
		}
	}
	b.ReportMetric(median(without), "plain_tok/s")
	b.ReportMetric(median(with), "callback_tok/s")
	b.ReportMetric(median(with)/median(without), "callback/plain")
}
