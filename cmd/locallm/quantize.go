package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/locallm/locallm/llamacpp"
)

func init() {
	register(&command{
		name:    "quantize",
		summary: "Write a quantised copy of a GGUF model with llama.cpp's own quantiser.\nTypes: " + strings.Join(llamacpp.QuantTypes(), ", ") + ".",
		usage:   "-type TYPE IN.gguf OUT.gguf",
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			typ := fs.String("type", "q8_0", "target type")
			threads := fs.Int("threads", 0, "threads (default: physical cores)")
			leaveOutput := fs.Bool("leave-output", false, "keep output.weight unquantised")
			return func(ctx context.Context, args []string) error {
				if len(args) != 2 {
					return usageError("want IN.gguf OUT.gguf")
				}
				if err := llamacpp.Quantize(ctx, args[0], args[1], llamacpp.QuantizeOptions{Type: *typ, Threads: *threads, LeaveOutput: *leaveOutput}); err != nil {
					return err
				}
				fmt.Fprintf(stderr, "wrote %s (%s)\n", args[1], *typ)
				return nil
			}
		},
	})
}
