package llamacpp_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readmeBlock returns the fenced code block that follows marker in the README.
func readmeBlock(t *testing.T, readme, marker string) string {
	t.Helper()
	i := strings.Index(readme, marker)
	require.GreaterOrEqual(t, i, 0, "README has no %s block", marker)
	rest := readme[i+len(marker):]
	start := strings.Index(rest, "```")
	require.GreaterOrEqual(t, start, 0)
	rest = rest[start+3:]
	rest = rest[strings.Index(rest, "\n")+1:]
	end := strings.Index(rest, "```")
	require.GreaterOrEqual(t, end, 0)
	return rest[:end]
}

// TestLibraryUse follows the README's "Use as a library" steps as printed,
// in a throwaway module outside the repository, with LOCALLM set to this
// checkout: a Go workspace over the module and the checkout, built offline
// (GOPROXY=off: everything comes from the module cache, which the
// checkout's own build filled). It then runs the README's example program
// on the tiny model.
func TestLibraryUse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a separate module")
	}
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	steps := readmeBlock(t, string(readme), "<!-- example: library-steps -->")
	program := readmeBlock(t, string(readme), "<!-- example: library-program -->")

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(program), 0o644))
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", steps)
	cmd.Dir = dir
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "GOFLAGS", "GOWORK", "GOPROXY", "CGO_CPPFLAGS", "CGO_CFLAGS", "CGO_CXXFLAGS":
			continue // the steps set what they need
		}
		env = append(env, kv)
	}
	cmd.Env = append(env, "LOCALLM="+root, "GOPROXY=off", "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "README steps failed:\n%s", out)

	run := exec.Command(filepath.Join(dir, "app"), tinyModel(t, ""))
	out, err = run.CombinedOutput()
	require.NoError(t, err, "%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 2, "%s", out)
	assert.True(t, strings.HasPrefix(lines[0], "0 2 "), lines[0])
	assert.True(t, strings.HasPrefix(lines[1], "1 2 "), lines[1])
}
