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
	def := jsonschema.GenerationOptions()
	var schema, ws string
	var strict, lenient, formats bool
	var maxWS int
	var c *cobra.Command
	c = newCommand(&cobra.Command{
		Use:   "grammar --schema FILE [flags]",
		Short: "Compile a JSON Schema to a GBNF grammar (llama.cpp's format) and print it",
		Long: "Compile a JSON Schema to a GBNF grammar (llama.cpp's format) and print it: with the\n" +
			"default flags, exactly the grammar generate --schema constrains generation with (formats\n" +
			"asserted, compact JSON, properties in schema order, keywords a grammar cannot express\n" +
			"over-approximated, as generate validates every output). --strict makes such keywords an\n" +
			"error naming the keyword and its JSON pointer, as generate --strict does. It fails where\n" +
			"generate would fail to compile the schema.",
	}, func(ctx context.Context, args []string) error {
		if schema == "" {
			return usageError("--schema is required")
		}
		if strict && lenient {
			return usageError("--strict and --lenient: give at most one")
		}
		if c.Flags().Changed("max-whitespace") && ws != "bounded" {
			return usageError("--max-whitespace needs --whitespace bounded")
		}
		opts, err := schemaOptions(!strict, ws, maxWS, formats)
		if err != nil {
			return err
		}
		data, err := readFileOrStdin(schema)
		if err != nil {
			return usageError("--schema %s: %v", schema, pathError(err))
		}
		// The validator too: generation builds both, and fails if either
		// fails.
		cons, err := jsonschema.NewConstraint(data, opts)
		if err != nil {
			return fmt.Errorf("%s: %w", schema, err)
		}
		fmt.Fprint(stdout, cons.Grammar)
		return nil
	})
	fs := c.Flags()
	fs.StringVar(&schema, "schema", "", "JSON Schema `FILE`; - reads standard input (required)")
	fs.BoolVar(&strict, "strict", !def.Lenient, "refuse keywords a grammar cannot express, as generate --strict does")
	fs.BoolVar(&lenient, "lenient", false, "over-approximate keywords a grammar cannot express (the default; kept for older command lines)")
	stringFlag(fs, &ws, "whitespace", "", whitespaceNames[def.Whitespace], "white space between JSON tokens, `MODE`: compact (what generate uses), flexible or bounded", enumRule("whitespace", "compact", "flexible", "bounded"))
	intFlag(fs, &maxWS, "max-whitespace", "", 20, "longest white space run, `N` from 1 to 1000, with --whitespace bounded", intRule("max_whitespace", 1, 1000))
	fs.BoolVar(&formats, "format-assertion", def.FormatAssertion, "treat \"format\" as a constraint (date, uuid, email, ...), as generate does")
	c.RegisterFlagCompletionFunc("whitespace", fixedValues("compact", "flexible", "bounded"))
	return c
}

var whitespaceNames = map[jsonschema.Whitespace]string{
	jsonschema.WhitespaceCompact:  "compact",
	jsonschema.WhitespaceFlexible: "flexible",
	jsonschema.WhitespaceBounded:  "bounded",
}

// schemaOptions applies the grammar command's flags to the defaults
// generation compiles with.
func schemaOptions(lenient bool, ws string, maxWS int, formats bool) (*jsonschema.Options, error) {
	o := jsonschema.GenerationOptions()
	o.Lenient, o.MaxWhitespace, o.FormatAssertion = lenient, maxWS, formats
	o.Whitespace = -1
	for w, name := range whitespaceNames {
		if name == ws {
			o.Whitespace = w
		}
	}
	if o.Whitespace < 0 {
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
