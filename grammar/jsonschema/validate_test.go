package jsonschema

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestValidatorSuite runs the Validator over the same suite as the
// conformance test. The formats it checks with santhosh-tekuri's code
// (time, date-time, host names, e-mail, regex) are looser than the suite
// in places (a trailing dot, A-labels), never stricter; the others use
// this package's exact automata. So a document a strict grammar admits
// always validates (TestGrammarOutputsValidate).
func TestValidatorSuite(t *testing.T) {
	var pass, total int
	var misses []string
	for _, file := range suiteFiles(t) {
		rel, _ := filepath.Rel(filepath.Join(suiteDir, "draft2020-12"), file)
		formats := strings.Contains(rel, "optional")
		for _, g := range readGroups(t, file) {
			v, err := NewValidatorWithOptions(g.Schema, &Options{FormatAssertion: formats, Loader: suiteLoader})
			for _, tc := range g.Tests {
				total++
				if err != nil {
					misses = append(misses, fmt.Sprintf("%s: %q: %v", rel, g.Description, err))
					continue
				}
				if (v.Validate(tc.Data) == nil) == tc.Valid {
					pass++
				} else {
					misses = append(misses, fmt.Sprintf("%s: %q / %q", rel, g.Description, tc.Description))
				}
			}
		}
	}
	t.Logf("validator: %d/%d (%.1f%%)", pass, total, 100*float64(pass)/float64(total))
	for _, m := range misses {
		t.Log(m)
	}
	assert.GreaterOrEqual(t, float64(pass)/float64(total), 0.95)
}

// TestGrammarOutputsValidate: every suite instance a strict grammar admits
// passes the Validator.
func TestGrammarOutputsValidate(t *testing.T) {
	for _, file := range suiteFiles(t) {
		rel, _ := filepath.Rel(filepath.Join(suiteDir, "draft2020-12"), file)
		opts := &Options{FormatAssertion: strings.Contains(rel, "optional"), Loader: suiteLoader}
		for _, g := range readGroups(t, file) {
			gr, err := Compile(g.Schema, opts)
			if err != nil {
				continue
			}
			v, err := NewValidatorWithOptions(g.Schema, opts)
			require.NoError(t, err, "%s: %s", rel, g.Description)
			for _, tc := range g.Tests {
				inst, err := decodeJSON(tc.Data)
				require.NoError(t, err)
				if acceptsSomeOrder(gr, inst) {
					assert.NoError(t, v.Validate(tc.Data), "%s: %q / %q", rel, g.Description, tc.Description)
				}
			}
		}
	}
}

func TestValidatorErrors(t *testing.T) {
	v, err := NewValidator([]byte(`{"type":"object","properties":{"a/b":{"type":"array","items":{"type":"string","format":"date"}}}}`))
	require.NoError(t, err)
	assert.NoError(t, v.Validate([]byte(`{"a/b":["2024-01-31"]}`)))
	err = v.Validate([]byte(`{"a/b":["2024-02-31"]}`))
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "/a~1b/0", ve.Pointer)
	err = v.Validate([]byte(`{"a/b":[]} x`))
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "", ve.Pointer)
	_, err = NewValidator([]byte(`{"type":"nope"}`))
	var se *SchemaError
	assert.True(t, errors.As(err, &se))
}
