package gguftest_test

import (
	"bytes"
	"errors"
	"io"
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
	for i, c := range cs {
		require.False(t, names[c.Name], "duplicate name %s", c.Name)
		names[c.Name] = true
		regions[c.Region]++
		if i%20 == 0 || !c.Truncated && c.Offset < 200 {
			// Bytes, WriteTo and ReaderAt give the same file (checked
			// on a sample: each copies the file).
			b := c.Bytes()
			require.Equal(t, c.Size(), int64(len(b)))
			var w bytes.Buffer
			n, err := c.WriteTo(&w)
			require.NoError(t, err)
			require.Equal(t, int64(len(b)), n)
			require.True(t, bytes.Equal(b, w.Bytes()), c.Name)
			require.False(t, bytes.Equal(b, valid), "%s changes nothing", c.Name)
			viaReaderAt := make([]byte, len(b))
			_, err = io.ReadFull(io.NewSectionReader(c.ReaderAt(), 0, c.Size()), viaReaderAt)
			require.NoError(t, err)
			require.True(t, bytes.Equal(b, viaReaderAt), c.Name)
		}

		f, err := gguf.Read(c.ReaderAt(), c.Size())
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

	// ReaderAt reads pieces that straddle the patch.
	for _, c := range cs[len(cs)/2 : len(cs)/2+50] {
		if c.Truncated {
			continue
		}
		want := c.Bytes()
		for _, span := range [][2]int64{{c.Offset - 3, c.Offset + 2}, {c.Offset + 1, c.Offset + 40}, {0, 1}} {
			lo, hi := max(span[0], 0), min(span[1], c.Size())
			got := make([]byte, hi-lo)
			_, err := c.ReaderAt().ReadAt(got, lo)
			require.NoError(t, err)
			require.Equal(t, want[lo:hi], got, c.Name)
		}
	}

	_, err = gguftest.Corruptions([]byte("not gguf"), 1)
	assert.ErrorIs(t, err, gguf.ErrNotGGUF)
}
