package gguf

import "fmt"

// ValueType is the type tag of a metadata value (gguf_type in gguf.h).
type ValueType uint32

// The metadata value types. The numbering is part of the file format.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{
	TypeUint8: "u8", TypeInt8: "i8", TypeUint16: "u16", TypeInt16: "i16",
	TypeUint32: "u32", TypeInt32: "i32", TypeFloat32: "f32", TypeBool: "bool",
	TypeString: "str", TypeArray: "arr", TypeUint64: "u64", TypeInt64: "i64",
	TypeFloat64: "f64",
}

// String returns the name llama.cpp uses for t ("u32", "str", "arr", ...).
func (t ValueType) String() string {
	if t.Valid() {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// Valid reports whether t is one of the 13 defined value types.
func (t ValueType) Valid() bool { return t <= TypeFloat64 }

// fixedSize is the encoded size of a scalar of type t, or 0 for strings
// and arrays, whose size depends on their contents.
func (t ValueType) fixedSize() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// minSize is the fewest bytes an encoded value of type t can take: a string
// needs its 8-byte length, an array its 4-byte element type and 8-byte count.
// The reader multiplies it by a declared count to reject, before allocating
// anything, a count that cannot fit in what remains of the file.
func (t ValueType) minSize() int64 {
	switch t {
	case TypeString:
		return 8
	case TypeArray:
		return 12
	}
	return int64(t.fixedSize())
}

// TensorType is a ggml tensor element type (enum ggml_type in ggml.h).
type TensorType uint32

// The ggml tensor types that may appear in a GGUF file. The gaps (4, 5,
// 31-33, 36-38) are types ggml has removed; files using them are rejected.
const (
	TypeF32     TensorType = 0
	TypeF16     TensorType = 1
	TypeQ4_0    TensorType = 2
	TypeQ4_1    TensorType = 3
	TypeQ5_0    TensorType = 6
	TypeQ5_1    TensorType = 7
	TypeQ8_0    TensorType = 8
	TypeQ8_1    TensorType = 9
	TypeQ2_K    TensorType = 10
	TypeQ3_K    TensorType = 11
	TypeQ4_K    TensorType = 12
	TypeQ5_K    TensorType = 13
	TypeQ6_K    TensorType = 14
	TypeQ8_K    TensorType = 15
	TypeIQ2_XXS TensorType = 16
	TypeIQ2_XS  TensorType = 17
	TypeIQ3_XXS TensorType = 18
	TypeIQ1_S   TensorType = 19
	TypeIQ4_NL  TensorType = 20
	TypeIQ3_S   TensorType = 21
	TypeIQ2_S   TensorType = 22
	TypeIQ4_XS  TensorType = 23
	TypeI8      TensorType = 24
	TypeI16     TensorType = 25
	TypeI32     TensorType = 26
	TypeI64     TensorType = 27
	TypeF64     TensorType = 28
	TypeIQ1_M   TensorType = 29
	TypeBF16    TensorType = 30
	TypeTQ1_0   TensorType = 34
	TypeTQ2_0   TensorType = 35
	TypeMXFP4   TensorType = 39
)

// typeTraits mirrors the blck_size and type_size columns of type_traits in
// ggml.c (sizes of the block structs in ggml-common.h, QK_K = 256). A zero
// block size marks a removed type, as it does in ggml.
var typeTraits = [...]struct {
	name      string
	blockSize uint64 // elements per block
	typeSize  uint64 // bytes per block
}{
	TypeF32:     {"f32", 1, 4},
	TypeF16:     {"f16", 1, 2},
	TypeQ4_0:    {"q4_0", 32, 18},
	TypeQ4_1:    {"q4_1", 32, 20},
	4:           {"q4_2 (removed)", 0, 0},
	5:           {"q4_3 (removed)", 0, 0},
	TypeQ5_0:    {"q5_0", 32, 22},
	TypeQ5_1:    {"q5_1", 32, 24},
	TypeQ8_0:    {"q8_0", 32, 34},
	TypeQ8_1:    {"q8_1", 32, 36},
	TypeQ2_K:    {"q2_K", 256, 84},
	TypeQ3_K:    {"q3_K", 256, 110},
	TypeQ4_K:    {"q4_K", 256, 144},
	TypeQ5_K:    {"q5_K", 256, 176},
	TypeQ6_K:    {"q6_K", 256, 210},
	TypeQ8_K:    {"q8_K", 256, 292},
	TypeIQ2_XXS: {"iq2_xxs", 256, 66},
	TypeIQ2_XS:  {"iq2_xs", 256, 74},
	TypeIQ3_XXS: {"iq3_xxs", 256, 98},
	TypeIQ1_S:   {"iq1_s", 256, 50},
	TypeIQ4_NL:  {"iq4_nl", 32, 18},
	TypeIQ3_S:   {"iq3_s", 256, 110},
	TypeIQ2_S:   {"iq2_s", 256, 82},
	TypeIQ4_XS:  {"iq4_xs", 256, 136},
	TypeI8:      {"i8", 1, 1},
	TypeI16:     {"i16", 1, 2},
	TypeI32:     {"i32", 1, 4},
	TypeI64:     {"i64", 1, 8},
	TypeF64:     {"f64", 1, 8},
	TypeIQ1_M:   {"iq1_m", 256, 56},
	TypeBF16:    {"bf16", 1, 2},
	31:          {"q4_0_4_4 (removed)", 0, 0},
	32:          {"q4_0_4_8 (removed)", 0, 0},
	33:          {"q4_0_8_8 (removed)", 0, 0},
	TypeTQ1_0:   {"tq1_0", 256, 54},
	TypeTQ2_0:   {"tq2_0", 256, 66},
	36:          {"iq4_nl_4_4 (removed)", 0, 0},
	37:          {"iq4_nl_4_8 (removed)", 0, 0},
	38:          {"iq4_nl_8_8 (removed)", 0, 0},
	TypeMXFP4:   {"mxfp4", 32, 17},
}

// String returns ggml's name for t ("f32", "q8_0", "q4_K", ...).
func (t TensorType) String() string {
	if int(t) < len(typeTraits) {
		return typeTraits[t].name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// Valid reports whether t is a tensor type ggml can still load.
func (t TensorType) Valid() bool {
	return int(t) < len(typeTraits) && typeTraits[t].blockSize != 0
}

// BlockSize is the number of elements in one quantisation block of t (1 for
// the plain types); a row's length must be a multiple of it. It is 0 for an
// invalid type.
func (t TensorType) BlockSize() uint64 {
	if !t.Valid() {
		return 0
	}
	return typeTraits[t].blockSize
}

// TypeSize is the number of bytes one block of t takes. It is 0 for an
// invalid type.
func (t TensorType) TypeSize() uint64 {
	if !t.Valid() {
		return 0
	}
	return typeTraits[t].typeSize
}

// RowSize is the number of bytes n elements of t take; n must be a multiple
// of t.BlockSize(). It returns 0 for an invalid type.
func (t TensorType) RowSize(n uint64) uint64 {
	if !t.Valid() {
		return 0
	}
	return n / typeTraits[t].blockSize * typeTraits[t].typeSize
}

// FileType is the value of general.file_type (enum llama_ftype): which type
// most of a model's weights use.
type FileType uint32

// The file types this package's writer produces.
const (
	FileTypeAllF32     FileType = 0
	FileTypeMostlyF16  FileType = 1
	FileTypeMostlyQ80  FileType = 7
	FileTypeMostlyBF16 FileType = 32
)
