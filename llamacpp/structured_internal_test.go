package llamacpp

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	c, err := compileConstraint(&llm.StructuredOutput{Schema: schema, Lenient: true})
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
