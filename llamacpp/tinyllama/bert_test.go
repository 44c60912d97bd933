package tinyllama_test

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp/gguf"
	"github.com/locallm/locallm/llamacpp/tinyllama"
)

func buildBERT(t testing.TB, c tinyllama.BERTConfig) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := tinyllama.WriteBERTTo(&buf, c)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), n)
	return buf.Bytes()
}

// goldenBERT is the SHA-256 of the default BERT with the shared bert-bge
// vocabulary. It changes only when the generator, the writer or that
// vocabulary file does; when that is meant, update it and say so in the
// commit.
const goldenBERT = "e704fab5050e10a8966fad759c5accfea8eadcfb1860c79d291713c6a49d02ea"

func TestBERTDeterministic(t *testing.T) {
	vocab := sharedVocab(t, "bert-bge")
	a := buildBERT(t, tinyllama.BERTConfig{Vocab: vocab})
	b := buildBERT(t, tinyllama.BERTConfig{Vocab: vocab, Seed: 1, Layers: 2, Hidden: 64, Heads: 4, FF: 128,
		CtxLen: 512, Type: "f32", Pooling: "mean", NormEps: 1e-12, Name: "tinybert"})
	assert.Equal(t, sum(a), sum(b), "the zero fields are the defaults")
	assert.Equal(t, goldenBERT, sum(a), "the default BERT's bytes changed")
	c := buildBERT(t, tinyllama.BERTConfig{Vocab: vocab, Seed: 2})
	assert.NotEqual(t, sum(a), sum(c), "the seed changes the weights")
	assert.Equal(t, len(a), len(c))

	path := filepath.Join(t.TempDir(), "bert.gguf")
	require.NoError(t, tinyllama.WriteBERT(path, tinyllama.BERTConfig{Vocab: vocab}))
	onDisk, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, sum(a), sum(onDisk), "WriteBERT and WriteBERTTo agree")
}

func TestBERTValidate(t *testing.T) {
	vocab := "unused.gguf" // Validate does not open it
	assert.NoError(t, tinyllama.BERTConfig{Vocab: vocab}.Validate())
	assert.NoError(t, tinyllama.BERTConfig{Vocab: vocab, Hidden: 30, Heads: 3, Pooling: "cls"}.Validate(), "odd head sizes are fine without RoPE")
	for name, c := range map[string]tinyllama.BERTConfig{
		"no vocab":          {},
		"negative layers":   {Layers: -1},
		"too many layers":   {Layers: tinyllama.MaxLayers + 1},
		"hidden not heads":  {Hidden: 60, Heads: 8},
		"negative ff":       {FF: -1},
		"huge ctx":          {CtxLen: 1 << 30},
		"unknown type":      {Type: "q4_0"},
		"unknown pooling":   {Pooling: "max"},
		"pooling upper":     {Pooling: "MEAN"},
		"negative eps":      {NormEps: -1},
		"NaN eps":           {NormEps: math.NaN()},
		"name with NUL":     {Name: "a\x00"},
		"too many params":   {Layers: 512, Hidden: 16384, FF: 65536, Heads: 128},
		"heads over hidden": {Hidden: 8, Heads: 16},
	} {
		if name != "no vocab" {
			c.Vocab = vocab
		}
		err := c.Validate()
		assert.ErrorIs(t, err, tinyllama.ErrConfig, name)
		_, err = tinyllama.WriteBERTTo(&bytes.Buffer{}, c)
		assert.ErrorIs(t, err, tinyllama.ErrConfig, name)
	}
	_, err := tinyllama.WriteBERTTo(&bytes.Buffer{}, tinyllama.BERTConfig{Vocab: "/nonexistent/vocab.gguf"})
	assert.ErrorIs(t, err, os.ErrNotExist)
	// A tokenizer other than WordPiece is refused.
	_, err = tinyllama.WriteBERTTo(&bytes.Buffer{}, tinyllama.BERTConfig{Vocab: sharedVocab(t, "llama-spm")})
	assert.ErrorIs(t, err, tinyllama.ErrConfig)
}

// The file has llama.cpp's LLM_ARCH_BERT keys and tensors, in ggml's
// dimension order, with the vocabulary's tokenizer keys.
func TestBERTLayout(t *testing.T) {
	vocab := sharedVocab(t, "bert-bge")
	for pooling, want := range map[string]any{"mean": uint32(1), "cls": uint32(2), "last": uint32(3), "none": nil} {
		t.Run(pooling, func(t *testing.T) {
			c := tinyllama.BERTConfig{Vocab: vocab, Layers: 3, Hidden: 48, Heads: 3, FF: 96, CtxLen: 128,
				NormEps: 1e-6, Pooling: pooling, Name: "bert shape"}
			f := read(t, buildBERT(t, c))
			v, ok := f.Lookup("bert.pooling_type")
			if want == nil {
				assert.False(t, ok, "no pooling key")
			} else {
				require.True(t, ok)
				assert.Equal(t, want, v.Interface())
			}
			for k, want := range map[string]any{
				"general.architecture":              "bert",
				"general.name":                      "bert shape",
				"general.file_type":                 uint32(0),
				"bert.context_length":               uint32(128),
				"bert.embedding_length":             uint32(48),
				"bert.block_count":                  uint32(3),
				"bert.feed_forward_length":          uint32(96),
				"bert.attention.head_count":         uint32(3),
				"bert.attention.layer_norm_epsilon": float32(1e-6),
				"bert.attention.causal":             false,
				"tokenizer.ggml.model":              "bert",
				"tokenizer.ggml.token_type_count":   uint32(2),
			} {
				v, ok := f.Lookup(k)
				require.True(t, ok, k)
				assert.Equal(t, want, v.Interface(), k)
			}
			tokens, err := f.Strings("tokenizer.ggml.tokens")
			require.NoError(t, err)
			nv := uint64(len(tokens))
			wantDims := map[string][]uint64{
				"token_embd.weight":      {48, nv},
				"token_types.weight":     {48, 2},
				"position_embd.weight":   {48, 128},
				"token_embd_norm.weight": {48},
				"token_embd_norm.bias":   {48},
			}
			for i := 0; i < 3; i++ {
				p := fmt.Sprintf("blk.%d.", i)
				for _, n := range []string{"attn_q", "attn_k", "attn_v", "attn_output"} {
					wantDims[p+n+".weight"] = []uint64{48, 48}
					wantDims[p+n+".bias"] = []uint64{48}
				}
				wantDims[p+"ffn_up.weight"] = []uint64{48, 96}
				wantDims[p+"ffn_up.bias"] = []uint64{96}
				wantDims[p+"ffn_down.weight"] = []uint64{96, 48}
				wantDims[p+"ffn_down.bias"] = []uint64{48}
				for _, n := range []string{"attn_output_norm", "layer_output_norm"} {
					wantDims[p+n+".weight"] = []uint64{48}
					wantDims[p+n+".bias"] = []uint64{48}
				}
			}
			require.Len(t, f.Tensors, len(wantDims))
			for _, ti := range f.Tensors {
				assert.Equal(t, wantDims[ti.Name], ti.Dims, ti.Name)
				assert.Equal(t, gguf.TypeF32, ti.Type, ti.Name)
			}
		})
	}
}

func TestBERTWeightsAndTypes(t *testing.T) {
	vocab := sharedVocab(t, "bert-bge")
	f32 := read(t, buildBERT(t, tinyllama.BERTConfig{Vocab: vocab}))
	// LayerNorm weights near 1, biases near 0, matrices of deviation
	// 1/sqrt(fan-in).
	w, err := f32.ReadTensorF32("blk.0.layer_output_norm.weight")
	require.NoError(t, err)
	b, err := f32.ReadTensorF32("blk.0.layer_output_norm.bias")
	require.NoError(t, err)
	for i := range w {
		assert.InDelta(t, 1, w[i], 0.18)
		assert.InDelta(t, 0, b[i], 0.18)
	}
	up, err := f32.ReadTensorF32("blk.1.ffn_up.weight")
	require.NoError(t, err)
	sq := 0.0
	for _, x := range up {
		sq += float64(x) * float64(x)
	}
	assert.InDelta(t, 1/math.Sqrt(64), math.Sqrt(sq/float64(len(up))), 0.01)

	for typ, ft := range map[string]uint32{"f16": 1, "q8_0": 7} {
		f := read(t, buildBERT(t, tinyllama.BERTConfig{Vocab: vocab, Type: typ, FF: 80}))
		v, _ := f.Lookup("general.file_type")
		assert.Equal(t, ft, v.Interface(), typ)
		for _, ti := range f.Tensors {
			want := gguf.TypeF16
			switch {
			case len(ti.Dims) == 1 || ti.Name == "token_types.weight":
				want = gguf.TypeF32
			case typ == "q8_0" && ti.Dims[0]%32 == 0:
				want = gguf.TypeQ8_0 // not ffn_down, whose rows have 80 elements
			}
			assert.Equal(t, want, ti.Type, "%s %s", typ, ti.Name)
		}
	}
}
