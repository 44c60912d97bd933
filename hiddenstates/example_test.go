package hiddenstates_test

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"gonum.org/v1/gonum/mat"

	"github.com/locallm/locallm/hiddenstates"
)

func ExampleParsePooling() {
	// As a command-line flag: Pooling is an encoding.TextUnmarshaler.
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	var p hiddenstates.Pooling
	fs.TextVar(&p, "pooling", hiddenstates.Mean, "none, mean, first (cls), last or max")
	if err := fs.Parse([]string{"-pooling", "cls"}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(p)

	_, err := hiddenstates.ParsePooling("median")
	fmt.Println(err)
	// Output:
	// first
	// hiddenstates: invalid pooling "median": want none, mean, first (or cls), last or max
}

func ExamplePool() {
	// The hidden states of one input: 4 tokens, hidden size 3. The last
	// token is padding, left out by the mask.
	states := mat.NewDense(4, 3, []float64{
		1, 0, 2,
		3, 4, -2,
		2, 2, 0,
		9, 9, 9,
	})
	mask := []bool{true, true, true, false}
	for _, p := range []hiddenstates.Pooling{hiddenstates.Mean, hiddenstates.First, hiddenstates.Last, hiddenstates.Max} {
		fmt.Printf("%-5v %v\n", p, hiddenstates.Pool(nil, states, mask, p))
	}
	fmt.Println("all  ", hiddenstates.Pool(nil, states, nil, hiddenstates.Mean))
	// Output:
	// mean  [2 2 0]
	// first [1 0 2]
	// last  [2 2 0]
	// max   [3 4 2]
	// all   [3.75 3.75 2.25]
}

func ExamplePoolBatch() {
	// Two inputs of different lengths, as the binding returns them.
	states := []*mat.Dense{
		mat.NewDense(2, 2, []float64{1, 2, 3, 4}),
		mat.NewDense(3, 2, []float64{0, 1, 0, 1, 3, 1}),
	}
	emb := hiddenstates.PoolBatch(states, nil, hiddenstates.Mean)
	fmt.Printf("%v\n", mat.Formatted(emb))
	// Output:
	// ⎡2  3⎤
	// ⎣1  1⎦
}

func ExampleNormalize() {
	emb := mat.NewDense(3, 2, []float64{
		3, 4,
		0, 0,
		0, -2,
	})
	hiddenstates.Normalize(emb)
	fmt.Printf("%v\n", mat.Formatted(emb))
	// Output:
	// ⎡0.6  0.8⎤
	// ⎢  0    0⎥
	// ⎣  0   -1⎦
}

func ExampleCosineSimilarity() {
	queries := mat.NewDense(2, 2, []float64{
		1, 0,
		1, 1,
	})
	docs := mat.NewDense(3, 2, []float64{
		2, 0,
		0, 5,
		-1, -1,
	})
	sim := hiddenstates.CosineSimilarity(queries, docs)
	fmt.Printf("%.3f\n", mat.Formatted(sim))
	// Output:
	// ⎡ 1.000   0.000  -0.707⎤
	// ⎣ 0.707   0.707  -1.000⎦
}

func ExampleSelfSimilarity() {
	emb := mat.NewDense(3, 2, []float64{
		1, 0,
		0, 1,
		1, 1,
	})
	sim := hiddenstates.SelfSimilarity(emb)
	fmt.Printf("%.3f\n", mat.Formatted(sim))
	// Output:
	// ⎡1.000  0.000  0.707⎤
	// ⎢0.000  1.000  0.707⎥
	// ⎣0.707  0.707  1.000⎦
}

func ExampleWriteNPY() {
	// The [layers, tokens, hidden] hidden states of one input as float32,
	// and its token IDs as int32 beside them. In Python:
	// np.load("states.npy").shape == (2, 3, 2).
	states := []float32{
		0, 1, 2, 3, 4, 5, // layer 0: 3 tokens of 2
		6, 7, 8, 9, 10, 11, // layer 1
	}
	var statesFile, tokensFile bytes.Buffer // os.Create("states.npy") etc.
	if err := hiddenstates.WriteNPY(&statesFile, []int{2, 3, 2}, states); err != nil {
		log.Fatal(err)
	}
	if err := hiddenstates.WriteNPY(&tokensFile, []int{3}, []int32{1, 15043, 3186}); err != nil {
		log.Fatal(err)
	}
	header, _, _ := bytes.Cut(statesFile.Bytes(), []byte("}"))
	fmt.Printf("%q\n", header[10:])
	fmt.Println(statesFile.Len(), "bytes: 128 of header,", 12*4, "of data")
	// Output:
	// "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 2), "
	// 176 bytes: 128 of header, 48 of data
}

func ExampleWriteMatrix() {
	emb := mat.NewDense(2, 3, []float64{
		0.5, 1, 2,
		-1, 0, 0.25,
	})
	var f bytes.Buffer
	if err := hiddenstates.WriteMatrix(&f, emb, hiddenstates.Float32); err != nil {
		log.Fatal(err)
	}
	back, err := hiddenstates.ReadMatrix(&f)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%v\n", mat.Formatted(back))
	// Output:
	// ⎡ 0.5     1     2⎤
	// ⎣  -1     0  0.25⎦
}

func ExampleEncoder() {
	// Stream [layers, tokens, hidden] hidden states to a .npy file one
	// layer at a time, converting to float32 on the way, without first
	// copying them into one slice.
	layers := []*mat.Dense{
		mat.NewDense(2, 3, []float64{1, 2, 3, 4, 5, 6}),
		mat.NewDense(2, 3, []float64{7, 8, 9, 10, 11, 12}),
	}
	var f bytes.Buffer
	enc, err := hiddenstates.NewEncoder(&f, hiddenstates.Float32, []int{len(layers), 2, 3})
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range layers {
		if err := enc.WriteMatrix(l); err != nil {
			log.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil { // checks that the shape is full
		log.Fatal(err)
	}

	shape, data, err := hiddenstates.ReadNPY[float32](&f)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(shape, data)
	// Output:
	// [2 2 3] [1 2 3 4 5 6 7 8 9 10 11 12]
}

func ExampleReadNPY() {
	var f bytes.Buffer
	if err := hiddenstates.WriteNPY(&f, []int{2, 2}, []int32{1, 2, 3, 4}); err != nil {
		log.Fatal(err)
	}
	file := f.Bytes()

	shape, ids, err := hiddenstates.ReadNPY[int32](bytes.NewReader(file))
	fmt.Println(shape, ids, err)

	// The dtype must be the one asked for.
	_, _, err = hiddenstates.ReadNPY[float32](bytes.NewReader(file))
	fmt.Println(err)

	// A damaged header is an error, never a panic.
	file[20] = '!'
	_, _, err = hiddenstates.ReadNPY[int32](bytes.NewReader(file))
	fmt.Println(err)
	// Output:
	// [2 2] [1 2 3 4] <nil>
	// hiddenstates: wrong or unsupported .npy dtype: the .npy holds int32, not float32
	// hiddenstates: malformed .npy: header at byte 10: want a string
}

func ExampleReadMatrix() {
	var f bytes.Buffer
	if err := hiddenstates.WriteNPY(&f, []int{2, 2}, []float32{1, 2, 3, 4}); err != nil {
		log.Fatal(err)
	}
	m, err := hiddenstates.ReadMatrix(&f)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%v\n", mat.Formatted(m))
	// Output:
	// ⎡1  2⎤
	// ⎣3  4⎦
}

func ExampleDTypeOf() {
	type Token int32
	fmt.Println(hiddenstates.DTypeOf[float32](), hiddenstates.DTypeOf[Token]().Descr())
	// Output:
	// float32 <i4
}

func ExamplePCA() {
	// Four embeddings on the line through the origin along (1, 2, 2)/3, at
	// distances 0, 3, 6 and 9: their scores on the first component are those
	// distances less their mean. For a scatter plot, take k = 2.
	emb := mat.NewDense(4, 3, []float64{
		0, 0, 0,
		1, 2, 2,
		2, 4, 4,
		3, 6, 6,
	})
	scores, err := hiddenstates.PCA(emb, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.2f\n", mat.Formatted(scores.T()))

	_, err = hiddenstates.PCA(emb, 4)
	fmt.Println(err)
	// Output:
	// [-4.50  -1.50   1.50   4.50]
	// hiddenstates: PCA of 4 points in 3 dimensions has 3 components, not 4
}

func ExamplePlotPCA() {
	emb := mat.NewDense(6, 4, []float64{
		1, 0, 0, 0.1,
		0.9, 0.1, 0, 0,
		0, 1, 0.1, 0,
		0.1, 0.9, 0, 0,
		0, 0, 1, 0.1,
		0, 0.1, 0.9, 0,
	})
	xy, err := hiddenstates.PCA(emb, 2)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "pca")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "pca.png")
	labels := []string{"fruit", "fruit", "tools", "tools", "songs", "songs"}
	if err := hiddenstates.PlotPCA(path, xy, labels); err != nil {
		log.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", b[1:4])
	// Output:
	// "PNG"
}
