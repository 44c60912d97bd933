package llamacpp_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/gguf"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llm"
)

func maxAbsDiff(a, b mat.Matrix) float64 {
	r, c := a.Dims()
	m := 0.0
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			m = math.Max(m, math.Abs(a.At(i, j)-b.At(i, j)))
		}
	}
	return m
}

func TestResolveLayers(t *testing.T) {
	got, err := llamacpp.ResolveLayers([]int{0, -1, 2, -3}, 4)
	require.NoError(t, err)
	assert.Equal(t, []int{0, 4, 2, 2}, got)
	_, err = llamacpp.ResolveLayers([]int{5}, 4)
	assert.ErrorIs(t, err, llm.ErrBadParameter)
	_, err = llamacpp.ResolveLayers([]int{-6}, 4)
	assert.ErrorIs(t, err, llm.ErrBadParameter)
	_, err = llamacpp.ResolveLayers(nil, 4)
	assert.ErrorIs(t, err, llm.ErrBadParameter)
}

// TestHiddenStatesAgainstWeights checks two layers against the model file
// itself: layer 0 is the rows of token_embd.weight for the input's tokens,
// and the final normed layer times output.weight gives llama.cpp's logits.
func TestHiddenStatesAgainstWeights(t *testing.T) {
	path := tinyModel(t, "llama-spm")
	l := openLLM(t, path, exact)
	f, err := gguf.Open(path)
	require.NoError(t, err)
	emb, err := f.ReadTensorF32("token_embd.weight")
	require.NoError(t, err)
	out, err := f.ReadTensorF32("output.weight")
	require.NoError(t, err)
	nEmbd := l.Model().Info().NEmbd
	nVocab := l.Model().VocabSize()

	prompt := "Hidden states of a tiny model"
	hs, err := l.HiddenStates(context.Background(), []llm.Input{llm.Prompt(prompt)}, []int{0, -1})
	require.NoError(t, err)
	require.Len(t, hs, 1)
	h := hs[0]
	require.Equal(t, []int{0, l.Model().Info().NLayer}, h.Layers)
	toks, _ := l.Model().Tokenize(prompt, true, true)
	require.Equal(t, toks, h.Tokens)
	r, c := h.States[0].Dims()
	require.Equal(t, len(toks), r)
	require.Equal(t, nEmbd, c)

	for i, tok := range toks {
		for j := 0; j < nEmbd; j++ {
			require.Equal(t, float64(emb[int(tok)*nEmbd+j]), h.States[0].At(i, j), "token %d dim %d", i, j)
		}
	}

	// Logits of every position from a plain decode with all outputs.
	m := l.Model()
	c2, err := m.NewContext(&exactParams)
	require.NoError(t, err)
	defer c2.Close()
	b, err := llama.NewBatch(len(toks), 1)
	require.NoError(t, err)
	defer b.Close()
	for i, tok := range toks {
		_, err := b.Add(tok, i, []int32{0}, true)
		require.NoError(t, err)
	}
	require.NoError(t, c2.Decode(context.Background(), b))
	worst := 0.0
	for i := range toks {
		logits, err := c2.Logits(i, nil)
		require.NoError(t, err)
		for v := 0; v < nVocab; v += 7 {
			dot := 0.0
			for j := 0; j < nEmbd; j++ {
				dot += h.States[1].At(i, j) * float64(out[v*nEmbd+j])
			}
			worst = math.Max(worst, math.Abs(dot-float64(logits[v])))
		}
	}
	assert.Less(t, worst, 1e-4, "final hidden state x output.weight vs llama.cpp logits")
	t.Logf("max |h·W - logits| = %.3g", worst)
}

// TestHiddenStatesBatchedEqualsAlone: inputs evaluated together (several
// sequences per decode, and one input longer than a batch) give the states
// they give one at a time.
func TestHiddenStatesBatchedEqualsAlone(t *testing.T) {
	co := exact
	co.BatchSize = 64
	l := openLLM(t, tinyModel(t, "llama-spm"), co)
	inputs := []llm.Input{
		llm.Prompt("first input"),
		llm.Prompt(strings.Repeat("a long input that needs more than one batch ", 8)),
		llm.Prompt("third"),
		llm.Prompt("the fourth input is here"),
	}
	layers := []int{-1, 1, 0}
	together, err := l.HiddenStates(context.Background(), inputs, layers)
	require.NoError(t, err)
	require.Len(t, together, len(inputs))
	require.Greater(t, len(together[1].Tokens), 64)
	for i, in := range inputs {
		alone, err := l.HiddenStates(context.Background(), []llm.Input{in}, layers)
		require.NoError(t, err)
		for k := range layers {
			assert.Less(t, maxAbsDiff(alone[0].States[k], together[i].States[k]), 1e-5, "input %d layer %d", i, layers[k])
		}
	}
	last, err := l.LastHiddenStates(context.Background(), inputs[:1])
	require.NoError(t, err)
	assert.Less(t, maxAbsDiff(last[0].States[0], together[0].States[0]), 1e-5)
}
