package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"unicode/utf8"
)

// Writer builds a GGUF version 3 file: metadata first, then tensor infos,
// then each tensor's data, aligned to 32 bytes (or general.alignment if one
// is added). Tensors are described when added and their data produced only
// when the file is written, so a model larger than memory can be written
// from a generator (AddTensorFunc, AddTensorF32Func).
//
// Each Add method checks its arguments and returns an error, leaving the
// Writer unchanged, for anything the reader would reject. A Writer is not
// safe for concurrent use.
type Writer struct {
	kvs       []KV
	keys      map[string]bool
	tensors   []wtensor
	names     map[string]bool
	alignment uint64
	dataSize  uint64 // the data section so far, padded
}

type wtensor struct {
	Tensor
	data  []byte
	fn    func(io.Writer) error
	f32   []float32
	f32fn func(uint64, []float32) error
}

// NewWriter returns an empty Writer.
func NewWriter() *Writer {
	return &Writer{keys: map[string]bool{}, names: map[string]bool{}, alignment: DefaultAlignment}
}

// AddKV adds a metadata pair. x is a Value or a Go value ValueOf accepts
// (uint32, string, []float32, ...). Keys must be unique, non-empty UTF-8
// without NUL of at most MaxKeyLen bytes. general.alignment, if added, must
// be a uint32 power of two, before any tensor; it sets the data alignment.
func (w *Writer) AddKV(key string, x any) error {
	v, err := ValueOf(x)
	if err != nil {
		return fmt.Errorf("gguf: key %q: %w", key, err)
	}
	if err := checkName(key, "key", MaxKeyLen); err != nil {
		return err
	}
	if w.keys[key] {
		return fmt.Errorf("gguf: key %q added twice: %w", key, ErrDuplicate)
	}
	if key == KeyAlignment {
		a, ok := v.Interface().(uint32)
		if !ok {
			return fmt.Errorf("gguf: %s is %s, must be u32: %w", key, typeName(v), ErrValueType)
		}
		if a == 0 || a&(a-1) != 0 {
			return fmt.Errorf("gguf: %s %d is not a power of two: %w", key, a, ErrAlignment)
		}
		if len(w.tensors) > 0 {
			return fmt.Errorf("gguf: %s added after tensors", key)
		}
		w.alignment = uint64(a)
	}
	if err := checkDepth(v, 0); err != nil {
		return fmt.Errorf("gguf: key %q: %w", key, err)
	}
	w.keys[key] = true
	w.kvs = append(w.kvs, KV{Key: key, Value: v})
	return nil
}

func checkDepth(v Value, depth int) error {
	if v.typ != TypeArray || v.elem != TypeArray {
		return nil
	}
	if depth+1 >= maxArrayDepth {
		return fmt.Errorf("arrays nested more than %d deep: %w", maxArrayDepth, ErrValueType)
	}
	for _, e := range v.x.([]Value) {
		if err := checkDepth(e, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func checkName(s, field string, maxLen int) error {
	switch {
	case s == "":
		return fmt.Errorf("gguf: empty %s: %w", field, ErrKey)
	case len(s) > maxLen:
		return fmt.Errorf("gguf: %s %.40q... of %d bytes is longer than %d: %w", field, s, len(s), maxLen, ErrKey)
	case !utf8.ValidString(s):
		return fmt.Errorf("gguf: %s %q is not UTF-8: %w", field, s, ErrKey)
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return fmt.Errorf("gguf: %s %q contains a NUL byte: %w", field, s, ErrKey)
		}
	}
	return nil
}

// Typed shorthands for AddKV.

// AddString adds a string pair.
func (w *Writer) AddString(key, v string) error { return w.AddKV(key, v) }

// AddUint32 adds a u32 pair.
func (w *Writer) AddUint32(key string, v uint32) error { return w.AddKV(key, v) }

// AddInt32 adds an i32 pair.
func (w *Writer) AddInt32(key string, v int32) error { return w.AddKV(key, v) }

// AddUint64 adds a u64 pair.
func (w *Writer) AddUint64(key string, v uint64) error { return w.AddKV(key, v) }

// AddFloat32 adds an f32 pair.
func (w *Writer) AddFloat32(key string, v float32) error { return w.AddKV(key, v) }

// AddFloat64 adds an f64 pair.
func (w *Writer) AddFloat64(key string, v float64) error { return w.AddKV(key, v) }

// AddBool adds a bool pair.
func (w *Writer) AddBool(key string, v bool) error { return w.AddKV(key, v) }

// AddStrings adds an array of strings.
func (w *Writer) AddStrings(key string, v []string) error { return w.AddKV(key, v) }

// AddFloat32s adds an array of f32.
func (w *Writer) AddFloat32s(key string, v []float32) error { return w.AddKV(key, v) }

// AddInt32s adds an array of i32.
func (w *Writer) AddInt32s(key string, v []int32) error { return w.AddKV(key, v) }

// newTensor checks a tensor's name and shape and describes it, without
// adding it.
func (w *Writer) newTensor(name string, typ TensorType, dims []uint64) (Tensor, error) {
	if err := checkName(name, "tensor name", MaxTensorNameLen); err != nil {
		return Tensor{}, err
	}
	if w.names[name] {
		return Tensor{}, fmt.Errorf("gguf: tensor %q added twice: %w", name, ErrDuplicate)
	}
	if !typ.Valid() {
		return Tensor{}, fmt.Errorf("gguf: tensor %q: unknown or removed type %s: %w", name, typ, ErrTensorType)
	}
	if len(dims) == 0 || len(dims) > MaxDims {
		return Tensor{}, fmt.Errorf("gguf: tensor %q: %d dimensions, must be 1 to %d: %w", name, len(dims), MaxDims, ErrShape)
	}
	elems := uint64(1)
	for _, d := range dims {
		if d == 0 || d > math.MaxInt64/elems {
			return Tensor{}, fmt.Errorf("gguf: tensor %q: shape %v has a zero dimension or too many elements: %w", name, dims, ErrShape)
		}
		elems *= d
	}
	if dims[0]%typ.BlockSize() != 0 {
		return Tensor{}, fmt.Errorf("gguf: tensor %q: rows of %d elements are not a whole number of %s blocks of %d: %w", name, dims[0], typ, typ.BlockSize(), ErrShape)
	}
	blocks := elems / typ.BlockSize()
	if blocks > math.MaxInt64/typ.TypeSize() {
		return Tensor{}, fmt.Errorf("gguf: tensor %q: shape %v takes more than 2^63-1 bytes: %w", name, dims, ErrShape)
	}
	size := blocks * typ.TypeSize()
	return Tensor{Name: name, Type: typ, Dims: append([]uint64(nil), dims...), Offset: w.dataSize, Size: size}, nil
}

func (w *Writer) add(t wtensor) {
	w.names[t.Name] = true
	w.tensors = append(w.tensors, t)
	w.dataSize = alignUp(w.dataSize+t.Size, w.alignment)
}

// AddTensor adds a tensor of type typ and shape dims (ggml order: dims[0]
// is the row length) whose encoded bytes are data. data is kept, not
// copied, until the file is written.
func (w *Writer) AddTensor(name string, typ TensorType, dims []uint64, data []byte) error {
	t, err := w.newTensor(name, typ, dims)
	if err != nil {
		return err
	}
	if uint64(len(data)) != t.Size {
		return fmt.Errorf("gguf: tensor %q: %d bytes of data, shape %v of %s takes %d", name, len(data), dims, typ, t.Size)
	}
	w.add(wtensor{Tensor: t, data: data})
	return nil
}

// AddTensorFunc adds a tensor whose encoded bytes fn writes to its argument
// when the file is written, once per WriteTo. fn must write exactly the
// tensor's size (typ.RowSize of its element count); anything else fails the
// write.
func (w *Writer) AddTensorFunc(name string, typ TensorType, dims []uint64, fn func(io.Writer) error) error {
	t, err := w.newTensor(name, typ, dims)
	if err != nil {
		return err
	}
	w.add(wtensor{Tensor: t, fn: fn})
	return nil
}

// AddTensorF32 adds a tensor whose elements are data, encoded as typ (F32,
// F16, BF16 or Q8_0; see EncodeF32) when the file is written. data is kept,
// not copied.
func (w *Writer) AddTensorF32(name string, typ TensorType, dims []uint64, data []float32) error {
	t, err := w.newTensor(name, typ, dims)
	if err != nil {
		return err
	}
	if !CanEncode(typ) {
		return fmt.Errorf("gguf: tensor %q: cannot encode %s from float32: %w", name, typ, ErrTensorType)
	}
	if uint64(len(data)) != t.Elements() {
		return fmt.Errorf("gguf: tensor %q: %d elements of data, shape %v has %d", name, len(data), dims, t.Elements())
	}
	w.add(wtensor{Tensor: t, f32: data})
	return nil
}

// F32Chunk is the most elements AddTensorF32Func asks for at once.
const F32Chunk = 1 << 16

// AddTensorF32Func adds a tensor whose elements fill produces when the file
// is written, encoded as typ (F32, F16, BF16 or Q8_0). fill must set all of
// dst to the elements [off, off+len(dst)) in storage order; it is called
// with consecutive chunks of at most F32Chunk elements, each a whole number
// of typ's blocks, starting again from off 0 on each WriteTo.
func (w *Writer) AddTensorF32Func(name string, typ TensorType, dims []uint64, fill func(off uint64, dst []float32) error) error {
	t, err := w.newTensor(name, typ, dims)
	if err != nil {
		return err
	}
	if !CanEncode(typ) {
		return fmt.Errorf("gguf: tensor %q: cannot encode %s from float32: %w", name, typ, ErrTensorType)
	}
	w.add(wtensor{Tensor: t, f32fn: fill})
	return nil
}

// Tensors returns the infos of the tensors added so far, with the offsets
// they will have.
func (w *Writer) Tensors() []Tensor {
	ts := make([]Tensor, len(w.tensors))
	for i, t := range w.tensors {
		ts[i] = t.Tensor
	}
	return ts
}

// headerLen is the size of everything before the data section, unpadded.
func (w *Writer) headerLen() uint64 {
	n := uint64(headerSize)
	for _, kv := range w.kvs {
		n += 8 + uint64(len(kv.Key)) + 4 + valueLen(kv.Value)
	}
	for _, t := range w.tensors {
		n += 8 + uint64(len(t.Name)) + 4 + 8*uint64(len(t.Dims)) + 4 + 8
	}
	return n
}

func valueLen(v Value) uint64 {
	switch v.typ {
	case TypeString:
		return 8 + uint64(len(v.x.(string)))
	case TypeArray:
		n := uint64(4 + 8)
		switch s := v.x.(type) {
		case []string:
			for _, e := range s {
				n += 8 + uint64(len(e))
			}
		case []Value:
			for _, e := range s {
				n += valueLen(e)
			}
		default:
			n += uint64(v.Len()) * uint64(v.elem.fixedSize())
		}
		return n
	}
	return uint64(v.typ.fixedSize())
}

// Size is the size in bytes of the file WriteTo will write.
func (w *Writer) Size() int64 {
	if len(w.tensors) == 0 {
		return int64(w.headerLen())
	}
	last := w.tensors[len(w.tensors)-1]
	return int64(alignUp(w.headerLen(), w.alignment) + last.Offset + last.Size)
}

// WriteTo writes the file to out. It buffers its output and holds at most
// one chunk of a generated tensor in memory besides what was added.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	cw := &countWriter{w: out}
	bw := bufio.NewWriterSize(cw, 1<<20)
	e := encoder{w: bw}
	e.raw([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(w.kvs)))
	for _, kv := range w.kvs {
		e.str(kv.Key)
		e.u32(uint32(kv.Value.typ))
		e.value(kv.Value)
	}
	for _, t := range w.tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(t.Offset)
	}
	if e.err != nil {
		return cw.n, e.err
	}
	pos := w.headerLen()
	var chunk []float32
	var enc []byte
	for _, t := range w.tensors {
		e.pad(alignUp(pos, w.alignment) - pos)
		pos = alignUp(pos, w.alignment)
		if e.err != nil {
			return cw.n, e.err
		}
		var err error
		switch {
		case t.data != nil:
			_, err = bw.Write(t.data)
		case t.fn != nil:
			tw := &limitWriter{w: bw, left: t.Size}
			err = t.fn(tw)
			if err == nil && tw.left != 0 {
				err = fmt.Errorf("gguf: tensor %q: function wrote %d bytes of %d", t.Name, t.Size-tw.left, t.Size)
			}
		case t.f32 != nil:
			if enc == nil {
				enc = make([]byte, F32Chunk*4)
			}
			for s := t.f32; len(s) > 0; {
				k := min(len(s), F32Chunk)
				n := EncodeF32(enc, t.Type, s[:k])
				if _, err = bw.Write(enc[:n]); err != nil {
					break
				}
				s = s[k:]
			}
		case t.f32fn != nil:
			if chunk == nil {
				chunk = make([]float32, F32Chunk)
				enc = make([]byte, F32Chunk*4)
			}
			for off, total := uint64(0), t.Elements(); off < total && err == nil; {
				c := chunk[:min(total-off, F32Chunk)]
				if err = t.f32fn(off, c); err != nil {
					err = fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
					break
				}
				n := EncodeF32(enc, t.Type, c)
				_, err = bw.Write(enc[:n])
				off += uint64(len(c))
			}
		}
		if err != nil {
			return cw.n, err
		}
		pos += t.Size
	}
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	return cw.n, nil
}

// WriteFile writes the file to path through a temporary file in the same
// directory, renamed into place once complete, so path never holds half a
// model.
func (w *Writer) WriteFile(path string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = w.WriteTo(tmp); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// limitWriter passes on at most left bytes and fails past that.
type limitWriter struct {
	w    io.Writer
	left uint64
}

var errTooMuch = errors.New("gguf: tensor function wrote more than the tensor's size")

func (l *limitWriter) Write(p []byte) (int, error) {
	if uint64(len(p)) > l.left {
		return 0, errTooMuch
	}
	n, err := l.w.Write(p)
	l.left -= uint64(n)
	return n, err
}

// encoder writes little-endian fields, remembering the first error.
type encoder struct {
	w   *bufio.Writer
	err error
	buf [8]byte
}

func (e *encoder) raw(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *encoder) u8(v uint8) { e.buf[0] = v; e.raw(e.buf[:1]) }
func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], v)
	e.raw(e.buf[:2])
}
func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.raw(e.buf[:4])
}
func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.raw(e.buf[:8])
}
func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

var zeros [256]byte

func (e *encoder) pad(n uint64) {
	for n > 0 {
		k := min(n, uint64(len(zeros)))
		e.raw(zeros[:k])
		n -= k
	}
}

func (e *encoder) value(v Value) {
	switch x := v.x.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case bool:
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case string:
		e.str(x)
	default:
		e.array(v)
	}
}

func (e *encoder) array(v Value) {
	e.u32(uint32(v.elem))
	e.u64(uint64(v.Len()))
	switch s := v.x.(type) {
	case []uint8:
		e.raw(s)
	case []int8:
		for _, x := range s {
			e.u8(uint8(x))
		}
	case []bool:
		for _, x := range s {
			if x {
				e.u8(1)
			} else {
				e.u8(0)
			}
		}
	case []uint16:
		for _, x := range s {
			e.u16(x)
		}
	case []int16:
		for _, x := range s {
			e.u16(uint16(x))
		}
	case []uint32:
		for _, x := range s {
			e.u32(x)
		}
	case []int32:
		for _, x := range s {
			e.u32(uint32(x))
		}
	case []float32:
		for _, x := range s {
			e.u32(math.Float32bits(x))
		}
	case []uint64:
		for _, x := range s {
			e.u64(x)
		}
	case []int64:
		for _, x := range s {
			e.u64(uint64(x))
		}
	case []float64:
		for _, x := range s {
			e.u64(math.Float64bits(x))
		}
	case []string:
		for _, x := range s {
			e.str(x)
		}
	case []Value:
		for _, x := range s {
			e.array(x)
		}
	}
}
