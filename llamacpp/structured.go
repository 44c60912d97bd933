package llamacpp

import (
	"fmt"

	"github.com/locallm/locallm/grammar"
	"github.com/locallm/locallm/llm"
)

// constraint is a compiled structured-output request: the GBNF handed to
// llama.cpp's grammar sampler and, where there is one, a validator of
// finished outputs.
type constraint struct {
	gbnf     string
	validate func([]byte) error
}

// checkGBNF parses a grammar in Go before llama.cpp sees it: llama.cpp's
// parser prints its errors to stderr and returns NULL, and some grammars
// (left recursion, huge repetitions) it cannot take at all.
func checkGBNF(gbnf string) error {
	if _, err := grammar.Parse("grammar", gbnf); err != nil {
		return fmt.Errorf("%w: %v", ErrGrammar, err)
	}
	return nil
}

func compileConstraint(so *llm.StructuredOutput) (*constraint, error) {
	if err := so.Validate(); err != nil {
		return nil, err
	}
	if so.GBNF != "" {
		return &constraint{gbnf: so.GBNF}, nil
	}
	return nil, fmt.Errorf("%w: not yet supported", llm.ErrBadInput)
}
