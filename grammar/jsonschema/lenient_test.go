package jsonschema

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Patterns that real-world schemas use and that generation, lenient by
// default, must take: each compiles with GenerationOptions, the grammar
// admits the valid documents (and the Validator passes them), and the
// invalid ones are refused by the grammar or else by the Validator.
func TestRealWorldPatterns(t *testing.T) {
	for _, tc := range []struct {
		name, schema      string
		valid, invalid    []string
		strictUnsupported bool // strict mode refuses the schema (unsupported, too complex)
	}{
		{
			name:              "metaschema reference",
			schema:            `{"type":"object","properties":{"settings":{"$ref":"http://json-schema.org/draft-07/schema#"}},"required":["settings"]}`,
			valid:             []string{`{"settings":{"type":"string"}}`, `{"settings":true}`},
			invalid:           []string{`{"settings":1}`, `{"settings":{"type":7}}`},
			strictUnsupported: true,
		},
		{
			name:    "large string enum",
			schema:  largeEnum(3000),
			valid:   []string{`"name0"`, `"name2999"`},
			invalid: []string{`"name3000"`, `"Name0"`},
		},
		{
			// 4 oneOfs of 5 objects each make 625 alternatives: the
			// lenient grammar holds them in one.
			name:              "product of many object alternatives",
			schema:            manyAlternatives(4, 5),
			valid:             []string{`{"a":"a0","b":"b3","c":"c4","d":"d1"}`},
			invalid:           []string{`{"a":"a0","b":"b3","c":"c4","d":"x"}`, `{"a":"a0","b":"b3","c":"c4"}`},
			strictUnsupported: true,
		},
		{
			name:              "dependentRequired with many triggers",
			schema:            manyDependencies(9),
			valid:             []string{`{"t0":1,"r0":1}`, `{"t3":1,"r3":1,"t8":1,"r8":1}`, `{}`},
			invalid:           []string{`{"t3":1}`, `{"t3":1,"r3":1,"t8":1}`},
			strictUnsupported: true,
		},
		{
			// The regex format is too large for one automaton, so the
			// union, intersection and complement below are approximated.
			name:              "format regex in anyOf, allOf and not",
			schema:            `{"type":"object","properties":{"a":{"anyOf":[{"type":"string","format":"regex"},{"type":"string","pattern":"^x+$"}]},"b":{"allOf":[{"type":"string","format":"regex"},{"pattern":"^\\^"}]},"c":{"type":"string","not":{"format":"regex"}}}}`,
			valid:             []string{`{"a":"^(a|b)$"}`, `{"a":"xx"}`, `{"b":"^a"}`, `{"c":"(unclosed"}`},
			invalid:           []string{`{"a":"y("}`, `{"b":"a"}`, `{"b":"^("}`, `{"c":"ok"}`},
			strictUnsupported: true,
		},
		{
			// The regex format with a length is too large for one
			// automaton: the format alone stands for both.
			name:              "format regex with a length",
			schema:            `{"type":"object","properties":{"source":{"type":"string","format":"regex","minLength":1}},"required":["source"]}`,
			valid:             []string{`{"source":"^/api/(.*)$"}`},
			invalid:           []string{`{"source":""}`, `{"source":"(unclosed"}`},
			strictUnsupported: true,
		},
		{
			// A definition that includes itself in place, a mistake real
			// schemas carry in parts rarely used: the rest of the schema
			// compiles, and the validator refuses what reaches it.
			name:              "in-place self reference",
			schema:            `{"type":"object","properties":{"name":{"type":"string"},"vm":{"$ref":"#/definitions/vm"}},"required":["name"],"definitions":{"vm":{"type":"object","allOf":[{"$ref":"#/definitions/vm"},{"properties":{"os":{"type":"string"}}}]}}}`,
			valid:             []string{`{"name":"x"}`},
			invalid:           []string{`{"name":1}`, `{"name":"x","vm":{"os":"windows"}}`},
			strictUnsupported: true,
		},
		{
			name:              "more key rules than the limit",
			schema:            manyPatterns(10),
			valid:             []string{`{"a0":0,"a9":9,"zz":true}`},
			invalid:           []string{`{"a9":"nine"}`, `{"a0":-1}`},
			strictUnsupported: true,
		},
		{
			name:              "more contains counts than the limit",
			schema:            `{"type":"array","allOf":[{"contains":{"const":1}},{"contains":{"const":2}},{"contains":{"const":3}},{"contains":{"const":4}},{"contains":{"const":5}},{"contains":{"const":6}},{"contains":{"const":7}}]}`,
			valid:             []string{`[7,6,5,4,3,2,1]`},
			invalid:           []string{`[1,2,3,4,5,6]`, `[]`},
			strictUnsupported: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewConstraint([]byte(tc.schema), GenerationOptions())
			require.NoError(t, err)
			for _, doc := range tc.valid {
				assert.True(t, c.Grammar.Accepts(doc), "grammar refuses %s", doc)
				assert.NoError(t, c.Validator.Validate([]byte(doc)))
			}
			for _, doc := range tc.invalid {
				assert.False(t, c.Grammar.Accepts(doc) && c.Validator.Validate([]byte(doc)) == nil, "%s gets through", doc)
			}
			strict := GenerationOptions()
			strict.Lenient = false
			_, err = Compile([]byte(tc.schema), strict)
			if tc.strictUnsupported {
				assert.Error(t, err)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

func largeEnum(n int) string {
	b := []byte(`{"enum":[`)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `"name`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, '"')
	}
	return string(append(b, "]}"...))
}

// manyAlternatives is an allOf of n oneOfs, each of k objects that give
// one property one value.
func manyAlternatives(n, k int) string {
	var all []string
	for i := range n {
		p := string(rune('a' + i))
		var alts []string
		for j := range k {
			alts = append(alts, fmt.Sprintf(`{"type":"object","properties":{%q:{"const":"%s%d"}},"required":[%q]}`, p, p, j, p))
		}
		all = append(all, `{"oneOf":[`+strings.Join(alts, ",")+`]}`)
	}
	return `{"allOf":[` + strings.Join(all, ",") + `]}`
}

// manyDependencies: n triggers t<i>, each requiring r<i>.
func manyDependencies(n int) string {
	var props, deps []string
	for i := range n {
		props = append(props, fmt.Sprintf(`"t%d":{"type":"integer"},"r%d":{"type":"integer"}`, i, i))
		deps = append(deps, fmt.Sprintf(`"t%d":["r%d"]`, i, i))
	}
	return `{"type":"object","properties":{` + strings.Join(props, ",") + `},"dependentRequired":{` + strings.Join(deps, ",") + `}}`
}

// manyPatterns: n patternProperties, a<i> must be the integer i.
func manyPatterns(n int) string {
	var pats []string
	for i := range n {
		pats = append(pats, fmt.Sprintf(`"^a%d$":{"const":%d}`, i, i))
	}
	return `{"type":"object","patternProperties":{` + strings.Join(pats, ",") + `}}`
}
