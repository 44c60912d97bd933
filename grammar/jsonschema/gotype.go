package jsonschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"

	"github.com/invopop/jsonschema"

	"github.com/locallm/locallm/grammar/gbnf"
)

// For returns the JSON Schema (2020-12) of v's type, reflected by
// invopop/jsonschema with these settings:
//
//   - a field is required unless its json tag says omitempty or omitzero
//     (or its jsonschema tag overrides it);
//   - objects allow no properties beyond their fields
//     (additionalProperties: false), so a grammar never invents fields
//     that Decode would then reject;
//   - named types are kept once in $defs and referenced locally
//     (#/$defs/Name), the root included ({"$ref": "#/$defs/T", ...}),
//     which serves recursive types; no $id is set.
//
// Struct tags are honoured as invopop documents them: json names,
// `jsonschema:"enum=a,enum=b,minLength=1,maximum=10,pattern=...,format=date"`
// and so on. Properties follow the fields' order.
func For(v any) ([]byte, error) {
	if v == nil {
		return nil, fmt.Errorf("jsonschema: For(nil)")
	}
	r := &jsonschema.Reflector{Anonymous: true}
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s := r.ReflectFromType(t)
	data, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("jsonschema: For(%s): %w", t, err)
	}
	return data, nil
}

// CompileType compiles the schema of v's type (see For) to a grammar.
// A nil opts means FormatAssertion on (unlike Compile): Go types
// carry formats that decoding needs, such as time.Time's date-time.
func CompileType(v any, opts *Options) (*gbnf.Grammar, error) {
	schema, err := For(v)
	if err != nil {
		return nil, err
	}
	if opts == nil {
		opts = &Options{FormatAssertion: true}
	}
	return Compile(schema, opts)
}

// Decode decodes one finished output into v (a pointer), strictly: the
// output must be exactly one JSON value, object members must name fields
// of the target struct, and the types must fit (a grammar from
// CompileType guarantees all three).
func Decode(output []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(output))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("jsonschema: decode: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("jsonschema: decode: data after the JSON value at offset %d", dec.InputOffset())
	}
	return nil
}
