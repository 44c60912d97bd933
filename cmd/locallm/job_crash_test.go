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

// crashKills is how many times a crash test kills its job: n, or
// $LOCALLM_CRASH_KILLS for a longer run by hand.
func crashKills(n int) int {
	if k, err := strconv.Atoi(os.Getenv("LOCALLM_CRASH_KILLS")); err == nil && k > 0 {
		return k
	}
	return n
}

// seededRand is a random source whose seed the test logs.
func seededRand(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	return rand.New(rand.NewPCG(seed, 1))
}

// killRuns starts the command args again and again, each run killed with
// SIGKILL unless it finishes first, until kills runs have been killed (at
// most 4*kills runs). wait gives each run its kill moment: a delay after
// the start and, where not nil, a condition that must also hold (polled
// every few milliseconds; it lets a test place a kill after the run has
// written something, whatever the machine's speed). A run that finishes
// before its kill (a fast machine) is handed to finished, which checks its
// output and removes it, so that every machine sees several kills; after
// each kill, killed checks what the run left and describes it for the log.
// It returns the number of kills and the log.
func killRuns(t *testing.T, args []string, kills int, wait func() (time.Duration, func() bool), finished func(), killed func(time.Duration) string) (int, []string) {
	t.Helper()
	n := 0
	var history []string
	for attempt := 0; n < kills && attempt < 4*kills; attempt++ {
		cmd := cliCommand(args...)
		var errBuf bytes.Buffer
		cmd.Stderr = &errBuf
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		start := time.Now()
		w, ready := wait()
		if ready == nil {
			ready = func() bool { return true }
		}
		due := time.After(w)
		elapsed := false
		tick := time.NewTicker(2 * time.Millisecond)
		done := false
	poll:
		for {
			select {
			case err := <-exited:
				require.NoError(t, err, "the job failed: %s", errBuf.String())
				finished()
				history = append(history, "finished; started over")
				done = true
				break poll
			case <-due:
				due, elapsed = nil, true
			case <-tick.C:
			}
			if elapsed && ready() {
				break poll
			}
		}
		tick.Stop()
		if done {
			continue
		}
		w = time.Since(start)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		<-exited
		n++
		history = append(history, killed(w))
		assert.NotContains(t, errBuf.String(), "panic", "stderr of the killed run")
	}
	return n, history
}

// Kill the job with SIGKILL at random moments, resume it each time, and
// check that the output ends up with every input id exactly once and no
// torn line.
func TestGenerateJobSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model in subprocesses for some seconds")
	}
	const rows = 200
	model := tinyModel(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.jsonl"), filepath.Join(dir, "out.jsonl")
	writeLines(t, in, promptRows(rows)...)
	args := []string{"generate", "--model", model, "--threads", "1", "--ctx", "2048", "--parallel", "8",
		"--input", in, "--output", out, "--max-tokens", "160", "--ignore-eos", "--temperature", "0.8", "--seed", "7"}
	rng := seededRand(t)
	torn := 0
	kills, history := killRuns(t, args, crashKills(6),
		// Early kills land in startup or the first rows, later ones while
		// rows finish and are written.
		func() (time.Duration, func() bool) { return time.Duration(10+rng.IntN(500)) * time.Millisecond, nil },
		func() {
			assert.Len(t, readOutput(t, out), rows)
			require.NoError(t, os.Remove(out))
		},
		func(wait time.Duration) string {
			data, err := os.ReadFile(out)
			if err != nil {
				require.ErrorIs(t, err, os.ErrNotExist, "killed before creating the output")
			}
			if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
				torn++
			}
			checkCompleteLines(t, data)
			return fmt.Sprintf("kill after %v: %d rows", wait, bytes.Count(data, []byte("\n")))
		})
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

// longRows are rows of 20 to 49 words, so that embedding 300 of them
// with the tiny model takes a few seconds: long enough to be killed at
// many moments.
func longRows(n int) []string {
	var rows []string
	for i := range n {
		words := make([]string, 20+i%30)
		for j := range words {
			words[j] = fmt.Sprintf("word%d", (i*7+j)%50)
		}
		rows = append(rows, fmt.Sprintf(`{"id": "e%d", "prompt": %q}`, i, strings.Join(words, " ")))
	}
	return rows
}

// killAndResume runs the command args (which writes files) to the end
// once without a stop, then again, killed with SIGKILL at random moments
// and resumed each time, and checks that the files it writes at the end
// are byte for byte those of the run without a stop. A run that finishes
// before its kill is checked too, and its files removed to start over.
// progress(out) says how much a killed run left on disk for the next.
func killAndResume(t *testing.T, args func(out string) []string, suffixes []string, progress func(out string) int64, wantKills int) {
	t.Helper()
	wantKills = crashKills(wantKills)
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref.npy")
	start := time.Now()
	cmd := cliCommand(args(ref)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	whole := time.Since(start)
	read := func(out string) map[string][]byte { return outputFiles(t, out, suffixes...) }
	want := read(ref)

	t.Logf("an uninterrupted run takes %v", whole.Round(time.Millisecond))
	rng := seededRand(t)
	target := filepath.Join(dir, "out.npy")
	midway, attempt := 0, 0
	kills, history := killRuns(t, args(target), wantKills,
		// Within the first third of a whole run, so that the kills
		// mostly fall in one chain of resumed runs, each doing a part.
		// Every other kill also waits until the run has added rows to
		// the part log, so that some kills land after rows were kept
		// however long the start-up takes on this machine.
		func() (time.Duration, func() bool) {
			d := 10*time.Millisecond + time.Duration(rng.Int64N(int64(whole/3)))
			attempt++
			if attempt%2 == 1 {
				return d, nil
			}
			before := progress(target)
			return d, func() bool { return progress(target) > before }
		},
		func() {
			assert.Equal(t, want, read(target), "a run that finished before its kill")
			for _, suffix := range suffixes {
				require.NoError(t, os.Remove(strings.TrimSuffix(target, ".npy")+suffix))
			}
		},
		func(wait time.Duration) string {
			n := progress(target)
			if n > 0 {
				midway++
			}
			return fmt.Sprintf("kill after %v: %d rows' bytes in the part log", wait.Round(time.Millisecond), n)
		})
	cmd = cliCommand(args(target)...)
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("%d kills: %s", kills, strings.Join(history, "; "))
	assert.Equal(t, want, read(target), "the resumed job's files equal an uninterrupted run's")
	assert.NoFileExists(t, target+".part")
	assert.GreaterOrEqual(t, kills, wantKills-1, "the job was killed too rarely: %v", history)
	assert.Greater(t, midway, 0, "no kill landed after rows were kept: %v", history)
}

// outputFiles reads files of an .npy output (its path without .npy, then
// each suffix), by suffix.
func outputFiles(t *testing.T, out string, suffixes ...string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for _, suffix := range suffixes {
		data, err := os.ReadFile(strings.TrimSuffix(out, ".npy") + suffix)
		require.NoError(t, err)
		m[suffix] = data
	}
	return m
}

// partBytes is how much of an output's part log may hold rows: its size
// beyond its header (the magic and the settings, under 256 bytes), 0 if it
// holds none.
func partBytes(out string) int64 {
	st, err := os.Stat(out + ".part")
	if err != nil || st.Size() <= 256 {
		return 0
	}
	return st.Size()
}

// Embed killed with SIGKILL four times at random moments and resumed: the
// final .npy and ids equal an uninterrupted run's, byte for byte.
func TestEmbedJobSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model in subprocesses for some seconds")
	}
	model := tinyModel(t)
	in := filepath.Join(t.TempDir(), "in.jsonl")
	writeLines(t, in, longRows(300)...)
	killAndResume(t, func(out string) []string {
		return []string{"embed", "--model", model, "--threads", "1", "--ctx", "2048", "--batch-rows", "4",
			"--input", in, "--output", out, "--pooling", "mean", "--normalize", "--quiet"}
	}, []string{".npy", ".ids.json"}, partBytes, 4)
}

// The same for hidden, with three layers.
func TestHiddenJobSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model in subprocesses for some seconds")
	}
	model := tinyModel(t)
	in := filepath.Join(t.TempDir(), "in.jsonl")
	writeLines(t, in, longRows(150)...)
	killAndResume(t, func(out string) []string {
		return []string{"hidden", "--model", model, "--threads", "1", "--ctx", "2048", "--batch-rows", "4",
			"--input", in, "--output", out, "--layers", "-1,0,1", "--quiet"}
	}, []string{".npy", ".tokens.npy", ".offsets.npy", ".ids.json"}, partBytes, 3)
}
