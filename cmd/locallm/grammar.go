package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/locallm/locallm/grammar"
)

func init() {
	register(&command{
		name: "grammar",
		summary: "Compile a JSON Schema to a GBNF grammar (llama.cpp's format) and print it.\n" +
			"Strict by default: keywords a grammar cannot express are an error naming the keyword and\n" +
			"its JSON pointer; --lenient over-approximates them instead (validate outputs afterwards).",
		usage: "--schema FILE [--lenient] [--whitespace compact|flexible|bounded] [--format-assertion]",
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			schema := fs.String("schema", "", "JSON Schema file; - reads standard input (required)")
			lenient := fs.Bool("lenient", false, "over-approximate keywords a grammar cannot express")
			ws := fs.String("whitespace", "compact", "white space between JSON tokens: compact, flexible or bounded")
			maxWS := fs.Int("max-whitespace", 0, "longest white space run with --whitespace bounded (default 20)")
			formats := fs.Bool("format-assertion", false, "treat \"format\" as a constraint (date, uuid, email, ...)")
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usageError("unexpected arguments %q", args)
				}
				if *schema == "" {
					return usageError("--schema is required")
				}
				opts, err := schemaOptions(*lenient, *ws, *maxWS, *formats)
				if err != nil {
					return err
				}
				data, err := readFileOrStdin(*schema)
				if err != nil {
					return err
				}
				g, err := grammar.CompileSchema(data, opts)
				if err != nil {
					return fmt.Errorf("%s: %w", *schema, err)
				}
				fmt.Fprint(stdout, g)
				return nil
			}
		},
	})
}

func schemaOptions(lenient bool, ws string, maxWS int, formats bool) (*grammar.SchemaOptions, error) {
	o := &grammar.SchemaOptions{Lenient: lenient, MaxWhitespace: maxWS, FormatAssertion: formats}
	switch ws {
	case "compact", "":
		o.Whitespace = grammar.WhitespaceCompact
	case "flexible":
		o.Whitespace = grammar.WhitespaceFlexible
	case "bounded":
		o.Whitespace = grammar.WhitespaceBounded
	default:
		return nil, usageError("bad --whitespace %q: want compact, flexible or bounded", ws)
	}
	if maxWS < 0 {
		return nil, usageError("--max-whitespace %d is negative", maxWS)
	}
	return o, nil
}

func readFileOrStdin(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}
