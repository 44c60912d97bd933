package jsonschema_test

import (
	"errors"
	"fmt"

	"github.com/locallm/locallm/grammar/jsonschema"
)

func ExampleCompile() {
	schema := []byte(`{
		"type": "object",
		"properties": {
			"answer": {"enum": ["yes", "no"]},
			"score": {"type": "integer", "minimum": 1, "maximum": 5}
		},
		"required": ["answer"],
		"additionalProperties": false
	}`)
	g, err := jsonschema.Compile(schema, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(g)
	fmt.Println(g.Accepts(`{"answer":"yes","score":4}`), g.Accepts(`{"answer":"maybe"}`))
	// Output:
	// root ::= "{" root-m0 "}"
	// root-m2 ::= ""
	// root-m1 ::= "," "\"score\"" ":" score root-m2 | root-m2
	// root-m0 ::= "\"answer\"" ":" answer root-m1
	// answer-str ::= "\"no\"" | "\"yes\""
	// answer ::= answer-str
	// score-num ::= "1" | "2" | "3" | "4" | "5"
	// score ::= score-num
	// true false
}

func ExampleCompile_strict() {
	// Strict mode (the default) names what a grammar cannot express.
	_, err := jsonschema.Compile([]byte(`{"properties":{"tags":{"type":"array","uniqueItems":true}}}`), nil)
	var se *jsonschema.SchemaError
	if errors.As(err, &se) {
		fmt.Println(se.Pointer, se.Keyword, errors.Is(err, jsonschema.ErrUnsupported))
	}
	// Lenient mode approximates from above; validate the output afterwards.
	_, err = jsonschema.Compile([]byte(`{"properties":{"tags":{"type":"array","uniqueItems":true}}}`), &jsonschema.Options{Lenient: true})
	fmt.Println(err)
	// Output:
	// /properties/tags uniqueItems true
	// <nil>
}

type Review struct {
	Title  string   `json:"title" jsonschema:"maxLength=40"`
	Rating int      `json:"rating" jsonschema:"minimum=1,maximum=5"`
	Tags   []string `json:"tags,omitempty"`
}

func ExampleFor() {
	schema, err := jsonschema.For(Review{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(schema))
	// Output:
	// {"$schema":"https://json-schema.org/draft/2020-12/schema","$ref":"#/$defs/Review","$defs":{"Review":{"properties":{"title":{"type":"string","maxLength":40},"rating":{"type":"integer","maximum":5,"minimum":1},"tags":{"items":{"type":"string"},"type":"array"}},"additionalProperties":false,"type":"object","required":["title","rating"]}}}
}

func ExampleCompileType() {
	g, err := jsonschema.CompileType(Review{}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, doc := range []string{
		`{"title":"Good","rating":5}`,
		`{"title":"Good","rating":5,"tags":["a","b"]}`,
		`{"title":"Good","rating":6}`,
		`{"title":"Good"}`,
		`{"title":"Good","rating":5,"extra":1}`,
	} {
		fmt.Println(g.Accepts(doc), doc)
	}
	// Output:
	// true {"title":"Good","rating":5}
	// true {"title":"Good","rating":5,"tags":["a","b"]}
	// false {"title":"Good","rating":6}
	// false {"title":"Good"}
	// false {"title":"Good","rating":5,"extra":1}
}

func ExampleDecode() {
	var r Review
	if err := jsonschema.Decode([]byte(`{"title":"Good","rating":5,"tags":["x"]}`), &r); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%+v\n", r)
	fmt.Println(jsonschema.Decode([]byte(`{"title":"Good","rating":5,"stars":1}`), &r))
	fmt.Println(jsonschema.Decode([]byte(`{"title":"Good","rating":5} {}`), &r))
	// Output:
	// {Title:Good Rating:5 Tags:[x]}
	// jsonschema: decode: json: unknown field "stars"
	// jsonschema: decode: data after the JSON value at offset 29
}

func ExampleValidator() {
	v, err := jsonschema.NewValidator([]byte(`{
		"type": "object",
		"properties": {"items": {"type": "array", "items": {"type": "integer"}, "uniqueItems": true}}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v.Validate([]byte(`{"items":[1,2,3]}`)))
	err = v.Validate([]byte(`{"items":[1,"two"]}`))
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Pointer)
	}
	err = v.Validate([]byte(`{"items":[1,1]}`))
	if errors.As(err, &ve) {
		fmt.Println(ve.Pointer)
	}
	// Output:
	// <nil>
	// /items/1
	// /items
}

func ExampleCompileValue() {
	// A schema as a Go value; a map has no order, so properties are sorted.
	g, err := jsonschema.CompileValue(map[string]any{
		"type":                 "object",
		"properties":           map[string]any{"name": map[string]any{"type": "string"}, "age": map[string]any{"type": "integer"}},
		"required":             []string{"name", "age"},
		"additionalProperties": false,
	}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(g.Accepts(`{"age":7,"name":"Ada"}`), g.Accepts(`{"name":"Ada","age":7}`))
	// Output:
	// true false
}

func ExampleNewValidatorWithOptions() {
	schema := []byte(`{"type": "string", "format": "date"}`)
	// Formats are annotations unless asserted.
	loose, err := jsonschema.NewValidatorWithOptions(schema, nil)
	if err != nil {
		panic(err)
	}
	strict, err := jsonschema.NewValidatorWithOptions(schema, &jsonschema.Options{FormatAssertion: true})
	if err != nil {
		panic(err)
	}
	fmt.Println(loose.Validate([]byte(`"2024-02-30"`)) == nil, strict.Validate([]byte(`"2024-02-30"`)) == nil)
	// Output:
	// true false
}

func ExampleNewConstraint() {
	// What generation compiles a schema to: a grammar for sampling and a
	// validator for the finished output, with the same (default) options.
	c, err := jsonschema.NewConstraint([]byte(`{"type": "string", "format": "date"}`), jsonschema.GenerationOptions())
	if err != nil {
		panic(err)
	}
	out := []byte(`"2024-02-29"`)
	fmt.Println(c.Grammar.Accepts(string(out)), c.Validator.Validate(out))
	fmt.Println(c.Grammar.Accepts(`"2024-02-30"`), c.Validator.Validate([]byte(`"2024-02-30"`)) != nil)
	// Output:
	// true <nil>
	// false true
}
