package main

import (
	"context"
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/llama"
)

func infoCmd() *cobra.Command {
	var model, backendDir string
	var devices bool
	c := newCommand(&cobra.Command{
		Use:   "info (--model FILE | --devices) [flags]",
		Short: "Print a model's metadata, or the compute devices, as JSON",
		Long: "Print a model's metadata as JSON (architecture, sizes, special tokens, chat template, GGUF keys).\n" +
			"With --devices, list the compute devices instead.",
	}, func(ctx context.Context, args []string) error {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if devices {
			if backendDir != "" {
				if _, err := llamacpp.LoadBackends(backendDir); err != nil {
					return err
				}
			}
			return enc.Encode(map[string]any{"devices": llamacpp.Devices(), "system_info": llamacpp.SystemInfo()})
		}
		if err := checkModelPath(model, "--model"); err != nil {
			return err
		}
		m, err := llama.LoadModel(ctx, model, &llama.ModelParams{BackendDir: backendDir})
		if err != nil {
			return err
		}
		defer m.Close()
		return enc.Encode(m.Info())
	})
	fs := c.Flags()
	fs.StringVarP(&model, "model", "m", "", "GGUF model `FILE`")
	fs.BoolVar(&devices, "devices", false, "list compute devices (name, free and total memory)")
	fs.StringVar(&backendDir, "backend-dir", "", "`DIR`ectory of ggml GPU backends (default $"+llamacpp.BackendDirEnv+")")
	c.RegisterFlagCompletionFunc("model", fileExts("gguf"))
	return c
}
