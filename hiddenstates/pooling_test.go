package hiddenstates

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// plain hides every method of a matrix but those of mat.Matrix, so that code
// cannot take its fast paths for *mat.Dense.
type plain struct{ mat.Matrix }

func TestParsePooling(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Pooling
	}{
		{"none", None},
		{"mean", Mean},
		{"first", First},
		{"cls", First},
		{"last", Last},
		{"max", Max},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePooling(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	for _, bad := range []string{"", "Mean", "MEAN", "avg", "mean ", "cls2"} {
		t.Run("bad/"+bad, func(t *testing.T) {
			_, err := ParsePooling(bad)
			assert.ErrorIs(t, err, ErrPooling)
		})
	}
}

func TestPoolingString(t *testing.T) {
	for p := None; p <= Max; p++ {
		q, err := ParsePooling(p.String())
		require.NoError(t, err)
		assert.Equal(t, p, q)
	}
	assert.Equal(t, "Pooling(9)", Pooling(9).String())
	assert.Equal(t, "Pooling(-1)", Pooling(-1).String())
}

func TestPoolingText(t *testing.T) {
	type config struct {
		Pooling Pooling `json:"pooling"`
	}
	b, err := json.Marshal(config{Last})
	require.NoError(t, err)
	assert.JSONEq(t, `{"pooling":"last"}`, string(b))

	var c config
	require.NoError(t, json.Unmarshal([]byte(`{"pooling":"cls"}`), &c))
	assert.Equal(t, First, c.Pooling)
	assert.ErrorIs(t, json.Unmarshal([]byte(`{"pooling":"median"}`), &c), ErrPooling)

	_, err = json.Marshal(config{Pooling(7)})
	assert.ErrorIs(t, err, ErrPooling)
}

func TestPoolByHand(t *testing.T) {
	states := mat.NewDense(3, 2, []float64{
		1, 2,
		3, 4,
		5, -6,
	})
	for _, tc := range []struct {
		name string
		mask []bool
		p    Pooling
		want []float64
	}{
		{"mean/all", nil, Mean, []float64{3, 0}},
		{"first/all", nil, First, []float64{1, 2}},
		{"last/all", nil, Last, []float64{5, -6}},
		{"max/all", nil, Max, []float64{5, 4}},
		{"mean/ends", []bool{true, false, true}, Mean, []float64{3, -2}},
		{"first/ends", []bool{true, false, true}, First, []float64{1, 2}},
		{"last/ends", []bool{true, false, true}, Last, []float64{5, -6}},
		{"max/ends", []bool{true, false, true}, Max, []float64{5, 2}},
		{"mean/head", []bool{true, true, false}, Mean, []float64{2, 3}},
		{"last/head", []bool{true, true, false}, Last, []float64{3, 4}},
		{"max/head", []bool{true, true, false}, Max, []float64{3, 4}},
		{"first/tail", []bool{false, true, true}, First, []float64{3, 4}},
		{"mean/one", []bool{false, true, false}, Mean, []float64{3, 4}},
		{"max/one", []bool{false, false, true}, Max, []float64{5, -6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Pool(nil, states, tc.mask, tc.p))
			assert.Equal(t, tc.want, Pool(nil, plain{states}, tc.mask, tc.p), "through mat.Matrix only")
			dst := []float64{math.NaN(), 42}
			got := Pool(dst, states, tc.mask, tc.p)
			assert.Equal(t, tc.want, dst, "written into dst")
			assert.Same(t, &dst[0], &got[0], "dst returned")
		})
	}
}

func TestPoolMaxNaN(t *testing.T) {
	states := mat.NewDense(3, 2, []float64{
		1, math.NaN(),
		math.NaN(), 0,
		2, -1,
	})
	got := Pool(nil, states, nil, Max)
	assert.True(t, math.IsNaN(got[0]))
	assert.True(t, math.IsNaN(got[1]))
}

// naivePool computes a pooling with plain loops over At, the way the
// definition reads.
func naivePool(m mat.Matrix, mask []bool, p Pooling) []float64 {
	r, c := m.Dims()
	var rows []int
	for i := 0; i < r; i++ {
		if mask == nil || mask[i] {
			rows = append(rows, i)
		}
	}
	out := make([]float64, c)
	for j := 0; j < c; j++ {
		switch p {
		case Mean:
			s := 0.0
			for _, i := range rows {
				s += m.At(i, j)
			}
			out[j] = s / float64(len(rows))
		case First:
			out[j] = m.At(rows[0], j)
		case Last:
			out[j] = m.At(rows[len(rows)-1], j)
		case Max:
			out[j] = math.Inf(-1)
			for _, i := range rows {
				out[j] = math.Max(out[j], m.At(i, j))
			}
		}
	}
	return out
}

func randDense(rnd *rand.Rand, r, c int) *mat.Dense {
	d := make([]float64, r*c)
	for i := range d {
		d[i] = rnd.NormFloat64()
	}
	return mat.NewDense(r, c, d)
}

func randMask(rnd *rand.Rand, n int) []bool {
	m := make([]bool, n)
	for i := range m {
		m[i] = rnd.IntN(3) > 0
	}
	m[rnd.IntN(n)] = true // at least one token
	return m
}

func TestPoolRandom(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 50; trial++ {
		r, c := 1+rnd.IntN(12), 1+rnd.IntN(9)
		states := randDense(rnd, r, c)
		var mask []bool
		if trial%3 != 0 {
			mask = randMask(rnd, r)
		}
		for p := Mean; p <= Max; p++ {
			want := naivePool(states, mask, p)
			assert.InDeltaSlice(t, want, Pool(nil, states, mask, p), 1e-12, "%v trial %d", p, trial)
			assert.InDeltaSlice(t, want, Pool(nil, plain{states}, mask, p), 1e-12, "%v trial %d", p, trial)
			// A view with a stride wider than its columns.
			wide := mat.NewDense(r, c+3, nil)
			view := wide.Slice(0, r, 2, 2+c).(*mat.Dense)
			view.Copy(states)
			assert.InDeltaSlice(t, want, Pool(nil, view, mask, p), 1e-12, "%v view trial %d", p, trial)
		}
	}
}

func TestPoolDoesNotModify(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	states := randDense(rnd, 5, 4)
	orig := mat.DenseCopyOf(states)
	mask := []bool{true, false, true, true, false}
	maskCopy := append([]bool(nil), mask...)
	for p := Mean; p <= Max; p++ {
		v := Pool(nil, states, mask, p)
		v[0] = 1e9 // the result must not alias states
	}
	assert.True(t, mat.Equal(orig, states))
	assert.Equal(t, maskCopy, mask)
}

func TestPoolPanics(t *testing.T) {
	states := mat.NewDense(3, 2, nil)
	assert.PanicsWithValue(t, mat.ErrShape, func() { Pool(nil, states, []bool{true}, Mean) }, "short mask")
	assert.PanicsWithValue(t, mat.ErrShape, func() { Pool(make([]float64, 3), states, nil, Mean) }, "long dst")
	assert.PanicsWithValue(t, ErrPooling, func() { Pool(nil, states, nil, None) })
	assert.PanicsWithValue(t, ErrPooling, func() { Pool(nil, states, nil, Pooling(9)) })
	for p := Mean; p <= Max; p++ {
		assert.PanicsWithValue(t, ErrNoTokens, func() { Pool(nil, states, []bool{false, false, false}, p) }, p.String())
	}
}

func TestPoolBatch(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	states := []*mat.Dense{randDense(rnd, 4, 3), randDense(rnd, 1, 3), randDense(rnd, 7, 3)}
	masks := [][]bool{{true, false, true, true}, nil, randMask(rnd, 7)}
	for p := Mean; p <= Max; p++ {
		got := PoolBatch(states, masks, p)
		r, c := got.Dims()
		require.Equal(t, 3, r)
		require.Equal(t, 3, c)
		for i, s := range states {
			assert.InDeltaSlice(t, naivePool(s, masks[i], p), got.RawRowView(i), 1e-12, "%v input %d", p, i)
		}
		all := PoolBatch(states, nil, p)
		for i, s := range states {
			assert.InDeltaSlice(t, naivePool(s, nil, p), all.RawRowView(i), 1e-12, "%v input %d, no mask", p, i)
		}
	}
	// Any mat.Matrix works, not only *mat.Dense.
	anys := []mat.Matrix{states[0], plain{states[1]}, states[2].T().T()}
	assert.True(t, mat.EqualApprox(PoolBatch(states, nil, Mean), PoolBatch(anys, nil, Mean), 1e-15))
}

func TestPoolBatchPanics(t *testing.T) {
	a, b := mat.NewDense(2, 3, nil), mat.NewDense(2, 4, nil)
	assert.PanicsWithValue(t, mat.ErrShape, func() { PoolBatch([]*mat.Dense{a, b}, nil, Mean) }, "hidden sizes differ")
	assert.PanicsWithValue(t, mat.ErrShape, func() { PoolBatch([]*mat.Dense{a, a}, [][]bool{nil}, Mean) }, "masks short")
	assert.PanicsWithValue(t, mat.ErrZeroLength, func() { PoolBatch([]*mat.Dense{}, nil, Mean) }, "no input")
	assert.PanicsWithValue(t, ErrNoTokens, func() { PoolBatch([]*mat.Dense{a}, [][]bool{{false, false}}, Max) })
}
