package gguf

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. A *FormatError wraps exactly one of the first group, so
// errors.Is(err, ErrTruncated) and the like tell what kind of damage a file
// has; the message of the *FormatError tells where.
var (
	// ErrNotGGUF: the file does not start with the magic "GGUF".
	ErrNotGGUF = errors.New("gguf: not a GGUF file")
	// ErrVersion: a version other than 2 or 3, or one written big-endian.
	ErrVersion = errors.New("gguf: unsupported version")
	// ErrTruncated: something (a string, an array, the tensor infos, a
	// tensor's data) runs past the end of the file, or a count claims more
	// items than the rest of the file could hold.
	ErrTruncated = errors.New("gguf: truncated")
	// ErrKey: a metadata key or tensor name that is empty, too long or
	// not UTF-8.
	ErrKey = errors.New("gguf: invalid name")
	// ErrDuplicate: a metadata key or tensor name appears twice.
	ErrDuplicate = errors.New("gguf: duplicate name")
	// ErrValueType: an unknown metadata value type, arrays nested too
	// deeply, or a reserved key with the wrong type.
	ErrValueType = errors.New("gguf: invalid value type")
	// ErrTensorType: a tensor type ggml does not know or has removed.
	ErrTensorType = errors.New("gguf: invalid tensor type")
	// ErrShape: a tensor with 0 or more than 4 dimensions, a zero or
	// overflowing dimension, or rows that are not a whole number of blocks.
	ErrShape = errors.New("gguf: invalid tensor shape")
	// ErrAlignment: general.alignment is not a power of two, or a tensor's
	// offset is not a multiple of it.
	ErrAlignment = errors.New("gguf: invalid alignment")
	// ErrOverlap: two tensors' data overlap.
	ErrOverlap = errors.New("gguf: overlapping tensor data")
	// ErrUnsupported: valid GGUF that llama.cpp's loader refuses (nested
	// arrays, tensor names of 64 bytes or more, tensor data not laid out
	// in order). Only CheckLlamaCPP reports it.
	ErrUnsupported = errors.New("gguf: not loadable by llama.cpp")
	// ErrMetadata: metadata that llama.cpp's loader would trip over (a
	// tokenizer array of the wrong type or length, duplicate tokens,
	// inconsistent expert counts, ...). Only CheckLlamaCPP reports it.
	ErrMetadata = errors.New("gguf: invalid metadata")
)

// Errors of the accessors, which are not about the file's format.
var (
	// ErrKeyNotFound: no metadata key of that name.
	ErrKeyNotFound = errors.New("gguf: key not found")
	// ErrTensorNotFound: no tensor of that name.
	ErrTensorNotFound = errors.New("gguf: tensor not found")
	// ErrWrongType: the value or tensor has a type the accessor cannot
	// convert.
	ErrWrongType = errors.New("gguf: wrong type")
)

// FormatError describes a defect in a GGUF file: where it is and what it is.
// It prints as
//
//	gguf: offset 1234: tensor "blk.0.attn_q.weight": data runs past end of file (needs 4096 bytes, 100 remain)
type FormatError struct {
	// Offset is the byte offset in the file of the field at fault.
	Offset int64
	// What names the item at fault: `key "general.name"`, `tensor
	// "output.weight"`, "header", ... It may be empty.
	What string
	// Msg says what is wrong.
	Msg string
	// Err is one of the sentinel errors above (ErrTruncated, ...).
	Err error
}

func (e *FormatError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gguf: offset %d: ", e.Offset)
	if e.What != "" {
		b.WriteString(e.What)
		b.WriteString(": ")
	}
	if e.Msg != "" {
		b.WriteString(e.Msg)
	} else if e.Err != nil {
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "gguf: "))
	}
	return b.String()
}

// Unwrap returns the sentinel error, for errors.Is.
func (e *FormatError) Unwrap() error { return e.Err }

func keyWhat(key string) string     { return fmt.Sprintf("key %q", key) }
func tensorWhat(name string) string { return fmt.Sprintf("tensor %q", name) }
