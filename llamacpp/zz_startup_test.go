package llamacpp_test

import (
	"context"
	"testing"
	"time"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llm"
)

func TestZZStartup(t *testing.T) {
	path := "../.models/bench-134m-q8_0.gguf"
	for _, th := range []int{2, 4, 4, 2} {
		t0 := time.Now()
		l, err := llamacpp.Open(context.Background(), llamacpp.Options{ModelPath: path, Context: llamacpp.ContextOptions{Threads: th}})
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		out, err := l.Generate(context.Background(), []llm.Input{llm.Prompt("Hello there")}, 1, llm.GenerationParams{MaxNewTokens: 1})
		t2 := time.Now()
		l.Close()
		t.Logf("threads %d: open %v generate %v (%v)", th, t1.Sub(t0), t2.Sub(t1), out[0].Statistics)
		// binding only
		m, _ := llama.LoadModel(context.Background(), path, nil)
		t3 := time.Now()
		c, _ := m.NewContext(&llama.ContextParams{ContextSize: 256, Threads: th, Sequences: 16})
		t4 := time.Now()
		b, _ := llama.NewBatch(256, 1)
		toks, _ := m.Tokenize("Hello there", true, true)
		for p, tk := range toks {
			b.Add(tk, p, []int32{0}, p == len(toks)-1)
		}
		c.Decode(context.Background(), b)
		t5 := time.Now()
		t.Logf("  binding: context %v decode %v", t4.Sub(t3), t5.Sub(t4))
		b.Close()
		c.Close()
		m.Close()
	}
}
