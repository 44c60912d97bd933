package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/spf13/cobra"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/llama"
)

func infoCmd() *cobra.Command {
	var model, backendDir string
	var devices, templates bool
	var c *cobra.Command
	c = newCommand(&cobra.Command{
		Use:   "info (--model FILE | --devices | --chat-templates) [flags]",
		Short: "Print a model's metadata, the compute devices or the chat templates llama.cpp knows, as JSON",
		Long: "Print a model's metadata as JSON (architecture, sizes, special tokens, chat template, GGUF keys).\n" +
			"With --devices, list the compute devices instead; with --chat-templates, the names of the\n" +
			"chat templates llama.cpp knows (for --chat-template).",
	}, func(ctx context.Context, args []string) error {
		if c.Flags().Changed("backend-dir") {
			if st, err := os.Stat(backendDir); err != nil || !st.IsDir() {
				return flagError("backend-dir", backendDir, "a directory of ggml backends")
			}
		}
		n := 0
		for _, set := range []bool{model != "", devices, templates} {
			if set {
				n++
			}
		}
		if n != 1 {
			return usageError("give one of --model FILE, --devices and --chat-templates")
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if templates {
			return enc.Encode(llamacpp.ChatTemplates())
		}
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
	fs.BoolVar(&templates, "chat-templates", false, "list the chat template names llama.cpp knows")
	fs.StringVar(&backendDir, "backend-dir", "", "`DIR` of ggml GPU backends (default $"+llamacpp.BackendDirEnv+")")
	return c
}
