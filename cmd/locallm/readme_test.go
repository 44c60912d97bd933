package main

// TestREADMEExamples runs the README's shell examples as printed, so that
// a command the README shows and that fails breaks the build.
//
// Every fenced shell block (```sh, ```bash, ```shell) in README.md must
// follow a marker line, an HTML comment that renders as nothing:
//
//	<!-- example -->                 run it: the blocks run in README order,
//	                                 each with bash -euo pipefail, in one
//	                                 temporary directory (so a block sees
//	                                 the files earlier ones wrote), with
//	                                 this package built as locallm first on
//	                                 PATH and model.gguf the tiny model
//	<!-- example: file NAME -->      any fenced block: its text is written
//	                                 to NAME in that directory, for the
//	                                 blocks after it (input rows, schemas)
//	<!-- example: skip (WHY) -->     show it, don't run it, for the reason
//	                                 given: it needs a cluster (kubectl,
//	                                 sbatch), it is the test suite itself
//	<!-- example: library-steps -->  run by llamacpp's TestLibraryUse, with
//	<!-- example: library-program --> the program after it
//
// A shell block without a marker fails the test: a new section of the
// README decides whether its commands run here. Examples use model.gguf
// for the model, prompts.jsonl and the like for files a file block writes.

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp/tinyllama"
)

// readmeBlock is one fenced block of the README and its marker.
type readmeBlock struct {
	line   int    // of the opening fence
	lang   string // sh, json, ...
	marker string // "example", "example: file x", ...; "" for none
	text   string
}

var exampleMarker = regexp.MustCompile(`^<!--\s*(example(?::\s*[^>]*?)?)\s*-->$`)

// readmeBlocks reads the fenced blocks of a Markdown file with the marker
// on the line before each (blank lines between are not allowed).
func readmeBlocks(t *testing.T, path string) []readmeBlock {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var blocks []readmeBlock
	var cur *readmeBlock
	prev := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur != nil && strings.HasPrefix(line, "```"):
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		case strings.HasPrefix(line, "```"):
			cur = &readmeBlock{line: n, lang: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
			if m := exampleMarker.FindStringSubmatch(strings.TrimSpace(prev)); m != nil {
				cur.marker = m[1]
			}
		}
		prev = line
	}
	require.NoError(t, sc.Err())
	require.Nil(t, cur, "README.md ends inside a fenced block")
	return blocks
}

func TestREADMEExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds locallm and runs the README's examples on the tiny model")
	}
	blocks := readmeBlocks(t, filepath.Join("..", "..", "README.md"))

	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "locallm"), ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	dir := t.TempDir()
	require.NoError(t, tinyllama.Write(filepath.Join(dir, "model.gguf"), tinyllama.Config{}))
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	ran := 0
	for _, b := range blocks {
		shell := b.lang == "sh" || b.lang == "bash" || b.lang == "shell"
		name := "README.md:" + strconv.Itoa(b.line)
		switch {
		case b.marker == "example" && shell:
			ran++
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", b.text)
				cmd.Dir, cmd.Env = dir, env
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Errorf("README.md line %d: the example fails: %v\n--- example\n%s--- output\n%s", b.line, err, b.text, out)
				}
			})
		case strings.HasPrefix(b.marker, "example: file "):
			file := strings.TrimSpace(strings.TrimPrefix(b.marker, "example: file "))
			require.NotEmpty(t, file, "%s: a file marker names the file", name)
			require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(b.text), 0o644), name)
		case strings.HasPrefix(b.marker, "example: skip"):
			why := strings.Trim(strings.TrimSpace(strings.TrimPrefix(b.marker, "example: skip")), "()")
			if why == "" {
				t.Errorf("%s: say why the example is skipped: <!-- example: skip (needs a Slurm cluster) -->", name)
			}
		case b.marker == "example: library-steps", b.marker == "example: library-program":
			// llamacpp's TestLibraryUse runs these.
		case b.marker != "":
			t.Errorf("%s: unknown marker <!-- %s -->", name, b.marker)
		case shell:
			t.Errorf("%s: a shell block without a marker: put <!-- example --> (run by this test) or <!-- example: skip (why) --> on the line before it", name)
		}
	}
	require.Greater(t, ran, 5, "the README's runnable examples were not found")
}
