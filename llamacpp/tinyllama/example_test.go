package tinyllama_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/locallm/locallm/llamacpp/gguf"
	"github.com/locallm/locallm/llamacpp/tinyllama"
)

// Write the default tiny model (2 layers, hidden size 64, 4 heads sharing 2
// key/value heads, built-in vocabulary) and look at what it holds.
func ExampleWrite() {
	dir, err := os.MkdirTemp("", "tinyllama")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tiny.gguf")

	if err := tinyllama.Write(path, tinyllama.Config{}); err != nil {
		log.Fatal(err)
	}

	f, err := gguf.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	layers, _ := f.Uint("llama.block_count")
	tokens, _ := f.Strings("tokenizer.ggml.tokens")
	q, _ := f.Tensor("blk.0.attn_q.weight")
	k, _ := f.Tensor("blk.0.attn_k.weight")
	fmt.Println("layers:", layers)
	fmt.Println("tensors:", len(f.Tensors))
	fmt.Println("vocabulary:", len(tokens), tokens[:3])
	fmt.Println("attn_q:", q.Dims, q.Type, "attn_k:", k.Dims)
	// Output:
	// layers: 2
	// tensors: 21
	// vocabulary: 2215 [<unk> <s> </s>]
	// attn_q: [64 64] f32 attn_k: [64 32]
}
