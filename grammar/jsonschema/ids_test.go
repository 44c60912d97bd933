package jsonschema

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSchemaIDs: schemas that name their parts the way schema generators
// and hand-written multi-part schemas do (relative $id on subschemas,
// fragment-only $id, nested resources, $anchor, $dynamicRef under an
// anonymous root) compile with GenerationOptions and build a Validator, and
// grammar and validator agree on every instance: the valid ones get
// through both, the invalid ones through neither.
func TestSchemaIDs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "ids", "*.json"))
	require.NoError(t, err)
	var n int
	for _, f := range files {
		if strings.HasSuffix(f, ".instances.json") {
			continue
		}
		n++
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			schema, err := os.ReadFile(f)
			require.NoError(t, err)
			g, err := Compile(schema, GenerationOptions())
			require.NoError(t, err)
			v, err := NewValidatorWithOptions(schema, GenerationOptions())
			require.NoError(t, err)
			data, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".instances.json")
			require.NoError(t, err)
			var cases struct{ Valid, Invalid []json.RawMessage }
			require.NoError(t, json.Unmarshal(data, &cases))
			require.NotEmpty(t, cases.Valid)
			require.NotEmpty(t, cases.Invalid)
			for want, insts := range map[bool][]json.RawMessage{true: cases.Valid, false: cases.Invalid} {
				for _, inst := range insts {
					val, err := decodeJSON(inst)
					require.NoError(t, err)
					assert.Equal(t, want, acceptsSomeOrder(g, val), "grammar on %s", inst)
					assert.Equal(t, want, v.Validate(inst) == nil, "validator on %s", inst)
				}
			}
		})
	}
	require.NotZero(t, n)
}

// TestSchemaIDErrors: what the Validator refuses about ids, the compiler
// refuses too, so that a schema never compiles only to fail when
// generation builds its validator.
func TestSchemaIDErrors(t *testing.T) {
	for _, tc := range []struct{ name, schema string }{
		{"duplicate $id", `{"properties":{"a":{"$id":"x.json","type":"string"},"b":{"$id":"x.json","type":"integer"}}}`},
		{"duplicate $anchor", `{"properties":{"a":{"$anchor":"x","type":"string"},"b":{"$anchor":"x","type":"integer"}}}`},
		{"relative $ids under a URN", `{"$id":"urn:example:root","properties":{"a":{"$id":"a.json","type":"string"}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, cerr := Compile([]byte(tc.schema), GenerationOptions())
			_, verr := NewValidator([]byte(tc.schema))
			assert.Error(t, verr)
			assert.Error(t, cerr)
		})
	}
}

// TestBaseURI: a relative reference out of an anonymous schema reaches the
// Loader as the same absolute URI from the compiler and the validator.
func TestBaseURI(t *testing.T) {
	var asked []string
	opts := GenerationOptions()
	opts.Loader = func(uri string) ([]byte, error) {
		asked = append(asked, uri)
		return []byte(`{"type":"integer","minimum":5}`), nil
	}
	schema := []byte(`{"type":"object","properties":{"n":{"$ref":"defs/count.json"}}}`)
	g, err := Compile(schema, opts)
	require.NoError(t, err)
	v, err := NewValidatorWithOptions(schema, opts)
	require.NoError(t, err)
	assert.Equal(t, []string{"https://locallm.invalid/defs/count.json", "https://locallm.invalid/defs/count.json"}, asked)
	assert.True(t, g.Accepts(`{"n":5}`))
	assert.False(t, g.Accepts(`{"n":4}`))
	assert.NoError(t, v.Validate([]byte(`{"n":5}`)))
	assert.Error(t, v.Validate([]byte(`{"n":4}`)))
}
