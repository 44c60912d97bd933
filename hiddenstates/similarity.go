package hiddenstates

import (
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Normalize scales each row of m in place to unit Euclidean (L2) norm. A row
// of zeros has no direction and is left as zeros; a row holding a NaN or an
// infinity comes out holding NaNs. Views made by Slice are normalised in place too, so
// the rows of the matrix they view change.
func Normalize(m *mat.Dense) {
	r, _ := m.Dims()
	for i := 0; i < r; i++ {
		x := m.RawRowView(i)
		// floats.Norm scales as it sums, so neither very large nor very
		// small rows overflow or underflow.
		n := floats.Norm(x, 2)
		if n == 0 {
			continue
		}
		// Divide rather than multiply by 1/n: 1/n overflows for subnormal n.
		for j := range x {
			x[j] /= n
		}
	}
}

// CosineSimilarity returns the [na, nb] matrix of cosine similarities between
// the rows of a, [na, d], and the rows of b, [nb, d]: element (i, j) is
// a_i·b_j / (|a_i| |b_j|). A zero row has similarity 0 with every row.
// Rounding can take a dot product of unit vectors slightly past ±1, so the
// result is clamped to [-1, 1].
//
// a and b may be the same matrix; neither is modified and the result shares
// no memory with them. CosineSimilarity panics with mat.ErrShape if a and b
// differ in number of columns.
func CosineSimilarity(a, b mat.Matrix) *mat.Dense {
	_, ca := a.Dims()
	_, cb := b.Dims()
	if ca != cb {
		panic(mat.ErrShape)
	}
	an := mat.DenseCopyOf(a)
	Normalize(an)
	bn := mat.DenseCopyOf(b)
	Normalize(bn)
	var s mat.Dense
	s.Mul(an, bn.T())
	r, _ := s.Dims()
	for i := 0; i < r; i++ {
		clamp(s.RawRowView(i))
	}
	return &s
}

// SelfSimilarity returns the symmetric [n, n] matrix of cosine similarities
// between the rows of a, [n, d], as CosineSimilarity(a, a) would but with
// half the work. The diagonal is 1 up to rounding for nonzero rows and 0 for
// zero rows. a is not modified and the result shares no memory with it.
func SelfSimilarity(a mat.Matrix) *mat.SymDense {
	an := mat.DenseCopyOf(a)
	Normalize(an)
	var s mat.SymDense
	s.SymOuterK(1, an)
	n := s.SymmetricDim()
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			v := s.At(i, j)
			if v > 1 {
				s.SetSym(i, j, 1)
			} else if v < -1 {
				s.SetSym(i, j, -1)
			}
		}
	}
	return &s
}

func clamp(x []float64) {
	for i, v := range x {
		if v > 1 {
			x[i] = 1
		} else if v < -1 {
			x[i] = -1
		}
	}
}
