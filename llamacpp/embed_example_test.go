package llamacpp_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gonum.org/v1/gonum/mat"

	"github.com/locallm/locallm/hiddenstates"
	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/tinyllama"
	"github.com/locallm/locallm/llm"
)

// An embedding model (here a tiny BERT with mean pooling, written with the
// bert-bge vocabulary from the shared test data) gives its own pooled
// embedding; a generative llama declares no pooling, and its hidden states
// are pooled instead.
func ExampleLLM_Embed() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tinybert.gguf")
	vocab := filepath.Join(sharedDir, "vocab", "ggml-vocab-bert-bge.gguf")
	if err := tinyllama.WriteBERT(path, tinyllama.BERTConfig{Vocab: vocab, Pooling: "mean"}); err != nil {
		panic(err)
	}

	ctx := context.Background()
	l, err := llamacpp.Open(ctx, llamacpp.Options{ModelPath: path})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	inputs := []llm.Input{llm.Prompt("a cat sat on the mat"), llm.Prompt("a dog lay on the rug")}
	embs, err := l.Embed(ctx, inputs)
	if err != nil {
		panic(err)
	}
	m := mat.NewDense(len(embs), len(embs[0]), nil)
	for i, e := range embs {
		for j, x := range e {
			m.Set(i, j, float64(x))
		}
	}
	fmt.Println(len(embs), "embeddings of", len(embs[0]))

	// The same as mean-pooling the last hidden states.
	hs, err := l.LastHiddenStates(ctx, inputs)
	if err != nil {
		panic(err)
	}
	pooled := hiddenstates.PoolBatch([]*mat.Dense{hs[0].States[0], hs[1].States[0]}, nil, hiddenstates.Mean)
	fmt.Println("equal to pooled hidden states:", mat.EqualApprox(m, pooled, 1e-5))

	// llama.cpp does not normalise; compare directions.
	hiddenstates.Normalize(m)
	fmt.Printf("cosine similarity: %.2f\n", hiddenstates.CosineSimilarity(m, m).At(0, 1))

	llama, cleanup := exampleModel()
	defer cleanup()
	g, err := llamacpp.Open(ctx, llamacpp.Options{ModelPath: llama})
	if err != nil {
		panic(err)
	}
	defer g.Close()
	_, err = g.Embed(ctx, inputs)
	fmt.Println("llama:", errors.Is(err, llamacpp.ErrNoPooling))
	// Output:
	// 2 embeddings of 64
	// equal to pooled hidden states: true
	// cosine similarity: 0.95
	// llama: true
}
