package job

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIDKey(t *testing.T) {
	for _, tc := range []struct {
		raw, key, err string
	}{
		{`"abc"`, "abc", ""},
		{`"a\"b"`, `a"b`, ""},
		{`7`, "7", ""},
		{` -1.5e3 `, "-1.5e3", ""},
		{`""`, "", "empty id"},
		{`null`, "", `no "id"`},
		{``, "", `no "id"`},
		{`true`, "", "not a string or a number"},
		{`[1]`, "", "not a string or a number"},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			k, err := IDKey(json.RawMessage(tc.raw))
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.key, k)
		})
	}
}

// TestRowIDSpeaksJSON: a line that is JSON but not an object says so, not
// in Go's words ("cannot unmarshal array into Go value of type struct").
func TestRowIDSpeaksJSON(t *testing.T) {
	for line, want := range map[string]string{
		`[1, 2]`:   "a row is a JSON object, not array",
		`"text"`:   "a row is a JSON object, not string",
		`{"id": 1`: "bad JSON",
		`{"x": 1}`: `no "id"`,
	} {
		_, _, err := RowID([]byte(line))
		require.Error(t, err, line)
		assert.Contains(t, err.Error(), want, line)
		assert.NotContains(t, err.Error(), "Go value", line)
	}
}
