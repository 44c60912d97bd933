package main

// The command-line framework: spf13/cobra commands over spf13/pflag flags,
// with one convention for every subcommand.
//
//   - Long flags take two dashes (--model), one-letter aliases one (-m);
//     a value follows its flag as the next argument or after '='.
//     Flags and arguments may come in any order; "--" ends the flags.
//   - A bad command line (an unknown flag, a value outside its range, a
//     missing required flag, a bad run file) is one line on stderr that
//     names the flag and the accepted values, and exit status 2. A failure
//     while working is exit status 1; an interruption (Ctrl-C, SIGTERM) 130.
//   - The model is always --model (-m), the main output --output (-o), a
//     rows file --input (-i). Positional arguments are only lists of files
//     (merge's shard outputs).
//   - Where a flag names a file that is read once (--prompt's text aside),
//     "-" is standard input.
//
// Adding a subcommand: write a constructor that returns a *cobra.Command
// made by newCommand, and add it to subcommands in main.go:
//
//	func serveCmd() *cobra.Command {
//		var mf modelFlags
//		addr := ":8080"
//		c := newCommand(&cobra.Command{
//			Use:   "serve --model FILE [flags]",
//			Short: "Serve a model over HTTP",
//		}, func(ctx context.Context, args []string) error {
//			opts, err := mf.options()
//			...
//		}, &mf)
//		c.Flags().StringVar(&addr, "addr", addr, "address to listen on")
//		return c
//	}
//
// Flags that several commands share are a flagGroup (modelFlags, genFlags,
// structFlags, jobFlags): a struct whose addFlags declares them and whose
// check validates what the user set, before the command runs. Help lists
// each group's flags under its title. A command's own flags are checked in
// its run function, with flagError for the message.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagGroup is a set of flags shared by several commands.
type flagGroup interface {
	// title heads the group's flags in help.
	title() string
	// addFlags declares the flags on fs.
	addFlags(fs *pflag.FlagSet)
	// check validates the values of the flags set on the command line
	// (fs.Changed), naming the flag in its error (see flagError).
	check(fs *pflag.FlagSet) error
}

// groupAnnotation marks which group a flag belongs to, for help.
const groupAnnotation = "locallm_group"

// newCommand completes c: it declares the groups' flags, refuses
// positional arguments unless c.Args says otherwise, and runs fn with a
// context that Ctrl-C and SIGTERM cancel, after checking every group.
func newCommand(c *cobra.Command, fn func(ctx context.Context, args []string) error, groups ...flagGroup) *cobra.Command {
	for _, g := range groups {
		gs := pflag.NewFlagSet(g.title(), pflag.ContinueOnError)
		gs.SortFlags = false
		g.addFlags(gs)
		gs.VisitAll(func(f *pflag.Flag) {
			gs.SetAnnotation(f.Name, groupAnnotation, []string{g.title()})
		})
		c.Flags().AddFlagSet(gs)
	}
	c.Flags().SortFlags = false
	if c.Args == nil {
		c.Args = noArgs
	}

	c.RunE = func(cmd *cobra.Command, args []string) error {
		for _, g := range groups {
			if err := g.check(cmd.Flags()); err != nil {
				return asUsage(err)
			}
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return fn(ctx, args)
	}
	return c
}

// noArgs refuses positional arguments, suggesting the flag a stray
// argument may have been meant for.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unexpected argument %q", args[0])
	if strings.HasSuffix(args[0], ".gguf") && c.Flags().Lookup("model") != nil {
		msg += fmt.Sprintf("; give the model as --model %s", args[0])
	} else {
		msg += "; arguments are given with flags (see --help)"
	}
	return usageError("%s", msg)
}

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

// asUsage marks err, if not nil, as a bad command line.
func asUsage(err error) error {
	var ee *exitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	return &exitError{code: 2, err: err}
}

// flagError is the message for a flag's bad value: the flag, the value and
// what the flag accepts, as in `--top-p 0: want a number in (0, 1]`.
func flagError(name string, value any, want string) error {
	v := fmt.Sprint(value)
	if s, ok := value.(string); ok && (s == "" || strings.ContainsAny(s, " \t\n\"'")) {
		v = fmt.Sprintf("%q", s)
	}
	return usageError("--%s %s: want %s", name, v, want)
}

// exitCode maps a command's error to its exit status.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, context.Canceled):
		return 130
	}
	return 1
}

// version is the build's version, set by the Makefile through
// -ldflags "-X main.version=..."; a plain go build leaves "devel".
var version = "devel"

// versionString is what --version prints: locallm's version, the module
// that provides llama.cpp's sources and its version, and Go's.
func versionString() string {
	s := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/ollama/ollama" {
				s += fmt.Sprintf(" (llama.cpp from %s %s)", d.Path, d.Version)
			}
		}
	}
	return fmt.Sprintf("%s, %s %s/%s", s, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// newRoot returns the command tree, writing to out and errw. It is made
// afresh for each run, since cobra commands keep their flags' values.
func newRoot(out, errw io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "locallm <command>",
		Short: "Run local language models through llama.cpp",
		Long: "locallm runs local language models (GGUF files) through llama.cpp: generation over\n" +
			"prompts or JSONL datasets, structured output, hidden states and embeddings.",
		Version:           versionString(),
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
		// No command: the help, and exit status 2.
		RunE: func(c *cobra.Command, args []string) error {
			c.SetOut(stdout)
			c.Help()
			return &exitError{code: 2, err: errQuiet}
		},
	}
	root.SetOut(out)
	root.SetErr(errw)
	root.SetVersionTemplate("locallm {{.Version}}\n")
	var logLevel string
	levels := []string{"off", "debug", "info", "warn", "error"}
	stringFlag(root.PersistentFlags(), &logLevel, "log-level", "", "off", "llama.cpp's log on stderr, `LEVEL`: off, debug, info, warn or error", enumRule("log_level", levels...))
	root.RegisterFlagCompletionFunc("log-level", fixedValues(levels...))
	root.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		return setLogLevel(logLevel)
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return translateFlagError(c, err)
	})
	for _, mk := range subcommands {
		c := mk()
		// Shell completions of the flags many commands have, unless the
		// command registered its own.
		for name, fn := range commonCompletions {
			if _, has := c.GetFlagCompletionFunc(name); !has && c.Flags().Lookup(name) != nil {
				c.RegisterFlagCompletionFunc(name, fn)
			}
		}
		root.AddCommand(c)
	}
	root.SetUsageFunc(printUsage)
	// cobra adds these at Execute; findCommand needs them before.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	return root
}

// errQuiet is an error whose message has been shown already.
var errQuiet = errors.New("")

// run runs the command line args and returns the exit status.
func run(args []string, out, errw io.Writer) int {
	stdout, stderr = out, errw
	if args == nil {
		args = []string{} // cobra reads os.Args for nil
	}
	root := newRoot(out, errw)
	root.SetArgs(args)
	var cmd *cobra.Command
	var err error
	if len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) {
		// The shell asks for completions of a partial command line,
		// which the checks below would refuse.
		cmd, err = root.ExecuteC()
	} else if cmd, err = findCommand(root, args); err == nil {
		cmd, err = root.ExecuteC()
	}
	if err == nil {
		return 0
	}
	if !errors.Is(err, errQuiet) {
		name := "locallm"
		if cmd != nil {
			name = cmd.CommandPath()
		}
		fmt.Fprintf(errw, "%s: %v\n", name, err)
	}
	return exitCode(err)
}

// findCommand finds the subcommand args name and checks the spelling of
// its flags, before cobra parses them.
func findCommand(root *cobra.Command, args []string) (*cobra.Command, error) {
	cmd, rest, err := root.Find(args)
	if err != nil {
		if len(args) > 0 {
			msg := fmt.Sprintf("unknown command %q", args[0])
			if s := root.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf("; did you mean %s?", s[0])
			} else {
				msg += "; locallm --help lists the commands"
			}
			return root, usageError("%s", msg)
		}
		return root, asUsage(err)
	}
	return cmd, checkDashes(cmd, rest)
}

// checkDashes refuses a long flag written with one dash (-model), which
// pflag would otherwise read as the one-letter flag -m with the value
// "odel", and any other word after a single dash.
func checkDashes(cmd *cobra.Command, args []string) error {
	cmd.InitDefaultHelpFlag()
	cmd.InitDefaultVersionFlag()
	fs := pflag.NewFlagSet("all", pflag.ContinueOnError)
	fs.AddFlagSet(cmd.Flags())
	fs.AddFlagSet(cmd.InheritedFlags())
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return nil
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(a[2:], "=")
			if f := fs.Lookup(name); f != nil && !hasValue && f.NoOptDefVal == "" {
				i++ // its value, whatever it looks like
			}
		case len(a) == 2 && a[0] == '-':
			if f := fs.ShorthandLookup(a[1:]); f != nil && f.NoOptDefVal == "" {
				i++
			}
		case len(a) > 2 && a[0] == '-':
			name, _, _ := strings.Cut(a[1:], "=")
			if fs.Lookup(name) != nil {
				return usageError("%s: long flags take two dashes: -%s", a, a)
			}
			if isNumber(a) {
				continue // a stray negative number: the command says what it expects
			}
			return usageError("unknown flag %s%s", a, suggestFlag(fs, name))
		}
	}
	return nil
}

func isNumber(s string) bool {
	var f float64
	_, err := fmt.Sscan(s, &f)
	return err == nil
}

// translateFlagError turns pflag's parse errors into the CLI's one-line
// messages.
func translateFlagError(c *cobra.Command, err error) error {
	var notExist *pflag.NotExistError
	var needs *pflag.ValueRequiredError
	var invalid *pflag.InvalidValueError
	var syntax *pflag.InvalidSyntaxError
	fs := pflag.NewFlagSet("all", pflag.ContinueOnError)
	fs.AddFlagSet(c.Flags())
	fs.AddFlagSet(c.InheritedFlags())
	switch {
	case errors.As(err, &notExist):
		name := notExist.GetSpecifiedName()
		if sh := notExist.GetSpecifiedShortnames(); sh != "" {
			return usageError("unknown flag -%s%s", name, suggestFlag(fs, name))
		}
		return usageError("unknown flag --%s%s", name, suggestFlag(fs, name))
	case errors.As(err, &needs):
		f := needs.GetFlag()
		return usageError("--%s needs a value: %s", f.Name, wantOf(f))
	case errors.As(err, &invalid):
		f := invalid.GetFlag()
		return flagError(f.Name, invalid.GetValue(), wantOf(f))
	case errors.As(err, &syntax):
		return usageError("bad flag syntax %s", syntax.GetSpecifiedFlag())
	}
	return asUsage(err)
}

// wantOf says what a flag accepts: its rule's words, or its type's.
func wantOf(f *pflag.Flag) string {
	if w := f.Annotations[wantAnnotation]; len(w) > 0 {
		return w[0]
	}
	switch f.Value.Type() {
	case "int", "int64":
		return "an integer"
	case "float64":
		return "a number"
	case "bool":
		return "true or false (or the flag alone for true)"
	}
	return "a " + f.Value.Type()
}

// suggestFlag proposes the flag name closest to a mistyped one.
func suggestFlag(fs *pflag.FlagSet, typed string) string {
	best, bestD := "", 3
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := editDistance(typed, f.Name)
		if strings.HasPrefix(f.Name, typed) && len(typed) >= 2 {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = f.Name, d
		}
	})
	if best == "" {
		return " (see --help)"
	}
	return fmt.Sprintf("; did you mean --%s?", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// printUsage writes a command's help: its synopsis, then its flags group
// by group, then the flags every command has.
func printUsage(c *cobra.Command) error {
	w := c.OutOrStderr()
	fmt.Fprintf(w, "Usage:\n  %s\n", c.UseLine())
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nCommands:\n")
		var names []string
		width := 0
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() || s.Name() == "help" {
				names = append(names, s.Name())
				width = max(width, len(s.Name()))
			}
		}
		sort.Strings(names)
		for _, n := range names {
			s, _, _ := c.Find([]string{n})
			fmt.Fprintf(w, "  %-*s  %s\n", width, n, s.Short)
		}
	}
	if c.Example != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", c.Example)
	}
	local := c.LocalFlags()
	local.SortFlags = false
	order := []string{"Flags"} // the command's own flags first
	groups := map[string]*pflag.FlagSet{}
	local.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		title := "Flags"
		if t := f.Annotations[groupAnnotation]; len(t) > 0 {
			title = t[0] + " flags"
		}
		if groups[title] == nil {
			groups[title] = pflag.NewFlagSet(title, pflag.ContinueOnError)
			groups[title].SortFlags = false
			if title != "Flags" {
				order = append(order, title)
			}
		}
		groups[title].AddFlag(f)
	})
	for _, title := range order {
		if groups[title] != nil {
			fmt.Fprintf(w, "\n%s:\n%s", title, groups[title].FlagUsages())
		}
	}
	if c.HasAvailableInheritedFlags() {
		fmt.Fprintf(w, "\nGlobal flags:\n%s", c.InheritedFlags().FlagUsages())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's flags.\n", c.CommandPath())
	}
	return nil
}

// commonCompletions complete the flags of the flag groups and of the
// files most commands read.
var commonCompletions = map[string]cobra.CompletionFunc{
	"model":      fileExts("gguf"),
	"cache-type": fixedValues("f16", "f32", "q8_0"),
	"flash-attn": fixedValues("auto", "on", "off"),
	"input":      fileExts("jsonl"),
	"config":     fileExts("yaml", "yml"),
	"schema":     fileExts("json"),
	"grammar":    fileExts("gbnf"),
	"messages":   fileExts("json"),
	"backend-dir": func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return nil, cobra.ShellCompDirectiveFilterDirs
	},
}

// fixedValues completes a flag from a fixed list.
func fixedValues(values ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}

// fileExts completes a flag with file names of the given extensions.
func fileExts(exts ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return exts, cobra.ShellCompDirectiveFilterFileExt
	}
}
