package llamacpp_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/gguf/gguftest"
	"github.com/locallm/locallm/llm"
)

const sweepSeed = 1

// TestCorruptModelSweep loads every corruption of the tiny model that
// gguftest makes (truncation in every region, flipped bytes in the header,
// metadata and tensor infos, wrong types, absurd sizes: about 3,600 files)
// through the full path — LoadModel, NewContext, tokenise, decode — in
// child processes, several hundred files per child. A child that dies (an
// abort, a signal) fails the test naming the file; every load that fails
// must fail with a Go error that names the problem.
func TestCorruptModelSweep(t *testing.T) {
	valid, err := os.ReadFile(tinyModel(t, ""))
	require.NoError(t, err)
	cs, err := gguftest.Corruptions(valid, sweepSeed)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(cs), 1000)
	step := 1
	if testing.Short() {
		step = 7
	}
	const perChild = 600
	loaded, rejected := 0, 0
	byRegion := map[gguftest.Region]int{}
	for start := 0; start < len(cs); start += perChild {
		end := min(start+perChild, len(cs))
		cmd := exec.Command(os.Args[0], "-test.run=^TestSweepChild$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), fmt.Sprintf("LOCALLM_SWEEP=%s:%d:%d:%d", tinyModel(t, ""), start, end, step), "GGML_NO_BACKTRACE=1")
		out, err := cmd.CombinedOutput()
		last := ""
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "SWEEP START "):
				last = strings.TrimPrefix(line, "SWEEP START ")
			case strings.HasPrefix(line, "SWEEP OK "):
				loaded++
			case strings.HasPrefix(line, "SWEEP ERR "):
				rejected++
				f := strings.SplitN(strings.TrimPrefix(line, "SWEEP ERR "), " ", 2)
				i, _ := strconv.Atoi(f[0])
				byRegion[cs[i].Region]++
				if len(f) < 2 || len(strings.TrimSpace(f[1])) < 10 {
					t.Errorf("corruption %s: error without a message: %q", cs[i].Name, line)
				}
			}
		}
		if err != nil {
			i, _ := strconv.Atoi(last)
			t.Fatalf("the process died on corruption %d (%s): %v\n%s", i, cs[i].Name, err, tail(out, 2000))
		}
	}
	t.Logf("%d corruptions tried: %d rejected with an error (%v), %d loaded and decoded, 0 aborts", loaded+rejected, rejected, byRegion, loaded)
	assert.Greater(t, rejected, loaded, "most corruptions must be refused")
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// TestSweepChild is TestCorruptModelSweep's child process.
func TestSweepChild(t *testing.T) {
	spec := os.Getenv("LOCALLM_SWEEP")
	if spec == "" {
		t.Skip("child process of TestCorruptModelSweep")
	}
	f := strings.Split(spec, ":")
	require.Len(t, f, 4)
	start, _ := strconv.Atoi(f[1])
	end, _ := strconv.Atoi(f[2])
	step, _ := strconv.Atoi(f[3])
	valid, err := os.ReadFile(f[0])
	require.NoError(t, err)
	cs, err := gguftest.Corruptions(valid, sweepSeed)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "corrupt.gguf")
	for i := start; i < end; i += step {
		fmt.Printf("SWEEP START %d\n", i)
		w, err := os.Create(path)
		require.NoError(t, err)
		_, err = cs[i].WriteTo(w)
		require.NoError(t, err)
		require.NoError(t, w.Close())
		if err := loadAndDecode(path); err != nil {
			fmt.Printf("SWEEP ERR %d %s\n", i, strings.ReplaceAll(err.Error(), "\n", " "))
		} else {
			fmt.Printf("SWEEP OK %d\n", i)
		}
	}
}

func loadAndDecode(path string) error {
	l, err := llamacpp.Open(context.Background(), llamacpp.Options{ModelPath: path, Context: llamacpp.ContextOptions{ContextSize: 256, Threads: 1, Sequences: 1}})
	if err != nil {
		return err
	}
	defer l.Close()
	out, err := l.Generate(context.Background(), []llm.Input{llm.Prompt("Hello world")}, 1, llm.GenerationParams{MaxNewTokens: 2})
	if err != nil {
		return err
	}
	return out[0].Err
}
