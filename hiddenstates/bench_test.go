package hiddenstates

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// BenchmarkEncoder streams the [layers, tokens, hidden] float32 states of
// one long input, as locallm hidden writes them.
func BenchmarkEncoder(b *testing.B) {
	const layers, tokens, hidden = 4, 512, 1024
	rnd := rand.New(rand.NewPCG(1, 2))
	ls := make([]*mat.Dense, layers)
	for i := range ls {
		ls[i] = randDense(rnd, tokens, hidden)
	}
	b.SetBytes(layers * tokens * hidden * 4)
	for b.Loop() {
		e, err := NewEncoder(io.Discard, Float32, []int{layers, tokens, hidden})
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range ls {
			if err := e.WriteMatrix(l); err != nil {
				b.Fatal(err)
			}
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadNPY(b *testing.B) {
	data := make([]float32, 512*1024)
	var buf bytes.Buffer
	if err := WriteNPY(&buf, []int{512, 1024}, data); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data) * 4))
	for b.Loop() {
		if _, _, err := ReadNPY[float32](bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPoolMean(b *testing.B) {
	states := randDense(rand.New(rand.NewPCG(3, 4)), 128, 4096)
	dst := make([]float64, 4096)
	for b.Loop() {
		Pool(dst, states, nil, Mean)
	}
}
