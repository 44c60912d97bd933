package jsonschema

import (
	"os"
	"testing"
	"time"
)

// fuzzSeeds are schemas that stress the compiler's limits.
var fuzzSeeds = []string{
	`{"type":"object","properties":{"a":{"type":"string","maxLength":100000},"b":{"type":"array","maxItems":5000}}}`,
	`{"$ref":"#"}`,
	`{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"allOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"}`,
	`{"$defs":{"t":{"items":{"$ref":"#/$defs/t"},"not":{"$ref":"#/$defs/t"}}},"$ref":"#/$defs/t"}`,
	`{"items":{"items":{"items":{"items":{"items":{"items":{"items":{"items":{}}}}}}}}}`,
	`{"type":"integer","minimum":-1e300,"maximum":1e300,"multipleOf":3}`,
	`{"type":"number","multipleOf":1e-300}`,
	`{"type":"string","pattern":"^(a|b)*c{1000,2000}(d?){2000}$","minLength":3,"maxLength":99999}`,
	`{"oneOf":[{"minimum":1},{"maximum":5},{"multipleOf":2},{"type":"string"}]}`,
	`{"not":{"anyOf":[{"contains":{"const":1},"minContains":3},{"prefixItems":[{"type":"string"}]}]}}`,
	`{"patternProperties":{"^a":{"type":"integer"},"b$":{"minimum":3},"c":{"const":null}},"additionalProperties":false,"minProperties":2,"maxProperties":4}`,
	`{"unevaluatedProperties":false,"anyOf":[{"properties":{"a":true}},{"properties":{"b":true}}],"if":{"required":["c"]},"then":{"properties":{"c":true}}}`,
	`{"type":"string","format":"date-time","maxLength":30}`,
	`{"enum":[[1,[2,[3]]],{"a":{"b":{"c":[]}}},"x",1.5e3]}`,
	`{"uniqueItems":true,"items":{"enum":[1,2,3]},"maxItems":3}`,
	`{"dependentSchemas":{"a":{"required":["b"]}},"dependentRequired":{"b":["c"]},"propertyNames":{"pattern":"^[a-c]$"}}`,
	`{"oneOf":[{"properties":{"a":{}},"additionalProperties":false},{"patternProperties":{"^b":{}},"additionalProperties":false},{"not":{"propertyNames":{"maxLength":1}}}]}`,
	`{"type":"string","pattern":"^(?=.*[0-9])(?!.*\s)(?=.{8,}$)[!-~]*$"}`,
	`{"type":"array","items":{"enum":[1,2,3,"a","b",null,true]},"uniqueItems":true,"minItems":2}`,
	`{"$defs":{"g":{"oneOf":[{"properties":{"t":{"const":1},"c":{"items":{"$ref":"#/$defs/g"}}}},{"properties":{"t":{"const":2}}}]}},"$ref":"#/$defs/g"}`,
}

// FuzzCompileSchema: the compiler never panics, returns in bounded time,
// and every grammar it returns parses (Compile checks that itself).
func FuzzCompileSchema(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	if _, err := os.Stat(suiteDir); err == nil {
		for _, s := range suiteSchemas(f) {
			f.Add(s.schema, false)
		}
	}
	f.Fuzz(func(t *testing.T, schema []byte, lenient bool) {
		start := time.Now()
		g, err := Compile(schema, &Options{Lenient: lenient, FormatAssertion: true})
		if d := time.Since(start); d > 20*time.Second {
			t.Fatalf("compile took %v", d)
		}
		if err != nil {
			return
		}
		if g == nil {
			t.Fatal("no grammar and no error")
		}
		if n := len(g.String()); n > maxGrammarBytes+1<<20 {
			t.Fatalf("grammar of %d bytes", n)
		}
	})
}
