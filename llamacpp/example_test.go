package llamacpp_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llamacpp/tinyllama"
	"github.com/locallm/locallm/llm"
)

// exampleModel writes the tiny test model to a temporary file.
func exampleModel() (string, func()) {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	path := filepath.Join(dir, "tiny.gguf")
	if err := tinyllama.Write(path, tinyllama.Config{}); err != nil {
		panic(err)
	}
	return path, func() { os.RemoveAll(dir) }
}

func ExampleOpen() {
	path, cleanup := exampleModel()
	defer cleanup()

	ctx := context.Background()
	l, err := llamacpp.Open(ctx, llamacpp.Options{ModelPath: path})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	outs, err := l.Generate(ctx, []llm.Input{
		llm.Prompt("Once upon a time"),
		llm.Chat(llm.Message{Role: "user", Content: "Hello"}),
	}, 3, llm.GenerationParams{MaxNewTokens: 8, Temperature: 0.8, IgnoreEOS: true})
	if err != nil {
		panic(err)
	}
	for _, out := range outs {
		fmt.Println(len(out.Generations), out.Statistics.OutputTokens, out.FinishReasons[0])
	}
	// Output:
	// 3 [8 8 8] length
	// 3 [8 8 8] length
}

func ExampleLLM_HiddenStates() {
	path, cleanup := exampleModel()
	defer cleanup()
	ctx := context.Background()
	l, err := llamacpp.Open(ctx, llamacpp.Options{ModelPath: path})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	hs, err := l.HiddenStates(ctx, []llm.Input{llm.Prompt("hidden states")}, []int{0, -1})
	if err != nil {
		panic(err)
	}
	for i, m := range hs[0].States {
		r, c := m.Dims()
		fmt.Printf("layer %d: %d tokens x %d\n", hs[0].Layers[i], r, c)
	}
	// Output:
	// layer 0: 7 tokens x 64
	// layer 2: 7 tokens x 64
}

func ExampleModel_Tokenize() {
	path, cleanup := exampleModel()
	defer cleanup()
	m, err := llama.LoadModel(context.Background(), path, nil)
	if err != nil {
		panic(err)
	}
	defer m.Close()
	toks, err := m.Tokenize("hello world", true, false)
	if err != nil {
		panic(err)
	}
	text, err := m.Detokenize(toks, true, false)
	if err != nil {
		panic(err)
	}
	// SentencePiece vocabularies prefix the text with a space.
	fmt.Printf("%d tokens, %q\n", len(toks), text)
	// Output:
	// 3 tokens, " hello world"
}

func ExampleLoadModel_error() {
	_, err := llama.LoadModel(context.Background(), "no-such-model.gguf", nil)
	fmt.Println(err)
	// Output:
	// llamacpp: cannot load model: model file no-such-model.gguf does not exist
}
