package hiddenstates

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

func TestNormalizeByHand(t *testing.T) {
	m := mat.NewDense(5, 2, []float64{
		3, 4,
		0, 0,
		-2, 0,
		3e200, -4e200, // the squares overflow
		3e-320, 4e-320, // subnormal: 1/norm overflows
	})
	Normalize(m)
	want := []float64{
		0.6, 0.8,
		0, 0,
		-1, 0,
		0.6, -0.8,
		0.6, 0.8,
	}
	for i, w := range want {
		tol := 1e-15
		if i >= 8 {
			tol = 1e-3 // subnormals carry few significant bits
		}
		assert.InDelta(t, w, m.RawMatrix().Data[i], tol, "element %d", i)
	}
}

func TestNormalizeRandom(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	x := randDense(rnd, 20, 9)
	got := mat.DenseCopyOf(x)
	Normalize(got)
	for i := 0; i < 20; i++ {
		s := 0.0
		for j := 0; j < 9; j++ {
			s += x.At(i, j) * x.At(i, j)
		}
		n := math.Sqrt(s)
		for j := 0; j < 9; j++ {
			assert.InDelta(t, x.At(i, j)/n, got.At(i, j), 1e-14)
		}
	}
}

func TestNormalizeView(t *testing.T) {
	m := mat.NewDense(2, 3, []float64{
		9, 3, 4,
		9, 0, 2,
	})
	Normalize(m.Slice(0, 2, 1, 3).(*mat.Dense))
	assert.Equal(t, []float64{9, 0.6, 0.8, 9, 0, 1}, m.RawMatrix().Data)
}

// naiveCosine computes a·b/(|a||b|) with plain loops, 0 for a zero vector.
func naiveCosine(a, b mat.Matrix, i, j int) float64 {
	_, c := a.Dims()
	var dot, na, nb float64
	for k := 0; k < c; k++ {
		x, y := a.At(i, k), b.At(j, k)
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na) / math.Sqrt(nb)
}

func TestCosineSimilarityByHand(t *testing.T) {
	a := mat.NewDense(2, 2, []float64{
		1, 0,
		1, 1,
	})
	b := mat.NewDense(3, 2, []float64{
		0, 2,
		-3, 0,
		0, 0,
	})
	got := CosineSimilarity(a, b)
	r := 1 / math.Sqrt2
	want := mat.NewDense(2, 3, []float64{
		0, -1, 0,
		r, -r, 0,
	})
	assert.True(t, mat.EqualApprox(want, got, 1e-15), "got\n%v", mat.Formatted(got))
}

func TestCosineSimilarityRandom(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 10))
	a := randDense(rnd, 6, 5)
	b := randDense(rnd, 4, 5)
	b.SetRow(2, make([]float64, 5))
	a0, b0 := mat.DenseCopyOf(a), mat.DenseCopyOf(b)
	got := CosineSimilarity(a, b.T().T()) // any mat.Matrix
	r, c := got.Dims()
	require.Equal(t, 6, r)
	require.Equal(t, 4, c)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			assert.InDelta(t, naiveCosine(a, b, i, j), got.At(i, j), 1e-14)
		}
	}
	assert.True(t, mat.Equal(a0, a), "a unchanged")
	assert.True(t, mat.Equal(b0, b), "b unchanged")
}

func TestCosineSimilarityClamped(t *testing.T) {
	// Rows that are multiples of one another have similarity ±1, which
	// rounding would otherwise leave just past the bound.
	rnd := rand.New(rand.NewPCG(11, 12))
	v := randDense(rnd, 1, 33).RawRowView(0)
	a := mat.NewDense(40, 33, nil)
	for i := 0; i < 40; i++ {
		s := (rnd.Float64() + 0.1) * 1e3
		if i%2 == 1 {
			s = -s
		}
		for j, x := range v {
			a.Set(i, j, s*x)
		}
	}
	got := CosineSimilarity(a, a)
	for i := 0; i < 40; i++ {
		for j := 0; j < 40; j++ {
			x := got.At(i, j)
			assert.LessOrEqual(t, math.Abs(x), 1.0)
			assert.InDelta(t, 1-2*float64((i+j)%2), x, 1e-14)
		}
	}
}

func TestCosineSimilarityPanics(t *testing.T) {
	assert.PanicsWithValue(t, mat.ErrShape, func() {
		CosineSimilarity(mat.NewDense(2, 3, nil), mat.NewDense(2, 4, nil))
	})
}

func TestSelfSimilarity(t *testing.T) {
	rnd := rand.New(rand.NewPCG(13, 14))
	a := randDense(rnd, 7, 4)
	a.SetRow(3, []float64{0, 0, 0, 0})
	a0 := mat.DenseCopyOf(a)
	got := SelfSimilarity(a)
	require.Equal(t, 7, got.SymmetricDim())
	full := CosineSimilarity(a, a)
	for i := 0; i < 7; i++ {
		for j := 0; j < 7; j++ {
			assert.InDelta(t, naiveCosine(a, a, i, j), got.At(i, j), 1e-14)
			assert.InDelta(t, full.At(i, j), got.At(i, j), 1e-14)
			assert.LessOrEqual(t, math.Abs(got.At(i, j)), 1.0)
		}
		if i == 3 {
			assert.Equal(t, 0.0, got.At(i, i), "zero row")
		} else {
			assert.InDelta(t, 1, got.At(i, i), 1e-15)
		}
	}
	assert.True(t, mat.Equal(a0, a), "a unchanged")
}
