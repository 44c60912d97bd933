package llama_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llamacpp/tinyllama"
)

// Example decodes a prompt and picks the next token greedily: the loop
// that package engine runs for many sequences at once.
func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tiny.gguf")
	if err := tinyllama.Write(path, tinyllama.Config{}); err != nil {
		panic(err)
	}

	ctx := context.Background()
	m, err := llama.LoadModel(ctx, path, nil)
	if err != nil {
		panic(err)
	}
	defer m.Close()
	c, err := m.NewContext(&llama.ContextParams{ContextSize: 256, Sequences: 1})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	tokens, err := m.Tokenize("Once upon a time", true, false)
	if err != nil {
		panic(err)
	}
	b, err := llama.NewBatch(len(tokens), 1)
	if err != nil {
		panic(err)
	}
	defer b.Close()
	seq := []int32{0}
	for i, t := range tokens {
		if _, err := b.Add(t, i, seq, i == len(tokens)-1); err != nil {
			panic(err)
		}
	}
	if err := c.Decode(ctx, b); err != nil {
		panic(err)
	}
	logits, err := c.Logits(len(tokens)-1, nil)
	if err != nil {
		panic(err)
	}
	next := int32(slices.Index(logits, slices.Max(logits)))
	fmt.Println(len(logits) == m.VocabSize(), next >= 0 && int(next) < m.VocabSize())
	// Output: true true
}
