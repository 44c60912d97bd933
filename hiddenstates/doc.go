// Package hiddenstates turns the hidden states of a language model into what
// users want from them: pooled embeddings, normalised vectors, similarity
// matrices, a 2-D PCA picture, and .npy files for NumPy. It is pure Go on
// gonum; it neither uses cgo nor knows where the states come from.
//
// # Shapes
//
// The hidden states of one input are a [tokens, hidden] mat.Matrix, one row
// per token in token order, as the llamacpp binding returns them. Pool
// reduces them to one [hidden] vector; PoolBatch pools many inputs into the
// rows of an [inputs, hidden] matrix. Normalize, CosineSimilarity,
// SelfSimilarity and PCA take such matrices of row vectors; PlotPCA draws
// the [n, 2] scores of PCA as a labelled scatter plot (gonum.org/v1/plot).
// A mask, where one is taken, has one entry per token and selects the tokens
// that take part, as an attention mask does; a nil mask selects every token.
//
// .npy files hold arrays of any rank in C (row-major) order: WriteNPY writes
// a slice of float32, float64, int32 or int64 with a shape, such as the
// [layers, tokens, hidden] float32 array of locallm hidden or the int32
// token IDs beside it; WriteMatrix writes a matrix; an Encoder writes an
// array piece by piece; ReadNPY and ReadMatrix read them back. The files are
// byte for byte those numpy.save writes for the same arrays, and
// numpy.load reads them.
//
// # Memory
//
// No result shares memory with an input, except where a function writes into
// a destination it is given: Pool's dst, and Normalize's matrix, which it
// changes in place. Each function documents this.
//
// # Concurrency
//
// The package has no global state. Functions may run concurrently as long as
// no goroutine writes a matrix that another reads; reading the same matrix
// from many goroutines is safe. An Encoder is for one goroutine.
//
// # Panics and errors
//
// As in gonum, calls the program could not have meant panic: shapes that do
// not fit (mat.ErrShape), a negative dimension (mat.ErrNegativeDimension),
// pooling with None (ErrPooling), or a mask that selects no token
// (ErrNoTokens). What comes from data is an error: a malformed .npy file
// (ErrFormat), an unexpected dtype (ErrDType), an unknown pooling name
// (ErrPooling), or more principal components than the data have.
package hiddenstates
