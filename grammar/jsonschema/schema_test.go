package jsonschema

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/grammar/gbnf"
)

var update = flag.Bool("update", false, "rewrite the golden .gbnf files in testdata")

func mustCompile(t testing.TB, schema string, opts *Options) *gbnf.Grammar {
	t.Helper()
	g, err := Compile([]byte(schema), opts)
	require.NoError(t, err, schema)
	return g
}

// TestSchemaAccepts: each schema, documents its grammar must accept, and
// documents it must reject (compact JSON, members in schema order).
func TestSchemaAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, schema   string
		opts           *Options
		accept, reject []string
	}{
		{"object", `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}},"required":["name"],"additionalProperties":false}`, nil,
			[]string{`{"name":"a"}`, `{"name":"a","age":3}`}, []string{`{}`, `{"age":3,"name":"a"}`, `{"name":"a","age":-1}`, `{"name":"a","x":1}`}},
		{"additional default true", `{"properties":{"a":{"type":"integer"}}}`, nil,
			[]string{`{"a":1,"b":"x"}`, `{"b":null}`, `[]`, `"s"`}, []string{`{"a":"x"}`, `{"a":1,"a":2}`}},
		{"integer range", `{"type":"integer","minimum":-12,"exclusiveMaximum":1000}`, nil,
			[]string{`-12`, `0`, `999`}, []string{`-13`, `1000`, `1.5`, `01`, `-0`}},
		{"number bounds", `{"type":"number","minimum":1.25,"maximum":2}`, nil,
			[]string{`1.25`, `1.5`, `2`, `1.999`, `1.250`, `2.0`}, []string{`1.2`, `2.001`, `125e-2`, `2.`}},
		{"multipleOf", `{"type":"integer","multipleOf":7,"maximum":30,"minimum":0}`, nil,
			[]string{`0`, `7`, `28`}, []string{`8`, `35`}},
		{"string lengths count code points", `{"type":"string","minLength":2,"maxLength":3}`, nil,
			[]string{`"ab"`, `"πéa"`, `"\n\t"`, `"\u00e9a"`, `"😀😀"`, `"\ud83d\ude00a"`}, []string{`"a"`, `"abcd"`, `"\ud83d\ude00"`}},
		{"pattern is a search", `{"type":"string","pattern":"[0-9]{2}"}`, nil,
			[]string{`"a12b"`, `"99"`}, []string{`"a1b2"`}},
		{"pattern with length", `{"type":"string","pattern":"^[a-z]+$","maxLength":3}`, nil,
			[]string{`"abc"`}, []string{`"abcd"`, `""`}},
		{"enum", `{"enum":["a",1,null,[true],{"k":"v"}]}`, nil,
			[]string{`"a"`, `1`, `null`, `[true]`, `{"k":"v"}`}, []string{`"b"`, `2`, `[]`, `{}`}},
		{"escaped spellings", `{"enum":["café","a/b","😀"]}`, nil,
			[]string{`"café"`, `"caf\u00e9"`, `"caf\u00E9"`, `"a/b"`, `"a\/b"`, `"😀"`, `"\ud83d\ude00"`, `"\uD83D\uDE00"`},
			[]string{`"caf\u00e8"`, `"\u0063afé"`, `"\ud83d\ude01"`}},
		{"escaped pattern", `{"type":"string","pattern":"^[α-ω]+[😀-😂]$"}`, nil,
			[]string{`"αω😁"`, `"\u03b1\u03C9\ud83d\ude02"`}, []string{`"\u0391😀"`, `"α\ud83d\ude03"`}},
		{"const escaped", `{"const":"a\"b\\c\n"}`, nil, []string{`"a\"b\\c\n"`}, []string{`"a\"b\\c"`}},
		{"anyOf", `{"anyOf":[{"type":"string","maxLength":1},{"type":"integer"}]}`, nil,
			[]string{`"a"`, `5`}, []string{`"ab"`, `1.5`}},
		{"oneOf overlap", `{"oneOf":[{"type":"integer"},{"minimum":2}]}`, nil,
			[]string{`1`, `2.5`, `"x"`}, []string{`3`}},
		{"allOf objects", `{"allOf":[{"properties":{"a":{"type":"integer"}},"required":["a"]},{"properties":{"b":{"type":"string"}},"required":["b"]}],"additionalProperties":false}`, nil,
			[]string{}, []string{`{"a":1,"b":"x"}`}},
		{"allOf intersection", `{"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},{"properties":{"b":{"type":"string"}},"required":["b"]}]}`, nil,
			[]string{`{"a":1,"b":"x"}`}, []string{`{"a":1}`, `{"b":"x"}`}},
		{"not", `{"not":{"type":["string","null"]}}`, nil, []string{`1`, `{}`}, []string{`"s"`, `null`}},
		{"oneOf closed variants", `{"oneOf":[{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false},{"type":"object","properties":{"b":{"type":"string"}},"additionalProperties":false}]}`, nil,
			[]string{`{"a":"s"}`, `{"b":"s"}`}, []string{`{}`, `{"a":"s","b":"t"}`, `{"c":1}`}},
		{"not additionalProperties", `{"type":"object","properties":{"a":{}},"not":{"additionalProperties":false}}`, nil,
			[]string{`{"x":1}`, `{"a":1,"x":1}`, `{"a":1}`}, []string{`{}`}},
		{"not propertyNames", `{"type":"object","not":{"propertyNames":{"maxLength":2}}}`, nil,
			[]string{`{"abc":1}`, `{"a":1,"abc":2}`}, []string{`{}`, `{"ab":1}`}},
		{"if then else", `{"if":{"properties":{"k":{"const":"n"}},"required":["k"]},"then":{"properties":{"v":{"type":"number"}}},"else":{"properties":{"v":{"type":"string"}}}}`, nil,
			[]string{`{"k":"n","v":1}`, `{"k":"s","v":"x"}`}, []string{`{"k":"n","v":"x"}`, `{"k":"s","v":1}`}},
		{"prefixItems and items", `{"prefixItems":[{"type":"string"},{"type":"integer"}],"items":{"type":"boolean"},"minItems":1,"maxItems":3}`, nil,
			[]string{`["a"]`, `["a",1]`, `["a",1,true]`}, []string{`[]`, `[1]`, `["a",1,true,false]`, `["a",1,2]`}},
		{"contains", `{"type":"array","contains":{"const":5},"minContains":2,"maxContains":3}`, nil,
			[]string{`[5,5]`, `[1,5,2,5,5]`}, []string{`[5]`, `[5,5,5,5]`}},
		{"uniqueItems small finite", `{"type":"array","items":{"type":"boolean"},"maxItems":2,"uniqueItems":true}`, nil,
			[]string{`[]`, `[true,false]`}, []string{`[true,true]`}},
		{"uniqueItems over an enum", `{"type":"array","items":{"enum":["red","green","blue"]},"uniqueItems":true}`, nil,
			[]string{`[]`, `["blue"]`, `["green","red","blue"]`}, []string{`["red","red"]`, `["red","blue","red"]`}},
		{"recursion", `{"$defs":{"t":{"type":"object","properties":{"c":{"type":"array","items":{"$ref":"#/$defs/t"}}},"additionalProperties":false}},"$ref":"#/$defs/t"}`, nil,
			[]string{`{}`, `{"c":[{},{"c":[]}]}`}, []string{`{"c":[1]}`}},
		{"recursion through oneOf", `{"$defs":{"g":{"oneOf":[{"$ref":"#/$defs/pt"},{"$ref":"#/$defs/coll"}]},"pt":{"type":"object","properties":{"type":{"const":"Point"},"xy":{"type":"array","items":{"type":"number"}}},"required":["type"]},"coll":{"type":"object","properties":{"type":{"const":"Collection"},"items":{"type":"array","items":{"$ref":"#/$defs/g"}}},"required":["type"]}},"$ref":"#/$defs/g"}`, nil,
			[]string{`{"type":"Point","xy":[1,2]}`, `{"type":"Collection","items":[{"type":"Point"},{"type":"Collection","items":[]}]}`},
			[]string{`{"type":"Other"}`, `{"type":"Collection","items":[{"type":"Line"}]}`}},
		{"pointer escapes", `{"$defs":{"a/b":{"type":"integer"},"c~d":{"type":"string"},"e%f":{"type":"null"}},"properties":{"x":{"$ref":"#/$defs/a~1b"},"y":{"$ref":"#/$defs/c~0d"},"z":{"$ref":"#/$defs/e%25f"}}}`, nil,
			[]string{`{"x":1,"y":"s","z":null}`}, []string{`{"x":"s"}`, `{"y":1}`, `{"z":1}`}},
		{"anchor and id", `{"$id":"http://example.com/root.json","$defs":{"A":{"$id":"other.json","$anchor":"x","type":"integer"}},"properties":{"a":{"$ref":"other.json#x"},"b":{"$ref":"http://example.com/other.json"}}}`, nil,
			[]string{`{"a":1,"b":2}`}, []string{`{"a":"s"}`, `{"b":"s"}`}},
		{"patternProperties and propertyNames", `{"patternProperties":{"^n_":{"type":"number"}},"additionalProperties":{"type":"string"},"propertyNames":{"maxLength":4}}`, nil,
			[]string{`{"n_a":1,"s":"x"}`}, []string{`{"n_a":"x"}`, `{"s":1}`, `{"long_name":"x"}`}},
		{"min and max properties", `{"minProperties":1,"maxProperties":2}`, nil,
			[]string{`{"a":1}`, `{"a":1,"b":2}`}, []string{`{}`, `{"a":1,"b":2,"c":3}`}},
		{"dependentRequired", `{"dependentRequired":{"a":["b"]},"properties":{"a":{},"b":{}}}`, nil,
			[]string{`{}`, `{"b":1}`, `{"a":1,"b":2}`}, []string{`{"a":1}`}},
		{"nullable", `{"type":"string","nullable":true}`, nil, []string{`"x"`, `null`}, []string{`1`}},
		{"draft-07 items array", `{"$schema":"http://json-schema.org/draft-07/schema#","items":[{"type":"integer"}],"additionalItems":false}`, nil,
			[]string{`[]`, `[1]`}, []string{`[1,2]`, `["a"]`}},
		{"draft-07 $ref siblings apply", `{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"h":{"type":"object","properties":{"id":{"type":"string"},"entry":{"type":"string"}}}},"items":{"$ref":"#/definitions/h","required":["id","entry"]}}`, nil,
			[]string{`[{"id":"a","entry":"b"}]`}, []string{`[{"id":"a"}]`, `[{"id":1,"entry":"b"}]`}},
		{"many patternProperties", `{"patternProperties":{"^a":{"type":"integer"},"b$":{"type":"string"},"^.{3}$":{"type":"boolean"},"c":{"type":"null"}},"additionalProperties":false}`, nil,
			[]string{`{"ax":1,"xb":"s","cc":null,"zzz":true}`, `{"a":1}`, `{"abde":1}`}, []string{`{"axb":1}`, `{"axb":"s"}`, `{"zzz":1}`, `{"d":1}`, `{"acb":1}`, `{"xcx":null}`}},
		{"draft-04 exclusive boolean", `{"$schema":"http://json-schema.org/draft-04/schema#","type":"number","maximum":3,"exclusiveMaximum":true}`, nil,
			[]string{`2.9`}, []string{`3`}},
		{"format date", `{"type":"string","format":"date"}`, &Options{FormatAssertion: true},
			[]string{`"2024-02-29"`}, []string{`"2023-02-29"`, `"2024-2-1"`}},
		{"format regex", `{"type":"string","format":"regex"}`, &Options{FormatAssertion: true},
			[]string{`"^[a-z]+(?:-[0-9]{2,4})?$"`, `"(a|b)*"`}, []string{`"(a"`, `"[z-a]"`, `"a**"`, `"\a"`}},
		{"format as annotation", `{"type":"string","format":"date"}`, nil, []string{`"anything"`}, nil},
		{"flexible white space", `{"type":"object","properties":{"a":{"type":"array"}}}`, &Options{Whitespace: WhitespaceFlexible},
			[]string{"{ \"a\" :\n[ 1 , 2 ] }", `{"a":[]}`}, []string{" {}"}},
		{"bounded white space", `{"type":"array"}`, &Options{Whitespace: WhitespaceBounded, MaxWhitespace: 2},
			[]string{"[  1]", "[1 ,2]"}, []string{"[   1]"}},
		{"required first", `{"properties":{"a":{},"b":{}},"required":["b"]}`, &Options{PropertyOrder: PropertyOrderRequiredFirst},
			[]string{`{"b":1,"a":2}`}, []string{`{"a":2,"b":1}`}},
		{"sorted", `{"properties":{"b":{},"a":{}}}`, &Options{PropertyOrder: PropertyOrderSorted},
			[]string{`{"a":2,"b":1}`}, []string{`{"b":1,"a":2}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := mustCompile(t, tc.schema, tc.opts)
			for _, s := range tc.accept {
				assert.True(t, g.Accepts(s), "should accept %s", s)
			}
			for _, s := range tc.reject {
				assert.False(t, g.Accepts(s), "should reject %s", s)
			}
		})
	}
}

func TestSchemaErrors(t *testing.T) {
	for _, tc := range []struct {
		name, schema, pointer, keyword string
		is                             error
		lenientOK                      bool
		formats                        bool
	}{
		{"uniqueItems", `{"properties":{"tags":{"type":"array","uniqueItems":true}}}`, "/properties/tags", "uniqueItems", ErrUnsupported, true, false},
		{"lookahead", `{"properties":{"a":{"pattern":"x(?=y)"}}}`, "/properties/a", "pattern", nil, true, false},
		{"backreference", `{"pattern":"(a)\\1"}`, "", "pattern", nil, true, false},
		{"complement of uniqueItems", `{"not":{"type":"array","uniqueItems":true}}`, "", "not", ErrUnsupported, true, false},
		{"huge multipleOf", `{"type":"integer","multipleOf":0.123456789}`, "", "multipleOf", ErrTooComplex, true, false},
		{"bad ref", `{"$ref":"#/$defs/missing"}`, "", "$ref", nil, false, false},
		// Lenient: an in-place cycle adds nothing (the validator refuses what
		// reaches it), as real schemas have them in parts rarely used.
		{"in-place cycle", `{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}`, "/$defs/a", "$ref", nil, true, false},
		{"remote ref", `{"$ref":"http://example.com/s.json"}`, "", "$ref", nil, false, false},
		{"bad type", `{"type":"text"}`, "", "type", nil, false, false},
		{"bad minLength", `{"minLength":-1}`, "", "minLength", nil, false, false},
		{"false", `false`, "", "", ErrNoValue, false, false},
		{"contradiction", `{"type":"integer","minimum":5,"maximum":4}`, "", "", ErrNoValue, false, false},
		{"required and forbidden", `{"type":"object","required":["a"],"properties":{"a":false}}`, "", "", ErrNoValue, false, false},
		{"not JSON", `{"type":`, "", "", nil, false, false},
		{"trailing data", `{"type":"string"} {}`, "", "", nil, false, false},
		{"duplicate key", `{"type":"string","type":"number"}`, "", "", nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile([]byte(tc.schema), &Options{FormatAssertion: tc.formats})
			require.Error(t, err)
			var se *SchemaError
			require.ErrorAs(t, err, &se, err.Error())
			assert.Equal(t, tc.pointer, se.Pointer, err.Error())
			assert.Equal(t, tc.keyword, se.Keyword, err.Error())
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			_, err = Compile([]byte(tc.schema), &Options{Lenient: true, FormatAssertion: tc.formats})
			if tc.lenientOK {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

// TestLenientOverApproximates: a lenient grammar accepts every valid
// document, and more where keywords were dropped.
func TestLenientOverApproximates(t *testing.T) {
	g := mustCompile(t, `{"type":"array","items":{"type":"integer"},"uniqueItems":true}`, &Options{Lenient: true})
	assert.True(t, g.Accepts(`[1,2]`))
	assert.True(t, g.Accepts(`[1,1]`)) // uniqueItems dropped: the validator catches it
	assert.False(t, g.Accepts(`["a"]`))
	g = mustCompile(t, `{"type":"string","pattern":"^(?!x)"}`, &Options{Lenient: true})
	assert.True(t, g.Accepts(`"y"`))
	// Under "not" the inner schema is approximated from below, so the
	// complement still over-approximates.
	g = mustCompile(t, `{"not":{"type":"array","uniqueItems":true}}`, &Options{Lenient: true})
	assert.True(t, g.Accepts(`[1,1]`))
	assert.True(t, g.Accepts(`"s"`))
}

// TestLargeBounds: counts far above llama.cpp's repetition limit of 2000
// compile quickly, to grammars that Parse (which applies llama.cpp's
// limits) accepts, and keep exact counts.
func TestLargeBounds(t *testing.T) {
	for _, tc := range []struct {
		name, schema string
		elem         string
		n            int // accepted count; n+1 rejected; lo-1 rejected when lo > 0
		lo           int
	}{
		{"maxLength", `{"type":"string","maxLength":100000}`, "a", 100000, 0},
		{"minLength", `{"type":"string","minLength":2500,"maxLength":4001}`, "é", 4001, 2500},
		{"maxItems", `{"type":"array","items":{"type":"integer"},"maxItems":5000}`, "1", 5000, 0},
		{"minItems", `{"type":"array","items":{"const":0},"minItems":2001,"maxItems":2500}`, "0", 2500, 2001},
		{"pattern count", `{"type":"string","pattern":"^[a-z]{3000,4500}$"}`, "q", 4500, 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			g, err := Compile([]byte(tc.schema), nil)
			require.NoError(t, err)
			assert.Less(t, time.Since(start), time.Second)
			doc := func(k int) string {
				if strings.Contains(tc.schema, `"array"`) {
					return "[" + strings.TrimSuffix(strings.Repeat(tc.elem+",", k), ",") + "]"
				}
				return `"` + strings.Repeat(tc.elem, k) + `"`
			}
			assert.True(t, g.Accepts(doc(tc.n)))
			assert.False(t, g.Accepts(doc(tc.n+1)))
			if tc.lo > 0 {
				assert.True(t, g.Accepts(doc(tc.lo)))
				assert.False(t, g.Accepts(doc(tc.lo-1)))
			}
		})
	}
}

func TestSchemaGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			schema, err := os.ReadFile(f)
			require.NoError(t, err)
			got, err := Compile(schema, nil)
			require.NoError(t, err)
			golden := strings.TrimSuffix(f, ".json") + ".gbnf"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got.String()), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -run TestSchemaGolden -update")
			assert.Equal(t, string(want), got.String())
		})
	}
}

func TestCompileValue(t *testing.T) {
	g, err := CompileValue(map[string]any{"type": "object", "properties": map[string]any{"b": map[string]any{"type": "integer"}, "a": map[string]any{"type": "boolean"}}, "required": []string{"a", "b"}}, nil)
	require.NoError(t, err)
	assert.True(t, g.Accepts(`{"a":true,"b":1}`)) // a map has no order: sorted
	src2, err := CompileValue([]byte(`{"type":"integer"}`), nil)
	require.NoError(t, err)
	src3, err := Compile([]byte(`{"type":"integer"}`), nil)
	require.NoError(t, err)
	assert.Equal(t, src3, src2)
}

func TestMaxGrammarBytes(t *testing.T) {
	schema := []byte(`{"type":"string","pattern":"^[a-z]{10}@[0-9]{3}$","maxLength":20}`)
	_, err := Compile(schema, &Options{MaxGrammarBytes: 100})
	assert.ErrorIs(t, err, ErrTooComplex)
	_, err = Compile(schema, nil)
	assert.NoError(t, err)
}

func TestSchemaErrorMessage(t *testing.T) {
	_, err := Compile([]byte(`{"properties":{"a/b":{"uniqueItems":true}}}`), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "#/properties/a~1b/uniqueItems")
	assert.True(t, errors.Is(err, ErrUnsupported))
}

// TestCompileConcurrent: compilations share only immutable caches (format
// automata, Unicode classes); run with -race.
func TestCompileConcurrent(t *testing.T) {
	schemas := []string{
		`{"type":"string","format":"date-time"}`,
		`{"type":"string","format":"ipv6","maxLength":20}`,
		`{"type":"object","properties":{"a":{"pattern":"^\\p{Letter}+$"}},"additionalProperties":false}`,
		`{"type":"number","minimum":0.5,"multipleOf":0.25}`,
	}
	done := make(chan error)
	for i := 0; i < 8; i++ {
		go func(i int) {
			_, err := Compile([]byte(schemas[i%len(schemas)]), &Options{FormatAssertion: true})
			done <- err
		}(i)
	}
	for i := 0; i < 8; i++ {
		assert.NoError(t, <-done)
	}
}

// TestRealWorldSchemas: schemas shaped like common real ones compile in
// strict mode, with formats asserted, and accept a valid document (with
// members in schema order).
func TestRealWorldSchemas(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "realworld", "*.json"))
	require.NoError(t, err)
	for _, f := range files {
		if strings.HasSuffix(f, ".valid.json") {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			schema, err := os.ReadFile(f)
			require.NoError(t, err)
			g, err := Compile(schema, &Options{FormatAssertion: true})
			require.NoError(t, err)
			doc, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".valid.json")
			require.NoError(t, err)
			inst, err := decodeJSON(doc)
			require.NoError(t, err)
			assert.True(t, acceptsSomeOrder(g, inst))
			v, err := NewValidator(schema)
			require.NoError(t, err)
			assert.NoError(t, v.Validate(doc))
		})
	}
}
