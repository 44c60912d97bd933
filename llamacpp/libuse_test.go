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

// TestLibraryUse follows the README's "Use as a library" steps in a
// throwaway module outside the repository, with a replace directive to this
// checkout standing in for `go get` (the test runs offline), builds the
// README's example program and runs it on the tiny model.
func TestLibraryUse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a separate module")
	}
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	steps := readmeBlock(t, string(readme), "<!-- library-steps -->")
	program := readmeBlock(t, string(readme), "<!-- library-example -->")

	dir := t.TempDir()
	gomod := "module example.com/app\n\ngo 1.26\n\nrequire github.com/locallm/locallm v0.0.0\n\nreplace github.com/locallm/locallm => " + root + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(program), 0o644))

	var script []string
	for _, line := range strings.Split(steps, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "go get github.com/locallm/locallm") {
			continue // the replace directive stands in for it
		}
		script = append(script, line)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", strings.Join(script, "\n"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "CGO_CPPFLAGS=", "CGO_CFLAGS=", "CGO_CXXFLAGS=")
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
