package jsonschema

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/locallm/locallm/grammar/gbnf"
	"github.com/locallm/locallm/grammar/regex"
)

// Whitespace selects the white space a compiled grammar allows between
// JSON tokens.
type Whitespace int

const (
	// WhitespaceCompact allows none: the output is compact JSON. It is the
	// default, and the cheapest for a model to produce.
	WhitespaceCompact Whitespace = iota
	// WhitespaceFlexible allows any run of JSON white space (space, tab,
	// newline, carriage return) between tokens. A model may then loop on
	// white space; prefer WhitespaceBounded for generation.
	WhitespaceFlexible
	// WhitespaceBounded allows up to Options.MaxWhitespace white
	// space characters between tokens.
	WhitespaceBounded
)

// PropertyOrder selects the order in which an object's named properties
// must appear. Properties that are not named (patternProperties,
// additionalProperties) always come after the named ones.
type PropertyOrder int

const (
	// PropertyOrderSchema keeps the order of "properties" in the schema
	// (then names that are only "required", in that order); an object
	// combined from several schemas (allOf, $ref beside properties, if/then)
	// orders names by their first mention in the document. The default:
	// schema authors put properties in the order a model should fill them
	// in (reasoning before answer).
	PropertyOrderSchema PropertyOrder = iota
	// PropertyOrderRequiredFirst puts required properties first, each
	// group in schema order.
	PropertyOrderRequiredFirst
	// PropertyOrderSorted sorts names by their UTF-8 bytes.
	PropertyOrderSorted
)

// Options configures Compile. The zero value is the default everywhere; a
// nil *Options means the zero value.
type Options struct {
	// Whitespace between tokens; default WhitespaceCompact.
	Whitespace Whitespace
	// MaxWhitespace bounds the white space run of WhitespaceBounded;
	// 0 means 20.
	MaxWhitespace int
	// PropertyOrder of named object members; default PropertyOrderSchema.
	PropertyOrder PropertyOrder
	// Lenient approximates, from above, what a grammar cannot express or
	// the limits cannot hold (uniqueItems beyond small finite cases, a
	// pattern with lookarounds or backreferences, a complement that needs
	// "some property breaks additionalProperties", a reference to a
	// metaschema, an in-place reference cycle, more than 256 alternatives
	// of objects or arrays, which become one that holds them all, a
	// pattern and a format together too large for one automaton), so that
	// the grammar accepts a superset of the valid documents; the caller
	// must validate the output (see Validator and NewConstraint). By
	// default (strict) such schemas are an error naming the keyword and
	// its JSON pointer, and every document the grammar accepts is valid.
	// Generation is lenient (GenerationOptions).
	Lenient bool
	// FormatAssertion makes "format" a constraint, as the 2020-12 format
	// assertion vocabulary does. Every format 2020-12 defines is compiled,
	// some as subsets (see format.go): date, time, date-time, duration,
	// uuid, email, idn-email (its ASCII addresses), hostname and
	// idn-hostname (ASCII, no A-labels), ipv4, ipv6, uri, uri-reference,
	// iri, iri-reference, uri-template, json-pointer,
	// relative-json-pointer and regex (groups nested up to 3 deep).
	// Unknown formats are ignored. Default false: "format" is an
	// annotation, as JSON Schema 2020-12 specifies by default.
	FormatAssertion bool
	// MaxGrammarBytes bounds the grammar's size; a schema that needs more
	// is an error wrapping ErrTooComplex. 0 (and anything larger) means
	// gbnf.MaxSourceSize, 4 MiB, the most gbnf.Parse takes. Compilation is
	// also bounded inside (automata of 20,000 states, 20,000 nodes,
	// 100,000 rules), so any input compiles or fails in bounded time.
	MaxGrammarBytes int
	// Loader fetches documents that $ref names outside the schema, by
	// absolute URI without fragment. Default nil: such references are an
	// error. The compiler never uses the network itself.
	Loader func(uri string) ([]byte, error)
}

// ErrNoValue is wrapped by the *SchemaError returned for a schema that no
// JSON value satisfies (false, or contradictory keywords).
var ErrNoValue = errors.New("jsonschema: no JSON value satisfies the schema")

// ErrTooComplex is wrapped by the *SchemaError returned for a schema that
// would need an automaton or grammar larger than the limits allow. It is
// ErrTooComplex: most limits a schema meets are its automata's.
var ErrTooComplex = regex.ErrTooComplex

// Compile compiles a JSON Schema document to a GBNF grammar in
// llama.cpp's dialect whose language is the compact JSON (or with white
// space, per opts) serialisations of the values the schema accepts.
//
// Drafts 4, 6, 7, 2019-09 and 2020-12 are read (by $schema; 2020-12 when
// absent). Numbers in the schema are kept exact, and the grammar is exact
// on values: it admits a document if and only if the schema does, up to
// spelling. Spellings: strings are matched as decoded code points; an
// unconstrained string (or one with lengths only) admits every JSON
// escape; a constrained one (pattern, format, enum) admits each character
// raw where JSON allows it, escaped as \" \\ \b \f \n \r \t or \u00xx
// otherwise, and, as ASCII-only serializers write them, a non-ASCII
// character as \uXXXX (or a surrogate pair) and "/" as \/. An
// unconstrained number admits full JSON number syntax; a constrained one
// is written without exponent and without leading zeros, integers without
// a fraction, other numbers with or without trailing fraction zeros.
// Named properties come in the order PropertyOrder sets; no key may
// repeat a named property (others cannot be kept from repeating each
// other, which a validator reads as the last one winning).
//
// The grammar is checked with Parse before it is returned, so llama.cpp
// always receives a grammar it accepts. Errors are *SchemaError values
// naming the JSON pointer (and keyword) at fault.
func Compile(schema []byte, opts *Options) (*gbnf.Grammar, error) {
	root, err := decodeJSON(schema)
	if err != nil {
		return nil, &SchemaError{Msg: err.Error(), Err: err}
	}
	return compileRoot(root, opts)
}

// CompileValue is Compile for a schema given as a Go value: a
// map[string]any or []byte/json.RawMessage, or any value that
// encoding/json marshals to a schema (such as *jsonschema.Schema from
// invopop/jsonschema). Go maps have no order, so with PropertyOrderSchema
// the properties of a map appear sorted.
func CompileValue(v any, opts *Options) (*gbnf.Grammar, error) {
	switch b := v.(type) {
	case []byte:
		return Compile(b, opts)
	case json.RawMessage:
		return Compile(b, opts)
	}
	root, err := toJSONValue(v)
	if err != nil {
		return nil, &SchemaError{Msg: err.Error(), Err: err}
	}
	return compileRoot(root, opts)
}

func compileRoot(root any, opts *Options) (*gbnf.Grammar, error) {
	if opts == nil {
		opts = &Options{}
	}
	c, n, err := buildRoot(root, opts)
	if err != nil {
		return nil, err
	}
	empty, err := c.isEmpty(n)
	if err != nil {
		return nil, err
	}
	if empty {
		return nil, &SchemaError{Msg: "no JSON value satisfies the schema", Err: ErrNoValue}
	}
	e := newEmitter(c)
	if err := e.emitRoot(n); err != nil {
		return nil, err
	}
	g, err := e.b.Grammar("schema")
	if err != nil {
		return nil, fmt.Errorf("jsonschema: internal error: the compiled grammar does not parse: %w", err)
	}
	return g, nil
}

// buildRoot loads the document and returns the compiler and root node.
func buildRoot(root any, opts *Options) (*compiler, *snode, error) {
	reg := newRegistry(opts.Loader)
	top, err := reg.addDoc(BaseURI, root)
	if err != nil {
		return nil, nil, err
	}
	if !isSchemaValue(root) {
		return nil, nil, &SchemaError{Msg: "a schema must be an object or a boolean"}
	}
	c := newCompiler(*opts, reg)
	n, err := c.schemaNode(top, false, nil)
	if err != nil {
		return nil, nil, &SchemaError{Msg: err.Error(), Err: err}
	}
	return c, n, nil
}

// GenerationOptions returns the options structured generation compiles a
// schema with (llamacpp, unless the request is strict), and that locallm
// grammar starts from, so that it prints the grammar generation uses:
// formats asserted (whoever asks for a date wants one), compact white
// space, properties in schema order, and lenient, because generation
// validates every output: a grammar cannot express some keywords that a
// sixth of real-world schemas use (uniqueItems above all), and a lenient
// grammar still keeps to the schema everywhere else. The zero Options,
// what Compile takes for nil, is strict instead: a grammar used without
// the validator must not admit invalid documents. Each call returns a new
// value, which the caller may change.
func GenerationOptions() *Options {
	return &Options{FormatAssertion: true, Lenient: true}
}

// Constraint is a schema compiled for structured generation: the grammar
// that guides sampling and the Validator that checks finished outputs,
// made from one schema with one Options.
type Constraint struct {
	Grammar   *gbnf.Grammar
	Validator *Validator
}

// NewConstraint compiles schema to a grammar (Compile) and a validator
// (NewValidatorWithOptions) with the same options; nil opts means
// GenerationOptions. It fails if either fails, so that a schema that
// compiles here is one generation can use.
func NewConstraint(schema []byte, opts *Options) (*Constraint, error) {
	if opts == nil {
		opts = GenerationOptions()
	}
	g, err := Compile(schema, opts)
	if err != nil {
		return nil, err
	}
	v, err := NewValidatorWithOptions(schema, opts)
	if err != nil {
		return nil, err
	}
	return &Constraint{Grammar: g, Validator: v}, nil
}
