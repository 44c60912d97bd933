package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/locallm/locallm/llamacpp/tinyllama"
)

func testmodelCmd() *cobra.Command {
	var cfg tinyllama.Config
	var output string
	c := newCommand(&cobra.Command{
		Use:   "testmodel --output FILE [flags]",
		Short: "Write the deterministic tiny llama model the tests and the demo use",
		Long: "Write the deterministic tiny llama model the tests and the demo use.\n\n" +
			"A few layers of seeded random weights, with a self-contained byte-fallback vocabulary or\n" +
			"the tokenizer of a vocab-only GGUF (--vocab). The same flags always give the same bytes.\n" +
			"It loads in llama.cpp and generates (gibberish).",
	}, func(ctx context.Context, args []string) error {
		if output == "" {
			return usageError("--output is required")
		}
		if err := tinyllama.Write(output, cfg); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s\n", output)
		return nil
	})
	fs := c.Flags()
	fs.StringVarP(&output, "output", "o", "", "GGUF `FILE` to write (required)")
	fs.StringVar(&cfg.Vocab, "vocab", "", "vocab-only GGUF `FILE` whose tokenizer to copy (default: built-in)")
	fs.IntVar(&cfg.Layers, "layers", 0, "transformer blocks (default 2)")
	fs.IntVar(&cfg.Hidden, "hidden", 0, "hidden size (default 64)")
	fs.IntVar(&cfg.Heads, "heads", 0, "attention heads (default 4)")
	fs.IntVar(&cfg.KVHeads, "kv-heads", 0, "key/value heads (default 2)")
	fs.IntVar(&cfg.FF, "ff", 0, "feed-forward size (default: see tinyllama.Config)")
	fs.IntVar(&cfg.CtxLen, "ctx", 0, "training context length written in the metadata")
	fs.Int64Var(&cfg.Seed, "seed", 0, "weight seed (default 1)")
	fs.StringVar(&cfg.Type, "type", "", "weight type: f32 (default), f16 or q8_0")
	return c
}
