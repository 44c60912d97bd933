package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/locallm/locallm/llamacpp/tinyllama"
)

func testmodelCmd() *cobra.Command {
	var cfg tinyllama.Config
	var output string
	def := tinyllama.Config{}.WithDefaults()
	c := newCommand(&cobra.Command{
		Use:   "testmodel --output FILE [flags]",
		Short: "Write the deterministic tiny llama model the tests and the demo use",
		Long: "Write the deterministic tiny llama model the tests and the demo use.\n\n" +
			"A few layers of seeded random weights, with a self-contained byte-fallback vocabulary or\n" +
			"the tokenizer of a vocab-only GGUF (--vocab). The same flags always give the same bytes.\n" +
			"It loads in llama.cpp and generates (gibberish). Its default shapes quantise to every\n" +
			"type of locallm quantize.",
	}, func(ctx context.Context, args []string) error {
		if output == "" {
			return usageError("--output is required: the GGUF file to write")
		}
		if err := checkOutputPath("--output", output); err != nil {
			return err
		}
		if cfg.Vocab != "" {
			if err := checkInputPath("--vocab", cfg.Vocab); err != nil {
				return err
			}
		}
		if err := cfg.Validate(); err != nil {
			return usageError("%s", configFlagNames(err))
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
	intFlag(fs, &cfg.Layers, "layers", "", def.Layers, "`N` transformer blocks", intRule("layers", 1, tinyllama.MaxLayers))
	intFlag(fs, &cfg.Hidden, "hidden", "", def.Hidden, "hidden size `N`, a multiple of --heads with an even quotient", intRule("hidden", 1, tinyllama.MaxHidden))
	intFlag(fs, &cfg.Heads, "heads", "", def.Heads, "`N` attention heads", intRule("heads", 1, tinyllama.MaxHidden))
	intFlag(fs, &cfg.KVHeads, "kv-heads", "", 0, fmt.Sprintf("`N` key/value heads, dividing --heads (default: half of --heads if even, else --heads: %d)", def.KVHeads), intRule("kv_heads", 1, tinyllama.MaxHidden))
	intFlag(fs, &cfg.FF, "ff", "", def.FF, "feed-forward size `N`; a multiple of 32 quantises to every type", intRule("ff", 1, tinyllama.MaxFF))
	intFlag(fs, &cfg.CtxLen, "ctx", "", def.CtxLen, "training context length `N` written in the metadata", intRule("ctx", 1, tinyllama.MaxCtxLen))
	fs.Int64Var(&cfg.Seed, "seed", def.Seed, "weight `SEED` (0 means 1)")
	stringFlag(fs, &cfg.Type, "type", "", def.Type, "weight `TYPE`: f32, f16 or q8_0", enumRule("type", "f32", "f16", "q8_0"))
	c.RegisterFlagCompletionFunc("type", fixedValues("f32", "f16", "q8_0"))
	c.RegisterFlagCompletionFunc("vocab", fileExts("gguf"))
	return c
}

// configFields are tinyllama.Config's field names as its errors spell
// them, and their flags.
var configFields = regexp.MustCompile(`\b(Layers|Hidden|Heads|KVHeads|FF|CtxLen|Type)\b`)

// configFlagNames rewrites a tinyllama.Config error in terms of the flags.
func configFlagNames(err error) string {
	msg := strings.TrimPrefix(err.Error(), tinyllama.ErrConfig.Error()+": ")
	return configFields.ReplaceAllStringFunc(msg, func(f string) string {
		return map[string]string{"Layers": "--layers", "Hidden": "--hidden", "Heads": "--heads",
			"KVHeads": "--kv-heads", "FF": "--ff", "CtxLen": "--ctx", "Type": "--type"}[f]
	})
}
