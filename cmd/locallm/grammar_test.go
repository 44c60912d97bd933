package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/grammar/jsonschema"
)

// grammarSchemas are schemas whose grammar depends on the defaults: a
// format (asserted by default), relative $ids as generators write them,
// and a keyword that --strict refuses.
var grammarSchemas = map[string]string{
	"format":       `{"type":"object","properties":{"day":{"type":"string","format":"date"}},"required":["day"]}`,
	"relative-ids": `{"type":"object","properties":{"name":{"$id":"/properties/name","type":"string"},"age":{"$id":"/properties/age","type":"integer"}}}`,
	"unique":       `{"type":"array","items":{"type":"string"},"uniqueItems":true}`,
}

// TestGrammarPrintsGenerationGrammar: locallm grammar, with its default
// flags, prints the grammar that generation compiles: jsonschema's
// NewConstraint with GenerationOptions, and --strict as generate --strict
// (llamacpp's TestConstraintUsesGenerationOptions checks the generation
// side).
func TestGrammarPrintsGenerationGrammar(t *testing.T) {
	dir := t.TempDir()
	for name, schema := range grammarSchemas {
		for _, strict := range []bool{false, true} {
			path := filepath.Join(dir, name+".json")
			require.NoError(t, os.WriteFile(path, []byte(schema), 0o644))
			opts := jsonschema.GenerationOptions()
			opts.Lenient = !strict
			want, wantErr := jsonschema.NewConstraint([]byte(schema), opts)
			args := []string{"grammar", "--schema", path}
			if strict {
				args = append(args, "--strict")
			}
			var out, errw bytes.Buffer
			code := run(args, &out, &errw)
			if wantErr != nil {
				assert.NotZero(t, code, "%s strict=%v", name, strict)
				assert.Contains(t, errw.String(), wantErr.Error())
				continue
			}
			require.Zero(t, code, "%s strict=%v: %s", name, strict, errw.String())
			assert.Equal(t, want.Grammar.String(), out.String(), "%s strict=%v", name, strict)
		}
	}
	// The strict uniqueItems schema is an error, the lenient one is not.
	var errw0 bytes.Buffer
	assert.NotZero(t, run([]string{"grammar", "--schema", filepath.Join(dir, "unique.json"), "--strict"}, &bytes.Buffer{}, &errw0))
	assert.Contains(t, errw0.String(), "uniqueItems")
	// The format is asserted by default, and only then.
	path := filepath.Join(dir, "format.json")
	var asserted, annotated, errw bytes.Buffer
	require.Zero(t, run([]string{"grammar", "--schema", path}, &asserted, &errw))
	require.Zero(t, run([]string{"grammar", "--schema", path, "--format-assertion=false"}, &annotated, &errw))
	assert.NotEqual(t, asserted.String(), annotated.String())
}
