package jsonschema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/grammar/gbnf"
)

// TestCompletionFixtures: package gbnf tests completions on grammars this
// compiler wrote (it cannot import this package); each file holds the
// schema on its second line. They must be what the compiler writes today.
func TestCompletionFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "gbnf", "testdata", "compiled", "*.gbnf"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			lines := strings.SplitN(string(data), "\n", 3)
			require.Len(t, lines, 3)
			schema, ok := strings.CutPrefix(lines[1], "# ")
			require.True(t, ok, "the second line is # and the schema")
			want, err := gbnf.Parse(f, string(data))
			require.NoError(t, err)
			got, err := Compile([]byte(schema), nil)
			require.NoError(t, err)
			if *update {
				require.NoError(t, os.WriteFile(f, []byte(lines[0]+"\n"+lines[1]+"\n"+got.String()), 0o644))
				return
			}
			assert.Equal(t, want.String(), got.String(), "run go test -run TestCompletionFixtures -update")
		})
	}
}
