package llamacpp

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/grammar/jsonschema"
	"github.com/locallm/locallm/llm"
)

// TestConstraintCompiledOnce: a constraint is compiled once per content
// (and options): rows of a job that share a schema share one grammar
// value.
func TestConstraintCompiledOnce(t *testing.T) {
	schema := `{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}`
	a, err := compileConstraint(&llm.StructuredOutput{Schema: schema})
	require.NoError(t, err)
	b, err := compileConstraint(&llm.StructuredOutput{Schema: []byte(schema), Retries: 3})
	require.NoError(t, err)
	assert.Same(t, a, b, "the same schema text, given as a string or bytes, is compiled once")
	c, err := compileConstraint(&llm.StructuredOutput{Schema: schema, Strict: true})
	require.NoError(t, err)
	assert.NotSame(t, a, c, "other options compile anew")
	d, err := compileConstraint(&llm.StructuredOutput{GBNF: `root ::= "x"`})
	require.NoError(t, err)
	e, err := compileConstraint(&llm.StructuredOutput{GBNF: `root ::= "x"`})
	require.NoError(t, err)
	assert.Same(t, d, e)
	assert.True(t, a.grammar.Accepts(`{"n":1}`))

	// Many rows asking for a new schema at once compile it once.
	fresh := `{"type":"array","items":{"type":"boolean"},"maxItems":3}`
	got := make([]*constraint, 16)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = compileConstraint(&llm.StructuredOutput{Schema: fresh})
		}()
	}
	wg.Wait()
	for _, g := range got {
		assert.Same(t, got[0], g)
	}
}

// TestConstraintUsesGenerationOptions: generation compiles a schema with
// jsonschema's GenerationOptions (lenient unless Strict), which is what
// locallm grammar prints (its TestGrammarPrintsGenerationGrammar).
func TestConstraintUsesGenerationOptions(t *testing.T) {
	for _, schema := range []string{
		`{"type":"object","properties":{"day":{"type":"string","format":"date"}},"required":["day"]}`,
		`{"type":"object","properties":{"name":{"$id":"/properties/name","type":"string"},"age":{"$id":"/properties/age","type":"integer"}}}`,
		`{"type":"array","items":{"type":"string"},"uniqueItems":true}`,
	} {
		for _, strict := range []bool{false, true} {
			opts := jsonschema.GenerationOptions()
			opts.Lenient = !strict
			want, wantErr := jsonschema.NewConstraint([]byte(schema), opts)
			c, err := compileConstraint(&llm.StructuredOutput{Schema: json.RawMessage(schema), Strict: strict})
			if wantErr != nil {
				assert.Error(t, err, "%s strict=%v", schema, strict)
				continue
			}
			require.NoError(t, err, "%s strict=%v", schema, strict)
			assert.Equal(t, want.Grammar.String(), c.grammar.String(), "%s strict=%v", schema, strict)
		}
	}
}
