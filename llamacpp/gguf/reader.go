package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"unicode/utf8"
)

// Limits of the format that the reader enforces.
const (
	// Magic is the first four bytes of every GGUF file.
	Magic = "GGUF"
	// MaxKeyLen is the longest metadata key the format allows (65535 bytes).
	MaxKeyLen = 1<<16 - 1
	// MaxTensorNameLen is the longest tensor name the format allows.
	// llama.cpp (GGML_MAX_NAME) takes one byte less; see CheckLlamaCPP.
	MaxTensorNameLen = 64
	// MaxDims is the most dimensions a tensor may have (GGML_MAX_DIMS).
	MaxDims = 4
	// DefaultAlignment is the data alignment when general.alignment is
	// absent.
	DefaultAlignment = 32
	// KeyAlignment is the metadata key that sets the alignment.
	KeyAlignment = "general.alignment"
	// maxArrayDepth bounds arrays of arrays, which llama.cpp does not read
	// at all; the bound keeps a hostile file from recursing deeply.
	maxArrayDepth = 8
	// headerSize is magic, version, tensor count and KV count.
	headerSize = 4 + 4 + 8 + 8
	// minKVSize is the smallest encoded KV pair: a 1-byte key with its
	// length, a type, and a 1-byte value.
	minKVSize = 8 + 1 + 4 + 1
	// minTensorInfoSize is the smallest tensor info: a 1-byte name with its
	// length, n_dims, one dimension, the type and the offset.
	minTensorInfoSize = 8 + 1 + 4 + 8 + 4 + 8
)

// File is a parsed GGUF file: its metadata and tensor infos, and access to
// the tensors' data through the io.ReaderAt it was read from.
//
// A File is safe for concurrent use once read, as long as its fields are not
// changed; its reads go through ReadAt, which is safe concurrently on
// *os.File.
type File struct {
	// Version is the format version, 2 or 3 (the same layout, little-endian).
	Version uint32
	// KVs are the metadata pairs in file order.
	KVs []KV
	// Tensors are the tensor infos in file order.
	Tensors []Tensor
	// Alignment is general.alignment, or DefaultAlignment.
	Alignment uint64
	// TensorInfoOffset is where the tensor infos start (the end of the
	// metadata).
	TensorInfoOffset int64
	// DataOffset is where the data section starts: the end of the tensor
	// infos rounded up to Alignment. Tensor offsets are relative to it.
	DataOffset int64
	// Size is the size of the file.
	Size int64

	r      io.ReaderAt
	closer io.Closer
	kv     map[string]int
	tensor map[string]int
}

// Tensor describes one tensor of a file.
type Tensor struct {
	Name string
	Type TensorType
	// Dims are ggml's ne: Dims[0] is the length of a row, the fastest
	// varying dimension. A PyTorch weight of shape [out, in] has Dims
	// [in, out].
	Dims []uint64
	// Offset is the start of the data relative to File.DataOffset, as
	// stored in the file.
	Offset uint64
	// Size is the size of the data in bytes.
	Size uint64
	// InfoOffset is where the tensor's info (its name's length field)
	// starts in the file; 0 for a tensor not read from a file.
	InfoOffset int64
}

// Elements is the number of elements, the product of Dims.
func (t *Tensor) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Open reads and checks the header of the GGUF file at path (metadata and
// tensor infos; tensor data is only read on demand). The File keeps the file
// open for ReadTensor and ReadTensorF32 until Close.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		fh.Close()
		return nil, fmt.Errorf("gguf: %s is not a regular file", path)
	}
	f, err := Read(fh, st.Size())
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// Close closes the file that Open opened. It is safe to call more than once;
// on a File from Read it does nothing (the caller owns the reader).
//
// Close must not run concurrently with ReadTensor or ReadTensorF32, which
// fail once it has run.
func (f *File) Close() error {
	c := f.closer
	f.closer = nil
	if c == nil {
		return nil
	}
	f.r = nil
	return c.Close()
}

// Read parses and checks a GGUF file of the given size read through r:
// magic, version, counts, every key and value, every tensor info, the
// alignment, and that every tensor's data lies inside the file without
// overlapping another's. Every count and length is checked against what is
// left of the file before anything is allocated for it, so a hostile header
// costs at most a small multiple of the file's size in memory.
//
// A defect gives a *FormatError wrapping one of ErrNotGGUF, ErrTruncated,
// ErrKey, ...; a failing r gives its own error, wrapped. The File reads
// tensor data through r, which must stay usable as long as the File is.
func Read(r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("gguf: negative size %d", size)
	}
	d := &decoder{r: r, size: size, br: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 64<<10)}
	f, err := d.file()
	if err != nil {
		return nil, err
	}
	f.r = r
	return f, nil
}

type decoder struct {
	r    io.ReaderAt
	size int64
	off  int64
	br   *bufio.Reader
	tmp  [8]byte
}

func (d *decoder) remain() int64 { return d.size - d.off }

func (d *decoder) errorf(off int64, what string, sentinel error, format string, args ...any) error {
	return &FormatError{Offset: off, What: what, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

// need fails with ErrTruncated unless n more bytes remain.
func (d *decoder) need(n int64, what, field string) error {
	if n > d.remain() {
		return d.errorf(d.off, what, ErrTruncated, "%s runs past end of file (needs %d bytes, %d remain)", field, n, d.remain())
	}
	return nil
}

// read fills p, which the caller has checked fits in the file.
func (d *decoder) read(p []byte) error {
	n, err := io.ReadFull(d.br, p)
	d.off += int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return d.errorf(d.off, "", ErrTruncated, "file ends early: the reader gave %d bytes of %d", d.off, d.size)
		}
		return fmt.Errorf("gguf: reading at offset %d: %w", d.off, err)
	}
	return nil
}

func (d *decoder) fixed(n int, what, field string) ([]byte, error) {
	if err := d.need(int64(n), what, field); err != nil {
		return nil, err
	}
	b := d.tmp[:n]
	return b, d.read(b)
}

func (d *decoder) u32(what, field string) (uint32, error) {
	b, err := d.fixed(4, what, field)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64(what, field string) (uint64, error) {
	b, err := d.fixed(8, what, field)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// bytes reads a length-prefixed string's bytes.
func (d *decoder) bytes(what, field string) ([]byte, error) {
	start := d.off
	n, err := d.u64(what, field+" length")
	if err != nil {
		return nil, err
	}
	if n > uint64(d.remain()) {
		return nil, d.errorf(start, what, ErrTruncated, "%s of %d bytes runs past end of file (%d bytes remain)", field, n, d.remain())
	}
	b := make([]byte, n)
	return b, d.read(b)
}

func (d *decoder) file() (*File, error) {
	f := &File{Alignment: DefaultAlignment, Size: d.size}
	// Magic: a short file that is a prefix of the magic is a truncated
	// GGUF; anything else is not GGUF at all.
	if d.size < 4 {
		b := make([]byte, d.size)
		if err := d.read(b); err != nil {
			return nil, err
		}
		if string(b) == Magic[:len(b)] {
			return nil, d.errorf(0, "header", ErrTruncated, "file of %d bytes ends inside the magic", d.size)
		}
		return nil, d.errorf(0, "header", ErrNotGGUF, "magic %q is not %q", b, Magic)
	}
	magic, err := d.fixed(4, "header", "magic")
	if err != nil {
		return nil, err
	}
	if string(magic) != Magic {
		return nil, d.errorf(0, "header", ErrNotGGUF, "magic %q is not %q", magic, Magic)
	}
	if f.Version, err = d.u32("header", "version"); err != nil {
		return nil, err
	}
	switch v := f.Version; {
	case v == 2 || v == 3:
	case v&0xFFFF == 0:
		return nil, d.errorf(4, "header", ErrVersion, "version %#x looks byte-swapped: a big-endian file, which this reader does not read", v)
	case v == 1:
		return nil, d.errorf(4, "header", ErrVersion, "version 1 is obsolete (and llama.cpp no longer reads it)")
	default:
		return nil, d.errorf(4, "header", ErrVersion, "version %d is not 2 or 3", v)
	}
	nTensors, err := d.u64("header", "tensor count")
	if err != nil {
		return nil, err
	}
	nKV, err := d.u64("header", "metadata count")
	if err != nil {
		return nil, err
	}
	// Both counts together must fit in the rest of the file, each item at
	// its smallest.
	rem := uint64(d.remain())
	if nTensors > rem/minTensorInfoSize {
		return nil, d.errorf(8, "header", ErrTruncated, "tensor count %d cannot fit in the %d bytes that remain (each tensor info takes at least %d)", nTensors, rem, minTensorInfoSize)
	}
	if nKV > rem/minKVSize || nKV*minKVSize+nTensors*minTensorInfoSize > rem {
		return nil, d.errorf(16, "header", ErrTruncated, "metadata count %d and tensor count %d cannot fit in the %d bytes that remain", nKV, nTensors, rem)
	}

	f.KVs = make([]KV, 0, nKV)
	f.kv = make(map[string]int, nKV)
	for i := uint64(0); i < nKV; i++ {
		kv, err := d.kv(i)
		if err != nil {
			return nil, err
		}
		if j, dup := f.kv[kv.Key]; dup {
			return nil, d.errorf(kv.Offset, keyWhat(kv.Key), ErrDuplicate, "duplicate key (first at offset %d)", f.KVs[j].Offset)
		}
		f.kv[kv.Key] = len(f.KVs)
		f.KVs = append(f.KVs, kv)
	}
	if i, ok := f.kv[KeyAlignment]; ok {
		kv := f.KVs[i]
		a, isU32 := kv.Value.Interface().(uint32)
		if !isU32 {
			// llama.cpp aborts (GGML_ASSERT in gguf_get_val_u32) on
			// any other type.
			return nil, d.errorf(kv.Offset, keyWhat(kv.Key), ErrValueType, "alignment is %s, must be u32", typeName(kv.Value))
		}
		if a == 0 || a&(a-1) != 0 {
			return nil, d.errorf(kv.Offset, keyWhat(kv.Key), ErrAlignment, "alignment %d is not a power of two", a)
		}
		f.Alignment = uint64(a)
	}

	f.TensorInfoOffset = d.off
	f.Tensors = make([]Tensor, 0, nTensors)
	f.tensor = make(map[string]int, nTensors)
	for i := uint64(0); i < nTensors; i++ {
		t, err := d.tensorInfo(f.Alignment)
		if err != nil {
			return nil, err
		}
		if j, dup := f.tensor[t.Name]; dup {
			return nil, d.errorf(t.InfoOffset, tensorWhat(t.Name), ErrDuplicate, "duplicate tensor name (first at offset %d)", f.Tensors[j].InfoOffset)
		}
		f.tensor[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}
	end := uint64(d.off)
	f.DataOffset = int64(alignUp(end, f.Alignment))
	return f, f.checkData()
}

func typeName(v Value) string {
	if v.typ == TypeArray {
		return "an array of " + v.elem.String()
	}
	return v.typ.String()
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

// checkData checks that every tensor's data is inside the file and that no
// two overlap.
func (f *File) checkData() error {
	if len(f.Tensors) == 0 {
		return nil
	}
	avail := uint64(0)
	if f.Size > f.DataOffset {
		avail = uint64(f.Size - f.DataOffset)
	}
	for _, t := range f.Tensors {
		if t.Offset > avail || t.Size > avail-t.Offset {
			remain := uint64(0)
			if t.Offset < avail {
				remain = avail - t.Offset
			}
			at := f.DataOffset + int64(min(t.Offset, uint64(math.MaxInt64-f.DataOffset)))
			return &FormatError{Offset: at, What: tensorWhat(t.Name), Err: ErrTruncated,
				Msg: fmt.Sprintf("data runs past end of file (needs %d bytes, %d remain)", t.Size, remain)}
		}
	}
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		oa, ob := f.Tensors[a].Offset, f.Tensors[b].Offset
		switch {
		case oa < ob:
			return -1
		case oa > ob:
			return 1
		}
		return 0
	})
	for k := 1; k < len(order); k++ {
		p, t := &f.Tensors[order[k-1]], &f.Tensors[order[k]]
		if t.Offset < p.Offset+p.Size {
			return &FormatError{Offset: t.InfoOffset, What: tensorWhat(t.Name), Err: ErrOverlap,
				Msg: fmt.Sprintf("data at [%d, %d) overlaps tensor %q at [%d, %d)", t.Offset, t.Offset+t.Size, p.Name, p.Offset, p.Offset+p.Size)}
		}
	}
	return nil
}

func (d *decoder) kv(i uint64) (KV, error) {
	start := d.off
	what := fmt.Sprintf("key #%d", i)
	n, err := d.u64(what, "key length")
	if err != nil {
		return KV{}, err
	}
	key, err := d.nameBody(start, n, what, "key", MaxKeyLen)
	if err != nil {
		return KV{}, err
	}
	what = keyWhat(key)
	typ, err := d.u32(what, "value type")
	if err != nil {
		return KV{}, err
	}
	v, err := d.value(ValueType(typ), what, d.off-4, 0)
	if err != nil {
		return KV{}, err
	}
	return KV{Key: key, Value: v, Offset: start}, nil
}

// nameBody reads the n bytes of a key or tensor name whose length field
// started at start.
func (d *decoder) nameBody(start int64, n uint64, what, field string, maxLen uint64) (string, error) {
	if n == 0 {
		return "", d.errorf(start, what, ErrKey, "empty %s", field)
	}
	if n > maxLen {
		return "", d.errorf(start, what, ErrKey, "%s of %d bytes is longer than %d", field, n, maxLen)
	}
	if n > uint64(d.remain()) {
		return "", d.errorf(start, what, ErrTruncated, "%s of %d bytes runs past end of file (%d bytes remain)", field, n, d.remain())
	}
	b := make([]byte, n)
	if err := d.read(b); err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", d.errorf(start, what, ErrKey, "%s %q is not UTF-8", field, b)
	}
	for _, c := range b {
		if c == 0 {
			return "", d.errorf(start, what, ErrKey, "%s %q contains a NUL byte", field, b)
		}
	}
	return string(b), nil
}

// value reads a value of type typ, whose type field is at typeOff.
func (d *decoder) value(typ ValueType, what string, typeOff int64, depth int) (Value, error) {
	if !typ.Valid() {
		return Value{}, d.errorf(typeOff, what, ErrValueType, "unknown value type %d", uint32(typ))
	}
	switch typ {
	case TypeString:
		b, err := d.bytes(what, "string")
		if err != nil {
			return Value{}, err
		}
		return Value{typ: TypeString, x: string(b)}, nil
	case TypeArray:
		return d.array(what, depth)
	}
	b, err := d.fixed(typ.fixedSize(), what, typ.String()+" value")
	if err != nil {
		return Value{}, err
	}
	v := Value{typ: typ}
	le := binary.LittleEndian
	switch typ {
	case TypeUint8:
		v.x = b[0]
	case TypeInt8:
		v.x = int8(b[0])
	case TypeBool:
		v.x = b[0] != 0
	case TypeUint16:
		v.x = le.Uint16(b)
	case TypeInt16:
		v.x = int16(le.Uint16(b))
	case TypeUint32:
		v.x = le.Uint32(b)
	case TypeInt32:
		v.x = int32(le.Uint32(b))
	case TypeFloat32:
		v.x = math.Float32frombits(le.Uint32(b))
	case TypeUint64:
		v.x = le.Uint64(b)
	case TypeInt64:
		v.x = int64(le.Uint64(b))
	case TypeFloat64:
		v.x = math.Float64frombits(le.Uint64(b))
	}
	return v, nil
}

func (d *decoder) array(what string, depth int) (Value, error) {
	start := d.off
	et, err := d.u32(what, "array element type")
	if err != nil {
		return Value{}, err
	}
	elem := ValueType(et)
	if !elem.Valid() {
		return Value{}, d.errorf(start, what, ErrValueType, "unknown array element type %d", et)
	}
	if elem == TypeArray && depth+1 >= maxArrayDepth {
		return Value{}, d.errorf(start, what, ErrValueType, "arrays nested more than %d deep", maxArrayDepth)
	}
	countOff := d.off
	n, err := d.u64(what, "array length")
	if err != nil {
		return Value{}, err
	}
	if min := uint64(elem.minSize()); n > uint64(d.remain())/min {
		return Value{}, d.errorf(countOff, what, ErrTruncated, "array of %d %s runs past end of file (needs at least %d bytes each, %d remain)", n, elem, min, d.remain())
	}
	switch elem {
	case TypeString:
		s := make([]string, n)
		for i := range s {
			b, err := d.bytes(what, fmt.Sprintf("string %d of array", i))
			if err != nil {
				return Value{}, err
			}
			s[i] = string(b)
		}
		return arrayOf(elem, s), nil
	case TypeArray:
		s := make([]Value, n)
		for i := range s {
			if s[i], err = d.array(what, depth+1); err != nil {
				return Value{}, err
			}
			if s[i].elem != s[0].elem {
				return Value{}, d.errorf(start, what, ErrValueType, "element %d of an array of arrays holds %s, element 0 holds %s", i, s[i].elem, s[0].elem)
			}
		}
		return arrayOf(elem, s), nil
	}
	b := make([]byte, n*uint64(elem.fixedSize()))
	if err := d.read(b); err != nil {
		return Value{}, err
	}
	return arrayOf(elem, decodeArray(elem, b, int(n))), nil
}

func decodeArray(elem ValueType, b []byte, n int) any {
	le := binary.LittleEndian
	switch elem {
	case TypeUint8:
		return b
	case TypeInt8:
		s := make([]int8, n)
		for i := range s {
			s[i] = int8(b[i])
		}
		return s
	case TypeBool:
		s := make([]bool, n)
		for i := range s {
			s[i] = b[i] != 0
		}
		return s
	case TypeUint16:
		s := make([]uint16, n)
		for i := range s {
			s[i] = le.Uint16(b[2*i:])
		}
		return s
	case TypeInt16:
		s := make([]int16, n)
		for i := range s {
			s[i] = int16(le.Uint16(b[2*i:]))
		}
		return s
	case TypeUint32:
		s := make([]uint32, n)
		for i := range s {
			s[i] = le.Uint32(b[4*i:])
		}
		return s
	case TypeInt32:
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(le.Uint32(b[4*i:]))
		}
		return s
	case TypeFloat32:
		s := make([]float32, n)
		for i := range s {
			s[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
		return s
	case TypeUint64:
		s := make([]uint64, n)
		for i := range s {
			s[i] = le.Uint64(b[8*i:])
		}
		return s
	case TypeInt64:
		s := make([]int64, n)
		for i := range s {
			s[i] = int64(le.Uint64(b[8*i:]))
		}
		return s
	case TypeFloat64:
		s := make([]float64, n)
		for i := range s {
			s[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
		return s
	}
	panic("gguf: decodeArray of " + elem.String())
}

func (d *decoder) tensorInfo(alignment uint64) (Tensor, error) {
	start := d.off
	what := "tensor info"
	n, err := d.u64(what, "tensor name length")
	if err != nil {
		return Tensor{}, err
	}
	name, err := d.nameBody(start, n, what, "tensor name", MaxTensorNameLen)
	if err != nil {
		return Tensor{}, err
	}
	t := Tensor{Name: name, InfoOffset: start}
	what = tensorWhat(name)
	dimsOff := d.off
	nDims, err := d.u32(what, "dimension count")
	if err != nil {
		return Tensor{}, err
	}
	if nDims == 0 || nDims > MaxDims {
		return Tensor{}, d.errorf(dimsOff, what, ErrShape, "%d dimensions, must be 1 to %d", nDims, MaxDims)
	}
	t.Dims = make([]uint64, nDims)
	elems := uint64(1)
	for i := range t.Dims {
		off := d.off
		if t.Dims[i], err = d.u64(what, "dimension"); err != nil {
			return Tensor{}, err
		}
		dim := t.Dims[i]
		if dim == 0 {
			// ggml divides by the dimensions (gguf.cpp's overflow check):
			// a zero is a SIGFPE in llama.cpp.
			return Tensor{}, d.errorf(off, what, ErrShape, "dimension %d is 0", i)
		}
		if dim > math.MaxInt64/elems {
			return Tensor{}, d.errorf(off, what, ErrShape, "shape %v has more than 2^63-1 elements", t.Dims[:i+1])
		}
		elems *= dim
	}
	typeOff := d.off
	typ, err := d.u32(what, "type")
	if err != nil {
		return Tensor{}, err
	}
	t.Type = TensorType(typ)
	if !t.Type.Valid() {
		return Tensor{}, d.errorf(typeOff, what, ErrTensorType, "unknown or removed tensor type %d (%s)", typ, t.Type)
	}
	if bs := t.Type.BlockSize(); t.Dims[0]%bs != 0 {
		return Tensor{}, d.errorf(dimsOff, what, ErrShape, "rows of %d elements are not a whole number of %s blocks of %d", t.Dims[0], t.Type, bs)
	}
	// elems < 2^63 and typeSize/blockSize <= 8, but a quantised type's
	// bytes per block can exceed its elements (q8_0: 34 per 32), so guard
	// the product.
	blocks := elems / t.Type.BlockSize()
	if blocks > math.MaxInt64/t.Type.TypeSize() {
		return Tensor{}, d.errorf(dimsOff, what, ErrShape, "shape %v of %s takes more than 2^63-1 bytes", t.Dims, t.Type)
	}
	t.Size = blocks * t.Type.TypeSize()
	offOff := d.off
	if t.Offset, err = d.u64(what, "data offset"); err != nil {
		return Tensor{}, err
	}
	if t.Offset%alignment != 0 {
		return Tensor{}, d.errorf(offOff, what, ErrAlignment, "data offset %d is not a multiple of the alignment %d", t.Offset, alignment)
	}
	return t, nil
}
