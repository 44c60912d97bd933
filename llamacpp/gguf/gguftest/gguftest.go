package gguftest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/locallm/locallm/llamacpp/gguf"
)

// Region is the part of a file a corruption damages.
type Region string

// The regions of a GGUF file.
const (
	Header     Region = "header"      // magic, version, counts
	Metadata   Region = "metadata"    // the key/value pairs
	TensorInfo Region = "tensor-info" // names, shapes, types, offsets
	Data       Region = "data"        // padding and tensor data
)

// Corruption is one damaged variant of a valid file: a truncation, or
// bytes overwritten at one offset. It refers to the valid file's bytes and
// copies them only when asked (Bytes), so a thousand variants of a large
// file cost little memory.
type Corruption struct {
	// Name says what was done where, e.g. `tensor-info/"output.weight"/dim[1]=0`
	// or "truncate/metadata/at=1234". Names are unique within one call.
	Name   string
	Region Region
	// Offset is where the file was cut or overwritten.
	Offset int64
	// Truncated reports whether the file was cut at Offset (else Patch
	// was written there).
	Truncated bool
	// Patch is the bytes written at Offset.
	Patch []byte

	valid []byte
}

// Size is the corrupted file's size.
func (c Corruption) Size() int64 {
	if c.Truncated {
		return c.Offset
	}
	return int64(len(c.valid))
}

// Bytes returns the corrupted file. A truncation shares the valid file's
// memory, which must not be changed; a patch returns a new copy.
func (c Corruption) Bytes() []byte {
	if c.Truncated {
		return c.valid[:c.Offset:c.Offset]
	}
	b := bytes.Clone(c.valid)
	copy(b[c.Offset:], c.Patch)
	return b
}

// ReaderAt returns the corrupted file as an io.ReaderAt of Size bytes,
// without copying the valid one: for gguf.Read.
func (c Corruption) ReaderAt() io.ReaderAt { return overlay{c} }

type overlay struct{ c Corruption }

func (o overlay) ReadAt(p []byte, off int64) (int, error) {
	size := o.c.Size()
	if off < 0 {
		return 0, errors.New("gguftest: negative offset")
	}
	if off >= size {
		return 0, io.EOF
	}
	n := copy(p, o.c.valid[off:size])
	if !o.c.Truncated {
		// Overwrite the part of p that the patch covers.
		lo, hi := max(off, o.c.Offset), min(off+int64(n), o.c.Offset+int64(len(o.c.Patch)))
		if lo < hi {
			copy(p[lo-off:hi-off], o.c.Patch[lo-o.c.Offset:hi-o.c.Offset])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteTo writes the corrupted file to w without copying the valid one.
func (c Corruption) WriteTo(w io.Writer) (int64, error) {
	if c.Truncated {
		n, err := w.Write(c.valid[:c.Offset])
		return int64(n), err
	}
	var total int64
	for _, part := range [][]byte{c.valid[:c.Offset], c.Patch, c.valid[c.Offset+int64(len(c.Patch)):]} {
		n, err := w.Write(part)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// field is one field of the valid file: where it is, how long, and what.
type field struct {
	name   string
	region Region
	off    int64
	size   int // 1, 4 or 8 for numbers; the length for names
	kind   kind
}

type kind int

const (
	kMagic kind = iota
	kVersion
	kCount      // the tensor or KV count
	kStrLen     // a string's or name's length
	kStrBytes   // a key's or name's bytes
	kValueType  // a pair's type
	kElemType   // an array's element type
	kArrayLen   // an array's length
	kScalar     // a scalar value (u32 and friends)
	kNDims      // a tensor's dimension count
	kDim        // a tensor dimension
	kTensorType // a tensor's type
	kOffset     // a tensor's data offset
)

// Corruptions returns at least 1000 damaged variants of valid, a GGUF file
// that gguf.Read accepts (else it returns the reader's error), chosen by
// seed where chance is involved: the same arguments give the same list.
// valid is kept, not copied, by the returned Corruptions.
func Corruptions(valid []byte, seed int64) ([]Corruption, error) {
	f, err := gguf.Read(bytes.NewReader(valid), int64(len(valid)))
	if err != nil {
		return nil, err
	}
	g := &gen{valid: valid, f: f, rng: rand.New(rand.NewPCG(uint64(seed), 0x6767756674657374)), names: map[string]int{}}
	g.fields = layout(f, valid)
	g.truncations()
	g.fieldValues()
	g.flips()
	g.duplicates()
	g.hyperparameters()
	return g.out, nil
}

type gen struct {
	valid  []byte
	f      *gguf.File
	rng    *rand.Rand
	fields []field
	out    []Corruption
	names  map[string]int
}

func (g *gen) add(name string, region Region, off int64, patch []byte) {
	if off < 0 || off+int64(len(patch)) > int64(len(g.valid)) {
		return
	}
	if bytes.Equal(g.valid[off:off+int64(len(patch))], patch) {
		return // no change
	}
	g.out = append(g.out, Corruption{Name: g.unique(name), Region: region, Offset: off, Patch: patch, valid: g.valid})
}

func (g *gen) unique(name string) string {
	g.names[name]++
	if n := g.names[name]; n > 1 {
		return fmt.Sprintf("%s#%d", name, n)
	}
	return name
}

func (g *gen) region(off int64) Region {
	switch {
	case off < 24:
		return Header
	case off < g.f.TensorInfoOffset:
		return Metadata
	case off < g.f.DataOffset:
		return TensorInfo
	}
	return Data
}

// layout walks the valid file's fields.
func layout(f *gguf.File, b []byte) []field {
	le := binary.LittleEndian
	fs := []field{
		{"magic", Header, 0, 4, kMagic},
		{"version", Header, 4, 4, kVersion},
		{"tensor_count", Header, 8, 8, kCount},
		{"kv_count", Header, 16, 8, kCount},
	}
	for i, kv := range f.KVs {
		p := fmt.Sprintf("kv[%d]%q/", i, kv.Key)
		off := kv.Offset
		fs = append(fs, field{p + "key_len", Metadata, off, 8, kStrLen},
			field{p + "key", Metadata, off + 8, len(kv.Key), kStrBytes})
		off += 8 + int64(len(kv.Key))
		fs = append(fs, field{p + "type", Metadata, off, 4, kValueType})
		off += 4
		v := kv.Value
		switch v.Type() {
		case gguf.TypeString:
			fs = append(fs, field{p + "len", Metadata, off, 8, kStrLen})
		case gguf.TypeArray:
			fs = append(fs, field{p + "elem_type", Metadata, off, 4, kElemType},
				field{p + "count", Metadata, off + 4, 8, kArrayLen})
			if v.ElemType() == gguf.TypeString && v.Len() > 0 {
				// The first and last strings' lengths.
				fs = append(fs, field{p + "elem[0]/len", Metadata, off + 12, 8, kStrLen})
				o := off + 12
				for j := 0; j < v.Len(); j++ {
					if j == v.Len()-1 {
						fs = append(fs, field{p + "elem[last]/len", Metadata, o, 8, kStrLen})
					}
					o += 8 + int64(le.Uint64(b[o:]))
				}
			}
		default:
			if n := scalarSize(v.Type()); n > 0 {
				fs = append(fs, field{p + "value", Metadata, off, n, kScalar})
			}
		}
	}
	for _, t := range f.Tensors {
		p := fmt.Sprintf("tensor%q/", t.Name)
		off := t.InfoOffset
		fs = append(fs, field{p + "name_len", TensorInfo, off, 8, kStrLen},
			field{p + "name", TensorInfo, off + 8, len(t.Name), kStrBytes})
		off += 8 + int64(len(t.Name))
		fs = append(fs, field{p + "n_dims", TensorInfo, off, 4, kNDims})
		off += 4
		for j := range t.Dims {
			fs = append(fs, field{fmt.Sprintf("%sdim[%d]", p, j), TensorInfo, off, 8, kDim})
			off += 8
		}
		fs = append(fs, field{p + "type", TensorInfo, off, 4, kTensorType},
			field{p + "offset", TensorInfo, off + 4, 8, kOffset})
	}
	return fs
}

func scalarSize(t gguf.ValueType) int {
	switch t {
	case gguf.TypeUint8, gguf.TypeInt8, gguf.TypeBool:
		return 1
	case gguf.TypeUint16, gguf.TypeInt16:
		return 2
	case gguf.TypeUint32, gguf.TypeInt32, gguf.TypeFloat32:
		return 4
	case gguf.TypeUint64, gguf.TypeInt64, gguf.TypeFloat64:
		return 8
	}
	return 0
}

// truncations: at each field's start, one byte into it and one before it,
// at each tensor's data start and end, and at random points of each region.
func (g *gen) truncations() {
	n := int64(len(g.valid))
	cuts := map[int64]bool{}
	for _, fl := range g.fields {
		for _, c := range []int64{fl.off - 1, fl.off, fl.off + 1, fl.off + int64(fl.size) - 1} {
			cuts[c] = true
		}
	}
	cuts[g.f.TensorInfoOffset] = true
	cuts[g.f.DataOffset] = true
	for _, t := range g.f.Tensors {
		start := g.f.DataOffset + int64(t.Offset)
		for _, c := range []int64{start, start + 1, start + int64(t.Size)/2, start + int64(t.Size) - 1} {
			cuts[c] = true
		}
	}
	bounds := []int64{0, 24, g.f.TensorInfoOffset, g.f.DataOffset, n}
	for r := 0; r+1 < len(bounds); r++ {
		lo, hi := bounds[r], bounds[r+1]
		for k := 0; k < 25 && hi > lo; k++ {
			cuts[lo+g.rng.Int64N(hi-lo)] = true
		}
	}
	sorted := make([]int64, 0, len(cuts))
	for c := range cuts {
		if c >= 0 && c < n {
			sorted = append(sorted, c)
		}
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for _, c := range sorted {
		g.out = append(g.out, Corruption{Name: g.unique(fmt.Sprintf("truncate/%s/at=%d", g.region(c), c)),
			Region: g.region(c), Offset: c, Truncated: true, valid: g.valid})
	}
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// fieldValues: absurd and edge values in every numeric field.
func (g *gen) fieldValues() {
	size := uint64(len(g.valid))
	type named struct {
		name string
		v    uint64
	}
	absurd64 := []named{
		{"0", 0}, {"1", 1}, {"2^31", 1 << 31}, {"2^32", 1 << 32}, {"2^62", 1 << 62}, {"2^63", 1 << 63},
		{"max", math.MaxUint64}, {"size", size}, {"size+1", size + 1}, {"size/2", size / 2},
	}
	for _, fl := range g.fields {
		switch fl.kind {
		case kMagic:
			for _, m := range []string{"GGML", "gguf", "GGUG", "FUGG", "\x00\x00\x00\x00"} {
				g.add(fmt.Sprintf("header/magic=%q", m), Header, 0, []byte(m))
			}
		case kVersion:
			for _, v := range []uint32{0, 1, 2, 4, 1 << 24, 3 << 24, math.MaxUint32, 0x10000} {
				g.add(fmt.Sprintf("header/version=%#x", v), Header, fl.off, u32(v))
			}
		case kCount, kStrLen, kArrayLen, kDim, kOffset:
			for _, a := range absurd64 {
				g.add(fmt.Sprintf("%s/%s=%s", fl.region, fl.name, a.name), fl.region, fl.off, u64(a.v))
			}
			old := binary.LittleEndian.Uint64(g.valid[fl.off:])
			for _, d := range []int64{-1, 1, 2, 32, -32} {
				g.add(fmt.Sprintf("%s/%s=%+d", fl.region, fl.name, d), fl.region, fl.off, u64(old+uint64(d)))
			}
			if fl.kind == kDim {
				g.add(fmt.Sprintf("%s/%s=-1", fl.region, fl.name), fl.region, fl.off, u64(math.MaxUint64))
				g.add(fmt.Sprintf("%s/%s=x2", fl.region, fl.name), fl.region, fl.off, u64(old*2))
			}
		case kValueType, kElemType:
			for v := uint32(0); v <= 13; v++ {
				g.add(fmt.Sprintf("%s/%s=%d", fl.region, fl.name, v), fl.region, fl.off, u32(v))
			}
			g.add(fmt.Sprintf("%s/%s=max", fl.region, fl.name), fl.region, fl.off, u32(math.MaxUint32))
		case kNDims:
			for _, v := range []uint32{0, 1, 2, 3, 4, 5, 1 << 31, math.MaxUint32} {
				g.add(fmt.Sprintf("%s/%s=%d", fl.region, fl.name, v), fl.region, fl.off, u32(v))
			}
		case kTensorType:
			for _, v := range []uint32{0, 1, 2, 4, 8, 12, 15, 24, 28, 30, 31, 36, 39, 40, 1000, math.MaxUint32} {
				g.add(fmt.Sprintf("%s/%s=%d", fl.region, fl.name, v), fl.region, fl.off, u32(v))
			}
		case kScalar:
			for _, a := range absurd64[:7] {
				g.add(fmt.Sprintf("%s/%s=%s", fl.region, fl.name, a.name), fl.region, fl.off, u64(a.v)[:fl.size])
			}
		}
	}
}

// flips: random bytes changed in the header, metadata and tensor infos.
func (g *gen) flips() {
	for off := int64(0); off < 24; off++ {
		for _, x := range []byte{0xff, 0x80, 0x01} {
			g.add(fmt.Sprintf("header/byte[%d]^=%#x", off, x), Header, off, []byte{g.valid[off] ^ x})
		}
	}
	for _, r := range []struct {
		region Region
		lo, hi int64
		n      int
	}{
		{Metadata, 24, g.f.TensorInfoOffset, 250},
		{TensorInfo, g.f.TensorInfoOffset, g.f.DataOffset, 250},
		{Data, g.f.DataOffset, int64(len(g.valid)), 20},
	} {
		if r.hi <= r.lo {
			continue
		}
		for k := 0; k < r.n; k++ {
			off := r.lo + g.rng.Int64N(r.hi-r.lo)
			x := byte(1 + g.rng.IntN(255))
			g.add(fmt.Sprintf("%s/byte[%d]^=%#x", r.region, off, x), r.region, off, []byte{g.valid[off] ^ x})
		}
	}
	// Bytes in names: an invalid UTF-8 byte and a NUL.
	for _, fl := range g.fields {
		if fl.kind == kStrBytes && fl.size > 0 {
			g.add(fmt.Sprintf("%s/%s[0]=0xff", fl.region, fl.name), fl.region, fl.off, []byte{0xff})
			g.add(fmt.Sprintf("%s/%s[last]=NUL", fl.region, fl.name), fl.region, fl.off+int64(fl.size)-1, []byte{0})
		}
	}
}

// duplicates: duplicate keys and tensor names, made by copying a name over
// another of the same length.
func (g *gen) duplicates() {
	type group struct {
		region Region
		size   int
	}
	first := map[group]field{}
	copies := map[group]int{}
	for _, fl := range g.fields {
		if fl.kind != kStrBytes {
			continue
		}
		k := group{fl.region, fl.size}
		src, ok := first[k]
		if !ok {
			first[k] = fl
			continue
		}
		if copies[k]++; copies[k] > 20 {
			continue
		}
		g.add(fmt.Sprintf("%s/duplicate-name/%s=%s", fl.region, fl.name, src.name), fl.region, fl.off,
			bytes.Clone(g.valid[src.off:src.off+int64(src.size)]))
	}
}

// hyperparameters: the model's u32, f32 and string values that llama.cpp
// computes with, set to values it may not expect.
func (g *gen) hyperparameters() {
	for i, kv := range g.f.KVs {
		off := kv.Offset + 8 + int64(len(kv.Key)) + 4
		name := fmt.Sprintf("kv[%d]%q", i, kv.Key)
		switch v := kv.Value.Interface().(type) {
		case uint32:
			for _, x := range []uint32{0, 1, 2, 3, 7, v - 1, v + 1, v * 2, v / 2, 100000, 1 << 20, 1 << 31, math.MaxUint32} {
				g.add(fmt.Sprintf("metadata/%s=%d", name, x), Metadata, off, u32(x))
			}
		case float32:
			for _, x := range []float32{0, -1, float32(math.NaN()), float32(math.Inf(1)), 1e30, 1e-30} {
				g.add(fmt.Sprintf("metadata/%s=%g", name, x), Metadata, off, u32(math.Float32bits(x)))
			}
		case bool:
			g.add(fmt.Sprintf("metadata/%s=%v", name, !v), Metadata, off, []byte{boolByte(!v)})
		case string:
			if len(v) > 0 {
				// Same length, different text: "llama" becomes "xlama".
				p := []byte(v)
				p[0] = 'x'
				g.add(fmt.Sprintf("metadata/%s[0]='x'", name), Metadata, off+8, p[:1])
			}
		}
	}
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
