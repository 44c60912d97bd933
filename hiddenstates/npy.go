package hiddenstates

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// The .npy format is NumPy's, as documented in numpy.lib.format (NEP 1):
//
//	"\x93NUMPY", major and minor version bytes,
//	the header length: 2 bytes little-endian in version 1.0, 4 bytes in 2.0 and 3.0,
//	the header: a Python dict literal with the keys 'descr', 'fortran_order'
//	and 'shape', padded with spaces and ended by '\n' so that the data start
//	at a multiple of 64 bytes,
//	the elements in C (row-major) order.

// DType is the element type of a .npy array. Every DType is little-endian.
type DType int

const (
	Float32 DType = iota + 1 // float32, descr '<f4'
	Float64                  // float64, descr '<f8'
	Int32                    // int32, descr '<i4'
	Int64                    // int64, descr '<i8'
)

var dtypes = [...]struct {
	name, descr string
	size        int
}{
	Float32: {"float32", "<f4", 4},
	Float64: {"float64", "<f8", 8},
	Int32:   {"int32", "<i4", 4},
	Int64:   {"int64", "<i8", 8},
}

func (t DType) valid() bool { return t > 0 && int(t) < len(dtypes) }

// String returns NumPy's name for t, such as "float32".
func (t DType) String() string {
	if !t.valid() {
		return fmt.Sprintf("DType(%d)", int(t))
	}
	return dtypes[t].name
}

// Descr returns t's descriptor in a .npy header, such as "<f4", or "" if t
// is invalid.
func (t DType) Descr() string {
	if !t.valid() {
		return ""
	}
	return dtypes[t].descr
}

// Size returns the size of one element in bytes, or 0 if t is invalid.
func (t DType) Size() int {
	if !t.valid() {
		return 0
	}
	return dtypes[t].size
}

// Elem is the set of Go element types that WriteNPY and ReadNPY accept. Each
// maps to the DType of its underlying type: float32 to Float32, float64 to
// Float64, int32 to Int32 and int64 to Int64.
type Elem interface {
	~float32 | ~float64 | ~int32 | ~int64
}

// DTypeOf returns the DType that stores elements of type T.
func DTypeOf[T Elem]() DType {
	switch reflect.TypeFor[T]().Kind() {
	case reflect.Float32:
		return Float32
	case reflect.Float64:
		return Float64
	case reflect.Int32:
		return Int32
	default: // reflect.Int64 is all Elem leaves.
		return Int64
	}
}

var (
	// ErrFormat is wrapped by the errors of ReadNPY and ReadMatrix for input
	// that is not a well-formed .npy array: a bad magic string or version, a
	// header that is not the dict the format prescribes, or data shorter
	// than the header says.
	ErrFormat = errors.New("hiddenstates: malformed .npy")
	// ErrDType is wrapped by the errors of ReadNPY and ReadMatrix for an
	// array whose dtype is not the one asked for or is not supported (only
	// '<f4', '<f8', '<i4' and '<i8' are). NewEncoder and WriteMatrix panic
	// with it when given a DType that is not Float32 or Float64.
	ErrDType = errors.New("hiddenstates: wrong or unsupported .npy dtype")
)

const (
	npyMagic = "\x93NUMPY"
	// npyAlign is the multiple of bytes at which NumPy starts the data.
	npyAlign = 64
	// growthAxisMaxDigits is NumPy's GROWTH_AXIS_MAX_DIGITS: numpy.save pads
	// the header with 21 spaces less the digits of the first dimension, so
	// that the array can grow along it without moving the data. We pad
	// likewise, so that our files are byte for byte those numpy.save writes.
	growthAxisMaxDigits = 21
	// maxHeaderLen bounds the header ReadNPY accepts, so that a corrupt
	// length cannot make it allocate gigabytes. It is far above any real
	// header (numpy's own default bound is 10000 bytes).
	maxHeaderLen = 1 << 20
	// chunkSize is the size of the buffers through which data is encoded
	// and decoded, a multiple of every DType's size.
	chunkSize = 1 << 16
)

// numElems returns the product of shape, and false if a dimension is
// negative or the product of the elements' byte size overflows an int.
func numElems(shape []int, size int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d == 0 {
			n = 0
			continue
		}
		if n > math.MaxInt/d/size {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// mustElems is numElems for a shape given by the program: a negative
// dimension or a product that cannot be the length of a slice is a
// programmer error.
func mustElems(shape []int, size int) int {
	for _, d := range shape {
		if d < 0 {
			panic(mat.ErrNegativeDimension)
		}
	}
	n, ok := numElems(shape, size)
	if !ok {
		panic(mat.ErrShape)
	}
	return n
}

// appendHeader appends the .npy preamble for a C-order array of the given
// dtype and shape, exactly as numpy.save writes it: version 1.0 unless the
// header needs more than 65535 bytes, then 2.0.
func appendHeader(dst []byte, dt DType, shape []int) []byte {
	var b strings.Builder
	b.WriteString("{'descr': '")
	b.WriteString(dt.Descr())
	b.WriteString("', 'fortran_order': False, 'shape': (")
	for i, d := range shape {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		b.WriteByte(',') // Python's one-element tuple: (3,)
	}
	b.WriteString("), }")
	if len(shape) > 0 {
		b.WriteString(strings.Repeat(" ", max(0, growthAxisMaxDigits-len(strconv.Itoa(shape[0])))))
	}
	dict := b.String()

	hlen := len(dict) + 1 // and the newline
	lenSize := 2
	// NumPy's padding: 64 - x%64 spaces, a whole 64 when x is aligned.
	pad := npyAlign - (len(npyMagic)+2+lenSize+hlen)%npyAlign
	if hlen+pad > math.MaxUint16 {
		lenSize = 4
		pad = npyAlign - (len(npyMagic)+2+lenSize+hlen)%npyAlign
	}
	dst = append(dst, npyMagic...)
	if lenSize == 2 {
		dst = append(dst, 1, 0)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(hlen+pad))
	} else {
		dst = append(dst, 2, 0)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(hlen+pad))
	}
	dst = append(dst, dict...)
	for range pad {
		dst = append(dst, ' ')
	}
	return append(dst, '\n')
}

// encode writes v to w as elements of dt, little-endian, through *buf.
func encode[T Elem](w io.Writer, buf *[]byte, dt DType, v []T) error {
	if len(v) == 0 {
		return nil
	}
	if *buf == nil {
		*buf = make([]byte, min(chunkSize, len(v)*dt.Size()))
	}
	per := len(*buf) / dt.Size()
	le := binary.LittleEndian
	for len(v) > 0 {
		n := min(len(v), per)
		b := (*buf)[:n*dt.Size()]
		switch dt {
		case Float32:
			for i, x := range v[:n] {
				le.PutUint32(b[4*i:], math.Float32bits(float32(x)))
			}
		case Float64:
			for i, x := range v[:n] {
				le.PutUint64(b[8*i:], math.Float64bits(float64(x)))
			}
		case Int32:
			for i, x := range v[:n] {
				le.PutUint32(b[4*i:], uint32(int32(x)))
			}
		case Int64:
			for i, x := range v[:n] {
				le.PutUint64(b[8*i:], uint64(int64(x)))
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		v = v[n:]
	}
	return nil
}

// WriteNPY writes data to w as one .npy array of the given shape, in C
// (row-major) order: the last index varies fastest. The dtype follows T (see
// Elem), so []float32 hidden states become '<f4' and []int32 token IDs
// '<i4'. An empty shape writes a 0-d array of one element. The file is byte
// for byte what numpy.save writes for the same array. WriteNPY does not
// retain data; any error is w's.
//
// WriteNPY panics with mat.ErrNegativeDimension if a dimension is negative
// and with mat.ErrShape if len(data) is not the product of shape.
func WriteNPY[T Elem](w io.Writer, shape []int, data []T) error {
	dt := DTypeOf[T]()
	if mustElems(shape, dt.Size()) != len(data) {
		panic(mat.ErrShape)
	}
	if _, err := w.Write(appendHeader(nil, dt, shape)); err != nil {
		return err
	}
	var buf []byte
	return encode(w, &buf, dt, data)
}

// WriteMatrix writes m to w as a 2-D .npy array of shape [rows, cols] and
// the given dtype, Float32 or Float64; Float32 rounds each element to the
// nearest float32. It panics with ErrDType for another dtype.
func WriteMatrix(w io.Writer, m mat.Matrix, dtype DType) error {
	r, c := m.Dims()
	e, err := NewEncoder(w, dtype, []int{r, c})
	if err != nil {
		return err
	}
	if err := e.WriteMatrix(m); err != nil {
		return err
	}
	return e.Close()
}

// An Encoder writes one .npy array whose shape is known before its data,
// which come in pieces in C order: for example the [layers, tokens, hidden]
// hidden states of one input, one [tokens, hidden] matrix per layer, without
// first copying them into one slice. It converts float64 elements to the
// Encoder's dtype. An Encoder is not safe for concurrent use.
type Encoder struct {
	w        io.Writer
	dtype    DType
	n, total int
	buf      []byte
	row      []float64
	err      error
}

var errClosed = errors.New("hiddenstates: write to a closed .npy Encoder")

// NewEncoder writes the header of a .npy array of the given dtype and shape
// to w and returns an Encoder for its elements. The dtype must be Float32 or
// Float64; NewEncoder panics with ErrDType otherwise, with
// mat.ErrNegativeDimension for a negative dimension and with mat.ErrShape if
// the array could not fit in memory.
func NewEncoder(w io.Writer, dtype DType, shape []int) (*Encoder, error) {
	if dtype != Float32 && dtype != Float64 {
		panic(ErrDType)
	}
	e := &Encoder{w: w, dtype: dtype, total: mustElems(shape, dtype.Size())}
	if _, err := w.Write(appendHeader(nil, dtype, shape)); err != nil {
		return nil, err
	}
	return e, nil
}

// Len returns the number of elements written so far.
func (e *Encoder) Len() int { return e.n }

// check returns the Encoder's sticky error and panics with mat.ErrShape if
// n more elements would overflow the shape.
func (e *Encoder) check(n int) error {
	if e.err != nil {
		return e.err
	}
	if n > e.total-e.n {
		panic(mat.ErrShape)
	}
	return nil
}

// WriteFloat64s writes v as the next len(v) elements. It panics with
// mat.ErrShape if that is more than the shape has left.
func (e *Encoder) WriteFloat64s(v []float64) error {
	if err := e.check(len(v)); err != nil {
		return err
	}
	e.err = encode(e.w, &e.buf, e.dtype, v)
	e.n += len(v)
	return e.err
}

// WriteFloat32s writes v as the next len(v) elements. It panics with
// mat.ErrShape if that is more than the shape has left.
func (e *Encoder) WriteFloat32s(v []float32) error {
	if err := e.check(len(v)); err != nil {
		return err
	}
	e.err = encode(e.w, &e.buf, e.dtype, v)
	e.n += len(v)
	return e.err
}

// WriteMatrix writes the elements of m, row after row, as the next
// rows×cols elements. It panics with mat.ErrShape if that is more than the
// shape has left.
func (e *Encoder) WriteMatrix(m mat.Matrix) error {
	r, c := m.Dims()
	if err := e.check(r * c); err != nil {
		return err
	}
	_, raw := m.(mat.RawRowViewer)
	if !raw && len(e.row) != c {
		e.row = make([]float64, c)
	}
	for i := 0; i < r; i++ {
		if err := e.WriteFloat64s(row(e.row, m, i)); err != nil {
			return err
		}
	}
	return nil
}

// Close checks that every element of the shape was written; it does not
// close the underlying writer. A short array is an error wrapping
// io.ErrShortWrite. Close returns the first write error, if any; writes
// after Close return an error.
func (e *Encoder) Close() error {
	if e.err == errClosed {
		return nil
	}
	err := e.err
	if err == nil && e.n < e.total {
		err = fmt.Errorf("hiddenstates: .npy closed after %d of its %d elements: %w", e.n, e.total, io.ErrShortWrite)
	}
	e.err = errClosed
	return err
}

// ReadNPY reads one .npy array of dtype DTypeOf[T]() from r and returns its
// shape and its elements in C order. It reads exactly the array and no
// further, so arrays written one after another can be read one after
// another; at the end of the input it returns io.EOF. It accepts format
// versions 1.0, 2.0 and 3.0 and checks the header strictly: a malformed
// file gives an error wrapping ErrFormat, an array of another dtype one
// wrapping ErrDType, and one in Fortran order one wrapping
// errors.ErrUnsupported. After an error, r's position is unspecified.
// The returned slices are new.
func ReadNPY[T Elem](r io.Reader) (shape []int, data []T, err error) {
	dt, shape, n, err := readHeader(r)
	if err != nil {
		return nil, nil, err
	}
	if want := DTypeOf[T](); dt != want {
		return nil, nil, fmt.Errorf("%w: the .npy holds %v, not %v", ErrDType, dt, want)
	}
	data, err = readData[T](r, dt, n)
	if err != nil {
		return nil, nil, err
	}
	return shape, data, nil
}

// ReadHeader reads the header of one .npy array from r, checked as ReadNPY
// checks it, and returns its dtype and shape, leaving r at the first
// element: a caller that knows how far r has read can then find any
// element of a file without reading the others.
func ReadHeader(r io.Reader) (DType, []int, error) {
	dt, shape, _, err := readHeader(r)
	return dt, shape, err
}

// ReadMatrix reads a 2-D .npy array of dtype float32 or float64 from r, as
// ReadNPY does, into a new matrix. An array that is not 2-D or has a zero
// dimension gives an error wrapping mat.ErrShape.
func ReadMatrix(r io.Reader) (*mat.Dense, error) {
	dt, shape, n, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	if dt != Float32 && dt != Float64 {
		return nil, fmt.Errorf("%w: the .npy holds %v, not float32 or float64", ErrDType, dt)
	}
	if len(shape) != 2 || shape[0] == 0 || shape[1] == 0 {
		return nil, fmt.Errorf("hiddenstates: a .npy array of shape %v is not a matrix: %w", shape, mat.ErrShape)
	}
	data, err := readData[float64](r, dt, n)
	if err != nil {
		return nil, err
	}
	return mat.NewDense(shape[0], shape[1], data), nil
}

func formatError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
}

// unexpected turns the io.EOF of a read that should have found data into
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readHeader reads the preamble of a .npy array and returns its dtype, shape
// and number of elements.
func readHeader(r io.Reader) (DType, []int, int, error) {
	var pre [len(npyMagic) + 2]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		if err == io.EOF {
			return 0, nil, 0, io.EOF
		}
		return 0, nil, 0, formatError("magic: %w", err)
	}
	if string(pre[:len(npyMagic)]) != npyMagic {
		return 0, nil, 0, formatError("bad magic string %q", pre[:len(npyMagic)])
	}
	major, minor := pre[len(npyMagic)], pre[len(npyMagic)+1]
	var hlen int
	switch {
	case major == 1 && minor == 0:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, 0, formatError("header length: %w", unexpected(err))
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case (major == 2 || major == 3) && minor == 0:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, nil, 0, formatError("header length: %w", unexpected(err))
		}
		n := binary.LittleEndian.Uint32(b[:])
		if n > maxHeaderLen {
			return 0, nil, 0, formatError("header length %d over the limit of %d", n, maxHeaderLen)
		}
		hlen = int(n)
	default:
		return 0, nil, 0, formatError("unsupported version %d.%d (want 1.0, 2.0 or 3.0)", major, minor)
	}
	h := make([]byte, hlen)
	if _, err := io.ReadFull(r, h); err != nil {
		return 0, nil, 0, formatError("header: %w", unexpected(err))
	}
	dt, shape, err := parseHeader(string(h))
	if err != nil {
		return 0, nil, 0, err
	}
	n, ok := numElems(shape, dt.Size())
	if !ok {
		return 0, nil, 0, formatError("shape %v too large", shape)
	}
	return dt, shape, n, nil
}

// parseHeader parses the header dict, strictly: a Python dict literal with
// exactly the keys 'descr', 'fortran_order' and 'shape', in any order,
// followed by spaces and a newline. Only printable ASCII is allowed.
func parseHeader(h string) (DType, []int, error) {
	if !strings.HasSuffix(h, "\n") {
		return 0, nil, formatError("header does not end in a newline")
	}
	for i := 0; i < len(h)-1; i++ {
		if c := h[i]; c < ' ' || c > '~' {
			return 0, nil, formatError("header byte %d is %q, not printable ASCII", i, c)
		}
	}
	p := headerParser{s: h[:len(h)-1]}
	var (
		descr   string
		fortran bool
		shape   []int
		seen    = map[string]bool{}
	)
	if !p.eat('{') {
		return 0, nil, p.errorf("want '{'")
	}
	for !p.eat('}') {
		key, err := p.str()
		if err != nil {
			return 0, nil, err
		}
		if seen[key] {
			return 0, nil, p.errorf("duplicate key %q", key)
		}
		seen[key] = true
		if !p.eat(':') {
			return 0, nil, p.errorf("want ':' after %q", key)
		}
		switch key {
		case "descr":
			descr, err = p.str()
		case "fortran_order":
			fortran, err = p.bool()
		case "shape":
			shape, err = p.tuple()
		default:
			err = p.errorf("unexpected key %q", key)
		}
		if err != nil {
			return 0, nil, err
		}
		if !p.eat(',') {
			if !p.eat('}') {
				return 0, nil, p.errorf("want ',' or '}'")
			}
			break
		}
	}
	p.space()
	if p.i != len(p.s) {
		return 0, nil, p.errorf("unexpected text after the dict")
	}
	for _, k := range [...]string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return 0, nil, formatError("header lacks the key %q", k)
		}
	}
	if fortran {
		return 0, nil, fmt.Errorf("hiddenstates: .npy in Fortran order: %w", errors.ErrUnsupported)
	}
	for t := Float32; t.valid(); t++ {
		if descr == t.Descr() {
			return t, shape, nil
		}
	}
	return 0, nil, fmt.Errorf("%w: descr %q (want '<f4', '<f8', '<i4' or '<i8')", ErrDType, descr)
}

// headerParser reads the subset of Python literal syntax a .npy header uses.
type headerParser struct {
	s string
	i int
}

func (p *headerParser) errorf(format string, args ...any) error {
	return formatError("header at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *headerParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// eat skips spaces and then c, reporting whether c was there.
func (p *headerParser) eat(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string literal in single or double quotes without escapes.
func (p *headerParser) str() (string, error) {
	p.space()
	if p.i == len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", p.errorf("want a string")
	}
	q := p.s[p.i]
	j := strings.IndexByte(p.s[p.i+1:], q)
	if j < 0 {
		return "", p.errorf("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+j]
	if strings.IndexByte(v, '\\') >= 0 {
		return "", p.errorf("escape in string")
	}
	p.i += j + 2
	return v, nil
}

// bool reads True or False.
func (p *headerParser) bool() (bool, error) {
	p.space()
	for _, w := range [...]struct {
		word string
		v    bool
	}{{"True", true}, {"False", false}} {
		if strings.HasPrefix(p.s[p.i:], w.word) {
			end := p.i + len(w.word)
			if end == len(p.s) || !isIdent(p.s[end]) {
				p.i = end
				return w.v, nil
			}
		}
	}
	return false, p.errorf("want True or False")
}

func isIdent(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// tuple reads a tuple of non-negative decimal integers: (), (3,), (2, 3) or
// (2, 3,). As in Python, (3) is not a tuple.
func (p *headerParser) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, p.errorf("want a tuple")
	}
	shape := []int{}
	if p.eat(')') {
		return shape, nil
	}
	for {
		d, err := p.int()
		if err != nil {
			return nil, err
		}
		shape = append(shape, d)
		if p.eat(',') {
			if p.eat(')') {
				return shape, nil
			}
			continue
		}
		if !p.eat(')') {
			return nil, p.errorf("want ',' or ')' in the shape")
		}
		if len(shape) == 1 {
			return nil, p.errorf("shape (%d) is not a tuple", d)
		}
		return shape, nil
	}
}

// int reads a non-negative decimal integer as Python writes one: no sign, no
// leading zeros, no suffix.
func (p *headerParser) int() (int, error) {
	p.space()
	j := p.i
	for j < len(p.s) && '0' <= p.s[j] && p.s[j] <= '9' {
		j++
	}
	digits := p.s[p.i:j]
	if digits == "" || (len(digits) > 1 && digits[0] == '0') || (j < len(p.s) && isIdent(p.s[j])) {
		return 0, p.errorf("want a dimension")
	}
	d, err := strconv.Atoi(digits)
	if err != nil {
		return 0, p.errorf("dimension %s too large", digits)
	}
	p.i = j
	return d, nil
}

// readData reads n elements of dt from r, converting them to T. It grows
// its result as data arrive, so that a header claiming a huge shape over a
// short input fails before allocating the claimed size.
func readData[T Elem](r io.Reader, dt DType, n int) ([]T, error) {
	size := dt.Size()
	out := make([]T, 0, min(n, 1<<20))
	buf := make([]byte, min(n*size, chunkSize))
	le := binary.LittleEndian
	for len(out) < n {
		k := min(n-len(out), len(buf)/size)
		b := buf[:k*size]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, formatError("data after %d of %d elements: %w", len(out), n, unexpected(err))
		}
		switch dt {
		case Float32:
			for i := range k {
				out = append(out, T(math.Float32frombits(le.Uint32(b[4*i:]))))
			}
		case Float64:
			for i := range k {
				out = append(out, T(math.Float64frombits(le.Uint64(b[8*i:]))))
			}
		case Int32:
			for i := range k {
				out = append(out, T(int32(le.Uint32(b[4*i:]))))
			}
		case Int64:
			for i := range k {
				out = append(out, T(int64(le.Uint64(b[8*i:]))))
			}
		}
	}
	return out, nil
}
