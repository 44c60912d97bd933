// Command locallm runs local language models through llama.cpp for offline
// jobs: generation, hidden states and embeddings, structured output, and the
// tiny test model the project makes itself.
//
// Usage:
//
//	locallm <command> [flags]
//
// Run `locallm --help` for the list of commands and `locallm <command>
// --help` for each command's flags. cli.go describes the conventions every
// command follows and how to add one.
package main

import (
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/locallm/locallm/llamacpp"
)

// subcommands are the constructors of locallm's commands, in no
// particular order (help sorts them).
var subcommands = []func() *cobra.Command{
	generateCmd,
	embedCmd,
	hiddenCmd,
	grammarCmd,
	infoCmd,
	quantizeCmd,
	mergeCmd,
	testmodelCmd,
	serveCmd,
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// stdout and stderr are where commands write; run sets them, so that tests
// can run commands in-process.
var stdout, stderr io.Writer = os.Stdout, os.Stderr

func setLogLevel(s string) error {
	var lvl slog.Level
	switch strings.ToLower(s) {
	case "off", "":
		llamacpp.SetLogger(nil, 0)
		return nil
	case "debug":
		lvl = slog.LevelDebug
	case "info":
		lvl = slog.LevelInfo
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		return flagError("log-level", s, "one of off, debug, info, warn, error")
	}
	llamacpp.SetLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})), lvl)
	return nil
}
