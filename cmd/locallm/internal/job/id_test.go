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
