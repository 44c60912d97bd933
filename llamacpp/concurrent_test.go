package llamacpp_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gonum.org/v1/gonum/mat"

	"github.com/locallm/locallm/hiddenstates"
	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/tinyllama"
	"github.com/locallm/locallm/llm"
)

// TestConcurrentGenerate: many goroutines share one LLM; their sequences are
// batched together. Every output comes back, and greedy outputs equal those
// of the same prompts generated alone. Run under -race by `make test`.
func TestConcurrentGenerate(t *testing.T) {
	l := openLLM(t, tinyModel(t, ""), llamacpp.ContextOptions{Sequences: 16, ContextSize: 4096})
	goroutines, each := 64, 10
	if testing.Short() {
		goroutines = 8
	}
	params := llm.GenerationParams{MaxNewTokens: 6, IgnoreEOS: true}
	prompts := []string{"alpha", "beta gamma", "delta epsilon zeta", "eta"}
	want := map[string]string{}
	for _, p := range prompts {
		out, err := l.Generate(context.Background(), []llm.Input{llm.Prompt(p)}, 1, params)
		require.NoError(t, err)
		want[p] = out[0].Generations[0]
	}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				p := prompts[(g+i)%len(prompts)]
				out, err := l.Generate(context.Background(), []llm.Input{llm.Prompt(p)}, 1, params)
				if err != nil {
					errs <- err
					continue
				}
				if out[0].Err != nil {
					errs <- out[0].Err
					continue
				}
				if out[0].Generations[0] != want[p] || out[0].Statistics.OutputTokens[0] != 6 {
					errs <- fmt.Errorf("goroutine %d call %d: got %q (%d tokens), want %q", g, i, out[0].Generations[0], out[0].Statistics.OutputTokens[0], want[p])
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

// TestConcurrentCloseRace closes the LLM while goroutines generate: every
// call returns (no deadlock), with results or ErrClosed, never a crash.
func TestConcurrentCloseRace(t *testing.T) {
	l, err := llamacpp.Open(context.Background(), llamacpp.Options{ModelPath: tinyModel(t, "")})
	require.NoError(t, err)
	var wg sync.WaitGroup
	first := make(chan struct{}, 16*5)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				_, err := l.Generate(context.Background(), []llm.Input{llm.Prompt("x y z")}, 2, llm.GenerationParams{MaxNewTokens: 50, IgnoreEOS: true})
				if err != nil {
					assert.ErrorIs(t, err, llm.ErrClosed)
					return
				}
				first <- struct{}{}
			}
		}()
	}
	<-first // close while the others are mid-generation
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = l.HiddenStates(context.Background(), []llm.Input{llm.Prompt("x")}, []int{0, -1})
	}()
	require.NoError(t, l.Close())
	wg.Wait()
}

// tinyPooled writes a tiny qwen2 decoder that declares mean pooling (as
// embedding models of that family do): one model that generates, gives
// hidden states and embeds.
func tinyPooled(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny-qwen2-mean.gguf")
	require.NoError(t, tinyllama.Write(path, tinyllama.Config{Arch: "qwen2", Pooling: "mean"}))
	return path
}

// TestConcurrentMixedWork: generations, hidden-state reads and embeddings
// from many goroutines on one LLM share its one scheduler: every result
// equals the same request's result alone (greedy tokens exactly; hidden
// states and embeddings to float rounding, since batch shapes differ), and
// the embedding is the mean of the final hidden states (an independent
// check of the pooled path). Run under -race by make test.
func TestConcurrentMixedWork(t *testing.T) {
	l := openLLM(t, tinyPooled(t), llamacpp.ContextOptions{Sequences: 8, CacheType: llamacpp.CacheF32, FlashAttention: llamacpp.FlashOff})
	ctx := context.Background()
	params := llm.GenerationParams{MaxNewTokens: 12, IgnoreEOS: true}
	prompts := []string{"one two three", "the cat sat on the mat", "x", "a somewhat longer input of words to read"}
	wantGen := map[string]string{}
	wantHS := map[string]*mat.Dense{}
	wantEmb := map[string][]float32{}
	for _, p := range prompts {
		out, err := l.Generate(ctx, []llm.Input{llm.Prompt(p)}, 1, params)
		require.NoError(t, err)
		wantGen[p] = out[0].Generations[0]
		hs, err := l.HiddenStates(ctx, []llm.Input{llm.Prompt(p)}, []int{1, -1})
		require.NoError(t, err)
		wantHS[p] = hs[0].States[1]
		emb, err := l.Embed(ctx, []llm.Input{llm.Prompt(p)})
		require.NoError(t, err)
		wantEmb[p] = emb[0]
		mean := hiddenstates.Pool(nil, hs[0].States[1], nil, hiddenstates.Mean)
		for k := range emb[0] {
			assert.InDelta(t, mean[k], float64(emb[0][k]), 1e-5, "embedding = mean of the final hidden states")
		}
	}
	rounds := 12
	if testing.Short() {
		rounds = 3
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3*rounds*len(prompts))
	for r := 0; r < rounds; r++ {
		for i, p := range prompts {
			wg.Add(3)
			go func() {
				defer wg.Done()
				out, err := l.Generate(ctx, []llm.Input{llm.Prompt(p)}, 1+i%2, params)
				if err == nil {
					err = out[0].Err
				}
				if err == nil && out[0].Generations[0] != wantGen[p] {
					err = fmt.Errorf("generation of %q: %q, alone %q", p, out[0].Generations[0], wantGen[p])
				}
				if err != nil {
					errs <- err
				}
			}()
			go func() {
				defer wg.Done()
				hs, err := l.HiddenStates(ctx, []llm.Input{llm.Prompt(p)}, []int{1, -1})
				if err == nil {
					err = hs[0].Err
				}
				if err == nil {
					var d mat.Dense
					d.Sub(hs[0].States[1], wantHS[p])
					if m := mat.Norm(&d, math.Inf(1)); m > 1e-4 {
						err = fmt.Errorf("hidden states of %q differ from alone by %g", p, m)
					}
				}
				if err != nil {
					errs <- err
				}
			}()
			go func() {
				defer wg.Done()
				emb, err := l.Embed(ctx, []llm.Input{llm.Prompt(p)})
				if err == nil {
					for k, v := range emb[0] {
						if math.Abs(float64(v-wantEmb[p][k])) > 1e-4 {
							err = fmt.Errorf("embedding of %q differs from alone at %d: %g, %g", p, k, v, wantEmb[p][k])
							break
						}
					}
				}
				if err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	st := l.Stats()
	assert.Greater(t, float64(st.DecodedTokens)/float64(st.Decodes), 2.0, "mixed work shared decodes")
}

// TestKVLayoutsAgree: the same prompts, several generations each, through
// a unified KV cache and through a stream per sequence (the prompt copied
// stream to stream): the same greedy outputs, on the real llama.cpp.
func TestKVLayoutsAgree(t *testing.T) {
	path := tinyModel(t, "")
	var inputs []llm.Input
	for i := 0; i < 6; i++ {
		inputs = append(inputs, llm.Prompt(fmt.Sprintf("Prompt number %d tells a story about", i)))
	}
	params := llm.GenerationParams{MaxNewTokens: 24, IgnoreEOS: true}
	out := map[string][]llm.Output{}
	for _, layout := range []string{"unified", "split"} {
		l := openLLM(t, path, llamacpp.ContextOptions{Sequences: 16, ContextSize: 2048, KVLayout: layout})
		o, err := l.Generate(context.Background(), inputs, 2, params)
		require.NoError(t, err)
		for i := range o {
			require.NoError(t, o[i].Err)
		}
		assert.Equal(t, layout == "split", l.Stats().SplitKV, layout)
		out[layout] = o
	}
	for i := range inputs {
		assert.Equal(t, out["unified"][i].Generations, out["split"][i].Generations, "input %d", i)
		assert.Equal(t, out["split"][i].Generations[0], out["split"][i].Generations[1], "greedy: the copied stream continues as the original")
	}
	l := openLLM(t, path, llamacpp.ContextOptions{KVLayout: "split"})
	hs, err := l.HiddenStates(context.Background(), inputs[:1], []int{-1})
	require.NoError(t, err)
	assert.ErrorIs(t, hs[0].Err, llm.ErrBadInput, "a split cache gives no hidden states")
	_, err = llamacpp.New(llamacpp.Options{ModelPath: path, Context: llamacpp.ContextOptions{KVLayout: "diagonal"}})
	assert.ErrorIs(t, err, llamacpp.ErrBadOption)
}
