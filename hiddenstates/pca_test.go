package hiddenstates

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

func TestPCALine(t *testing.T) {
	// Points c + t·u on the line through c along the unit vector u. The
	// first component is u itself (its largest element, 2/3, is positive
	// already), so the scores are t less the mean of t.
	u := []float64{1.0 / 3, 2.0 / 3, -2.0 / 3}
	c := []float64{5, -1, 2}
	rnd := rand.New(rand.NewPCG(21, 22))
	const n = 30
	ts := make([]float64, n)
	x := mat.NewDense(n, 3, nil)
	mean := 0.0
	for i := range ts {
		ts[i] = 10 * rnd.NormFloat64()
		mean += ts[i] / n
		for j := range u {
			x.Set(i, j, c[j]+ts[i]*u[j])
		}
	}
	x0 := mat.DenseCopyOf(x)

	scores, err := PCA(x, 1)
	require.NoError(t, err)
	r, k := scores.Dims()
	require.Equal(t, n, r)
	require.Equal(t, 1, k)
	for i := range ts {
		assert.InDelta(t, ts[i]-mean, scores.At(i, 0), 1e-10)
	}
	assert.True(t, mat.Equal(x0, x), "x unchanged")

	// The line has no extent in the other directions.
	scores, err = PCA(x, 3)
	require.NoError(t, err)
	for i := range ts {
		assert.InDelta(t, ts[i]-mean, scores.At(i, 0), 1e-10)
		assert.InDelta(t, 0, scores.At(i, 1), 1e-10)
		assert.InDelta(t, 0, scores.At(i, 2), 1e-10)
	}
}

// TestPCAVariance checks PCA against the eigendecomposition of the
// covariance matrix computed with plain loops: the score variances are its
// eigenvalues in decreasing order, the scores are uncorrelated, and with all
// components the projection is a rotation that keeps every distance.
func TestPCAVariance(t *testing.T) {
	rnd := rand.New(rand.NewPCG(23, 24))
	const n, d = 200, 4
	// Independent columns of standard deviations 10, 3, 1 and 0.3, turned
	// by a random rotation and shifted.
	z := randDense(rnd, n, d)
	for j, s := range []float64{10, 3, 1, 0.3} {
		for i := 0; i < n; i++ {
			z.Set(i, j, s*z.At(i, j))
		}
	}
	var qr mat.QR
	qr.Factorize(randDense(rnd, d, d))
	var q mat.Dense
	qr.QTo(&q)
	var x mat.Dense
	x.Mul(z, q.T())
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			x.Set(i, j, x.At(i, j)+float64(j+1)*100)
		}
	}

	// The covariance with loops, and its eigenvalues.
	means := make([]float64, d)
	for j := range means {
		for i := 0; i < n; i++ {
			means[j] += x.At(i, j) / n
		}
	}
	cov := mat.NewSymDense(d, nil)
	for a := 0; a < d; a++ {
		for b := a; b < d; b++ {
			s := 0.0
			for i := 0; i < n; i++ {
				s += (x.At(i, a) - means[a]) * (x.At(i, b) - means[b])
			}
			cov.SetSym(a, b, s/(n-1))
		}
	}
	var eig mat.EigenSym
	require.True(t, eig.Factorize(cov, false))
	vals := eig.Values(nil)
	sort.Sort(sort.Reverse(sort.Float64Slice(vals)))

	scores, err := PCA(&x, d)
	require.NoError(t, err)
	for a := 0; a < d; a++ {
		m := 0.0
		for i := 0; i < n; i++ {
			m += scores.At(i, a) / n
		}
		assert.InDelta(t, 0, m, 1e-9, "component %d centred", a)
		for b := 0; b < d; b++ {
			s := 0.0
			for i := 0; i < n; i++ {
				s += scores.At(i, a) * scores.At(i, b)
			}
			s /= n - 1
			if a == b {
				assert.InDelta(t, vals[a], s, 1e-9*vals[0], "variance of component %d", a)
			} else {
				assert.InDelta(t, 0, s, 1e-9*vals[0], "covariance of components %d and %d", a, b)
			}
		}
		if a > 0 {
			assert.Greater(t, vals[a-1], vals[a])
		}
	}
	for i := 0; i < n; i++ {
		var dx, ds float64
		for j := 0; j < d; j++ {
			dx += math.Pow(x.At(i, j)-means[j], 2)
			ds += math.Pow(scores.At(i, j), 2)
		}
		assert.InDelta(t, dx, ds, 1e-8*dx, "distance of point %d from the mean", i)
	}

	// Fewer components are the leading columns of all of them.
	two, err := PCA(&x, 2)
	require.NoError(t, err)
	assert.True(t, mat.EqualApprox(scores.Slice(0, n, 0, 2), two, 1e-9))
}

func TestPCASign(t *testing.T) {
	// Negating the data keeps the directions, whose sign PCA fixes, and so
	// negates the scores.
	rnd := rand.New(rand.NewPCG(25, 26))
	x := randDense(rnd, 12, 5)
	var neg mat.Dense
	neg.Scale(-1, x)
	a, err := PCA(x, 3)
	require.NoError(t, err)
	b, err := PCA(&neg, 3)
	require.NoError(t, err)
	var sum mat.Dense
	sum.Add(a, b)
	assert.InDelta(t, 0, mat.Norm(&sum, math.Inf(1)), 1e-10)
}

func TestPCAWide(t *testing.T) {
	// Fewer points than dimensions, as with a few embeddings.
	rnd := rand.New(rand.NewPCG(27, 28))
	x := randDense(rnd, 5, 64)
	scores, err := PCA(x, 2)
	require.NoError(t, err)
	r, c := scores.Dims()
	assert.Equal(t, 5, r)
	assert.Equal(t, 2, c)
	_, err = PCA(x, 6)
	assert.Error(t, err, "5 points have at most 5 components")
	_, err = PCA(x, 5)
	assert.NoError(t, err)

	one, err := PCA(mat.NewDense(1, 3, []float64{1, 2, 3}), 1)
	require.NoError(t, err)
	assert.Equal(t, []float64{0}, one.RawMatrix().Data, "one point sits at its own mean")
}

func TestPCAErrors(t *testing.T) {
	x := mat.NewDense(3, 2, []float64{1, 2, 3, 4, 5, 7})
	_, err := PCA(x, 3)
	assert.Error(t, err, "2 dimensions")
	x.Set(1, 1, math.NaN())
	_, err = PCA(x, 1)
	assert.ErrorIs(t, err, ErrPCA)
	x.Set(1, 1, math.Inf(-1))
	_, err = PCA(x, 1)
	assert.ErrorIs(t, err, ErrPCA)
	assert.PanicsWithValue(t, mat.ErrZeroLength, func() { _, _ = PCA(x, 0) })
	assert.PanicsWithValue(t, mat.ErrNegativeDimension, func() { _, _ = PCA(x, -1) })
}
