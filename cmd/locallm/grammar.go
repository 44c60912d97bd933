package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/locallm/locallm/grammar/jsonschema"
)

func grammarCmd() *cobra.Command {
	var schema, ws string
	var lenient, formats bool
	var maxWS int
	var c *cobra.Command
	c = newCommand(&cobra.Command{
		Use:   "grammar --schema FILE [flags]",
		Short: "Compile a JSON Schema to a GBNF grammar (llama.cpp's format) and print it",
		Long: "Compile a JSON Schema to a GBNF grammar (llama.cpp's format) and print it.\n" +
			"Strict by default: keywords a grammar cannot express are an error naming the keyword and\n" +
			"its JSON pointer; --lenient over-approximates them instead (validate outputs afterwards).",
	}, func(ctx context.Context, args []string) error {
		if schema == "" {
			return usageError("--schema is required")
		}
		if c.Flags().Changed("max-whitespace") && ws != "bounded" {
			return usageError("--max-whitespace needs --whitespace bounded")
		}
		opts, err := schemaOptions(lenient, ws, maxWS, formats)
		if err != nil {
			return err
		}
		data, err := readFileOrStdin(schema)
		if err != nil {
			return usageError("--schema %s: %v", schema, pathError(err))
		}
		g, err := jsonschema.Compile(data, opts)
		if err != nil {
			return fmt.Errorf("%s: %w", schema, err)
		}
		fmt.Fprint(stdout, g)
		return nil
	})
	fs := c.Flags()
	fs.StringVar(&schema, "schema", "", "JSON Schema `FILE`; - reads standard input (required)")
	fs.BoolVar(&lenient, "lenient", false, "over-approximate keywords a grammar cannot express")
	stringFlag(fs, &ws, "whitespace", "", "compact", "white space between JSON tokens, `MODE`: compact, flexible or bounded", enumRule("whitespace", "compact", "flexible", "bounded"))
	intFlag(fs, &maxWS, "max-whitespace", "", 20, "longest white space run, `N` from 1 to 1000, with --whitespace bounded", intRule("max_whitespace", 1, 1000))
	fs.BoolVar(&formats, "format-assertion", false, "treat \"format\" as a constraint (date, uuid, email, ...)")
	c.RegisterFlagCompletionFunc("whitespace", fixedValues("compact", "flexible", "bounded"))
	return c
}

func schemaOptions(lenient bool, ws string, maxWS int, formats bool) (*jsonschema.Options, error) {
	o := &jsonschema.Options{Lenient: lenient, MaxWhitespace: maxWS, FormatAssertion: formats}
	switch ws {
	case "compact", "":
		o.Whitespace = jsonschema.WhitespaceCompact
	case "flexible":
		o.Whitespace = jsonschema.WhitespaceFlexible
	case "bounded":
		o.Whitespace = jsonschema.WhitespaceBounded
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
