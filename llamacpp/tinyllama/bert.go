package tinyllama

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/locallm/locallm/llamacpp/gguf"
)

// BERTConfig describes a tiny BERT encoder, an embedding model of the kind
// llama.cpp runs as LLM_ARCH_BERT (bge, MiniLM, e5). Vocab is required;
// every other zero field takes the default its comment gives.
type BERTConfig struct {
	// Layers is the number of encoder blocks (bert.block_count). Default 2.
	Layers int
	// Hidden is the embedding size (bert.embedding_length). Default 64.
	Hidden int
	// Heads is the number of attention heads. Default 4.
	Heads int
	// FF is the feed-forward size (bert.feed_forward_length). Default 128.
	FF int
	// CtxLen is the number of learned positions (bert.context_length, the
	// rows of position_embd): the longest input the model takes. Default 512.
	CtxLen int
	// Seed selects the weights. Default (and 0) is 1.
	Seed int64
	// Vocab is the path of a vocab-only GGUF with a WordPiece tokenizer
	// (tokenizer.ggml.model "bert", such as llama.cpp's
	// ggml-vocab-bert-bge.gguf); its tokenizer.* keys are copied. Required.
	Vocab string
	// Type is the matrices' type: "f32" (default), "f16" or "q8_0", as in
	// Config. Norm weights, biases and token_types are always f32.
	Type string
	// Pooling is bert.pooling_type, the pooling llama.cpp applies to the
	// embeddings: "mean" (default, 1), "cls" (2, the first token, which the
	// WordPiece tokenizer makes [CLS]), "last" (3) or "none" (the key left
	// out: the model gives one vector per token).
	Pooling string
	// NormEps is the LayerNorm epsilon (bert.attention.layer_norm_epsilon).
	// Default 1e-12, BERT's.
	NormEps float64
	// Name is general.name. Default "tinybert".
	Name string
}

// bertPooling maps BERTConfig.Pooling to llama.cpp's enum llama_pooling_type;
// -1 leaves the key out.
var bertPooling = map[string]int{"mean": 1, "cls": 2, "last": 3, "none": -1}

// WithDefaults returns c with every zero field but Vocab set to its default.
func (c BERTConfig) WithDefaults() BERTConfig {
	if c.Layers == 0 {
		c.Layers = 2
	}
	if c.Hidden == 0 {
		c.Hidden = 64
	}
	if c.Heads == 0 {
		c.Heads = 4
	}
	if c.FF == 0 {
		c.FF = 128
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
	if c.Pooling == "" {
		c.Pooling = "mean"
	}
	if c.NormEps == 0 {
		c.NormEps = 1e-12
	}
	if c.Name == "" {
		c.Name = "tinybert"
	}
	return c
}

// Validate reports the first problem with c after defaults, wrapping
// ErrConfig: sizes positive and within the Max bounds, Hidden a multiple
// of Heads, Type and Pooling known, NormEps in (0, 1), Vocab given.
func (c BERTConfig) Validate() error {
	c = c.WithDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	for _, s := range []struct {
		name   string
		v, max int
	}{
		{"Layers", c.Layers, MaxLayers}, {"Hidden", c.Hidden, MaxHidden}, {"Heads", c.Heads, c.Hidden},
		{"FF", c.FF, MaxFF}, {"CtxLen", c.CtxLen, MaxCtxLen},
	} {
		if s.v < 1 || s.v > s.max {
			return bad("%s %d is not in [1, %d]", s.name, s.v, s.max)
		}
	}
	if c.Hidden%c.Heads != 0 {
		return bad("Hidden %d is not a multiple of Heads %d", c.Hidden, c.Heads)
	}
	if _, ok := weightTypes[c.Type]; !ok {
		return bad("Type %q is not f32, f16 or q8_0", c.Type)
	}
	if _, ok := bertPooling[c.Pooling]; !ok {
		return bad("Pooling %q is not mean, cls, last or none", c.Pooling)
	}
	if !(c.NormEps > 0) || c.NormEps >= 1 {
		return bad("NormEps %v is not in (0, 1)", c.NormEps)
	}
	if c.Name == "" || strings.ContainsRune(c.Name, 0) {
		return bad("Name %q is empty or has a NUL", c.Name)
	}
	if c.Vocab == "" {
		return bad("Vocab is required: a vocab-only GGUF with a WordPiece tokenizer, such as ggml-vocab-bert-bge.gguf")
	}
	if p := c.blockParams()*int64(c.Layers) + int64(c.CtxLen)*int64(c.Hidden); p > MaxParams {
		return bad("%d parameters in the blocks and positions, more than %d", p, int64(MaxParams))
	}
	return nil
}

func (c BERTConfig) blockParams() int64 {
	h, ff := int64(c.Hidden), int64(c.FF)
	return 4*h*h + 4*h + 2*h*ff + ff + h + 4*h
}

// WriteBERT writes the BERT model for cfg to path (through a temporary
// file renamed into place).
func WriteBERT(path string, cfg BERTConfig) error {
	w, err := BuildBERT(cfg)
	if err != nil {
		return err
	}
	return w.WriteFile(path)
}

// WriteBERTTo writes the BERT model for cfg to w and returns the bytes
// written. The same Config and vocabulary give the same bytes.
func WriteBERTTo(w io.Writer, cfg BERTConfig) (int64, error) {
	gw, err := BuildBERT(cfg)
	if err != nil {
		return 0, err
	}
	return gw.WriteTo(w)
}

// BuildBERT returns a gguf.Writer holding the BERT model for cfg, for a
// caller that wants to add metadata before writing it. It has the keys
// llama.cpp's LLM_ARCH_BERT loader reads (general.architecture "bert",
// bert.context_length, bert.embedding_length, bert.block_count,
// bert.feed_forward_length, bert.attention.head_count,
// bert.attention.layer_norm_epsilon, bert.attention.causal = false,
// bert.pooling_type unless Pooling is "none", the vocabulary's tokenizer.*
// keys, and tokenizer.ggml.token_type_count = 2 where the vocabulary has
// none) and its tensors: token_embd, token_types, position_embd,
// token_embd_norm (weight and bias), and per block attn_q, attn_k, attn_v,
// attn_output, ffn_up, ffn_down (weights and biases), attn_output_norm and
// layer_output_norm (weights and biases). There is no pooler or classifier
// head (cls, cls.output): llama.cpp reads them only for reranking.
//
// The weights are drawn as Build draws them, one stream per tensor name:
// embeddings of deviation 1, matrices 1/sqrt(fan-in), LayerNorm weights
// around 1 and biases around 0, both of deviation 0.1; they are generated
// while the file is written.
func BuildBERT(cfg BERTConfig) (*gguf.Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.WithDefaults()
	typeCount, err := bertVocab(c.Vocab)
	if err != nil {
		return nil, err
	}
	w := gguf.NewWriter()
	must := func(err error) {
		if err != nil {
			panic(err) // every key and shape here is valid by construction
		}
	}
	wt := weightTypes[c.Type]
	must(w.AddString("general.architecture", "bert"))
	must(w.AddString("general.name", c.Name))
	must(w.AddUint32("general.file_type", wt.fileType))
	if wt.typ == gguf.TypeQ8_0 {
		must(w.AddUint32("general.quantization_version", 2)) // GGML_QNT_VERSION
	}
	must(w.AddUint32("bert.context_length", uint32(c.CtxLen)))
	must(w.AddUint32("bert.embedding_length", uint32(c.Hidden)))
	must(w.AddUint32("bert.block_count", uint32(c.Layers)))
	must(w.AddUint32("bert.feed_forward_length", uint32(c.FF)))
	must(w.AddUint32("bert.attention.head_count", uint32(c.Heads)))
	must(w.AddFloat32("bert.attention.layer_norm_epsilon", float32(c.NormEps)))
	must(w.AddBool("bert.attention.causal", false))
	if p := bertPooling[c.Pooling]; p >= 0 {
		must(w.AddUint32("bert.pooling_type", uint32(p)))
	}
	nVocab, err := addVocab(w, c.Vocab)
	if err != nil {
		return nil, err
	}
	if typeCount == 0 {
		// llama.cpp sizes token_types by this key (0 when absent); BERT has
		// two segment types.
		typeCount = 2
		must(w.AddUint32("tokenizer.ggml.token_type_count", uint32(typeCount)))
	}
	if p := c.blockParams()*int64(c.Layers) + int64(nVocab+c.CtxLen+int(typeCount))*int64(c.Hidden); p > MaxParams {
		return nil, fmt.Errorf("%w: %d parameters with a vocabulary of %d, more than %d", ErrConfig, p, nVocab, int64(MaxParams))
	}

	seed := uint64(c.Seed)
	h, ff := uint64(c.Hidden), uint64(c.FF)
	// matrix adds a weight of PyTorch shape [out, in], ggml dims [in, out].
	matrix := func(name string, in, out uint64, std float64) {
		typ := wt.typ
		if typ == gguf.TypeQ8_0 && in%32 != 0 {
			typ = gguf.TypeF16
		}
		must(w.AddTensorF32Func(name, typ, []uint64{in, out}, uniform(seed, name, std, 0)))
	}
	vector := func(name string, n uint64, std float64, mean float32) {
		must(w.AddTensorF32Func(name, gguf.TypeF32, []uint64{n}, uniform(seed, name, std, mean)))
	}
	// LayerNorm: weight around 1, bias around 0.
	norm := func(name string) {
		vector(name+".weight", h, normStd, 1)
		vector(name+".bias", h, normStd, 0)
	}
	// linear adds a weight and its bias.
	linear := func(name string, in, out uint64) {
		matrix(name+".weight", in, out, 1/math.Sqrt(float64(in)))
		vector(name+".bias", out, biasStd, 0)
	}
	matrix("token_embd.weight", h, uint64(nVocab), 1)
	must(w.AddTensorF32Func("token_types.weight", gguf.TypeF32, []uint64{h, typeCount}, uniform(seed, "token_types.weight", 1, 0)))
	matrix("position_embd.weight", h, uint64(c.CtxLen), 1)
	norm("token_embd_norm")
	for i := 0; i < c.Layers; i++ {
		blk := fmt.Sprintf("blk.%d.", i)
		linear(blk+"attn_q", h, h)
		linear(blk+"attn_k", h, h)
		linear(blk+"attn_v", h, h)
		linear(blk+"attn_output", h, h)
		norm(blk + "attn_output_norm")
		linear(blk+"ffn_up", h, ff)
		linear(blk+"ffn_down", ff, h)
		norm(blk + "layer_output_norm")
	}
	return w, nil
}

// biasStd is the deviation of biases around 0.
const biasStd = 0.1

// bertVocab checks that the vocab-only GGUF at path has a WordPiece
// tokenizer and returns its tokenizer.ggml.token_type_count (0 if absent).
func bertVocab(path string) (uint64, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return 0, fmt.Errorf("tinyllama: vocab: %w", err)
	}
	defer f.Close()
	model, err := f.String("tokenizer.ggml.model")
	if err != nil {
		return 0, fmt.Errorf("tinyllama: vocab %s: %w", path, err)
	}
	if model != "bert" {
		return 0, fmt.Errorf("%w: vocab %s has tokenizer %q; BERT needs a WordPiece (\"bert\") tokenizer", ErrConfig, path, model)
	}
	if _, ok := f.Lookup("tokenizer.ggml.token_type_count"); !ok {
		return 0, nil
	}
	n, err := f.Uint("tokenizer.ggml.token_type_count")
	if err != nil {
		return 0, fmt.Errorf("tinyllama: vocab %s: %w", path, err)
	}
	if n == 0 || n > 1024 {
		return 0, fmt.Errorf("%w: vocab %s has %d token types, want 1 to 1024", ErrConfig, path, n)
	}
	return n, nil
}
