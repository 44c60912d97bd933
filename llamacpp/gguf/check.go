package gguf

import (
	"fmt"
	"strconv"
)

// Check opens the GGUF file at path, reads it as Open does, and runs
// CheckLlamaCPP on it: nil means llama.cpp's loader will neither abort on
// the file nor read outside what it allocated while reading its metadata
// (as far as this package knows; see CheckLlamaCPP). It reads the header
// only, not the tensor data.
func Check(path string) error {
	f, err := Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.CheckLlamaCPP()
}

// CheckLlamaCPP reports what, in a file that Read accepted, llama.cpp's
// loader (gguf.cpp, llama-model-loader.cpp, llama-model.cpp load_hparams,
// llama-vocab.cpp load) would refuse, abort on or read out of bounds for:
//
//   - tensor names of 64 bytes or more (GGML_MAX_NAME), arrays of arrays,
//     and tensor data not laid out in file order with each tensor padded
//     to the alignment (gguf.cpp refuses these: ErrUnsupported);
//   - tensor types the CPU backend aborts or crashes on when the model
//     runs: a 1-D tensor (norm weight, bias) that is not f32, a matrix of
//     q8_1, q8_K, i8, i16, i32, i64 or f64 (ErrUnsupported);
//   - tokenizer.ggml.tokens that is not an array of strings
//     (GGML_ASSERT in gguf_get_arr_str), or that holds the same token
//     twice (GGML_ASSERT in llama_vocab::impl::load);
//   - tokenizer.ggml.scores or tokenizer.ggml.token_type that is not an
//     array of f32 (i32) with one element per token (llama.cpp reads them
//     as raw arrays of that type and length, out of bounds otherwise);
//   - tokenizer.ggml.merges that is not an array of strings, and
//     tokenizer.ggml.precompiled_charsmap that is not an array (asserts);
//   - byte tokens in a "bert" vocabulary (GGML_ABORT in token_to_byte);
//   - per-layer arrays ({arch}.feed_forward_length, head_count,
//     head_count_kv, rope.dimension_sections), xielu.* and
//     {arch}.classifier.output_labels holding the wrong one of u32/i32,
//     f32 and strings (GGML_ASSERT in llama_model_loader::get_arr);
//   - an end-of-sequence token id, after llama.cpp's defaults, outside the
//     vocabulary (read unchecked);
//   - expert counts that break the GGML_ASSERTs of load_hparams, an
//     unknown {arch}.rope.scaling.type (GGML_ASSERT), {arch}.block_count of
//     0 (GGML_ABORT) or over 512 (out-of-bounds reads), a negative or NaN
//     {arch}.attention.layer_norm_rms_epsilon or layer_norm_epsilon
//     (GGML_ASSERT when the model runs), and for "llama" a
//     value_length different from key_length (GGML_ASSERT);
//   - general.architecture that is not a string.
//
// Each is a *FormatError wrapping ErrUnsupported or ErrMetadata, at the
// offset of the key or tensor info at fault. It does not check that the
// architecture is one llama.cpp knows, that the hyperparameters are there
// and consistent with the tensor shapes, or anything about the tensor data:
// llama.cpp reports those as errors itself.
func (f *File) CheckLlamaCPP() error {
	for _, t := range f.Tensors {
		if len(t.Name) >= MaxTensorNameLen {
			return &FormatError{Offset: t.InfoOffset, What: tensorWhat(t.Name), Err: ErrUnsupported,
				Msg: fmt.Sprintf("name of %d bytes; llama.cpp takes at most %d", len(t.Name), MaxTensorNameLen-1)}
		}
	}
	for _, kv := range f.KVs {
		if kv.Value.Type() == TypeArray && kv.Value.ElemType() == TypeArray {
			return &FormatError{Offset: kv.Offset, What: keyWhat(kv.Key), Err: ErrUnsupported,
				Msg: "array of arrays; llama.cpp does not read them"}
		}
	}
	for _, t := range f.Tensors {
		if err := checkCPUType(t); err != nil {
			return err
		}
	}
	var next uint64
	for _, t := range f.Tensors {
		if t.Offset != next {
			return &FormatError{Offset: t.InfoOffset, What: tensorWhat(t.Name), Err: ErrUnsupported,
				Msg: fmt.Sprintf("data offset %d; llama.cpp needs the tensors' data in file order, each padded to %d bytes, so %d", t.Offset, f.Alignment, next)}
		}
		next = alignUp(t.Offset+t.Size, f.Alignment)
	}
	return f.checkMetadata()
}

func (f *File) metaErr(key, format string, args ...any) error {
	kv := f.KVs[f.kv[key]]
	return &FormatError{Offset: kv.Offset, What: keyWhat(key), Err: ErrMetadata, Msg: fmt.Sprintf(format, args...)}
}

// isArrayOf reports whether v is an array of one of the element types.
func isArrayOf(v Value, elems ...ValueType) bool {
	if v.Type() != TypeArray {
		return false
	}
	for _, e := range elems {
		if v.ElemType() == e {
			return true
		}
	}
	return false
}

// Keys that CheckLlamaCPP looks at.
const (
	keyArch      = "general.architecture"
	keyTokModel  = "tokenizer.ggml.model"
	keyTokens    = "tokenizer.ggml.tokens"
	keyScores    = "tokenizer.ggml.scores"
	keyTokenType = "tokenizer.ggml.token_type"
	keyMerges    = "tokenizer.ggml.merges"
	keyCharsmap  = "tokenizer.ggml.precompiled_charsmap"
)

// maxLayers is LLAMA_MAX_LAYERS.
const maxLayers = 512

// noCPUMatMul are the types ggml's CPU backend has no dot product (and no
// row lookup) for: a weight matrix of one of them crashes llama.cpp when the
// model runs (SIGSEGV in mul_mat, GGML_ABORT in get_rows).
var noCPUMatMul = map[TensorType]bool{TypeQ8_1: true, TypeQ8_K: true, TypeI8: true, TypeI16: true, TypeI32: true, TypeI64: true, TypeF64: true}

// checkCPUType reports a tensor type llama.cpp's CPU backend aborts or
// crashes on: a 1-D tensor (a norm's weight, a bias) enters elementwise
// operations, whose CPU kernels take f32 only ("binary_op: unsupported
// types", an abort); a matrix of a type in noCPUMatMul.
func checkCPUType(t Tensor) error {
	switch {
	case len(t.Dims) == 1 && t.Type != TypeF32:
		return &FormatError{Offset: t.InfoOffset, What: tensorWhat(t.Name), Err: ErrUnsupported,
			Msg: fmt.Sprintf("1-dimensional tensor of type %s; llama.cpp's CPU operations on norms and biases take f32 only and abort", t.Type)}
	case len(t.Dims) > 1 && noCPUMatMul[t.Type]:
		return &FormatError{Offset: t.InfoOffset, What: tensorWhat(t.Name), Err: ErrUnsupported,
			Msg: fmt.Sprintf("matrix of type %s, which ggml's CPU backend cannot multiply; llama.cpp crashes", t.Type)}
	}
	return nil
}

// eosDefaults are llama-vocab.cpp's default end-of-sequence token ids per
// tokenizer model ("bert" and "rwkv" have none).
var eosDefaults = map[string]int64{"llama": 2, "gpt2": 11, "t5": 1, "plamo2": 2}

const keyEOS = "tokenizer.ggml.eos_token_id"

// tokenTypeByte is LLAMA_TOKEN_TYPE_BYTE.
const tokenTypeByte = 6

func (f *File) checkMetadata() error {
	arch := ""
	if v, ok := f.Lookup(keyArch); ok {
		s, isStr := v.AsString()
		if !isStr {
			return f.metaErr(keyArch, "is %s, must be a string", typeName(v))
		}
		arch = s
	}
	if err := f.checkVocab(); err != nil {
		return err
	}
	if err := f.checkArrays(arch); err != nil {
		return err
	}
	if arch == "" {
		return nil
	}
	// load_hparams: GGML_ASSERTs on the expert counts, read as u32 (a
	// key of another type is an exception, not an abort, so skip it).
	count := func(name string) uint64 {
		v, _ := f.Lookup(arch + "." + name)
		n, _ := v.Interface().(uint32)
		return uint64(n)
	}
	nExpert, nUsed := count("expert_count"), count("expert_used_count")
	nGroups, nGroupUsed := count("expert_group_count"), count("expert_group_used_count")
	bad := ""
	switch {
	case nExpert > 512:
		bad = "more than 512 (LLAMA_MAX_EXPERTS) experts"
	case nUsed > nExpert:
		bad = "more experts used than there are"
	case nExpert > 0 && nUsed == 0:
		bad = "experts but none used"
	case nExpert > 0 && nGroups >= nExpert:
		bad = "as many expert groups as experts"
	case nExpert > 0 && nGroups > 1 && (nExpert%nGroups != 0 || nGroupUsed == 0 || nGroupUsed >= nGroups):
		bad = "expert groups that do not divide the experts, or used groups not in [1, groups)"
	case nExpert == 0 && (nUsed != 0 || nGroups != 0):
		bad = "used experts or expert groups without experts"
	}
	if bad != "" {
		key := arch + ".expert_count"
		if _, ok := f.Lookup(key); !ok {
			key = arch + ".expert_used_count"
			if _, ok := f.Lookup(key); !ok {
				key = arch + ".expert_group_count"
			}
		}
		return f.metaErr(key, "%s (expert_count %d, expert_used_count %d, expert_group_count %d, expert_group_used_count %d); llama.cpp aborts", bad, nExpert, nUsed, nGroups, nGroupUsed)
	}
	// load_hparams asks for the heads of layer 0 (n_head(0)), which
	// aborts when there are no layers; past LLAMA_MAX_LAYERS the per-layer
	// arrays are read out of bounds.
	key := arch + ".block_count"
	if v, ok := f.Lookup(key); ok {
		if n, isU32 := v.Interface().(uint32); isU32 && (n == 0 || n > maxLayers) {
			return f.metaErr(key, "%d layers, must be 1 to %d; llama.cpp aborts", n, maxLayers)
		}
	}
	// ggml's norms assert eps >= 0 when the model runs (NaN fails too).
	for _, name := range []string{".attention.layer_norm_rms_epsilon", ".attention.layer_norm_epsilon"} {
		key := arch + name
		if v, ok := f.Lookup(key); ok {
			if x, isF32 := v.Interface().(float32); isF32 && !(x >= 0) {
				return f.metaErr(key, "epsilon %v is negative or NaN; ggml aborts", x)
			}
		}
	}
	// llm_build_llama asserts that keys and values have the same head size.
	if arch == "llama" {
		k, kok := f.Lookup(arch + ".attention.key_length")
		v, vok := f.Lookup(arch + ".attention.value_length")
		if kok && vok && k.Interface() != v.Interface() {
			return f.metaErr(arch+".attention.value_length", "value head size %v differs from key head size %v; llama.cpp aborts", v, k)
		}
	}
	key = arch + ".rope.scaling.type"
	if v, ok := f.Lookup(key); ok {
		if s, isStr := v.AsString(); isStr {
			switch s {
			case "none", "linear", "yarn", "longrope":
			default:
				return f.metaErr(key, "unknown RoPE scaling type %q; llama.cpp aborts", s)
			}
		}
	}
	return nil
}

// checkArrays: llama_model_loader::get_arr asserts (GGML_ASSERT) that an
// array of u32, i32, f32 or strings holds what the C++ caller expects:
// integers for per-layer sizes, floats for xIELU's parameters, strings for
// class labels. Arrays of other element types are exceptions, not aborts.
func (f *File) checkArrays(arch string) error {
	want := map[string]ValueType{
		arch + ".feed_forward_length":      TypeUint32,
		arch + ".attention.head_count":     TypeUint32,
		arch + ".attention.head_count_kv":  TypeUint32,
		arch + ".rope.dimension_sections":  TypeUint32,
		arch + ".classifier.output_labels": TypeString,
		"xielu.alpha_n":                    TypeFloat32,
		"xielu.alpha_p":                    TypeFloat32,
		"xielu.beta":                       TypeFloat32,
		"xielu.eps":                        TypeFloat32,
	}
	for _, kv := range f.KVs {
		w, ok := want[kv.Key]
		if !ok || kv.Value.Type() != TypeArray {
			continue
		}
		got := kv.Value.ElemType()
		if got == TypeInt32 {
			got = TypeUint32 // llama.cpp takes either for integers
		}
		switch got {
		case TypeUint32, TypeFloat32, TypeString:
			if got != w {
				return f.metaErr(kv.Key, "is %s, llama.cpp expects %s elements and aborts", typeName(kv.Value), w)
			}
		}
	}
	return nil
}

func (f *File) checkVocab() error {
	for _, k := range []string{keyMerges} {
		if v, ok := f.Lookup(k); ok && !isArrayOf(v, TypeString) && v.Type() != TypeString {
			return f.metaErr(k, "is %s, must be an array of strings", typeName(v))
		}
	}
	if v, ok := f.Lookup(keyCharsmap); ok && v.Type() != TypeArray {
		return f.metaErr(keyCharsmap, "is %s, must be an array", typeName(v))
	}
	tv, ok := f.Lookup(keyTokens)
	if !ok {
		return nil
	}
	tokens, isStrs := tv.AsStrings()
	if !isStrs {
		if tv.Type() != TypeString {
			return f.metaErr(keyTokens, "is %s, must be an array of strings", typeName(tv))
		}
		s, _ := tv.AsString()
		tokens = []string{s}
	}
	n := len(tokens)
	// llama.cpp renames an empty token "[EMPTY_<i>]" and asserts that no
	// two tokens are the same afterwards.
	seen := make(map[string]int, n)
	for i, t := range tokens {
		if t == "" {
			t = "[EMPTY_" + strconv.Itoa(i) + "]"
		}
		if j, dup := seen[t]; dup {
			return f.metaErr(keyTokens, "tokens %d and %d are both %q; llama.cpp aborts on duplicate tokens", j, i, t)
		}
		seen[t] = i
	}
	if v, ok := f.Lookup(keyScores); ok {
		if !isArrayOf(v, TypeFloat32) || v.Len() < n {
			return f.metaErr(keyScores, "is %s of %d, must be an array of f32 with one score per token (%d)", typeName(v), v.Len(), n)
		}
	}
	if v, ok := f.Lookup(keyTokenType); ok {
		if !isArrayOf(v, TypeInt32, TypeUint32) || v.Len() < n {
			return f.metaErr(keyTokenType, "is %s of %d, must be an array of i32 with one type per token (%d)", typeName(v), v.Len(), n)
		}
	}
	model := ""
	if v, ok := f.Lookup(keyTokModel); ok {
		model, _ = v.AsString()
	}
	// A WordPiece ("bert") vocabulary has no byte tokens: building the
	// token-to-piece cache aborts (token_to_byte) on one typed BYTE.
	if v, ok := f.Lookup(keyTokenType); ok && model == "bert" {
		for i := 0; i < n && i < v.Len(); i++ {
			if t, _ := v.Index(i).AsInt(); t == tokenTypeByte {
				return f.metaErr(keyTokenType, "token %d %q is a byte token, which the bert tokenizer cannot decode; llama.cpp aborts", i, tokens[i])
			}
		}
	}
	// The end-of-generation set is logged with id_to_token[id], unchecked;
	// eos is the one member that is not found by its text or checked.
	id, known := eosDefaults[model]
	if !known {
		return nil
	}
	if v, ok := f.Lookup(keyEOS); ok {
		if u, isU32 := v.Interface().(uint32); isU32 && uint64(u) < uint64(n) {
			id = int64(u) // llama.cpp ignores an out-of-range id
		}
	}
	if id >= int64(n) {
		return f.metaErr(keyTokens, "%d tokens, but the end-of-sequence token is %d (the %s tokenizer's default, as %s does not name a valid one); llama.cpp reads it unchecked", n, id, model, keyEOS)
	}
	return nil
}
