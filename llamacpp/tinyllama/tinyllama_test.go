package tinyllama_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp/gguf"
	"github.com/locallm/locallm/llamacpp/tinyllama"
)

const vocabDir = "../../../shared/vocab"

func sharedVocab(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(vocabDir, "ggml-vocab-"+name+".gguf")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared vocab %s is absent (%v)", p, err)
	}
	return p
}

func build(t testing.TB, c tinyllama.Config) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := tinyllama.WriteTo(&buf, c)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), n)
	return buf.Bytes()
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func read(t testing.TB, b []byte) *gguf.File {
	t.Helper()
	f, err := gguf.Read(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	require.NoError(t, f.CheckLlamaCPP())
	return f
}

// goldenDefault is the SHA-256 of the default model. It changes only when
// the generator, the built-in vocabulary or the writer does; when that is
// meant, update it and say so in the commit.
const goldenDefault = "390c25529bdcb2ca42bf53b52f395054c3e7cc019d1f56245b613c30004980c5"

func TestDeterministic(t *testing.T) {
	a := build(t, tinyllama.Config{})
	b := build(t, tinyllama.Config{Seed: 1, Layers: 2, Hidden: 64, Heads: 4, KVHeads: 2, FF: 192, CtxLen: 512, Type: "f32"})
	assert.Equal(t, sum(a), sum(b), "the zero Config is the defaults")
	assert.Equal(t, goldenDefault, sum(a), "the default model's bytes changed")

	c := build(t, tinyllama.Config{Seed: 2})
	assert.NotEqual(t, sum(a), sum(c), "the seed changes the weights")
	assert.Equal(t, len(a), len(c))

	path := filepath.Join(t.TempDir(), "m.gguf")
	require.NoError(t, tinyllama.Write(path, tinyllama.Config{}))
	onDisk, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, sum(a), sum(onDisk), "Write and WriteTo agree")

	for _, typ := range []string{"f16", "q8_0"} {
		x, y := build(t, tinyllama.Config{Type: typ}), build(t, tinyllama.Config{Type: typ})
		assert.Equal(t, sum(x), sum(y), typ)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []tinyllama.Config{
		{},
		{Hidden: 66, Heads: 3},              // head size 22, KVHeads defaults to 3
		{Hidden: 8, Heads: 4, KVHeads: 1},   // multi-query, head size 2
		{Layers: 512, Hidden: 16, Heads: 1}, // llama.cpp's most layers
	} {
		assert.NoError(t, c.Validate(), "%+v", c)
	}
	for name, c := range map[string]tinyllama.Config{
		"negative layers":         {Layers: -1},
		"too many layers":         {Layers: 513},
		"hidden not heads":        {Hidden: 60, Heads: 8},
		"odd head size":           {Hidden: 60, Heads: 4},
		"heads not kv heads":      {Heads: 4, KVHeads: 3},
		"more kv heads":           {Heads: 4, KVHeads: 8},
		"more heads than hidden":  {Hidden: 64, Heads: 128},
		"negative ff":             {FF: -5},
		"huge ff":                 {FF: 1 << 30},
		"huge ctx":                {CtxLen: 1 << 30},
		"unknown type":            {Type: "q4_0"},
		"negative rope base":      {RopeBase: -1},
		"infinite rope base":      {RopeBase: math.Inf(1)},
		"NaN rope base":           {RopeBase: math.NaN()},
		"negative eps":            {RMSEps: -1e-5},
		"eps of one":              {RMSEps: 1},
		"name with NUL":           {Name: "a\x00b"},
		"too many params":         {Layers: 512, Hidden: 16384, FF: 65536, Heads: 128},
		"negative hidden":         {Hidden: -64},
		"kv heads negative":       {KVHeads: -2},
		"hidden above the bound":  {Hidden: 32768, Heads: 256},
		"ctx negative":            {CtxLen: -1},
		"heads negative":          {Heads: -4},
		"rope base below zero":    {RopeBase: -10000},
		"eps NaN":                 {RMSEps: math.NaN()},
		"type upper case":         {Type: "F16"},
		"layers one past the max": {Layers: tinyllama.MaxLayers + 1},
		"unknown arch":            {Arch: "gpt2"},
		"unknown pooling":         {Arch: "qwen2", Pooling: "max"},
		"pooling on llama":        {Pooling: "mean"},
	} {
		err := c.Validate()
		assert.ErrorIs(t, err, tinyllama.ErrConfig, name)
		_, err = tinyllama.WriteTo(&bytes.Buffer{}, c)
		assert.ErrorIs(t, err, tinyllama.ErrConfig, name)
	}
	_, err := tinyllama.WriteTo(&bytes.Buffer{}, tinyllama.Config{Vocab: "/nonexistent/vocab.gguf"})
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestDefaults(t *testing.T) {
	c := tinyllama.Config{}.WithDefaults()
	assert.Equal(t, tinyllama.Config{Layers: 2, Hidden: 64, Heads: 4, KVHeads: 2, FF: 192, CtxLen: 512, Seed: 1,
		Type: "f32", RopeBase: 10000, RMSEps: 1e-5, Name: "tinyllama", Arch: "llama"}, c)
	assert.Equal(t, 6, tinyllama.Config{Heads: 12}.WithDefaults().KVHeads)
	assert.Equal(t, 3, tinyllama.Config{Heads: 3}.WithDefaults().KVHeads)
}

// The file has llama.cpp's LLM_ARCH_LLAMA keys and tensors, in ggml's
// dimension order.
func TestLayout(t *testing.T) {
	c := tinyllama.Config{Layers: 3, Hidden: 96, Heads: 6, KVHeads: 2, FF: 128, CtxLen: 256, RopeBase: 5e5, RMSEps: 1e-6, Name: "shape test"}
	f := read(t, build(t, c))
	str := func(k string) string {
		s, err := f.String(k)
		require.NoError(t, err, k)
		return s
	}
	u32 := func(k string) uint32 {
		v, ok := f.Lookup(k)
		require.True(t, ok, k)
		x, isU32 := v.Interface().(uint32)
		require.True(t, isU32, "%s is u32, as llama.cpp's get_key requires", k)
		return x
	}
	f32 := func(k string) float32 {
		v, ok := f.Lookup(k)
		require.True(t, ok, k)
		x, isF32 := v.Interface().(float32)
		require.True(t, isF32, "%s is f32", k)
		return x
	}
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	require.NoError(t, err)
	nv := uint64(len(tokens))

	assert.Equal(t, "llama", str("general.architecture"))
	assert.Equal(t, "shape test", str("general.name"))
	assert.Equal(t, uint32(0), u32("general.file_type"))
	assert.Equal(t, uint32(256), u32("llama.context_length"))
	assert.Equal(t, uint32(96), u32("llama.embedding_length"))
	assert.Equal(t, uint32(3), u32("llama.block_count"))
	assert.Equal(t, uint32(128), u32("llama.feed_forward_length"))
	assert.Equal(t, uint32(6), u32("llama.attention.head_count"))
	assert.Equal(t, uint32(2), u32("llama.attention.head_count_kv"))
	assert.Equal(t, uint32(16), u32("llama.rope.dimension_count"))
	assert.Equal(t, uint32(nv), u32("llama.vocab_size"))
	assert.Equal(t, float32(5e5), f32("llama.rope.freq_base"))
	assert.Equal(t, float32(1e-6), f32("llama.attention.layer_norm_rms_epsilon"))

	want := map[string][]uint64{
		"token_embd.weight":  {96, nv},
		"output_norm.weight": {96},
		"output.weight":      {96, nv},
	}
	for i := 0; i < 3; i++ {
		p := fmt.Sprintf("blk.%d.", i)
		want[p+"attn_norm.weight"] = []uint64{96}
		want[p+"attn_q.weight"] = []uint64{96, 96}
		want[p+"attn_k.weight"] = []uint64{96, 32}
		want[p+"attn_v.weight"] = []uint64{96, 32}
		want[p+"attn_output.weight"] = []uint64{96, 96}
		want[p+"ffn_norm.weight"] = []uint64{96}
		want[p+"ffn_gate.weight"] = []uint64{96, 128}
		want[p+"ffn_up.weight"] = []uint64{96, 128}
		want[p+"ffn_down.weight"] = []uint64{128, 96}
	}
	require.Len(t, f.Tensors, len(want))
	for _, ti := range f.Tensors {
		assert.Equal(t, want[ti.Name], ti.Dims, ti.Name)
		assert.Equal(t, gguf.TypeF32, ti.Type, ti.Name)
	}
}

func TestWeights(t *testing.T) {
	f := read(t, build(t, tinyllama.Config{}))
	emb, err := f.ReadTensorF32("token_embd.weight")
	require.NoError(t, err)
	// Embeddings: deviation 1, every row different.
	mean, sq := 0.0, 0.0
	for _, x := range emb {
		mean += float64(x)
		sq += float64(x) * float64(x)
	}
	n := float64(len(emb))
	assert.InDelta(t, 0, mean/n, 0.02)
	assert.InDelta(t, 1, math.Sqrt(sq/n), 0.02)
	rows := map[string]bool{}
	for i := 0; i < len(emb); i += 64 {
		rows[fmt.Sprint(emb[i:i+64])] = true
	}
	assert.Len(t, rows, len(emb)/64, "distinct embeddings")
	// Matrices: deviation 1/sqrt(fan-in); norms near 1.
	q, err := f.ReadTensorF32("blk.0.attn_q.weight")
	require.NoError(t, err)
	sq = 0
	for _, x := range q {
		sq += float64(x) * float64(x)
	}
	assert.InDelta(t, 1/math.Sqrt(64), math.Sqrt(sq/float64(len(q))), 0.01)
	norm, err := f.ReadTensorF32("output_norm.weight")
	require.NoError(t, err)
	for _, x := range norm {
		assert.InDelta(t, 1, x, 0.18)
	}
	// Different tensors get different streams.
	k, err := f.ReadTensorF32("blk.0.attn_k.weight")
	require.NoError(t, err)
	assert.NotEqual(t, q[:32], k[:32])
}

// A tensor's values depend on the seed and its name only: a longer model
// has the same first block.
func TestStreamsPerTensor(t *testing.T) {
	a := read(t, build(t, tinyllama.Config{Layers: 1}))
	b := read(t, build(t, tinyllama.Config{Layers: 3, FF: 192}))
	for _, name := range []string{"token_embd.weight", "blk.0.ffn_down.weight", "output.weight"} {
		x, err := a.ReadTensorF32(name)
		require.NoError(t, err)
		y, err := b.ReadTensorF32(name)
		require.NoError(t, err)
		assert.Equal(t, x, y, name)
	}
}

func TestTypes(t *testing.T) {
	f32 := read(t, build(t, tinyllama.Config{}))
	for typ, ft := range map[string]uint32{"f16": 1, "q8_0": 7} {
		f := read(t, build(t, tinyllama.Config{Type: typ}))
		v, _ := f.Lookup("general.file_type")
		assert.Equal(t, ft, v.Interface(), typ)
		for _, ti := range f.Tensors {
			want := gguf.TypeF16
			switch {
			case len(ti.Dims) == 1:
				want = gguf.TypeF32 // norms
			case typ == "q8_0" && ti.Dims[0]%32 == 0:
				want = gguf.TypeQ8_0
			}
			assert.Equal(t, want, ti.Type, "%s %s", typ, ti.Name)
			// The same values as the f32 model, to the type's precision.
			x, err := f.ReadTensorF32(ti.Name)
			require.NoError(t, err)
			y, err := f32.ReadTensorF32(ti.Name)
			require.NoError(t, err)
			for i := range x {
				require.InDelta(t, y[i], x[i], 0.02*math.Max(1, math.Abs(float64(y[i]))), "%s %s[%d]", typ, ti.Name, i)
			}
		}
	}
}

func TestBuiltinVocab(t *testing.T) {
	f := read(t, build(t, tinyllama.Config{}))
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	require.NoError(t, err)
	assert.Equal(t, []string{"<unk>", "<s>", "</s>", "<0x00>"}, tokens[:4])
	assert.Equal(t, "<0x0A>", tokens[13])
	assert.Equal(t, "<0xFF>", tokens[258])
	assert.Equal(t, []string{"<|im_start|>", "<|im_end|>"}, tokens[len(tokens)-2:])
	assert.Contains(t, tokens, "▁the")
	assert.Contains(t, tokens, "Hello")
	types, err := f.Array("tokenizer.ggml.token_type")
	require.NoError(t, err)
	tt := types.Interface().([]int32)
	assert.Equal(t, []int32{2, 3, 3, 6}, tt[:4])
	assert.Equal(t, int32(3), tt[len(tt)-1])
	scores, err := f.Array("tokenizer.ggml.scores")
	require.NoError(t, err)
	assert.Equal(t, len(tokens), scores.Len())
	for k, want := range map[string]any{
		"tokenizer.ggml.model":            "llama",
		"tokenizer.ggml.pre":              "default",
		"tokenizer.ggml.bos_token_id":     uint32(1),
		"tokenizer.ggml.eos_token_id":     uint32(2),
		"tokenizer.ggml.unknown_token_id": uint32(0),
		"tokenizer.ggml.eot_token_id":     uint32(len(tokens) - 1),
		"tokenizer.ggml.add_bos_token":    true,
		"tokenizer.ggml.add_eos_token":    false,
		"tokenizer.chat_template":         tinyllama.ChatMLTemplate,
	} {
		v, ok := f.Lookup(k)
		require.True(t, ok, k)
		assert.Equal(t, want, v.Interface(), k)
	}
	assert.Contains(t, tinyllama.ChatMLTemplate, "<|im_start|>", "llama.cpp detects ChatML by it")
}

// With a shared vocabulary, every tokenizer key is copied as it is and the
// embeddings are sized by its token count.
func TestSharedVocab(t *testing.T) {
	for _, name := range []string{"llama-spm", "gpt-2"} {
		t.Run(name, func(t *testing.T) {
			path := sharedVocab(t, name)
			v, err := gguf.Open(path)
			require.NoError(t, err)
			defer v.Close()
			f := read(t, build(t, tinyllama.Config{Vocab: path, Hidden: 32, Heads: 2, FF: 64, Layers: 1}))
			copied := 0
			for _, kv := range v.KVs {
				if !strings.HasPrefix(kv.Key, "tokenizer.") {
					continue
				}
				got, ok := f.Lookup(kv.Key)
				require.True(t, ok, kv.Key)
				assert.Equal(t, kv.Value, got, kv.Key)
				copied++
			}
			assert.GreaterOrEqual(t, copied, 5)
			tokens, _ := v.Strings("tokenizer.ggml.tokens")
			emb, ok := f.Tensor("token_embd.weight")
			require.True(t, ok)
			assert.Equal(t, []uint64{32, uint64(len(tokens))}, emb.Dims)
			vs, err := f.Uint("llama.vocab_size")
			require.NoError(t, err)
			assert.Equal(t, uint64(len(tokens)), vs)
			arch, _ := f.String("general.architecture")
			assert.Equal(t, "llama", arch, "the vocab file's own architecture is not copied")
		})
	}
}
