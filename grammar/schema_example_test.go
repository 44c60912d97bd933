package grammar_test

import (
	"errors"
	"fmt"

	"github.com/locallm/locallm/grammar"
)

func ExampleCompileSchema() {
	schema := []byte(`{
		"type": "object",
		"properties": {
			"answer": {"enum": ["yes", "no"]},
			"score": {"type": "integer", "minimum": 1, "maximum": 5}
		},
		"required": ["answer"],
		"additionalProperties": false
	}`)
	src, err := grammar.CompileSchema(schema, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(src)
	g, _ := grammar.Parse("schema", src)
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

func ExampleCompileSchema_strict() {
	// Strict mode (the default) names what a grammar cannot express.
	_, err := grammar.CompileSchema([]byte(`{"properties":{"tags":{"type":"array","uniqueItems":true}}}`), nil)
	var se *grammar.SchemaError
	if errors.As(err, &se) {
		fmt.Println(se.Pointer, se.Keyword, errors.Is(err, grammar.ErrUnsupported))
	}
	// Lenient mode approximates from above; validate the output afterwards.
	_, err = grammar.CompileSchema([]byte(`{"properties":{"tags":{"type":"array","uniqueItems":true}}}`), &grammar.SchemaOptions{Lenient: true})
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

func ExampleSchemaFor() {
	schema, err := grammar.SchemaFor(Review{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(schema))
	// Output:
	// {"$schema":"https://json-schema.org/draft/2020-12/schema","$ref":"#/$defs/Review","$defs":{"Review":{"properties":{"title":{"type":"string","maxLength":40},"rating":{"type":"integer","maximum":5,"minimum":1},"tags":{"items":{"type":"string"},"type":"array"}},"additionalProperties":false,"type":"object","required":["title","rating"]}}}
}

func ExampleCompileType() {
	src, err := grammar.CompileType(Review{}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	g, _ := grammar.Parse("review", src)
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
	if err := grammar.Decode([]byte(`{"title":"Good","rating":5,"tags":["x"]}`), &r); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%+v\n", r)
	fmt.Println(grammar.Decode([]byte(`{"title":"Good","rating":5,"stars":1}`), &r))
	fmt.Println(grammar.Decode([]byte(`{"title":"Good","rating":5} {}`), &r))
	// Output:
	// {Title:Good Rating:5 Tags:[x]}
	// grammar: decode: json: unknown field "stars"
	// grammar: decode: data after the JSON value at offset 29
}

func ExampleValidator() {
	v, err := grammar.NewValidator([]byte(`{
		"type": "object",
		"properties": {"items": {"type": "array", "items": {"type": "integer"}, "uniqueItems": true}}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v.Validate([]byte(`{"items":[1,2,3]}`)))
	err = v.Validate([]byte(`{"items":[1,"two"]}`))
	var ve *grammar.ValidationError
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
