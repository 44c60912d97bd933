package llamacpp

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/locallm/locallm/grammar/gbnf"
	"github.com/locallm/locallm/grammar/jsonschema"
	"github.com/locallm/locallm/grammar/regex"
	"github.com/locallm/locallm/llm"
)

// ErrGrammar: a GBNF grammar (given, or compiled from a schema or a
// regular expression) was rejected.
var ErrGrammar = errors.New("llamacpp: bad grammar")

// constraint is a compiled structured-output request: the grammar value
// the engine's guide follows, and a check of finished outputs.
type constraint struct {
	grammar  *gbnf.Grammar
	validate func([]byte) error
}

// constraintCache keeps compiled constraints by their source, so that a job
// whose rows share a schema compiles it once, even when many rows ask for
// it at the same moment: the first caller compiles, the others wait for it.
var constraintCache struct {
	sync.Mutex
	m map[string]*cachedEntry
}

type cachedEntry struct {
	once sync.Once
	c    *constraint
	err  error
}

const constraintCacheSize = 256

func cachedConstraint(key string, build func() (*constraint, error)) (*constraint, error) {
	constraintCache.Lock()
	e, ok := constraintCache.m[key]
	if !ok {
		if constraintCache.m == nil || len(constraintCache.m) >= constraintCacheSize {
			constraintCache.m = map[string]*cachedEntry{}
		}
		e = &cachedEntry{}
		constraintCache.m[key] = e
	}
	constraintCache.Unlock()
	e.once.Do(func() { e.c, e.err = build() })
	return e.c, e.err
}

// schemaJSON turns StructuredOutput.Schema into schema bytes: JSON given as
// bytes or a string, a map, or a Go value or reflect.Type whose type is
// reflected into a schema.
func schemaJSON(v any) ([]byte, error) {
	switch s := v.(type) {
	case json.RawMessage:
		return s, nil
	case []byte:
		return s, nil
	case string:
		return []byte(s), nil
	case map[string]any, bool:
		return json.Marshal(s)
	case reflect.Type:
		return jsonschema.For(reflect.New(s).Elem().Interface())
	}
	return jsonschema.For(v)
}

func compileConstraint(so *llm.StructuredOutput) (*constraint, error) {
	if err := so.Validate(); err != nil {
		return nil, err
	}
	switch {
	case so.Schema != nil:
		data, err := schemaJSON(so.Schema)
		if err != nil {
			return nil, fmt.Errorf("%w: schema: %v", llm.ErrBadInput, err)
		}
		return cachedConstraint(fmt.Sprintf("schema|%v|%s", so.Strict, data), func() (*constraint, error) {
			// The defaults locallm grammar prints with: formats asserted,
			// lenient unless Strict.
			opts := jsonschema.GenerationOptions()
			opts.Lenient = !so.Strict
			c, err := jsonschema.NewConstraint(data, opts)
			if err != nil {
				return nil, fmt.Errorf("%w: schema: %w", llm.ErrBadInput, err)
			}
			return &constraint{grammar: c.Grammar, validate: c.Validator.Validate}, nil
		})
	case so.GBNF != "":
		return cachedConstraint("gbnf|"+so.GBNF, func() (*constraint, error) {
			g, err := gbnf.Parse("gbnf", so.GBNF)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrGrammar, err)
			}
			return &constraint{grammar: g, validate: matcherCheck(g)}, nil
		})
	default:
		return cachedConstraint("regex|"+so.Regex, func() (*constraint, error) {
			g, err := regex.Compile(so.Regex)
			if err != nil {
				return nil, fmt.Errorf("%w: regex: %w", llm.ErrBadInput, err)
			}
			return &constraint{grammar: g, validate: matcherCheck(g)}, nil
		})
	}
}

// matcherCheck validates an output against a grammar with the Go matcher.
func matcherCheck(g *gbnf.Grammar) func([]byte) error {
	return func(out []byte) error {
		m := g.NewMatcher()
		if err := m.Feed(out); err != nil {
			return err
		}
		if !m.Accepting() {
			return fmt.Errorf("output ends before the grammar is complete")
		}
		return nil
	}
}
