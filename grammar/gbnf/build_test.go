package gbnf

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBuilderNames: fresh names are distinct, skip reserved and defined
// ones, and stay cheap when many rules share a hint (a schema with
// thousands of array items named alike).
func TestBuilderNames(t *testing.T) {
	b := NewBuilder("value")
	b.Define("items-3", `"x"`)
	assert.Equal(t, "value-2", b.Name("value"))
	assert.Equal(t, "items", b.Name("items"))
	assert.Equal(t, "items-2", b.Name("items"))
	assert.Equal(t, "items-4", b.Name("items"), "items-3 is defined")
	assert.Equal(t, "items-2-2", b.Name("items-2"))
	assert.Equal(t, "r", b.Name("!!"))
	start := time.Now()
	seen := map[string]bool{}
	for range 50000 {
		n := b.Name("items")
		require.False(t, seen[n], n)
		seen[n] = true
	}
	assert.Less(t, time.Since(start), 2*time.Second)
}
