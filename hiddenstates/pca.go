package hiddenstates

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// ErrPCA is wrapped by the error of PCA for data holding a NaN or an
// infinity, and returned by it if the singular value decomposition fails.
var ErrPCA = errors.New("hiddenstates: principal components analysis failed")

// PCA projects the rows of x, [n, d] (n points, such as pooled embeddings, of
// d dimensions), onto their first k principal components and returns the
// new [n, k] matrix of scores: column j holds each point's coordinate along
// the j-th direction of greatest variance, in decreasing order of variance.
// The data are centred but not scaled; the scores have mean zero.
//
// A principal direction is defined only up to its sign; PCA makes the
// element of largest magnitude of each direction positive (the first such
// element on ties), so that the same data always give the same picture.
//
// The analysis is gonum's stat.PC: a thin SVD of the centred n×d data. x is
// not modified and the result shares no memory with it.
//
// PCA panics with mat.ErrZeroLength if k is 0 and mat.ErrNegativeDimension if
// k is negative. Since n depends on the data, asking for more components
// than there are, k > min(n, d), is an error; so is a NaN or an infinity in
// x (wrapping ErrPCA).
func PCA(x mat.Matrix, k int) (*mat.Dense, error) {
	if k < 0 {
		panic(mat.ErrNegativeDimension)
	}
	if k == 0 {
		panic(mat.ErrZeroLength)
	}
	n, d := x.Dims()
	if k > min(n, d) {
		return nil, fmt.Errorf("hiddenstates: PCA of %d points in %d dimensions has %d components, not %d", n, d, min(n, d), k)
	}
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			if v := x.At(i, j); math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: element (%d, %d) is %v", ErrPCA, i, j, v)
			}
		}
	}
	var pc stat.PC
	if !pc.PrincipalComponents(x, nil) {
		return nil, ErrPCA
	}
	var vecs mat.Dense
	pc.VectorsTo(&vecs)
	dirs := mat.DenseCopyOf(vecs.Slice(0, d, 0, k))
	for j := 0; j < k; j++ {
		best := 0.0
		for i := 0; i < d; i++ {
			if v := dirs.At(i, j); math.Abs(v) > math.Abs(best) {
				best = v
			}
		}
		if best < 0 {
			for i := 0; i < d; i++ {
				dirs.Set(i, j, -dirs.At(i, j))
			}
		}
	}

	centred := mat.DenseCopyOf(x)
	col := make([]float64, n)
	for j := 0; j < d; j++ {
		mat.Col(col, j, centred)
		mean := stat.Mean(col, nil)
		for i := range col {
			col[i] -= mean
		}
		centred.SetCol(j, col)
	}
	var scores mat.Dense
	scores.Mul(centred, dirs)
	return &scores, nil
}
