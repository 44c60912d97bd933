package llamacpp_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp/gguf"
	"github.com/locallm/locallm/llamacpp/internal/reference"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llamacpp/tinyllama"
	"github.com/locallm/locallm/llm"
)

// TestHiddenStatesMatchReference compares llama.cpp's hidden states at
// every layer, and its logits at every position, with an independent
// float64 forward pass in Go (internal/reference), on f32 weights with an
// f32 KV cache and flash attention off. Several inputs are evaluated
// together, so the batched path is what is checked.
func TestHiddenStatesMatchReference(t *testing.T) {
	deeper := filepath.Join(t.TempDir(), "deeper.gguf")
	require.NoError(t, tinyllama.Write(deeper, tinyllama.Config{Layers: 4, Hidden: 96, Heads: 6, KVHeads: 2, FF: 160, Seed: 7, RopeBase: 50000}))
	models := map[string]string{
		"builtin": tinyModel(t, ""),
		"gpt-2":   tinyModel(t, "gpt-2"),
		"deeper":  deeper,
	}
	prompts := []string{"The quick brown fox jumps over the lazy dog.", "Hidden states, layer by layer", "x"}
	for name, path := range models {
		t.Run(name, func(t *testing.T) {
			l := openLLM(t, path, exact)
			m := l.Model()
			nLayer := m.Info().NLayer
			f, err := gguf.Open(path)
			require.NoError(t, err)
			defer f.Close()

			layers := make([]int, nLayer+1)
			for i := range layers {
				layers[i] = i
			}
			var inputs []llm.Input
			for _, p := range prompts {
				inputs = append(inputs, llm.Prompt(p))
			}
			hs, err := l.HiddenStates(context.Background(), inputs, layers)
			require.NoError(t, err)
			worst := 0.0
			for i, h := range hs {
				require.NoError(t, h.Err)
				ref, err := reference.Forward(f, h.Tokens)
				require.NoError(t, err)
				for k, layer := range h.Layers {
					want := ref.FinalNorm
					if layer < nLayer {
						want = ref.Hidden[layer]
					}
					d := maxAbsDiff(h.States[k], want)
					worst = math.Max(worst, d)
					assert.Less(t, d, 1e-4, "input %d layer %d", i, layer)
				}
				// Logits at every position, from a decode with every token an output.
				c, err := m.NewContext(&exactParams)
				require.NoError(t, err)
				b, err := llama.NewBatch(len(h.Tokens), 1)
				require.NoError(t, err)
				for p, tok := range h.Tokens {
					_, err := b.Add(tok, p, []int32{0}, true)
					require.NoError(t, err)
				}
				require.NoError(t, c.Decode(context.Background(), b))
				for p := range h.Tokens {
					logits, err := c.Logits(p, nil)
					require.NoError(t, err)
					d := 0.0
					for v, x := range logits {
						d = math.Max(d, math.Abs(float64(x)-ref.Logits.At(p, v)))
					}
					assert.Less(t, d, 1e-4, "input %d logits at %d", i, p)
				}
				b.Close()
				c.Close()
			}
			t.Logf("%s: max |llama.cpp - reference| over %d layers = %.3g", name, nLayer+1, worst)
		})
	}
}
