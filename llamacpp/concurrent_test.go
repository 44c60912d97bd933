package llamacpp_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp"
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
