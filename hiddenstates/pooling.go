package hiddenstates

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Pooling says how Pool reduces the rows of a [tokens, hidden] matrix of
// hidden states to one [hidden] vector. The zero value is None.
//
// The values are this package's own, not those of llama.cpp's
// llama_pooling_type; convert between the two by name.
type Pooling int

const (
	// None keeps one vector per token: there is nothing to pool. Pool panics
	// when given None; it exists so that a flag or a model's metadata can
	// say "no pooling".
	None Pooling = iota
	// Mean is the mean of the tokens selected by the mask.
	Mean
	// First is the first selected token: the CLS token of BERT-style models.
	First
	// Last is the last selected token, as decoder-only embedding models use.
	Last
	// Max is the elementwise maximum over the selected tokens.
	Max
)

var poolingNames = [...]string{
	None:  "none",
	Mean:  "mean",
	First: "first",
	Last:  "last",
	Max:   "max",
}

// String returns the name ParsePooling accepts: "none", "mean", "first",
// "last" or "max". An invalid Pooling prints as "Pooling(n)".
func (p Pooling) String() string {
	if p < 0 || int(p) >= len(poolingNames) {
		return fmt.Sprintf("Pooling(%d)", int(p))
	}
	return poolingNames[p]
}

// ParsePooling returns the Pooling named s: "none", "mean", "first" (or its
// alias "cls"), "last" or "max". Names are lower case, as String writes
// them. An unknown name gives an error that wraps ErrPooling.
func ParsePooling(s string) (Pooling, error) {
	if s == "cls" {
		return First, nil
	}
	for p, name := range poolingNames {
		if s == name {
			return Pooling(p), nil
		}
	}
	return None, fmt.Errorf("%w %q: want none, mean, first (or cls), last or max", ErrPooling, s)
}

// MarshalText implements encoding.TextMarshaler, so that a Pooling reads and
// writes as its name in JSON, YAML and flag.TextVar. An invalid Pooling is
// an error.
func (p Pooling) MarshalText() ([]byte, error) {
	if p < 0 || int(p) >= len(poolingNames) {
		return nil, fmt.Errorf("%w %d", ErrPooling, int(p))
	}
	return []byte(poolingNames[p]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParsePooling.
func (p *Pooling) UnmarshalText(text []byte) error {
	q, err := ParsePooling(string(text))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

var (
	// ErrPooling is the error for a Pooling that is unknown, or that Pool
	// cannot apply (None). Pool panics with it; ParsePooling returns errors
	// that wrap it.
	ErrPooling = errors.New("hiddenstates: invalid pooling")
	// ErrNoTokens is the panic value of Pool when the mask selects no token:
	// the pooled vector would be undefined.
	ErrNoTokens = errors.New("hiddenstates: mask selects no token")
)

// Pool reduces states, a [tokens, hidden] matrix with one row per token in
// token order, to one vector of length hidden according to p, and returns it.
//
// The mask selects the tokens that take part, as an attention mask does:
// token i takes part when mask[i] is true. A nil mask selects every token.
// Mean averages the selected rows, First and Last take the first and last
// selected row, and Max takes the elementwise maximum over the selected rows
// (a NaN in a column makes that column's maximum NaN).
//
// If dst is nil, a new slice is allocated; otherwise the result is written
// into dst, which must have length hidden and must not share memory with
// states. The result never shares memory with states.
//
// Pool panics with mat.ErrShape if mask is not nil and len(mask) is not the
// number of rows of states, or if dst is not nil and len(dst) is not the
// number of columns; with ErrPooling if p is None or invalid; and with
// ErrNoTokens if the mask selects no token.
func Pool(dst []float64, states mat.Matrix, mask []bool, p Pooling) []float64 {
	r, c := states.Dims()
	if mask != nil && len(mask) != r {
		panic(mat.ErrShape)
	}
	if dst == nil {
		dst = make([]float64, c)
	} else if len(dst) != c {
		panic(mat.ErrShape)
	}
	switch p {
	case Mean, First, Last, Max:
	default:
		panic(ErrPooling)
	}

	selected := func(i int) bool { return mask == nil || mask[i] }
	var buf []float64
	if _, ok := states.(mat.RawRowViewer); !ok {
		buf = make([]float64, c)
	}

	switch p {
	case First:
		for i := 0; i < r; i++ {
			if selected(i) {
				copy(dst, row(buf, states, i))
				return dst
			}
		}
	case Last:
		for i := r - 1; i >= 0; i-- {
			if selected(i) {
				copy(dst, row(buf, states, i))
				return dst
			}
		}
	case Mean:
		clear(dst)
		n := 0
		for i := 0; i < r; i++ {
			if !selected(i) {
				continue
			}
			for j, v := range row(buf, states, i) {
				dst[j] += v
			}
			n++
		}
		if n > 0 {
			for j := range dst {
				dst[j] /= float64(n)
			}
			return dst
		}
	case Max:
		n := 0
		for i := 0; i < r; i++ {
			if !selected(i) {
				continue
			}
			x := row(buf, states, i)
			if n == 0 {
				copy(dst, x)
			} else {
				for j, v := range x {
					// Written so that a NaN, once in dst or in v, stays.
					if v > dst[j] || math.IsNaN(v) {
						dst[j] = v
					}
				}
			}
			n++
		}
		if n > 0 {
			return dst
		}
	}
	panic(ErrNoTokens)
}

// row returns row i of m: a view into m when m offers one, and otherwise a
// copy in buf.
func row(buf []float64, m mat.Matrix, i int) []float64 {
	if rv, ok := m.(mat.RawRowViewer); ok {
		return rv.RawRowView(i)
	}
	return mat.Row(buf, i, m)
}

// PoolBatch pools each of states with Pool and returns the results as the
// rows of a new [len(states), hidden] matrix, row i holding input i.
//
// A nil masks selects every token of every input; otherwise masks[i] is the
// mask of states[i], and a nil masks[i] selects every token of that input.
// The result shares no memory with states.
//
// PoolBatch panics as Pool does, with mat.ErrShape if masks is not nil and
// len(masks) is not len(states) or if the inputs differ in hidden size, and
// with mat.ErrZeroLength if states is empty.
func PoolBatch[M mat.Matrix](states []M, masks [][]bool, p Pooling) *mat.Dense {
	if masks != nil && len(masks) != len(states) {
		panic(mat.ErrShape)
	}
	if len(states) == 0 {
		panic(mat.ErrZeroLength)
	}
	_, c := states[0].Dims()
	dst := mat.NewDense(len(states), c, nil)
	for i, s := range states {
		if _, ci := s.Dims(); ci != c {
			panic(mat.ErrShape)
		}
		var mask []bool
		if masks != nil {
			mask = masks[i]
		}
		Pool(dst.RawRowView(i), s, mask, p)
	}
	return dst
}
