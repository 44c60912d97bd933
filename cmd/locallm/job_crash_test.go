package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/cmd/locallm/internal/job"
)

// cliHelperEnv makes TestCLIHelper act as the locallm command.
const cliHelperEnv = "LOCALLM_TEST_CLI"

// TestCLIHelper is not a test: the crash test runs this test binary as the
// locallm command through it (the arguments follow "--"), so that the
// process it kills is the real command, built from this package.
func TestCLIHelper(t *testing.T) {
	if os.Getenv(cliHelperEnv) != "1" {
		t.Skip("the crash test's helper process")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

// cliCommand returns the locallm command as a subprocess.
func cliCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestCLIHelper$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), cliHelperEnv+"=1")
	return cmd
}

// Kill the job with SIGKILL at random moments, resume it each time, and
// check that the output ends up with every input id exactly once and no
// torn line.
func TestGenerateJobSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model in subprocesses for some seconds")
	}
	const rows = 200
	wantKills := 6
	if n, err := strconv.Atoi(os.Getenv("LOCALLM_CRASH_KILLS")); err == nil && n > 0 {
		wantKills = n // for a longer run by hand
	}
	model := tinyModel(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.jsonl"), filepath.Join(dir, "out.jsonl")
	writeLines(t, in, promptRows(rows)...)
	args := []string{"generate", "--model", model, "--threads", "1", "--ctx", "2048", "--parallel", "8",
		"--input", in, "--output", out, "--max-tokens", "160", "--ignore-eos", "--temperature", "0.8", "--seed", "7"}
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	kills, torn := 0, 0
	var history []string
	for attempt := 0; kills < wantKills && attempt < 4*wantKills; attempt++ {
		cmd := cliCommand(args...)
		var errBuf bytes.Buffer
		cmd.Stderr = &errBuf
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		// Early kills land in startup or the first rows, later ones while
		// rows finish and are written.
		wait := time.Duration(10+rng.IntN(500)) * time.Millisecond
		select {
		case err := <-exited:
			// Finished before its kill (a fast machine): check it and
			// start over, so that every machine sees several kills.
			require.NoError(t, err, "the job failed: %s", errBuf.String())
			assert.Len(t, readOutput(t, out), rows)
			require.NoError(t, os.Remove(out))
			history = append(history, "finished; started over")
			continue
		case <-time.After(wait):
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		<-exited
		kills++
		data, err := os.ReadFile(out)
		if err != nil {
			require.ErrorIs(t, err, os.ErrNotExist, "killed before creating the output")
		}
		if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
			torn++
		}
		complete := bytes.Count(data, []byte("\n"))
		checkCompleteLines(t, data)
		history = append(history, fmt.Sprintf("kill after %v: %d rows", wait, complete))
		assert.NotContains(t, errBuf.String(), "panic", "stderr of the killed run")
	}
	// Resume to the end.
	cmd := cliCommand(args...)
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	require.NoError(t, cmd.Run(), errBuf.String())
	t.Logf("%d kills (%d left a torn line): %s", kills, torn, strings.Join(history, "; "))

	got := readOutput(t, out) // every line parses, no id twice, no torn end
	assert.Len(t, got, rows)
	for i := range rows {
		r, ok := got[fmt.Sprintf("r%d", i)]
		if assert.True(t, ok, "r%d missing", i) {
			assert.Len(t, r.Generations, 1)
			assert.Equal(t, []int{160}, r.Statistics.OutputTokens)
		}
	}
	assert.GreaterOrEqual(t, kills, 3, "the job was killed too rarely: %v", history)
}

// checkCompleteLines checks the output a killed run left: every complete
// line is a row, and no id is there twice. A torn last line is allowed;
// the next run cuts it.
func checkCompleteLines(t *testing.T, data []byte) {
	t.Helper()
	lines := bytes.Split(data, []byte("\n"))
	seen := map[string]bool{}
	for i, line := range lines[:len(lines)-1] {
		var r outputRow
		require.NoError(t, json.Unmarshal(line, &r), "line %d: %q", i+1, line)
		k, err := job.IDKey(r.ID)
		require.NoError(t, err)
		require.False(t, seen[k], "id %s twice", k)
		seen[k] = true
	}
}
