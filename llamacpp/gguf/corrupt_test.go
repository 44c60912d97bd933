package gguf_test

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp/gguf"
)

// raw builds GGUF bytes field by field, so a test can write anything,
// including what the Writer refuses to.
type raw []byte

func (r raw) u32(v uint32) raw { return binary.LittleEndian.AppendUint32(r, v) }
func (r raw) u64(v uint64) raw { return binary.LittleEndian.AppendUint64(r, v) }
func (r raw) str(s string) raw { return append(r.u64(uint64(len(s))), s...) }

func header(version uint32, nTensors, nKV uint64) raw {
	return raw("GGUF").u32(version).u64(nTensors).u64(nKV)
}

// kvU32 is a u32 pair.
func (r raw) kvU32(key string, v uint32) raw { return r.str(key).u32(uint32(gguf.TypeUint32)).u32(v) }

// kvStr is a string pair.
func (r raw) kvStr(key, v string) raw { return r.str(key).u32(uint32(gguf.TypeString)).str(v) }

// kvF32 is an f32 pair.
func (r raw) kvF32(key string, v float32) raw {
	return r.str(key).u32(uint32(gguf.TypeFloat32)).u32(math.Float32bits(v))
}

// info is a tensor info.
func (r raw) info(name string, typ gguf.TensorType, offset uint64, dims ...uint64) raw {
	r = r.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		r = r.u64(d)
	}
	return r.u32(uint32(typ)).u64(offset)
}

// data pads r to a multiple of 32 and appends n bytes of tensor data.
func (r raw) data(n int) raw {
	for len(r)%32 != 0 {
		r = append(r, 0)
	}
	return append(r, make([]byte, n)...)
}

// valid is a small well-formed file: two pairs and two f32 tensors of 4
// elements, the second at offset 32.
func valid() raw {
	return header(3, 2, 2).kvStr("general.architecture", "llama").kvU32("general.alignment", 32).
		info("a", gguf.TypeF32, 0, 4).info("b", gguf.TypeF32, 32, 2, 2).data(48)
}

func TestCorruptions(t *testing.T) {
	// The valid file reads and checks.
	f, err := readBytes(valid())
	require.NoError(t, err)
	require.NoError(t, f.CheckLlamaCPP())
	require.Len(t, f.Tensors, 2)

	v := valid()
	flip := func(off int, b ...byte) raw {
		c := append(raw(nil), v...)
		copy(c[off:], b)
		return c
	}
	le32 := func(x uint32) []byte { return binary.LittleEndian.AppendUint32(nil, x) }
	le64 := func(x uint64) []byte { return binary.LittleEndian.AppendUint64(nil, x) }
	// Offsets in valid(): header 0-24; key "general.architecture" at 24
	// (len 8, 20 bytes, type at 52, value len at 56, "llama" at 64);
	// "general.alignment" at 69 (type at 94, value at 98); tensor "a" at
	// 102 (n_dims at 111, dim at 115, type at 123, offset at 127);
	// tensor "b" at 135 (n_dims 144, dims 148 and 156, type 164, offset
	// 168); data at 192.
	require.Equal(t, "llama", string(v[64:69]))
	require.Equal(t, byte('a'), v[110])
	require.Equal(t, byte('b'), v[143])

	tests := []struct {
		name    string
		file    raw
		err     error
		offset  int64
		message string // a substring of the error
	}{
		{"empty", nil, gguf.ErrTruncated, 0, "ends inside the magic"},
		{"prefix of magic", raw("GG"), gguf.ErrTruncated, 0, ""},
		{"not gguf", raw("hello world, this is text"), gguf.ErrNotGGUF, 0, `magic "hell"`},
		{"short not gguf", raw("PK"), gguf.ErrNotGGUF, 0, ""},
		{"version 1", flip(4, le32(1)...), gguf.ErrVersion, 4, "obsolete"},
		{"version 0", flip(4, le32(0)...), gguf.ErrVersion, 4, ""},
		{"version 4", flip(4, le32(4)...), gguf.ErrVersion, 4, "not 2 or 3"},
		{"big-endian", flip(4, le32(3<<24)...), gguf.ErrVersion, 4, "big-endian"},
		{"version 2 reads", flip(4, le32(2)...), nil, 0, ""},
		{"cut in header", v[:20], gguf.ErrTruncated, 16, "metadata count runs past end of file (needs 8 bytes, 4 remain)"},
		{"tensor count absurd", flip(8, le64(1<<62)...), gguf.ErrTruncated, 8, "tensor count 4611686018427387904 cannot fit"},
		{"kv count absurd", flip(16, le64(math.MaxUint64)...), gguf.ErrTruncated, 16, "metadata count"},
		{"key length absurd", flip(24, le64(1<<60)...), gguf.ErrKey, 24, "longer than 65535"},
		{"key length past end", flip(24, le64(60000)...), gguf.ErrTruncated, 24, "runs past end of file"},
		{"empty key", flip(24, le64(0)...), gguf.ErrKey, 24, "empty key"},
		{"key not UTF-8", flip(32, 0xff), gguf.ErrKey, 24, "not UTF-8"},
		{"key with NUL", flip(33, 0), gguf.ErrKey, 24, "NUL"},
		{"value type 13", flip(52, le32(13)...), gguf.ErrValueType, 52, "unknown value type 13"},
		{"value type huge", flip(52, le32(0xffffffff)...), gguf.ErrValueType, 52, ""},
		{"string length absurd", flip(56, le64(1<<63)...), gguf.ErrTruncated, 56, "string of 9223372036854775808 bytes runs past end of file"},
		{"string became array of absurd length", flip(52, append(le32(uint32(gguf.TypeArray)), append(le32(uint32(gguf.TypeUint64)), le64(1<<40)...)...)...), gguf.ErrTruncated, 60, "array of 1099511627776 u64"},
		{"array of unknown type", flip(52, append(le32(uint32(gguf.TypeArray)), le32(99)...)...), gguf.ErrValueType, 56, "unknown array element type 99"},
		{"alignment as f32", flip(94, le32(uint32(gguf.TypeFloat32))...), gguf.ErrValueType, 69, "alignment is f32, must be u32"},
		{"alignment 48", flip(98, le32(48)...), gguf.ErrAlignment, 69, "not a power of two"},
		{"alignment 0", flip(98, le32(0)...), gguf.ErrAlignment, 69, ""},
		{"alignment 64 misaligns b", flip(98, le32(64)...), gguf.ErrAlignment, 168, "data offset 32 is not a multiple of the alignment 64"},
		{"tensor name empty", flip(102, le64(0)...), gguf.ErrKey, 102, "empty tensor name"},
		{"tensor name too long", flip(102, le64(65)...), gguf.ErrKey, 102, "longer than 64"},
		{"n_dims 0", flip(111, le32(0)...), gguf.ErrShape, 111, "0 dimensions"},
		{"n_dims 5", flip(111, le32(5)...), gguf.ErrShape, 111, "5 dimensions"},
		{"n_dims absurd", flip(111, le32(0xffffffff)...), gguf.ErrShape, 111, ""},
		{"dim 0", flip(115, le64(0)...), gguf.ErrShape, 115, "dimension 0 is 0"},
		{"second dim 0", flip(156, le64(0)...), gguf.ErrShape, 156, "dimension 1 is 0"},
		{"dims overflow", flip(148, le64(1<<62)...), gguf.ErrShape, 156, "more than 2^63-1 elements"},
		{"type removed", flip(123, le32(4)...), gguf.ErrTensorType, 123, "unknown or removed tensor type 4"},
		{"type unknown", flip(123, le32(40)...), gguf.ErrTensorType, 123, ""},
		{"q8_0 rows of 4", flip(123, le32(uint32(gguf.TypeQ8_0))...), gguf.ErrShape, 111, "not a whole number of q8_0 blocks of 32"},
		{"offset misaligned", flip(168, le64(33)...), gguf.ErrAlignment, 168, "not a multiple of the alignment 32"},
		{"offset past end", flip(168, le64(1<<40)...), gguf.ErrTruncated, 192 + 1<<40, "data runs past end of file (needs 16 bytes, 0 remain)"},
		{"offset absurd", flip(168, le64(math.MaxUint64-31)...), gguf.ErrTruncated, math.MaxInt64, "data runs past end of file"},
		{"data cut", v[:len(v)-1], gguf.ErrTruncated, 224, `tensor "b": data runs past end of file (needs 16 bytes, 15 remain)`},
		{"data cut to nothing", v[:192], gguf.ErrTruncated, 192, `tensor "a": data runs past end of file (needs 16 bytes, 0 remain)`},
		{"cut in tensor infos", v[:150], gguf.ErrTruncated, 148, "dimension runs past end of file (needs 8 bytes, 2 remain)"},
		{"overlap", flip(168, le64(0)...), gguf.ErrOverlap, 135, `overlaps tensor "a"`},
		{"duplicate tensor", flip(143, 'a'), gguf.ErrDuplicate, 135, "duplicate tensor name (first at offset 102)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readBytes(tc.file)
			if tc.err == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.err)
			var fe *gguf.FormatError
			require.True(t, errors.As(err, &fe), "%T is a *FormatError", err)
			assert.Equal(t, tc.offset, fe.Offset, "offset of %v", err)
			assert.Contains(t, err.Error(), tc.message)
			assert.True(t, strings.HasPrefix(err.Error(), "gguf: offset "), err.Error())
		})
	}
}

// Corruptions whose exact error depends on how the reader walks on after
// the damage: only the kind matters.
func TestCorruptionKinds(t *testing.T) {
	v := valid()
	flip := func(off int, b ...byte) raw {
		c := append(raw(nil), v...)
		copy(c[off:], b)
		return c
	}
	le32 := func(x uint32) []byte { return binary.LittleEndian.AppendUint32(nil, x) }
	le64 := func(x uint64) []byte { return binary.LittleEndian.AppendUint64(nil, x) }
	for name, tc := range map[string]struct {
		file raw
		errs []error
	}{
		// The third "pair" is tensor a's info read as a key: its name
		// "a" is a key, and its n_dims (1) the type i8.
		"kv count one too many": {flip(16, le64(3)...), []error{gguf.ErrTruncated, gguf.ErrKey, gguf.ErrValueType, gguf.ErrShape, gguf.ErrTensorType, gguf.ErrAlignment}},
		"duplicate key":         {flip(69+8, []byte("general.architectu")...), []error{gguf.ErrValueType, gguf.ErrTruncated, gguf.ErrDuplicate}},
		"alignment as u64":      {flip(94, le32(uint32(gguf.TypeUint64))...), []error{gguf.ErrTruncated, gguf.ErrKey, gguf.ErrValueType}},
	} {
		_, err := readBytes(tc.file)
		require.Error(t, err, name)
		ok := false
		for _, e := range tc.errs {
			ok = ok || errors.Is(err, e)
		}
		assert.True(t, ok, "%s: %v", name, err)
	}
	// A duplicate key, made properly.
	dup := header(3, 0, 2).kvU32("k", 1).kvU32("k", 2)
	_, err := readBytes(dup)
	assert.ErrorIs(t, err, gguf.ErrDuplicate)
	assert.EqualError(t, err, `gguf: offset 41: key "k": duplicate key (first at offset 24)`)

	// Nested arrays deeper than the reader allows.
	deep := header(3, 0, 1).str("deep").u32(uint32(gguf.TypeArray))
	for i := 0; i < 20; i++ {
		deep = deep.u32(uint32(gguf.TypeArray)).u64(1)
	}
	deep = deep.u32(uint32(gguf.TypeUint8)).u64(0)
	_, err = readBytes(deep)
	assert.ErrorIs(t, err, gguf.ErrValueType)
	assert.ErrorContains(t, err, "nested")
}

// What the format allows but llama.cpp's loader does not.
func TestCheckLlamaCPP(t *testing.T) {
	tokens := func(toks ...string) raw {
		r := raw(nil).str("tokenizer.ggml.tokens").u32(uint32(gguf.TypeArray)).u32(uint32(gguf.TypeString)).u64(uint64(len(toks)))
		for _, s := range toks {
			r = r.str(s)
		}
		return r
	}
	f32s := func(key string, n int) raw {
		r := raw(nil).str(key).u32(uint32(gguf.TypeArray)).u32(uint32(gguf.TypeFloat32)).u64(uint64(n))
		for i := 0; i < n; i++ {
			r = r.u32(0)
		}
		return r
	}
	spm := func(extra ...raw) raw {
		r := header(3, 0, uint64(2+len(extra))).kvStr("tokenizer.ggml.model", "llama")
		r = append(r, tokens("<unk>", "<s>", "</s>", "a")...)
		for _, e := range extra {
			r = append(r, e...)
		}
		return r
	}
	// arr is an array of n numbers of type typ with the given values
	// (then zeros).
	arr := func(key string, typ gguf.ValueType, n int, vals ...uint32) raw {
		r := raw(nil).str(key).u32(uint32(gguf.TypeArray)).u32(uint32(typ)).u64(uint64(n))
		size := map[gguf.ValueType]int{gguf.TypeUint8: 1, gguf.TypeInt32: 4, gguf.TypeUint32: 4, gguf.TypeFloat32: 4}[typ]
		for i := 0; i < n; i++ {
			v := uint32(0)
			if i < len(vals) {
				v = vals[i]
			}
			r = append(r, binary.LittleEndian.AppendUint32(nil, v)[:size]...)
		}
		return r
	}
	strs := func(key string, ss ...string) raw {
		r := raw(nil).str(key).u32(uint32(gguf.TypeArray)).u32(uint32(gguf.TypeString)).u64(uint64(len(ss)))
		for _, s := range ss {
			r = r.str(s)
		}
		return r
	}
	for name, tc := range map[string]struct {
		file raw
		err  error
		msg  string
	}{
		"valid vocab":        {spm(), nil, ""},
		"scores ok":          {spm(f32s("tokenizer.ggml.scores", 4)), nil, ""},
		"scores short":       {spm(f32s("tokenizer.ggml.scores", 3)), gguf.ErrMetadata, "one score per token"},
		"scores as u32":      {spm(raw(nil).kvU32("tokenizer.ggml.scores", 1)), gguf.ErrMetadata, "u32"},
		"token types as f32": {spm(f32s("tokenizer.ggml.token_type", 4)), gguf.ErrMetadata, "i32"},
		"merges as u32":      {spm(raw(nil).kvU32("tokenizer.ggml.merges", 0)), gguf.ErrMetadata, "array of strings"},
		"charsmap scalar":    {spm(raw(nil).kvU32("tokenizer.ggml.precompiled_charsmap", 0)), gguf.ErrMetadata, "must be an array"},
		"eos out of range":   {header(3, 0, 2).kvStr("tokenizer.ggml.model", "llama").append(tokens("<unk>", "<s>")), gguf.ErrMetadata, "end-of-sequence"},
		"eos given":          {header(3, 0, 3).kvStr("tokenizer.ggml.model", "llama").append(tokens("<unk>", "<s>")).kvU32("tokenizer.ggml.eos_token_id", 1), nil, ""},
		"tokens as u32s": {header(3, 0, 1).str("tokenizer.ggml.tokens").u32(uint32(gguf.TypeArray)).u32(uint32(gguf.TypeUint32)).u64(1).u32(5),
			gguf.ErrMetadata, "array of strings"},
		"duplicate tokens":   {header(3, 0, 1).append(tokens("a", "b", "a")), gguf.ErrMetadata, "tokens 0 and 2"},
		"empty token clash":  {header(3, 0, 1).append(tokens("[EMPTY_1]", "")), gguf.ErrMetadata, "both"},
		"arch not a string":  {header(3, 0, 1).kvU32("general.architecture", 1), gguf.ErrMetadata, "must be a string"},
		"bad rope scaling":   {header(3, 0, 2).kvStr("general.architecture", "llama").kvStr("llama.rope.scaling.type", "cubic"), gguf.ErrMetadata, "cubic"},
		"experts none used":  {header(3, 0, 2).kvStr("general.architecture", "llama").kvU32("llama.expert_count", 8), gguf.ErrMetadata, "none used"},
		"experts too many":   {header(3, 0, 3).kvStr("general.architecture", "llama").kvU32("llama.expert_count", 513).kvU32("llama.expert_used_count", 2), gguf.ErrMetadata, "512"},
		"used > experts":     {header(3, 0, 3).kvStr("general.architecture", "llama").kvU32("llama.expert_count", 2).kvU32("llama.expert_used_count", 3), gguf.ErrMetadata, ""},
		"used without any":   {header(3, 0, 2).kvStr("general.architecture", "llama").kvU32("llama.expert_used_count", 1), gguf.ErrMetadata, ""},
		"experts ok":         {header(3, 0, 3).kvStr("general.architecture", "llama").kvU32("llama.expert_count", 8).kvU32("llama.expert_used_count", 2), nil, ""},
		"nested array":       {header(3, 0, 1).str("n").u32(uint32(gguf.TypeArray)).u32(uint32(gguf.TypeArray)).u64(0), gguf.ErrUnsupported, "array of arrays"},
		"tensor name of 64":  {header(3, 1, 0).info(strings.Repeat("x", 64), gguf.TypeF32, 0, 1).data(4), gguf.ErrUnsupported, "at most 63"},
		"gap between":        {header(3, 2, 0).info("a", gguf.TypeF32, 0, 1).info("b", gguf.TypeF32, 64, 1).data(68), gguf.ErrUnsupported, "so 32"},
		"out of order":       {header(3, 2, 0).info("a", gguf.TypeF32, 32, 1).info("b", gguf.TypeF32, 0, 1).data(36), gguf.ErrUnsupported, "so 0"},
		"contiguous is fine": {header(3, 2, 0).info("a", gguf.TypeF32, 0, 1).info("b", gguf.TypeF32, 32, 1).data(36), nil, ""},
		"f16 norm":           {header(3, 1, 0).info("output_norm.weight", gguf.TypeF16, 0, 2).data(4), gguf.ErrUnsupported, "f32 only"},
		"i32 matrix":         {header(3, 1, 0).info("output.weight", gguf.TypeI32, 0, 2, 2).data(16), gguf.ErrUnsupported, "cannot multiply"},
		"q8_K matrix":        {header(3, 1, 0).info("output.weight", gguf.TypeQ8_K, 0, 256, 1).data(292), gguf.ErrUnsupported, "cannot multiply"},
		"f16 matrix is fine": {header(3, 1, 0).info("output.weight", gguf.TypeF16, 0, 2, 2).data(8), nil, ""},
		"no layers":          {header(3, 0, 2).kvStr("general.architecture", "llama").kvU32("llama.block_count", 0), gguf.ErrMetadata, "0 layers"},
		"513 layers":         {header(3, 0, 2).kvStr("general.architecture", "llama").kvU32("llama.block_count", 513), gguf.ErrMetadata, "513 layers"},
		"negative eps":       {header(3, 0, 2).kvStr("general.architecture", "llama").kvF32("llama.attention.layer_norm_rms_epsilon", -1e-5), gguf.ErrMetadata, "negative or NaN"},
		"NaN eps":            {header(3, 0, 2).kvStr("general.architecture", "bert").kvF32("bert.attention.layer_norm_epsilon", float32(math.NaN())), gguf.ErrMetadata, "NaN"},
		"zero eps is fine":   {header(3, 0, 2).kvStr("general.architecture", "llama").kvF32("llama.attention.layer_norm_rms_epsilon", 0), nil, ""},
		"ff as f32s":         {header(3, 0, 2).kvStr("general.architecture", "llama").append(arr("llama.feed_forward_length", gguf.TypeFloat32, 2)), gguf.ErrMetadata, "expects u32"},
		"heads as strings":   {header(3, 0, 2).kvStr("general.architecture", "llama").append(strs("llama.attention.head_count", "4", "4")), gguf.ErrMetadata, "expects u32"},
		"ff as i32s is fine": {header(3, 0, 2).kvStr("general.architecture", "llama").append(arr("llama.feed_forward_length", gguf.TypeInt32, 2)), nil, ""},
		"labels as u32s":     {header(3, 0, 2).kvStr("general.architecture", "bert").append(arr("bert.classifier.output_labels", gguf.TypeUint32, 2)), gguf.ErrMetadata, "expects str"},
		"labels are strings": {header(3, 0, 2).kvStr("general.architecture", "bert").append(strs("bert.classifier.output_labels", "a", "b")), nil, ""},
		"xielu as i32s":      {header(3, 0, 1).append(arr("xielu.beta", gguf.TypeInt32, 2)), gguf.ErrMetadata, "expects f32"},
		"ff as u8s throws":   {header(3, 0, 2).kvStr("general.architecture", "llama").append(arr("llama.feed_forward_length", gguf.TypeUint8, 2)), nil, ""},
		"bert byte token":    {header(3, 0, 3).kvStr("tokenizer.ggml.model", "bert").append(tokens("[PAD]", "<0x0A>")).append(arr("tokenizer.ggml.token_type", gguf.TypeInt32, 2, 3, 6)), gguf.ErrMetadata, "byte token"},
		"spm byte token":     {spm(arr("tokenizer.ggml.token_type", gguf.TypeInt32, 4, 2, 3, 3, 6)), nil, ""},
		"k/v head sizes":     {header(3, 0, 3).kvStr("general.architecture", "llama").kvU32("llama.attention.key_length", 64).kvU32("llama.attention.value_length", 32), gguf.ErrMetadata, "differs"},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := readBytes(tc.file)
			require.NoError(t, err, "the format allows it")
			err = f.CheckLlamaCPP()
			if tc.err == nil {
				require.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tc.err)
			assert.ErrorContains(t, err, tc.msg)
			var fe *gguf.FormatError
			assert.ErrorAs(t, err, &fe)
		})
	}
}

func (r raw) append(b raw) raw { return append(r, b...) }
