package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/locallm/locallm/llamacpp"
)

func quantizeCmd() *cobra.Command {
	var in, out, typ string
	var threads int
	var leaveOutput bool
	types := llamacpp.QuantTypes()
	c := newCommand(&cobra.Command{
		Use:   "quantize --model IN.gguf --output OUT.gguf [--type TYPE] [flags]",
		Short: "Write a quantised copy of a GGUF model with llama.cpp's own quantiser",
		Long: "Write a quantised copy of a GGUF model with llama.cpp's own quantiser.\n" +
			"Types: " + strings.Join(types, ", ") + ".",
	}, func(ctx context.Context, args []string) error {
		if err := checkModelPath(in, "--model"); err != nil {
			return err
		}
		if out == "" {
			return usageError("--output is required: the quantised GGUF file to write")
		}
		if err := checkOutputPath("--output", out); err != nil {
			return err
		}
		err := llamacpp.Quantize(ctx, in, out, llamacpp.QuantizeOptions{Type: typ, Threads: threads, LeaveOutput: leaveOutput})
		if errors.Is(err, llamacpp.ErrBadOption) {
			// A shape of this model that the type cannot hold.
			msg := strings.TrimPrefix(err.Error(), llamacpp.ErrBadOption.Error()+": ")
			return usageError("--type %s: %s", typ, strings.TrimPrefix(msg, "quantize to "+typ+": "))
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %s (%s)\n", out, typ)
		return nil
	})
	fs := c.Flags()
	fs.StringVarP(&in, "model", "m", "", "GGUF model `FILE` to quantise (required)")
	fs.StringVarP(&out, "output", "o", "", "quantised GGUF `FILE` to write (required)")
	stringFlag(fs, &typ, "type", "", "q8_0", "target type", enumRule("type", types...))
	intFlag(fs, &threads, "threads", "t", 0, "threads, 1 to 1024 (default: one per physical core)", ruleThreads)
	fs.BoolVar(&leaveOutput, "leave-output", false, "keep output.weight unquantised")
	c.RegisterFlagCompletionFunc("type", fixedValues(types...))
	return c
}
