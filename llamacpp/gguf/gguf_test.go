package gguf_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp/gguf"
)

// vocabDir holds llama.cpp's vocab-only GGUF files, shared by the project.
const vocabDir = "../../../shared/vocab"

func vocabFiles(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(vocabDir, "*.gguf"))
	if len(files) == 0 {
		t.Skipf("no vocab files in %s (the shared data directory is absent)", vocabDir)
	}
	return files
}

// allValues has one value of every type, scalars and arrays, with edge
// values.
func allValues() []gguf.KV {
	vals := []any{
		uint8(255), int8(-128), uint16(65535), int16(-32768),
		uint32(math.MaxUint32), int32(math.MinInt32), float32(-1.5), true, false,
		"héllo\x00world\n", "", uint64(math.MaxUint64), int64(math.MinInt64), math.Inf(-1),
		[]uint8{0, 1, 255}, []int8{-1, 0, 1}, []uint16{1, 65535}, []int16{-2, 2},
		[]uint32{7}, []int32{-7, 7}, []float32{0.25, float32(math.Inf(1))},
		[]bool{true, false, true}, []string{"a", "", "ünïcode", "<0x0A>"},
		[]uint64{1 << 63}, []int64{-1}, []float64{math.Pi}, []string{},
	}
	nested := []gguf.Value{mustValue([]int32{1, 2}), mustValue([]int32{}), mustValue([]int32{3})}
	vals = append(vals, mustValue(nested))
	kvs := make([]gguf.KV, len(vals))
	for i, x := range vals {
		kvs[i] = gguf.KV{Key: "test.value." + string(rune('a'+i)), Value: mustValue(x)}
	}
	return kvs
}

func mustValue(x any) gguf.Value {
	v, err := gguf.ValueOf(x)
	if err != nil {
		panic(err)
	}
	return v
}

func writeBytes(t testing.TB, w *gguf.Writer) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := w.WriteTo(&buf)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), n)
	require.Equal(t, w.Size(), n, "Size() predicts the written size")
	return buf.Bytes()
}

func readBytes(b []byte) (*gguf.File, error) {
	return gguf.Read(bytes.NewReader(b), int64(len(b)))
}

func TestRoundTripValues(t *testing.T) {
	w := gguf.NewWriter()
	kvs := allValues()
	for _, kv := range kvs {
		require.NoError(t, w.AddKV(kv.Key, kv.Value))
	}
	f, err := readBytes(writeBytes(t, w))
	require.NoError(t, err)
	assert.Equal(t, uint32(3), f.Version)
	require.Len(t, f.KVs, len(kvs))
	for i, kv := range kvs {
		got := f.KVs[i]
		assert.Equal(t, kv.Key, got.Key, "file order")
		assert.Equal(t, kv.Value.Type(), got.Value.Type(), kv.Key)
		assert.Equal(t, kv.Value.ElemType(), got.Value.ElemType(), kv.Key)
		assert.Equal(t, kv.Value.Interface(), got.Value.Interface(), kv.Key)
	}
	assert.Empty(t, f.Tensors)
	assert.ErrorIs(t, f.CheckLlamaCPP(), gguf.ErrUnsupported, "llama.cpp does not read arrays of arrays")
}

func TestAccessors(t *testing.T) {
	w := gguf.NewWriter()
	require.NoError(t, w.AddString("s", "text"))
	require.NoError(t, w.AddUint32("u", 7))
	require.NoError(t, w.AddInt32("neg", -3))
	require.NoError(t, w.AddFloat32("f", 0.5))
	require.NoError(t, w.AddBool("b", true))
	require.NoError(t, w.AddStrings("ss", []string{"x", "y"}))
	require.NoError(t, w.AddKV("big", uint64(math.MaxUint64)))
	f, err := readBytes(writeBytes(t, w))
	require.NoError(t, err)

	s, err := f.String("s")
	require.NoError(t, err)
	assert.Equal(t, "text", s)
	u, err := f.Uint("u")
	require.NoError(t, err)
	assert.Equal(t, uint64(7), u)
	i, err := f.Int("neg")
	require.NoError(t, err)
	assert.Equal(t, int64(-3), i)
	x, err := f.Float("f")
	require.NoError(t, err)
	assert.Equal(t, 0.5, x)
	b, err := f.Bool("b")
	require.NoError(t, err)
	assert.True(t, b)
	ss, err := f.Strings("ss")
	require.NoError(t, err)
	assert.Equal(t, []string{"x", "y"}, ss)
	a, err := f.Array("ss")
	require.NoError(t, err)
	assert.Equal(t, 2, a.Len())
	assert.Equal(t, `"y"`, a.Index(1).String())

	_, err = f.Uint("neg")
	assert.ErrorIs(t, err, gguf.ErrWrongType, "negative is not a Uint")
	_, err = f.Int("big")
	assert.ErrorIs(t, err, gguf.ErrWrongType, "2^64-1 is not an Int")
	_, err = f.String("u")
	assert.ErrorIs(t, err, gguf.ErrWrongType)
	_, err = f.String("missing")
	assert.ErrorIs(t, err, gguf.ErrKeyNotFound)
	_, err = f.ReadTensorF32("missing")
	assert.ErrorIs(t, err, gguf.ErrTensorNotFound)
}

func TestRoundTripTensors(t *testing.T) {
	vals := make([]float32, 4*64)
	for i := range vals {
		vals[i] = float32(math.Sin(float64(i))) * 3
	}
	raw := make([]byte, 3*5)
	for i := range raw {
		raw[i] = byte(i)
	}
	w := gguf.NewWriter()
	require.NoError(t, w.AddString("general.architecture", "test"))
	require.NoError(t, w.AddTensorF32("f32", gguf.TypeF32, []uint64{64, 4}, vals))
	require.NoError(t, w.AddTensorF32("f16", gguf.TypeF16, []uint64{64, 4}, vals))
	require.NoError(t, w.AddTensorF32("bf16", gguf.TypeBF16, []uint64{64, 2, 2}, vals))
	require.NoError(t, w.AddTensorF32("q8_0", gguf.TypeQ8_0, []uint64{64, 4}, vals))
	require.NoError(t, w.AddTensor("i8", gguf.TypeI8, []uint64{3, 5}, raw))
	var next uint64
	require.NoError(t, w.AddTensorF32Func("gen", gguf.TypeF16, []uint64{32, 3000}, func(off uint64, dst []float32) error {
		if off != next {
			return errors.New("chunks out of order")
		}
		next += uint64(len(dst))
		for i := range dst {
			dst[i] = float32((off + uint64(i)) % 1000)
		}
		return nil
	}))
	require.NoError(t, w.AddTensorFunc("func", gguf.TypeI32, []uint64{2}, func(w io.Writer) error {
		_, err := w.Write([]byte{1, 0, 0, 0, 2, 0, 0, 0})
		return err
	}))
	b := writeBytes(t, w)
	f, err := readBytes(b)
	require.NoError(t, err)
	err = f.CheckLlamaCPP()
	assert.ErrorIs(t, err, gguf.ErrUnsupported, "llama.cpp cannot multiply an i8 matrix")
	assert.ErrorContains(t, err, `tensor "i8"`)
	require.Len(t, f.Tensors, 7)
	assert.Zero(t, f.DataOffset%32)
	for i, want := range w.Tensors() {
		got := f.Tensors[i]
		assert.Equal(t, want.Name, got.Name)
		assert.Equal(t, want.Type, got.Type)
		assert.Equal(t, want.Dims, got.Dims)
		assert.Equal(t, want.Offset, got.Offset)
		assert.Equal(t, want.Size, got.Size)
		assert.Zero(t, got.Offset%32, "aligned")
	}

	got, err := f.ReadTensorF32("f32")
	require.NoError(t, err)
	assert.Equal(t, vals, got, "f32 is exact")
	for name, tol := range map[string]float64{"f16": 2e-3, "bf16": 2e-2, "q8_0": 3.0 / 127} {
		got, err := f.ReadTensorF32(name)
		require.NoError(t, err, name)
		require.Len(t, got, len(vals))
		for i := range vals {
			require.InDelta(t, vals[i], got[i], tol, "%s[%d]", name, i)
		}
	}
	gen, err := f.ReadTensorF32("gen")
	require.NoError(t, err)
	require.Len(t, gen, 32*3000)
	for i, x := range gen {
		require.Equal(t, float32(i%1000), x, "element %d", i)
	}
	data, _, err := f.ReadTensor("i8")
	require.NoError(t, err)
	assert.Equal(t, raw, data)
	_, err = f.ReadTensorF32("i8")
	assert.ErrorIs(t, err, gguf.ErrWrongType)
}

// The writer streams: a WriteTo writes the same bytes each time.
func TestWriteToTwice(t *testing.T) {
	w := gguf.NewWriter()
	require.NoError(t, w.AddTensorF32Func("t", gguf.TypeQ8_0, []uint64{32, 5000}, func(off uint64, dst []float32) error {
		for i := range dst {
			dst[i] = float32((off+uint64(i))%7) - 3
		}
		return nil
	}))
	assert.Equal(t, writeBytes(t, w), writeBytes(t, w))
}

func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.gguf")
	w := gguf.NewWriter()
	require.NoError(t, w.AddString("general.name", "x"))
	require.NoError(t, w.AddTensorF32("t", gguf.TypeF32, []uint64{2}, []float32{1, 2}))
	require.NoError(t, w.WriteFile(path))
	require.NoError(t, gguf.Check(path))
	f, err := gguf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	got, err := f.ReadTensorF32("t")
	require.NoError(t, err)
	assert.Equal(t, []float32{1, 2}, got)
	entries, _ := os.ReadDir(filepath.Dir(path))
	assert.Len(t, entries, 1, "no temporary file left behind")
	require.NoError(t, f.Close())
	require.NoError(t, f.Close(), "Close twice")
	_, err = f.ReadTensorF32("t")
	assert.ErrorContains(t, err, "closed")
}

func TestWriterRejects(t *testing.T) {
	w := gguf.NewWriter()
	require.NoError(t, w.AddUint32("k", 1))
	require.NoError(t, w.AddTensorF32("t", gguf.TypeF32, []uint64{1}, []float32{0}))
	for name, err := range map[string]error{
		"duplicate key":        w.AddUint32("k", 2),
		"empty key":            w.AddUint32("", 2),
		"key not UTF-8":        w.AddUint32("\xff", 2),
		"key with NUL":         w.AddUint32("a\x00b", 2),
		"int has no size":      w.AddKV("int", 3),
		"alignment type":       w.AddKV("general.alignment", uint64(64)),
		"alignment power":      w.AddKV("general.alignment", uint32(48)),
		"duplicate tensor":     w.AddTensorF32("t", gguf.TypeF32, []uint64{1}, []float32{0}),
		"long tensor name":     w.AddTensorF32(strings.Repeat("n", 65), gguf.TypeF32, []uint64{1}, []float32{0}),
		"no dims":              w.AddTensorF32("u", gguf.TypeF32, nil, []float32{0}),
		"five dims":            w.AddTensorF32("u", gguf.TypeF32, []uint64{1, 1, 1, 1, 1}, []float32{0}),
		"zero dim":             w.AddTensorF32("u", gguf.TypeF32, []uint64{1, 0}, nil),
		"overflowing dims":     w.AddTensorF32Func("u", gguf.TypeF32, []uint64{1 << 40, 1 << 40}, nil),
		"removed type":         w.AddTensor("u", gguf.TensorType(4), []uint64{32}, nil),
		"partial block":        w.AddTensorF32("u", gguf.TypeQ8_0, []uint64{33}, make([]float32, 33)),
		"wrong data length":    w.AddTensorF32("u", gguf.TypeF32, []uint64{2}, []float32{0}),
		"wrong byte length":    w.AddTensor("u", gguf.TypeF16, []uint64{2}, []byte{0}),
		"type not encodable":   w.AddTensorF32("u", gguf.TypeQ4_K, []uint64{256}, make([]float32, 256)),
		"alignment too late":   w.AddKV("general.alignment", uint32(64)),
		"mixed nested arrays":  w.AddKV("n", []gguf.Value{mustValue([]int32{1}), mustValue([]string{"a"})}),
		"array of non-arrays":  w.AddKV("n", []gguf.Value{mustValue(int32(1))}),
		"zero Value":           w.AddKV("z", gguf.Value{}),
		"unsupported Go type":  w.AddKV("z", struct{}{}),
		"unsupported Go slice": w.AddKV("z", []int{1}),
	} {
		assert.Error(t, err, name)
	}
	// Nothing rejected was added.
	f, err := readBytes(writeBytes(t, w))
	require.NoError(t, err)
	assert.Len(t, f.KVs, 1)
	assert.Len(t, f.Tensors, 1)
}

func TestTensorFuncWrongSize(t *testing.T) {
	for _, n := range []int{3, 5} {
		w := gguf.NewWriter()
		require.NoError(t, w.AddTensorFunc("t", gguf.TypeI8, []uint64{4}, func(w io.Writer) error {
			_, err := w.Write(make([]byte, n))
			return err
		}))
		_, err := w.WriteTo(io.Discard)
		assert.Error(t, err, "%d bytes for a 4-byte tensor", n)
	}
	w := gguf.NewWriter()
	boom := errors.New("boom")
	require.NoError(t, w.AddTensorF32Func("t", gguf.TypeF32, []uint64{4}, func(uint64, []float32) error { return boom }))
	_, err := w.WriteTo(io.Discard)
	assert.ErrorIs(t, err, boom)
}

func TestAlignmentKey(t *testing.T) {
	w := gguf.NewWriter()
	require.NoError(t, w.AddKV("general.alignment", uint32(64)))
	require.NoError(t, w.AddTensor("a", gguf.TypeF32, []uint64{1}, []byte{1, 2, 3, 4}))
	require.NoError(t, w.AddTensor("b", gguf.TypeF32, []uint64{1}, []byte{4, 5, 6, 7}))
	f, err := readBytes(writeBytes(t, w))
	require.NoError(t, err)
	require.NoError(t, f.CheckLlamaCPP())
	assert.Equal(t, uint64(64), f.Alignment)
	assert.Zero(t, f.DataOffset%64)
	assert.Equal(t, uint64(64), f.Tensors[1].Offset)
	b, _, err := f.ReadTensor("b")
	require.NoError(t, err)
	assert.Equal(t, []byte{4, 5, 6, 7}, b)
}

func TestVocabFiles(t *testing.T) {
	for _, path := range vocabFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := gguf.Open(path)
			require.NoError(t, err)
			defer f.Close()
			assert.Contains(t, []uint32{2, 3}, f.Version)
			arch, err := f.String("general.architecture")
			require.NoError(t, err)
			assert.NotEmpty(t, arch)
			tokens, err := f.Strings("tokenizer.ggml.tokens")
			require.NoError(t, err)
			assert.Greater(t, len(tokens), 1000)
			model, err := f.String("tokenizer.ggml.model")
			require.NoError(t, err)
			assert.NotEmpty(t, model)
			require.NoError(t, f.CheckLlamaCPP())
			require.NoError(t, gguf.Check(path))

			// Rewriting every pair gives a file that reads back the same.
			w := gguf.NewWriter()
			for _, kv := range f.KVs {
				require.NoError(t, w.AddKV(kv.Key, kv.Value))
			}
			g, err := readBytes(writeBytes(t, w))
			require.NoError(t, err)
			require.Len(t, g.KVs, len(f.KVs))
			for i := range f.KVs {
				assert.Equal(t, f.KVs[i].Key, g.KVs[i].Key)
				assert.Equal(t, f.KVs[i].Value, g.KVs[i].Value)
			}
		})
	}
}

func TestF16(t *testing.T) {
	// Every half converts to float32 and back to itself (NaNs stay NaNs).
	for h := 0; h < 1<<16; h++ {
		f := gguf.F16ToF32(uint16(h))
		back := gguf.F32ToF16(f)
		if f != f {
			require.True(t, back&0x7c00 == 0x7c00 && back&0x3ff != 0, "NaN %#04x -> %#04x", h, back)
			continue
		}
		require.Equal(t, uint16(h), back, "%#04x -> %v", h, f)
	}
	// Rounding: the nearest half, ties to the even one, checked against
	// the neighbours of the result in float64.
	check := func(f float32) {
		h := gguf.F32ToF16(f)
		got := float64(gguf.F16ToF32(h))
		if math.IsInf(got, 0) {
			require.GreaterOrEqual(t, math.Abs(float64(f)), 65520.0, "%v overflows", f)
			return
		}
		err := math.Abs(got - float64(f))
		for _, nb := range []uint16{h - 1, h + 1} {
			if nb&0x7c00 == 0x7c00 || (nb^h)&0x8000 != 0 {
				continue
			}
			nerr := math.Abs(float64(gguf.F16ToF32(nb)) - float64(f))
			require.LessOrEqual(t, err, nerr, "%v -> %#04x (%v) but %#04x (%v) is nearer", f, h, got, nb, gguf.F16ToF32(nb))
			if err == nerr {
				require.Zero(t, h&1, "%v is a tie and must round to even", f)
			}
		}
	}
	for h := uint32(0); h < 1<<16; h++ {
		// Exact midpoints between consecutive halves, and points near them.
		a, b := gguf.F16ToF32(uint16(h)), gguf.F16ToF32(uint16(h+1))
		if a != a || b != b || math.IsInf(float64(b), 0) || (h+1)&0x8000 != h&0x8000 {
			continue
		}
		mid := float32((float64(a) + float64(b)) / 2)
		check(mid)
		check(math.Nextafter32(mid, 0))
		check(math.Nextafter32(mid, float32(math.Inf(1))))
	}
	for _, f := range []float32{0, float32(math.Copysign(0, -1)), 1e-8, 2.98e-8, 5.96e-8, 6.1e-5, 65504, 65519.99, 65520, 1e10, -1e10} {
		check(f)
	}
	assert.Equal(t, uint16(0x7c00), gguf.F32ToF16(float32(math.Inf(1))))
	assert.Equal(t, uint16(0xfc00), gguf.F32ToF16(float32(math.Inf(-1))))
	assert.Equal(t, uint16(0x3c00), gguf.F32ToF16(1))
	assert.Equal(t, uint16(0x0001), gguf.F32ToF16(5.9604645e-08), "smallest subnormal")
	assert.Equal(t, uint16(0x0000), gguf.F32ToF16(2.9802322e-08), "half the smallest subnormal ties to 0")
}

func TestBF16AndQ8(t *testing.T) {
	assert.Equal(t, uint16(0x3f80), gguf.F32ToBF16(1))
	assert.Equal(t, float32(1), gguf.BF16ToF32(0x3f80))
	assert.Equal(t, uint16(0x3f80), gguf.F32ToBF16(math.Float32frombits(0x3f808000)), "tie to even")
	assert.Equal(t, uint16(0x3f82), gguf.F32ToBF16(math.Float32frombits(0x3f818000)), "tie to even, up")
	assert.Equal(t, uint16(0x3f81), gguf.F32ToBF16(math.Float32frombits(0x3f808001)))

	// One Q8_0 block: scale max|x|/127, values rounded half away from zero.
	src := make([]float32, 32)
	src[0], src[1], src[2] = 127, -63.5, 0.5
	blk := make([]byte, 34)
	require.Equal(t, 34, gguf.EncodeF32(blk, gguf.TypeQ8_0, src))
	assert.Equal(t, gguf.F32ToF16(1), binary.LittleEndian.Uint16(blk))
	assert.Equal(t, []byte{127, byte(0x100 - 64), 1, 0}, blk[2:6])
	back := make([]float32, 32)
	gguf.DecodeF32(back, gguf.TypeQ8_0, blk)
	assert.Equal(t, []float32{127, -64, 1, 0}, back[:4])
	// An all-zero block has scale 0 and decodes to zeros.
	gguf.EncodeF32(blk, gguf.TypeQ8_0, make([]float32, 32))
	gguf.DecodeF32(back, gguf.TypeQ8_0, blk)
	assert.Equal(t, make([]float32, 32), back)
	assert.Panics(t, func() { gguf.EncodeF32(blk, gguf.TypeQ8_0, make([]float32, 31)) })
	assert.Panics(t, func() { gguf.EncodeF32(blk, gguf.TypeQ4_0, make([]float32, 32)) })
}

func TestTensorTypes(t *testing.T) {
	// Block and type sizes from ggml.c's type_traits.
	for typ, want := range map[gguf.TensorType][2]uint64{
		gguf.TypeF32: {1, 4}, gguf.TypeF16: {1, 2}, gguf.TypeBF16: {1, 2}, gguf.TypeQ8_0: {32, 34},
		gguf.TypeQ4_0: {32, 18}, gguf.TypeQ4_K: {256, 144}, gguf.TypeQ6_K: {256, 210},
		gguf.TypeIQ4_NL: {32, 18}, gguf.TypeMXFP4: {32, 17}, gguf.TypeTQ1_0: {256, 54},
		gguf.TypeI64: {1, 8}, gguf.TypeIQ1_M: {256, 56},
	} {
		assert.True(t, typ.Valid(), typ.String())
		assert.Equal(t, want, [2]uint64{typ.BlockSize(), typ.TypeSize()}, typ.String())
	}
	for _, typ := range []gguf.TensorType{4, 5, 31, 32, 33, 36, 37, 38, 40, 1 << 31} {
		assert.False(t, typ.Valid(), typ.String())
		assert.Zero(t, typ.BlockSize())
	}
	assert.Equal(t, "q8_0", gguf.TypeQ8_0.String())
	assert.Equal(t, uint64(34*4), gguf.TypeQ8_0.RowSize(128))
}
