package gguftest_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp/gguf"
	"github.com/locallm/locallm/llamacpp/gguf/gguftest"
	"github.com/locallm/locallm/llamacpp/tinyllama"
)

func tiny(t testing.TB) []byte {
	var buf bytes.Buffer
	_, err := tinyllama.WriteTo(&buf, tinyllama.Config{Layers: 1, Hidden: 32, Heads: 2, FF: 64})
	require.NoError(t, err)
	return buf.Bytes()
}

func TestCorruptions(t *testing.T) {
	valid := tiny(t)
	cs, err := gguftest.Corruptions(valid, 1)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(cs), 1000)

	names := map[string]bool{}
	regions := map[gguftest.Region]int{}
	truncations, rejected, loadable := 0, 0, 0
	kinds := map[error]int{}
	sentinels := []error{gguf.ErrNotGGUF, gguf.ErrVersion, gguf.ErrTruncated, gguf.ErrKey, gguf.ErrDuplicate,
		gguf.ErrValueType, gguf.ErrTensorType, gguf.ErrShape, gguf.ErrAlignment, gguf.ErrOverlap,
		gguf.ErrUnsupported, gguf.ErrMetadata}
	for _, c := range cs {
		require.False(t, names[c.Name], "duplicate name %s", c.Name)
		names[c.Name] = true
		regions[c.Region]++
		b := c.Bytes()
		require.Equal(t, c.Size(), int64(len(b)))
		var w bytes.Buffer
		n, err := c.WriteTo(&w)
		require.NoError(t, err)
		require.Equal(t, int64(len(b)), n)
		require.True(t, bytes.Equal(b, w.Bytes()), c.Name)
		require.False(t, bytes.Equal(b, valid), "%s changes nothing", c.Name)

		f, err := gguf.Read(bytes.NewReader(b), int64(len(b)))
		if err == nil {
			err = f.CheckLlamaCPP()
		}
		if c.Truncated {
			truncations++
			require.ErrorIs(t, err, gguf.ErrTruncated, "%s: %v", c.Name, err)
		}
		if err != nil {
			rejected++
			var fe *gguf.FormatError
			require.True(t, errors.As(err, &fe), "%s: %v is a *FormatError", c.Name, err)
			for _, s := range sentinels {
				if errors.Is(err, s) {
					kinds[s]++
				}
			}
		} else {
			loadable++
		}
	}
	assert.Equal(t, valid, tiny(t), "the valid file is not changed")
	for _, r := range []gguftest.Region{gguftest.Header, gguftest.Metadata, gguftest.TensorInfo, gguftest.Data} {
		assert.Greater(t, regions[r], 10, "corruptions in %s", r)
	}
	assert.Greater(t, truncations, 100)
	t.Logf("%d corruptions (%v), %d truncations; the checker rejects %d and passes %d", len(cs), regions, truncations, rejected, loadable)
	for _, s := range sentinels {
		t.Logf("  %-40v %d", s, kinds[s])
	}

	again, err := gguftest.Corruptions(valid, 1)
	require.NoError(t, err)
	require.Equal(t, len(cs), len(again))
	for i := range cs {
		require.Equal(t, cs[i].Name, again[i].Name, "same seed, same list")
		require.Equal(t, cs[i].Patch, again[i].Patch)
	}
	other, err := gguftest.Corruptions(valid, 2)
	require.NoError(t, err)
	differ := false
	for i := range other {
		differ = differ || i >= len(cs) || other[i].Name != cs[i].Name
	}
	assert.True(t, differ, "another seed, other random points")

	_, err = gguftest.Corruptions([]byte("not gguf"), 1)
	assert.ErrorIs(t, err, gguf.ErrNotGGUF)
}
