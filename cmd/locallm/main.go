// Command locallm runs local language models through llama.cpp for offline
// jobs: generation, hidden states and embeddings, structured output, and the
// tiny test model the project makes itself.
//
// Usage:
//
//	locallm <command> [flags]
//
// Run `locallm help` for the list of commands and `locallm <command> -h`
// for each command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/locallm/locallm/llamacpp"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string // the argument synopsis after the name
	// setup declares the flags; run executes with the parsed flags and the
	// remaining arguments.
	setup func(fs *flag.FlagSet) func(ctx context.Context, args []string) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks a bad command line (exit status 2).
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

var stdout, stderr io.Writer = os.Stdout, os.Stderr

func run(args []string, out, errw io.Writer) int {
	stdout, stderr = out, errw
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fs := newFlagSet(c)
				c.setup(fs)
				fs.SetOutput(out)
				fs.Usage()
				return 0
			}
		}
		printUsage(out)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(errw, "locallm: unknown command %q\n\n", args[0])
		printUsage(errw)
		return 2
	}
	fs := newFlagSet(c)
	fs.SetOutput(errw)
	logLevel := fs.String("log-level", "off", "llama.cpp log level on stderr: off, debug, info, warn or error")
	runFn := c.setup(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := setLogLevel(*logLevel); err != nil {
		fmt.Fprintf(errw, "locallm %s: %v\n", c.name, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runFn(ctx, fs.Args()); err != nil {
		fmt.Fprintf(errw, "locallm %s: %v\n", c.name, err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		if errors.Is(err, context.Canceled) {
			return 130
		}
		return 1
	}
	return 0
}

func newFlagSet(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet("locallm "+c.name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: locallm %s %s\n\n%s\n\nFlags:\n", c.name, c.usage, c.summary)
		fs.PrintDefaults()
	}
	return fs
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "locallm runs local language models through llama.cpp.")
	fmt.Fprintln(w, "\nUsage: locallm <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, firstLine(commands[n].summary))
	}
	fmt.Fprintln(w, "\nRun 'locallm <command> -h' for a command's flags.")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

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
		return usageError("bad -log-level %q: want off, debug, info, warn or error", s)
	}
	llamacpp.SetLogger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})), lvl)
	return nil
}
