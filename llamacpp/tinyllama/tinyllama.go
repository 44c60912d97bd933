package tinyllama

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/locallm/locallm/llamacpp/gguf"
)

// Config describes a tiny llama. The zero Config is valid: every zero field
// takes the default its comment gives.
type Config struct {
	// Layers is the number of transformer blocks (llama.block_count).
	// Default 2.
	Layers int
	// Hidden is the embedding size (llama.embedding_length). Default 64.
	Hidden int
	// Heads is the number of attention (query) heads. Default 4.
	Heads int
	// KVHeads is the number of key/value heads; fewer than Heads gives
	// grouped-query attention. Default Heads/2 if Heads is even, else
	// Heads: 2 with the default 4 heads.
	KVHeads int
	// FF is the feed-forward size (llama.feed_forward_length). Default
	// 192: a multiple of 32, so that the default model quantises to every
	// type llama.cpp offers (rows of q8_0, q4_0, ... are blocks of 32).
	FF int
	// CtxLen is the training context length (llama.context_length).
	// Default 512.
	CtxLen int
	// Seed selects the weights. Default (and 0) is 1.
	Seed int64
	// Vocab is the path of a vocab-only GGUF (such as llama.cpp's
	// ggml-vocab-*.gguf) whose tokenizer.* keys are copied; "" is the
	// built-in vocabulary (see doc.go).
	Vocab string
	// Type is the weights' type: "f32" (default), "f16" or "q8_0". Norm
	// weights are always f32; with "q8_0", matrices whose rows are not a
	// multiple of 32 elements (ffn_down with an FF of 176) are f16.
	Type string
	// RopeBase is the RoPE frequency base (llama.rope.freq_base).
	// Default 10000.
	RopeBase float64
	// RMSEps is the RMSNorm epsilon
	// (llama.attention.layer_norm_rms_epsilon). Default 1e-5.
	RMSEps float64
	// Name is general.name. Default "tinyllama".
	Name string
	// Arch is the architecture: "llama" (the default) or "qwen2", a llama
	// with biases on the query, key and value projections, NeoX-style
	// RoPE, and a pooling_type that llama.cpp honours (as for
	// embedding models of that family).
	Arch string
	// Pooling, for Arch "qwen2", declares the pooling of the model's own
	// embeddings ({arch}.pooling_type): "mean", "cls", "last", or ""
	// (none, the default). llama.cpp reads it for qwen2, not for llama.
	Pooling string
}

// Upper bounds Validate enforces: llama.cpp's own (LLAMA_MAX_LAYERS) or far
// beyond any test model, so that a typo cannot ask for terabytes.
const (
	MaxLayers = 512
	MaxHidden = 16384
	MaxFF     = 65536
	MaxCtxLen = 1 << 20
	// MaxParams bounds the total parameter count (8e9).
	MaxParams = 8_000_000_000
)

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Layers == 0 {
		c.Layers = 2
	}
	if c.Hidden == 0 {
		c.Hidden = 64
	}
	if c.Heads == 0 {
		c.Heads = 4
	}
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
		if c.Heads%2 == 0 {
			c.KVHeads = c.Heads / 2
		}
	}
	if c.FF == 0 {
		c.FF = 192
	}
	if c.CtxLen == 0 {
		c.CtxLen = 512
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Type == "" {
		c.Type = "f32"
	}
	if c.RopeBase == 0 {
		c.RopeBase = 10000
	}
	if c.RMSEps == 0 {
		c.RMSEps = 1e-5
	}
	if c.Name == "" {
		c.Name = "tinyllama"
	}
	if c.Arch == "" {
		c.Arch = "llama"
	}
	return c
}

// ErrConfig is wrapped by every error of Validate.
var ErrConfig = errors.New("tinyllama: invalid config")

// Validate reports the first problem with c after defaults: sizes must be
// positive and within the Max bounds, Hidden a multiple of Heads with an
// even head size (RoPE rotates pairs), Heads a multiple of KVHeads, Type
// known, RopeBase and RMSEps positive and finite.
func (c Config) Validate() error {
	c = c.WithDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	for _, s := range []struct {
		name   string
		v, max int
	}{
		{"Layers", c.Layers, MaxLayers}, {"Hidden", c.Hidden, MaxHidden}, {"Heads", c.Heads, c.Hidden},
		{"KVHeads", c.KVHeads, c.Heads}, {"FF", c.FF, MaxFF}, {"CtxLen", c.CtxLen, MaxCtxLen},
	} {
		if s.v < 1 || s.v > s.max {
			return bad("%s %d is not in [1, %d]", s.name, s.v, s.max)
		}
	}
	if c.Hidden%c.Heads != 0 {
		return bad("Hidden %d is not a multiple of Heads %d", c.Hidden, c.Heads)
	}
	if hd := c.Hidden / c.Heads; hd%2 != 0 {
		return bad("head size Hidden/Heads = %d is odd; RoPE rotates pairs", hd)
	}
	if c.Heads%c.KVHeads != 0 {
		return bad("Heads %d is not a multiple of KVHeads %d", c.Heads, c.KVHeads)
	}
	if _, ok := weightTypes[c.Type]; !ok {
		return bad("Type %q is not f32, f16 or q8_0", c.Type)
	}
	if !(c.RopeBase > 0) || math.IsInf(c.RopeBase, 0) {
		return bad("RopeBase %v is not positive and finite", c.RopeBase)
	}
	if !(c.RMSEps > 0) || c.RMSEps >= 1 {
		return bad("RMSEps %v is not in (0, 1)", c.RMSEps)
	}
	if c.Name == "" || strings.ContainsRune(c.Name, 0) {
		return bad("Name %q is empty or has a NUL", c.Name)
	}
	if c.Arch != "llama" && c.Arch != "qwen2" {
		return bad("Arch %q is not llama or qwen2", c.Arch)
	}
	if _, ok := bertPooling[c.Pooling]; !ok && c.Pooling != "" {
		return bad("Pooling %q is not mean, cls, last or none", c.Pooling)
	}
	if c.Pooling != "" && c.Pooling != "none" && c.Arch != "qwen2" {
		return bad("Pooling %q needs Arch qwen2: llama.cpp ignores llama.pooling_type", c.Pooling)
	}
	// Vocabulary size is unknown until the vocab file is read; bound the
	// rest, and the embeddings in build.
	if p := c.blockParams() * int64(c.Layers); p > MaxParams {
		return bad("%d parameters in the blocks, more than %d", p, int64(MaxParams))
	}
	return nil
}

var weightTypes = map[string]struct {
	typ      gguf.TensorType
	fileType uint32 // general.file_type (enum llama_ftype)
}{
	"f32":  {gguf.TypeF32, 0},  // LLAMA_FTYPE_ALL_F32
	"f16":  {gguf.TypeF16, 1},  // LLAMA_FTYPE_MOSTLY_F16
	"q8_0": {gguf.TypeQ8_0, 7}, // LLAMA_FTYPE_MOSTLY_Q8_0
}

func (c Config) headDim() int { return c.Hidden / c.Heads }

func (c Config) blockParams() int64 {
	h, kv, ff := int64(c.Hidden), int64(c.KVHeads*c.headDim()), int64(c.FF)
	return 2*h + 2*h*h + 2*h*kv + 3*h*ff
}

// Write writes the model for cfg to path (through a temporary file renamed
// into place).
func Write(path string, cfg Config) error {
	w, err := Build(cfg)
	if err != nil {
		return err
	}
	return w.WriteFile(path)
}

// WriteTo writes the model for cfg to w and returns the bytes written. The
// same Config gives the same bytes, on any machine and Go version.
func WriteTo(w io.Writer, cfg Config) (int64, error) {
	gw, err := Build(cfg)
	if err != nil {
		return 0, err
	}
	return gw.WriteTo(w)
}

// Build returns a gguf.Writer holding the model for cfg, for a caller that
// wants to add metadata before writing it. The weights are generated while
// it is written, chunk by chunk, and not held in memory.
func Build(cfg Config) (*gguf.Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.WithDefaults()
	w := gguf.NewWriter()
	must := func(err error) {
		if err != nil {
			panic(err) // every key and shape here is valid by construction
		}
	}
	wt := weightTypes[c.Type]
	hd := c.headDim()
	a := c.Arch + "."
	must(w.AddString("general.architecture", c.Arch))
	must(w.AddString("general.name", c.Name))
	must(w.AddUint32("general.file_type", wt.fileType))
	if wt.typ == gguf.TypeQ8_0 {
		must(w.AddUint32("general.quantization_version", 2)) // GGML_QNT_VERSION
	}
	must(w.AddUint32(a+"context_length", uint32(c.CtxLen)))
	must(w.AddUint32(a+"embedding_length", uint32(c.Hidden)))
	must(w.AddUint32(a+"block_count", uint32(c.Layers)))
	must(w.AddUint32(a+"feed_forward_length", uint32(c.FF)))
	must(w.AddUint32(a+"attention.head_count", uint32(c.Heads)))
	must(w.AddUint32(a+"attention.head_count_kv", uint32(c.KVHeads)))
	must(w.AddUint32(a+"rope.dimension_count", uint32(hd)))
	must(w.AddFloat32(a+"rope.freq_base", float32(c.RopeBase)))
	must(w.AddFloat32(a+"attention.layer_norm_rms_epsilon", float32(c.RMSEps)))
	if p := bertPooling[c.Pooling]; c.Pooling != "" && p > 0 {
		must(w.AddUint32(a+"pooling_type", uint32(p)))
	}

	nVocab, err := addVocab(w, c.Vocab)
	if err != nil {
		return nil, err
	}
	if p := c.blockParams()*int64(c.Layers) + 2*int64(nVocab)*int64(c.Hidden); p > MaxParams {
		return nil, fmt.Errorf("%w: %d parameters with a vocabulary of %d, more than %d", ErrConfig, p, nVocab, int64(MaxParams))
	}
	must(w.AddUint32(a+"vocab_size", uint32(nVocab)))

	seed := uint64(c.Seed)
	h, kv, ff, v := uint64(c.Hidden), uint64(c.KVHeads*hd), uint64(c.FF), uint64(nVocab)
	// matrix adds a weight of PyTorch shape [out, in], ggml dims [in, out],
	// uniform with standard deviation 1/sqrt(in) (std is the deviation).
	matrix := func(name string, in, out uint64, std float64) {
		typ := wt.typ
		if typ == gguf.TypeQ8_0 && in%32 != 0 {
			typ = gguf.TypeF16
		}
		must(w.AddTensorF32Func(name, typ, []uint64{in, out}, uniform(seed, name, std, 0)))
	}
	norm := func(name string) {
		must(w.AddTensorF32Func(name, gguf.TypeF32, []uint64{h}, uniform(seed, name, normStd, 1)))
	}
	matrix("token_embd.weight", h, v, 1)
	for i := 0; i < c.Layers; i++ {
		blk := fmt.Sprintf("blk.%d.", i)
		norm(blk + "attn_norm.weight")
		matrix(blk+"attn_q.weight", h, h, 1/math.Sqrt(float64(h)))
		matrix(blk+"attn_k.weight", h, kv, 1/math.Sqrt(float64(h)))
		matrix(blk+"attn_v.weight", h, kv, 1/math.Sqrt(float64(h)))
		if c.Arch == "qwen2" {
			for _, t := range []struct {
				name string
				n    uint64
			}{{"attn_q.bias", h}, {"attn_k.bias", kv}, {"attn_v.bias", kv}} {
				must(w.AddTensorF32Func(blk+t.name, gguf.TypeF32, []uint64{t.n}, uniform(seed, blk+t.name, 0.1, 0)))
			}
		}
		matrix(blk+"attn_output.weight", h, h, 1/math.Sqrt(float64(h)))
		norm(blk + "ffn_norm.weight")
		matrix(blk+"ffn_gate.weight", h, ff, 1/math.Sqrt(float64(h)))
		matrix(blk+"ffn_up.weight", h, ff, 1/math.Sqrt(float64(h)))
		matrix(blk+"ffn_down.weight", ff, h, 1/math.Sqrt(float64(ff)))
	}
	norm("output_norm.weight")
	matrix("output.weight", h, v, 1/math.Sqrt(float64(h)))
	return w, nil
}

// normStd is the deviation of norm weights around 1.
const normStd = 0.1

// uniform returns the generator of a tensor's values: from the PCG stream
// rand.NewPCG(seed, FNV-1a-64(name)), each Uint64 gives two values, its low
// 32 bits first, each int32(bits) * 2^-31 * sqrt(3) * std + mean: uniform
// on [-sqrt(3)std, sqrt(3)std) around mean, so of deviation std. The values
// of a tensor depend only on the seed and its name, not on the other
// tensors or the vocabulary. The conversions to float32 keep the compiler
// from fusing the multiply and add (as it may on arm64), which would change
// the last bit on some machines.
func uniform(seed uint64, name string, std float64, mean float32) func(uint64, []float32) error {
	hash := fnv.New64a()
	hash.Write([]byte(name))
	stream := hash.Sum64()
	scale := float32(math.Sqrt(3) * std / (1 << 31))
	var (
		rng  *rand.PCG
		next uint64 // the element the stream is at
		held float32
		have bool // held is element next
	)
	return func(off uint64, dst []float32) error {
		if off == 0 {
			rng, next, have = rand.NewPCG(seed, stream), 0, false
		}
		if off != next {
			return fmt.Errorf("tinyllama: chunk at %d, expected %d", off, next)
		}
		i := 0
		if have && len(dst) > 0 {
			dst[0] = held
			have, i = false, 1
		}
		for ; i+1 < len(dst); i += 2 {
			u := rng.Uint64()
			dst[i] = float32(float32(int32(u))*scale) + mean
			dst[i+1] = float32(float32(int32(u>>32))*scale) + mean
		}
		if i < len(dst) {
			u := rng.Uint64()
			dst[i] = float32(float32(int32(u))*scale) + mean
			held, have = float32(float32(int32(u>>32))*scale)+mean, true
		}
		next += uint64(len(dst))
		return nil
	}
}

// addVocab adds the tokenizer keys, from the vocab-only GGUF at path or
// the built-in vocabulary, and returns the number of tokens.
func addVocab(w *gguf.Writer, path string) (int, error) {
	if path == "" {
		tokens, scores, types, imEnd := builtinVocab()
		for _, err := range []error{
			w.AddString("tokenizer.ggml.model", "llama"),
			w.AddString("tokenizer.ggml.pre", "default"),
			w.AddStrings("tokenizer.ggml.tokens", tokens),
			w.AddFloat32s("tokenizer.ggml.scores", scores),
			w.AddInt32s("tokenizer.ggml.token_type", types),
			w.AddUint32("tokenizer.ggml.bos_token_id", BOSID),
			w.AddUint32("tokenizer.ggml.eos_token_id", EOSID),
			w.AddUint32("tokenizer.ggml.unknown_token_id", UnkID),
			w.AddUint32("tokenizer.ggml.eot_token_id", uint32(imEnd)),
			w.AddBool("tokenizer.ggml.add_bos_token", true),
			w.AddBool("tokenizer.ggml.add_eos_token", false),
			w.AddString("tokenizer.chat_template", ChatMLTemplate),
		} {
			if err != nil {
				return 0, err
			}
		}
		return len(tokens), nil
	}
	f, err := gguf.Open(path)
	if err != nil {
		return 0, fmt.Errorf("tinyllama: vocab: %w", err)
	}
	defer f.Close()
	if err := f.CheckLlamaCPP(); err != nil {
		return 0, fmt.Errorf("tinyllama: vocab %s: %w", path, err)
	}
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil {
		return 0, fmt.Errorf("tinyllama: vocab %s: %w", path, err)
	}
	if len(tokens) == 0 {
		return 0, fmt.Errorf("tinyllama: vocab %s has no tokens", path)
	}
	for _, kv := range f.KVs {
		if strings.HasPrefix(kv.Key, "tokenizer.") {
			if err := w.AddKV(kv.Key, kv.Value); err != nil {
				return 0, fmt.Errorf("tinyllama: vocab %s: %w", path, err)
			}
		}
	}
	return len(tokens), nil
}
