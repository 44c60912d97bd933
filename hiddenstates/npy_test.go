package hiddenstates

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// The expected headers below are worked out by hand from the rules of
// numpy.lib.format (v1.0): the magic "\x93NUMPY\x01\x00", a 2-byte
// little-endian header length, and the dict literal numpy writes, followed by
// 21-len(str(shape[0])) spaces of room for growth (none for a 0-d array),
// then padded with spaces and a final newline so that the preamble's length
// is a multiple of 64; when it already is, numpy pads a full 64.

func TestWriteNPYGolden(t *testing.T) {
	f32 := func(vs ...uint32) string { // little-endian bit patterns
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		return string(b)
	}
	for _, tc := range []struct {
		name  string
		write func(w io.Writer) error
		want  string
	}{
		{
			name: "float32 (2, 3)",
			write: func(w io.Writer) error {
				return WriteNPY(w, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
			},
			// The dict is 59 bytes; with 20 spaces of growth room and the
			// newline, 80; 10 + 80 = 90 is padded to 128 with 38 spaces. The
			// length field is 128 - 10 = 118 = 0x76.
			want: "\x93NUMPY\x01\x00\x76\x00" +
				"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" +
				strings.Repeat(" ", 20+38) + "\n" +
				f32(0x3f800000, 0x40000000, 0x40400000, 0x40800000, 0x40a00000, 0x40c00000),
		},
		{
			name: "int32 token IDs (3,)",
			write: func(w io.Writer) error {
				return WriteNPY(w, []int{3}, []int32{1, -2, 0x01020304})
			},
			// 57 + 20 + 1 = 78; 10 + 78 = 88, padded to 128 with 40 spaces.
			want: "\x93NUMPY\x01\x00\x76\x00" +
				"{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }" +
				strings.Repeat(" ", 20+40) + "\n" +
				"\x01\x00\x00\x00" + "\xfe\xff\xff\xff" + "\x04\x03\x02\x01",
		},
		{
			name: "float64 0-d",
			write: func(w io.Writer) error {
				return WriteNPY(w, []int{}, []float64{-2.5})
			},
			// No growth room for a 0-d array: 55 + 1 = 56; 10 + 56 = 66,
			// padded to 128 with 62 spaces. -2.5 is 0xc004000000000000.
			want: "\x93NUMPY\x01\x00\x76\x00" +
				"{'descr': '<f8', 'fortran_order': False, 'shape': (), }" +
				strings.Repeat(" ", 62) + "\n" +
				"\x00\x00\x00\x00\x00\x00\x04\xc0",
		},
		{
			name: "float64 matrix (1, 2)",
			write: func(w io.Writer) error {
				return WriteMatrix(w, mat.NewDense(1, 2, []float64{1, -2.5}), Float64)
			},
			want: "\x93NUMPY\x01\x00\x76\x00" +
				"{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }" +
				strings.Repeat(" ", 20+38) + "\n" +
				"\x00\x00\x00\x00\x00\x00\xf0\x3f" + "\x00\x00\x00\x00\x00\x00\x04\xc0",
		},
		{
			name: "int64 (1, 1, 1) with a 3-digit axis",
			write: func(w io.Writer) error {
				return WriteNPY(w, []int{1, 1, 1}, []int64{-1})
			},
			// 62 + 20 + 1 = 83; 10 + 83 = 93, padded to 128 with 35 spaces.
			want: "\x93NUMPY\x01\x00\x76\x00" +
				"{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1, 1), }" +
				strings.Repeat(" ", 20+35) + "\n" +
				strings.Repeat("\xff", 8),
		},
		{
			name: "float32 (100, 0): 18 spaces of growth room",
			write: func(w io.Writer) error {
				return WriteNPY(w, []int{100, 0}, []float32{})
			},
			// 61 + 18 + 1 = 80; 10 + 80 = 90, padded to 128 with 38 spaces.
			want: "\x93NUMPY\x01\x00\x76\x00" +
				"{'descr': '<f4', 'fortran_order': False, 'shape': (100, 0), }" +
				strings.Repeat(" ", 18+38) + "\n",
		},
		{
			name: "already aligned: a full 64 spaces",
			write: func(w io.Writer) error {
				return WriteNPY(w, []int{0, 10, 10, 10, 10, 10, 10, 10, 10, 1000000}, []float32{})
			},
			// 97 + 20 + 1 = 118; 10 + 118 = 128 is aligned, so numpy pads 64
			// more: the length field is 182 = 0xb6.
			want: "\x93NUMPY\x01\x00\xb6\x00" +
				"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 10, 10, 10, 10, 10, 10, 10, 10, 1000000), }" +
				strings.Repeat(" ", 20+64) + "\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, tc.write(&buf))
			assert.Equal(t, tc.want, buf.String())
			h := strings.IndexByte(buf.String(), '\n') + 1
			assert.Zero(t, h%64, "data aligned to 64 bytes")
		})
	}
}

// TestWriteNPYVersion2 checks that a header too long for version 1.0's
// 2-byte length is written as version 2.0.
func TestWriteNPYVersion2(t *testing.T) {
	shape := make([]int, 23000) // "1, " each: over 65535 bytes
	for i := range shape {
		shape[i] = 1
	}
	var buf bytes.Buffer
	require.NoError(t, WriteNPY(&buf, shape, []float32{7}))
	b := buf.Bytes()
	require.Equal(t, "\x93NUMPY\x02\x00", string(b[:8]))
	hlen := int(binary.LittleEndian.Uint32(b[8:12]))
	assert.Greater(t, hlen, math.MaxUint16)
	assert.Zero(t, (12+hlen)%64)
	assert.Equal(t, byte('\n'), b[12+hlen-1])
	assert.Equal(t, len(b), 12+hlen+4)

	gotShape, data, err := ReadNPY[float32](&buf)
	require.NoError(t, err)
	assert.Equal(t, shape, gotShape)
	assert.Equal(t, []float32{7}, data)
}

type token int32

func TestNPYRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewPCG(15, 16))
	shapes := [][]int{{}, {1}, {5}, {0}, {3, 0}, {2, 3}, {4, 1, 7}, {2, 3, 4, 5}, {70000}}
	for _, shape := range shapes {
		n := 1
		for _, d := range shape {
			n *= d
		}
		f32 := make([]float32, n)
		f64 := make([]float64, n)
		i32 := make([]int32, n)
		i64 := make([]int64, n)
		tok := make([]token, n)
		for i := range n {
			f32[i] = float32(rnd.NormFloat64())
			f64[i] = rnd.NormFloat64()
			i32[i] = int32(rnd.Uint32())
			i64[i] = int64(rnd.Uint64())
			tok[i] = token(rnd.Int32N(32000))
		}
		roundTrip(t, shape, f32)
		roundTrip(t, shape, f64)
		roundTrip(t, shape, i32)
		roundTrip(t, shape, i64)
		roundTrip(t, shape, tok)
	}
}

func roundTrip[T Elem](t *testing.T, shape []int, data []T) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, WriteNPY(&buf, shape, data))
	gotShape, got, err := ReadNPY[T](&buf)
	require.NoError(t, err, "%v %v", DTypeOf[T](), shape)
	assert.Equal(t, shape, gotShape)
	assert.Equal(t, data, got, "%v %v", DTypeOf[T](), shape)
	assert.Zero(t, buf.Len(), "read to the end")
}

func TestNPYSpecialFloats(t *testing.T) {
	nan32 := math.Float32frombits(0x7fc00001) // a NaN with a payload
	f32 := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), nan32, math.SmallestNonzeroFloat32, math.MaxFloat32}
	var buf bytes.Buffer
	require.NoError(t, WriteNPY(&buf, []int{len(f32)}, f32))
	_, got, err := ReadNPY[float32](&buf)
	require.NoError(t, err)
	for i := range f32 {
		assert.Equal(t, math.Float32bits(f32[i]), math.Float32bits(got[i]), "element %d bit for bit", i)
	}

	f64 := []float64{math.Inf(1), math.Copysign(0, -1), math.NaN(), math.SmallestNonzeroFloat64, math.MaxFloat64}
	buf.Reset()
	require.NoError(t, WriteNPY(&buf, []int{len(f64)}, f64))
	_, got64, err := ReadNPY[float64](&buf)
	require.NoError(t, err)
	for i := range f64 {
		assert.Equal(t, math.Float64bits(f64[i]), math.Float64bits(got64[i]), "element %d bit for bit", i)
	}
}

func TestNPYSequence(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteNPY(&buf, []int{2, 2}, []float32{1, 2, 3, 4}))
	require.NoError(t, WriteNPY(&buf, []int{3}, []int32{7, 8, 9}))

	shape, f, err := ReadNPY[float32](&buf)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 2}, shape)
	assert.Equal(t, []float32{1, 2, 3, 4}, f)
	shape, ids, err := ReadNPY[int32](&buf)
	require.NoError(t, err)
	assert.Equal(t, []int{3}, shape)
	assert.Equal(t, []int32{7, 8, 9}, ids)
	_, _, err = ReadNPY[int32](&buf)
	assert.Equal(t, io.EOF, err, "clean end of input")
}

func TestWriteMatrixReadMatrix(t *testing.T) {
	rnd := rand.New(rand.NewPCG(17, 18))
	m := randDense(rnd, 5, 3)
	for _, tc := range []struct {
		name string
		m    mat.Matrix
		want mat.Matrix
	}{
		{"dense", m, m},
		{"view", m.Slice(1, 4, 1, 3), m.Slice(1, 4, 1, 3)},
		{"transpose", m.T(), m.T()},
		{"plain", plain{m}, m},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, WriteMatrix(&buf, tc.m, Float64))
			got, err := ReadMatrix(&buf)
			require.NoError(t, err)
			assert.True(t, mat.Equal(tc.want, got), "float64 exact")

			buf.Reset()
			require.NoError(t, WriteMatrix(&buf, tc.m, Float32))
			raw := bytes.NewReader(buf.Bytes())
			got, err = ReadMatrix(&buf)
			require.NoError(t, err)
			r, c := tc.want.Dims()
			shape, f, err := ReadNPY[float32](raw)
			require.NoError(t, err)
			assert.Equal(t, []int{r, c}, shape)
			for i := 0; i < r; i++ {
				for j := 0; j < c; j++ {
					want := float32(tc.want.At(i, j))
					assert.Equal(t, want, f[i*c+j], "C order")
					assert.Equal(t, float64(want), got.At(i, j), "rounded to float32")
				}
			}
		})
	}
	assert.PanicsWithValue(t, ErrDType, func() { _ = WriteMatrix(io.Discard, m, Int32) })
}

func TestEncoder(t *testing.T) {
	rnd := rand.New(rand.NewPCG(19, 20))
	layers := []*mat.Dense{randDense(rnd, 2, 3), randDense(rnd, 2, 3), randDense(rnd, 2, 3)}
	var flat []float32
	for _, l := range layers {
		for _, v := range l.RawMatrix().Data {
			flat = append(flat, float32(v))
		}
	}
	var want bytes.Buffer
	require.NoError(t, WriteNPY(&want, []int{3, 2, 3}, flat))

	var got bytes.Buffer
	e, err := NewEncoder(&got, Float32, []int{3, 2, 3})
	require.NoError(t, err)
	require.NoError(t, e.WriteMatrix(layers[0]))
	require.NoError(t, e.WriteFloat64s(layers[1].RawMatrix().Data[:4]))
	require.NoError(t, e.WriteFloat32s(flat[10:12]))
	require.NoError(t, e.WriteMatrix(plain{layers[2]}))
	assert.Equal(t, 18, e.Len())
	assert.PanicsWithValue(t, mat.ErrShape, func() { _ = e.WriteFloat32s([]float32{1}) }, "past the shape")
	require.NoError(t, e.Close())
	assert.Equal(t, want.Bytes(), got.Bytes())
	assert.Error(t, e.WriteFloat32s(nil), "write after Close")
	assert.NoError(t, e.Close(), "second Close")
}

func TestEncoderShort(t *testing.T) {
	e, err := NewEncoder(io.Discard, Float64, []int{2, 2})
	require.NoError(t, err)
	require.NoError(t, e.WriteFloat64s([]float64{1, 2, 3}))
	assert.ErrorIs(t, e.Close(), io.ErrShortWrite)
}

type failWriter struct {
	n   int // bytes accepted before failing
	err error
}

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, w.err
	}
	w.n -= len(p)
	return len(p), nil
}

func TestEncoderWriteError(t *testing.T) {
	boom := errors.New("disk full")
	_, err := NewEncoder(&failWriter{n: 10, err: boom}, Float32, []int{4})
	assert.ErrorIs(t, err, boom, "header")

	e, err := NewEncoder(&failWriter{n: 128 + 4, err: boom}, Float32, []int{4})
	require.NoError(t, err)
	assert.ErrorIs(t, e.WriteFloat32s([]float32{1, 2}), boom)
	assert.ErrorIs(t, e.WriteFloat32s([]float32{3}), boom, "sticky")
	assert.ErrorIs(t, e.Close(), boom)

	assert.ErrorIs(t, WriteNPY(&failWriter{n: 200, err: boom}, []int{100}, make([]float64, 100)), boom)
	assert.ErrorIs(t, WriteMatrix(&failWriter{n: 130, err: boom}, mat.NewDense(2, 2, nil), Float64), boom)
}

func TestEncoderPanics(t *testing.T) {
	assert.PanicsWithValue(t, ErrDType, func() { _, _ = NewEncoder(io.Discard, Int64, []int{1}) })
	assert.PanicsWithValue(t, ErrDType, func() { _, _ = NewEncoder(io.Discard, DType(0), []int{1}) })
	assert.PanicsWithValue(t, mat.ErrNegativeDimension, func() { _, _ = NewEncoder(io.Discard, Float32, []int{2, -1}) })
	assert.PanicsWithValue(t, mat.ErrShape, func() { _, _ = NewEncoder(io.Discard, Float32, []int{1 << 40, 1 << 40}) })
}

func TestWriteNPYPanics(t *testing.T) {
	assert.PanicsWithValue(t, mat.ErrShape, func() { _ = WriteNPY(io.Discard, []int{2, 3}, make([]float32, 5)) })
	assert.PanicsWithValue(t, mat.ErrShape, func() { _ = WriteNPY(io.Discard, nil, []float32{}) }, "0-d holds one element")
	assert.PanicsWithValue(t, mat.ErrNegativeDimension, func() { _ = WriteNPY(io.Discard, []int{-1}, []int32{}) })
}

func TestDType(t *testing.T) {
	for _, tc := range []struct {
		dt          DType
		name, descr string
		size        int
	}{
		{Float32, "float32", "<f4", 4},
		{Float64, "float64", "<f8", 8},
		{Int32, "int32", "<i4", 4},
		{Int64, "int64", "<i8", 8},
		{DType(0), "DType(0)", "", 0},
		{DType(5), "DType(5)", "", 0},
	} {
		assert.Equal(t, tc.name, tc.dt.String())
		assert.Equal(t, tc.descr, tc.dt.Descr())
		assert.Equal(t, tc.size, tc.dt.Size())
	}
	assert.Equal(t, Float32, DTypeOf[float32]())
	assert.Equal(t, Float64, DTypeOf[float64]())
	assert.Equal(t, Int32, DTypeOf[int32]())
	assert.Equal(t, Int64, DTypeOf[int64]())
	assert.Equal(t, Int32, DTypeOf[token]())
}

// npy builds a file from a version, a header (given whole, newline and all)
// and data, without the writer's help.
func npy(major byte, header string, data string) string {
	b := []byte("\x93NUMPY")
	b = append(b, major, 0)
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(header)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(header)))
	}
	return string(b) + header + data
}

const f32x2 = "\x00\x00\x80\x3f\x00\x00\x00\x40" // float32 1, 2

// TestReadNPYAccepts lists headers other writers may produce, all valid
// Python literals in the format's terms.
func TestReadNPYAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		shape      []int
	}{
		{"unpadded", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", f32x2), []int{2}},
		{"keys in another order", npy(1, "{'shape': (1, 2), 'fortran_order': False, 'descr': '<f4'}    \n", f32x2), []int{1, 2}},
		{"double quotes, no spaces", npy(1, `{"descr":"<f4","fortran_order":False,"shape":(2,)}`+"\n", f32x2), []int{2}},
		{"trailing comma in the shape", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2,), }\n", f32x2), []int{1, 2}},
		{"spaces in the shape", npy(1, "{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 2 , ) }\n", f32x2), []int{2}},
		{"version 2.0", npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", f32x2), []int{2}},
		{"version 3.0", npy(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", f32x2), []int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shape, data, err := ReadNPY[float32](strings.NewReader(tc.file))
			require.NoError(t, err)
			assert.Equal(t, tc.shape, shape)
			assert.Equal(t, []float32{1, 2}, data)
		})
	}
}

func TestReadNPYRejects(t *testing.T) {
	h := func(dict string) string { return npy(1, dict+"\n", f32x2) }
	const ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
	for _, tc := range []struct {
		name, file string
		is         []error
	}{
		{"truncated magic", "\x93NUM", []error{ErrFormat, io.ErrUnexpectedEOF}},
		{"bad magic", "\x93NUMPZ\x01\x00\x00\x00", []error{ErrFormat}},
		{"zip (an npz)", "PK\x03\x04\x14\x00\x00\x00\x00\x00", []error{ErrFormat}},
		{"version 4.0", strings.Replace(h(ok), "\x01\x00", "\x04\x00", 1), []error{ErrFormat}},
		{"version 1.1", strings.Replace(h(ok), "\x01\x00", "\x01\x01", 1), []error{ErrFormat}},
		{"truncated length", "\x93NUMPY\x01\x00\x10", []error{ErrFormat, io.ErrUnexpectedEOF}},
		{"truncated header", h(ok)[:40], []error{ErrFormat, io.ErrUnexpectedEOF}},
		{"huge v2 header length", "\x93NUMPY\x02\x00\xff\xff\xff\x7f{", []error{ErrFormat}},
		{"no newline", npy(1, ok+" ", f32x2), []error{ErrFormat}},
		{"newline inside", npy(1, "{'descr': '<f4',\n'fortran_order': False, 'shape': (2,), }\n", f32x2), []error{ErrFormat}},
		{"not ASCII", h("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), '\xe9': 1}"), []error{ErrFormat}},
		{"not a dict", h("['<f4', False, (2,)]"), []error{ErrFormat}},
		{"empty dict", h("{}"), []error{ErrFormat}},
		{"missing shape", h("{'descr': '<f4', 'fortran_order': False}"), []error{ErrFormat}},
		{"missing descr", h("{'fortran_order': False, 'shape': (2,)}"), []error{ErrFormat}},
		{"extra key", h("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}"), []error{ErrFormat}},
		{"duplicate key", h("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}"), []error{ErrFormat}},
		{"double comma", h("{'descr': '<f4',, 'fortran_order': False, 'shape': (2,)}"), []error{ErrFormat}},
		{"lone comma", h("{,}"), []error{ErrFormat}},
		{"unclosed dict", h("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)"), []error{ErrFormat}},
		{"text after the dict", h(ok + " x"), []error{ErrFormat}},
		{"unterminated string", h("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}"), []error{ErrFormat}},
		{"escape in a string", h(`{'descr': '<f\4', 'fortran_order': False, 'shape': (2,)}`), []error{ErrFormat}},
		{"unquoted key", h("{descr: '<f4', 'fortran_order': False, 'shape': (2,)}"), []error{ErrFormat}},
		{"(2) is not a tuple", h("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}"), []error{ErrFormat}},
		{"shape a list", h("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}"), []error{ErrFormat}},
		{"negative dimension", h("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}"), []error{ErrFormat}},
		{"leading zero", h("{'descr': '<f4', 'fortran_order': False, 'shape': (02,)}"), []error{ErrFormat}},
		{"Python 2 long", h("{'descr': '<f4', 'fortran_order': False, 'shape': (2L,)}"), []error{ErrFormat}},
		{"float dimension", h("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}"), []error{ErrFormat}},
		{"empty tuple element", h("{'descr': '<f4', 'fortran_order': False, 'shape': (2,,)}"), []error{ErrFormat}},
		{"dimension past int64", h("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}"), []error{ErrFormat}},
		{"product overflows", h("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}"), []error{ErrFormat}},
		{"fortran_order 0", h("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}"), []error{ErrFormat}},
		{"fortran_order Falsey", h("{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,)}"), []error{ErrFormat}},
		{"descr not a string", h("{'descr': 4, 'fortran_order': False, 'shape': (2,)}"), []error{ErrFormat}},
		{"structured descr", h("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}"), []error{ErrFormat}},
		{"Fortran order", h("{'descr': '<f4', 'fortran_order': True, 'shape': (2,)}"), []error{errors.ErrUnsupported}},
		{"big-endian", h("{'descr': '>f4', 'fortran_order': False, 'shape': (2,)}"), []error{ErrDType}},
		{"float16", h("{'descr': '<f2', 'fortran_order': False, 'shape': (2,)}"), []error{ErrDType}},
		{"another dtype than asked", h("{'descr': '<i4', 'fortran_order': False, 'shape': (2,)}"), []error{ErrDType}},
		{"truncated data", h(ok)[:len(h(ok))-1], []error{ErrFormat, io.ErrUnexpectedEOF}},
		{"no data", npy(1, ok+"\n", ""), []error{ErrFormat, io.ErrUnexpectedEOF}},
		// A header may claim a petabyte; ReadNPY must fail on the missing
		// data, not try to allocate it first.
		{"huge shape, little data", h("{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824, 1048576)}"), []error{ErrFormat, io.ErrUnexpectedEOF}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shape, data, err := ReadNPY[float32](strings.NewReader(tc.file))
			require.Error(t, err)
			for _, target := range tc.is {
				assert.ErrorIs(t, err, target)
			}
			assert.Nil(t, shape)
			assert.Nil(t, data)
			assert.True(t, strings.HasPrefix(err.Error(), "hiddenstates: "), "error %q names the package", err)
		})
	}
}

func TestReadMatrixRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		file func(w io.Writer) error
		is   error
	}{
		{"1-D", func(w io.Writer) error { return WriteNPY(w, []int{2}, []float32{1, 2}) }, mat.ErrShape},
		{"3-D", func(w io.Writer) error { return WriteNPY(w, []int{1, 1, 2}, []float32{1, 2}) }, mat.ErrShape},
		{"no rows", func(w io.Writer) error { return WriteNPY(w, []int{0, 2}, []float64{}) }, mat.ErrShape},
		{"int32", func(w io.Writer) error { return WriteNPY(w, []int{1, 2}, []int32{1, 2}) }, ErrDType},
		{"truncated", func(w io.Writer) error {
			var b bytes.Buffer
			_ = WriteNPY(&b, []int{1, 2}, []float64{1, 2})
			_, err := w.Write(b.Bytes()[:b.Len()-1])
			return err
		}, io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, tc.file(&buf))
			m, err := ReadMatrix(&buf)
			assert.ErrorIs(t, err, tc.is)
			assert.Nil(t, m)
		})
	}
	_, err := ReadMatrix(strings.NewReader(""))
	assert.Equal(t, io.EOF, err)
}

func FuzzReadNPY(f *testing.F) {
	var b bytes.Buffer
	_ = WriteNPY(&b, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	f.Add(b.Bytes())
	b.Reset()
	_ = WriteNPY(&b, []int{}, []float64{1})
	f.Add(b.Bytes())
	b.Reset()
	_ = WriteNPY(&b, []int{3}, []int32{1, 2, 3})
	f.Add(b.Bytes())
	f.Add([]byte(npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", f32x2)))
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRoundTrip[float32](t, in)
		fuzzRoundTrip[float64](t, in)
		fuzzRoundTrip[int32](t, in)
		fuzzRoundTrip[int64](t, in)
		if m, err := ReadMatrix(bytes.NewReader(in)); err == nil {
			r, c := m.Dims()
			require.Positive(t, r)
			require.Positive(t, c)
		}
	})
}

// fuzzRoundTrip checks that what ReadNPY accepts, it writes back and reads
// again to the same shape and bits.
func fuzzRoundTrip[T Elem](t *testing.T, in []byte) {
	shape, data, err := ReadNPY[T](bytes.NewReader(in))
	if err != nil {
		return
	}
	var buf bytes.Buffer
	require.NoError(t, WriteNPY(&buf, shape, data))
	shape2, data2, err := ReadNPY[T](&buf)
	require.NoError(t, err)
	require.Equal(t, shape, shape2)
	require.Equal(t, len(data), len(data2))
	for i := range data {
		require.Equal(t, bitsOf(data[i]), bitsOf(data2[i]))
	}
}

func bitsOf[T Elem](v T) uint64 {
	switch x := any(v).(type) {
	case float32:
		return uint64(math.Float32bits(x))
	case float64:
		return math.Float64bits(x)
	}
	return uint64(int64(v))
}

// ReadHeader stops at the first element: the bytes after it are the data,
// in C order, whatever the header's length.
func TestReadHeader(t *testing.T) {
	long := make([]int, 32) // a header longer than one 64-byte block
	for i := range long {
		long[i] = 1
	}
	long[31] = 3
	for _, shape := range [][]int{{3}, {2, 3}, {1, 2, 3}, long} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(i) + 0.5
		}
		var b bytes.Buffer
		require.NoError(t, WriteNPY(&b, shape, data))
		r := bytes.NewReader(b.Bytes())
		dt, got, err := ReadHeader(r)
		require.NoError(t, err)
		assert.Equal(t, Float32, dt)
		assert.Equal(t, shape, got)
		start := b.Len() - r.Len()
		assert.Zero(t, start%64, "the data starts aligned, at %d", start)
		assert.Equal(t, 4*n, r.Len(), "the data follows the header")
		assert.Equal(t, math.Float32bits(2.5), binary.LittleEndian.Uint32(b.Bytes()[start+8:]))
	}
	_, _, err := ReadHeader(bytes.NewReader([]byte("\x93NUMPY\x09\x00")))
	assert.ErrorIs(t, err, ErrFormat)
}
