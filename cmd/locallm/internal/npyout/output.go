package npyout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/locallm/locallm/cmd/locallm/internal/job"
	"github.com/locallm/locallm/hiddenstates"
)

// Output is a finished output, open for reading one row at a time.
type Output struct {
	Kind Kind
	path string

	npy     *os.File // the states
	dataOff int64
	tok     *os.File // hidden: the token ids
	tokOff  int64
	offsets []int64 // hidden: row i is tokens offsets[i]:offsets[i+1]
	ids     []json.RawMessage
	keys    []string
	layers  int
	hidden  int
	total   int // hidden: tokens in all
}

var _ rows = (*Output)(nil)

// OpenOutput opens the finished output out (its .npy path), of either
// kind: hidden if OUT.offsets.npy is there. It checks that the files agree
// with each other; an output whose part log is still there has not
// finished, and is an error.
func OpenOutput(out string) (*Output, error) {
	if exists(PartPath(out)) {
		return nil, fmt.Errorf("%s has not finished: its rows are in %s; run it again to resume it", out, PartPath(out))
	}
	return openOutput(out)
}

// openOutput is OpenOutput without the check for a part log.
func openOutput(out string) (o *Output, err error) {
	if !exists(out) {
		return nil, fmt.Errorf("%s: %w", out, errNoOutput)
	}
	o = &Output{Kind: Embed, path: out}
	if exists(SidePath(out, ".offsets.npy")) {
		o.Kind = Hidden
	}
	defer func() {
		if err != nil {
			o.Close()
			o = nil
		}
	}()
	if err := o.readIDs(); err != nil {
		return nil, err
	}
	f, shape, off, err := openNPY(out, hiddenstates.Float32)
	if err != nil {
		return nil, err
	}
	o.npy, o.dataOff = f, off
	n := len(o.ids)
	if o.Kind == Embed {
		if len(shape) != 2 || shape[0] != n {
			return nil, fmt.Errorf("%s: shape %v, but %s has %d ids", out, shape, SidePath(out, ".ids.json"), n)
		}
		o.layers, o.hidden = 1, shape[1]
		return o, nil
	}
	if len(shape) != 3 {
		return nil, fmt.Errorf("%s: shape %v, not [layers, tokens, hidden]", out, shape)
	}
	o.layers, o.total, o.hidden = shape[0], shape[1], shape[2]
	of, err := os.Open(SidePath(out, ".offsets.npy"))
	if err != nil {
		return nil, err
	}
	_, o.offsets, err = hiddenstates.ReadNPY[int64](of)
	of.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SidePath(out, ".offsets.npy"), err)
	}
	if len(o.offsets) != n+1 || o.offsets[0] != 0 || o.offsets[n] != int64(o.total) {
		return nil, fmt.Errorf("%s: %d offsets from %v to %v, for %d ids and %d tokens", SidePath(out, ".offsets.npy"), len(o.offsets), first(o.offsets), last(o.offsets), n, o.total)
	}
	for i := range n {
		if o.offsets[i+1] < o.offsets[i] {
			return nil, fmt.Errorf("%s: offsets decrease at row %d", SidePath(out, ".offsets.npy"), i)
		}
	}
	tf, tshape, toff, err := openNPY(SidePath(out, ".tokens.npy"), hiddenstates.Int32)
	if err != nil {
		return nil, err
	}
	o.tok, o.tokOff = tf, toff
	if len(tshape) != 1 || tshape[0] != o.total {
		return nil, fmt.Errorf("%s: shape %v, not [%d]", SidePath(out, ".tokens.npy"), tshape, o.total)
	}
	return o, nil
}

func first(v []int64) any {
	if len(v) == 0 {
		return "none"
	}
	return v[0]
}

func last(v []int64) any {
	if len(v) == 0 {
		return "none"
	}
	return v[len(v)-1]
}

func (o *Output) readIDs() error {
	path := SidePath(o.path, ".ids.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &o.ids); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for i, id := range o.ids {
		var b bytes.Buffer
		json.Compact(&b, id)
		o.ids[i] = b.Bytes()
		k, err := job.IDKey(id)
		if err != nil {
			return fmt.Errorf("%s: row %d: %w", path, i, err)
		}
		o.keys = append(o.keys, k)
	}
	return nil
}

// openNPY opens a .npy file of dtype dt and returns it with its shape and
// the offset of its data, having checked that the file holds all of it.
func openNPY(path string, dt hiddenstates.DType) (*os.File, []int, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, err
	}
	cr := &countingReader{r: f}
	got, shape, err := hiddenstates.ReadHeader(cr)
	if err == nil && got != dt {
		err = fmt.Errorf("holds %v, not %v", got, dt)
	}
	if err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	n := int64(dt.Size())
	for _, d := range shape {
		n *= int64(d)
	}
	st, err := f.Stat()
	if err == nil && st.Size() < cr.n+n {
		err = fmt.Errorf("%s: %d bytes of data, not %d", path, st.Size()-cr.n, n)
	}
	if err != nil {
		f.Close()
		return nil, nil, 0, err
	}
	return f, shape, cr.n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Close closes the files.
func (o *Output) Close() error {
	var errs []error
	for _, f := range []*os.File{o.npy, o.tok} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	o.npy, o.tok = nil, nil
	return errors.Join(errs...)
}

// Len is the number of rows.
func (o *Output) Len() int { return len(o.ids) }

// Key is row i's id key.
func (o *Output) Key(i int) string { return o.keys[i] }

// Ref is row i, for Write.
func (o *Output) Ref(i int) Ref { return Ref{set: o, i: i} }

// Dims are the layers (1 for embed) and the hidden size.
func (o *Output) Dims() (layers, hidden int) { return o.layers, o.hidden }

func (o *Output) len() int                 { return len(o.ids) }
func (o *Output) id(i int) json.RawMessage { return o.ids[i] }
func (o *Output) key(i int) string         { return o.keys[i] }
func (o *Output) dims() (int, int)         { return o.layers, o.hidden }

func (o *Output) tokens(i int) ([]int32, error) {
	if o.Kind != Hidden {
		return nil, nil
	}
	return readInt32s(o.tok, o.tokOff+4*o.offsets[i], int(o.offsets[i+1]-o.offsets[i]))
}

func (o *Output) layer(i, k int, dst []float32) ([]float32, error) {
	if o.Kind != Hidden {
		return readFloat32s(o.npy, o.dataOff+4*int64(i*o.hidden), o.hidden, dst)
	}
	start := (int64(k)*int64(o.total) + o.offsets[i]) * int64(o.hidden)
	return readFloat32s(o.npy, o.dataOff+4*start, int(o.offsets[i+1]-o.offsets[i])*o.hidden, dst)
}

// Write writes an output of kind from refs, in order (see the package
// documentation for the files); an output without rows has the shape
// given by layers and hidden.
func Write(kind Kind, out string, refs []Ref, layers, hidden int) error {
	return write(kind, out, refs, layers, hidden)
}
