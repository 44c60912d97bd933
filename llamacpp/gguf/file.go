package gguf

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Lookup returns the value of key.
func (f *File) Lookup(key string) (Value, bool) {
	i, ok := f.kv[key]
	if !ok {
		return Value{}, false
	}
	return f.KVs[i].Value, true
}

func (f *File) lookup(key string) (Value, error) {
	v, ok := f.Lookup(key)
	if !ok {
		return Value{}, fmt.Errorf("%w: %q", ErrKeyNotFound, key)
	}
	return v, nil
}

func wrongType(key string, v Value, want string) error {
	return fmt.Errorf("gguf: key %q is %s, not %s: %w", key, typeName(v), want, ErrWrongType)
}

// String returns the value of a string key.
func (f *File) String(key string) (string, error) {
	v, err := f.lookup(key)
	if err != nil {
		return "", err
	}
	s, ok := v.AsString()
	if !ok {
		return "", wrongType(key, v, "a string")
	}
	return s, nil
}

// Uint returns the value of an integer key of any width or signedness, if it
// is not negative.
func (f *File) Uint(key string) (uint64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	n, ok := v.AsUint()
	if !ok {
		return 0, wrongType(key, v, "a non-negative integer")
	}
	return n, nil
}

// Int returns the value of an integer key of any width or signedness, if it
// fits in an int64.
func (f *File) Int(key string) (int64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	n, ok := v.AsInt()
	if !ok {
		return 0, wrongType(key, v, "an int64")
	}
	return n, nil
}

// Float returns the value of a float32 or float64 key.
func (f *File) Float(key string) (float64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	x, ok := v.AsFloat()
	if !ok {
		return 0, wrongType(key, v, "a float")
	}
	return x, nil
}

// Bool returns the value of a bool key.
func (f *File) Bool(key string) (bool, error) {
	v, err := f.lookup(key)
	if err != nil {
		return false, err
	}
	b, ok := v.AsBool()
	if !ok {
		return false, wrongType(key, v, "a bool")
	}
	return b, nil
}

// Strings returns the elements of an array-of-strings key. The slice is
// shared with the File.
func (f *File) Strings(key string) ([]string, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	s, ok := v.AsStrings()
	if !ok {
		return nil, wrongType(key, v, "an array of strings")
	}
	return s, nil
}

// Array returns the value of an array key.
func (f *File) Array(key string) (Value, error) {
	v, err := f.lookup(key)
	if err != nil {
		return Value{}, err
	}
	if v.Type() != TypeArray {
		return Value{}, wrongType(key, v, "an array")
	}
	return v, nil
}

// Tensor returns the info of the named tensor.
func (f *File) Tensor(name string) (*Tensor, bool) {
	i, ok := f.tensor[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// ReadTensor returns a copy of the named tensor's data as stored.
func (f *File) ReadTensor(name string) ([]byte, *Tensor, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %q", ErrTensorNotFound, name)
	}
	if f.r == nil {
		return nil, t, fmt.Errorf("gguf: tensor %q: file is closed", name)
	}
	// Read checked that the data lies inside the file.
	b := make([]byte, t.Size)
	if _, err := f.r.ReadAt(b, f.DataOffset+int64(t.Offset)); err != nil && !(err == io.EOF && len(b) == 0) {
		return nil, t, fmt.Errorf("gguf: reading tensor %q: %w", name, err)
	}
	return b, t, nil
}

// ReadTensorF32 returns the named tensor's elements as float32, in storage
// order (Dims[0] fastest). It decodes F32, F16, BF16 and Q8_0; other types
// give ErrWrongType.
func (f *File) ReadTensorF32(name string) ([]float32, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrTensorNotFound, name)
	}
	switch t.Type {
	case TypeF32, TypeF16, TypeBF16, TypeQ8_0:
	default:
		return nil, fmt.Errorf("gguf: tensor %q is %s, which ReadTensorF32 does not decode: %w", name, t.Type, ErrWrongType)
	}
	b, t, err := f.ReadTensor(name)
	if err != nil {
		return nil, err
	}
	out := make([]float32, t.Elements())
	DecodeF32(out, t.Type, b)
	return out, nil
}

// DecodeF32 decodes len(dst) elements of type typ (F32, F16, BF16 or Q8_0)
// from src into dst. It panics if typ is another type, if len(dst) is not a
// whole number of typ's blocks, or if src is shorter than they take.
func DecodeF32(dst []float32, typ TensorType, src []byte) {
	n := uint64(len(dst))
	if bs := typ.BlockSize(); bs == 0 || n%bs != 0 || uint64(len(src)) < typ.RowSize(n) {
		panic(fmt.Sprintf("gguf: DecodeF32 of %d %s elements from %d bytes", n, typ, len(src)))
	}
	le := binary.LittleEndian
	switch typ {
	case TypeF32:
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(src[4*i:]))
		}
	case TypeF16:
		for i := range dst {
			dst[i] = F16ToF32(le.Uint16(src[2*i:]))
		}
	case TypeBF16:
		for i := range dst {
			dst[i] = BF16ToF32(le.Uint16(src[2*i:]))
		}
	case TypeQ8_0:
		for b := 0; b < len(dst)/32; b++ {
			blk := src[34*b : 34*b+34]
			scale := F16ToF32(le.Uint16(blk))
			for j, q := range blk[2:] {
				dst[32*b+j] = float32(int8(q)) * scale
			}
		}
	default:
		panic("gguf: DecodeF32 of " + typ.String())
	}
}
