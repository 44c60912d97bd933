package llamacpp_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llamacpp/tinyllama"
)

// TestQuantizeDefaultTinyModel: the tiny model's default shapes quantise to
// every type Quantize offers, and the result loads and generates.
func TestQuantizeDefaultTinyModel(t *testing.T) {
	if testing.Short() {
		t.Skip("quantises the tiny model to every type")
	}
	in := tinyModel(t, "")
	dir := t.TempDir()
	for _, typ := range llamacpp.QuantTypes() {
		out := filepath.Join(dir, typ+".gguf")
		require.NoError(t, llamacpp.Quantize(context.Background(), in, out, llamacpp.QuantizeOptions{Type: typ, Threads: 1}), typ)
		m, err := llama.LoadModel(context.Background(), out, nil)
		require.NoError(t, err, typ)
		m.Close()
	}
}

// TestQuantizeRowsNotInBlocks: a tensor whose rows are not a multiple of the
// block size is an error that names it, its shape and the block size,
// before llama.cpp is called (which would fail with "Unsupported tensor
// size" and its log); types that llama.cpp can fall back from still work.
func TestQuantizeRowsNotInBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("quantises a tiny model")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "ff176.gguf")
	require.NoError(t, tinyllama.Write(in, tinyllama.Config{FF: 176}))
	for _, typ := range []string{"q8_0", "q4_0", "q5_1", "iq4_nl"} {
		out := filepath.Join(dir, typ+".gguf")
		err := llamacpp.Quantize(context.Background(), in, out, llamacpp.QuantizeOptions{Type: typ, Threads: 1})
		require.Error(t, err, typ)
		assert.ErrorIs(t, err, llamacpp.ErrBadOption)
		assert.Equal(t, `llamacpp: bad option: quantize to `+typ+`: tensor "blk.0.ffn_down.weight" of shape [176 64] has rows of 176 elements, not a multiple of the block size 32`, err.Error())
		_, statErr := os.Stat(out)
		assert.True(t, os.IsNotExist(statErr), "no output for %s", typ)
	}
	// The k-quants fall back to f16 for those rows.
	require.NoError(t, llamacpp.Quantize(context.Background(), in, filepath.Join(dir, "q4_k_m.gguf"), llamacpp.QuantizeOptions{Type: "q4_k_m", Threads: 1}))

	// output.weight falls back to q8_0, whose blocks its rows must fit.
	odd := filepath.Join(dir, "hidden72.gguf")
	require.NoError(t, tinyllama.Write(odd, tinyllama.Config{Hidden: 72, Heads: 4, FF: 192}))
	err := llamacpp.Quantize(context.Background(), odd, filepath.Join(dir, "odd.gguf"), llamacpp.QuantizeOptions{Type: "q6_k", Threads: 1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `has rows of 72 elements, not a multiple of the block size 32`)
}
