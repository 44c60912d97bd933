package main

import (
	"context"
	"encoding/json"
	"flag"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/llama"
)

func init() {
	register(&command{
		name:    "info",
		summary: "Print a model's metadata as JSON (architecture, sizes, special tokens, chat template, GGUF keys).\nWith -devices, list the compute devices instead.",
		usage:   "[-devices] [MODEL]",
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			devices := fs.Bool("devices", false, "list compute devices (name, free and total memory)")
			backendDir := fs.String("backend-dir", "", "directory of ggml GPU backends (default $"+llamacpp.BackendDirEnv+")")
			return func(ctx context.Context, args []string) error {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				if *devices {
					if *backendDir != "" {
						if _, err := llamacpp.LoadBackends(*backendDir); err != nil {
							return err
						}
					}
					return enc.Encode(map[string]any{"devices": llamacpp.Devices(), "system_info": llamacpp.SystemInfo()})
				}
				if len(args) != 1 {
					return usageError("want one MODEL argument")
				}
				m, err := llama.LoadModel(ctx, args[0], &llama.ModelParams{VocabOnly: false, BackendDir: *backendDir})
				if err != nil {
					return err
				}
				defer m.Close()
				return enc.Encode(m.Info())
			}
		},
	})
}
