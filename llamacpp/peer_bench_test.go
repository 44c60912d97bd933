package llamacpp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp/internal/testmodel"
	"github.com/locallm/locallm/llamacpp/llama"
)

// Whole-process comparisons of the locallm command with upstream
// llama.cpp's own tools, as users see them: each pair of processes runs on
// the same benchmark model with the same threads, alternately, and the
// medians are reported. They need the tools built from llama.cpp at the
// pinned commit (third_party/README.md) outside this repository:
//
//	LOCALLM_LLAMACPP_BIN=/path/to/llama.cpp/build/bin make bench BENCH=Peer
//
// and skip without them.

// peerTool is the path of an upstream tool, or skips the benchmark.
func peerTool(b *testing.B, name string) string {
	dir := os.Getenv("LOCALLM_LLAMACPP_BIN")
	if dir == "" {
		b.Skip("set LOCALLM_LLAMACPP_BIN to a directory of llama.cpp's tools (llama-simple, llama-batched-bench) built at the pinned commit")
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		b.Skipf("%s: %v", name, err)
	}
	return p
}

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// cliBinary builds the locallm command (with the cgo environment this test
// runs under) once per test binary.
func cliBinary(b *testing.B) string {
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "locallm-bench-*")
		if err != nil {
			cliErr = err
			return
		}
		cliPath = filepath.Join(dir, "locallm")
		out, err := exec.Command("go", "build", "-o", cliPath, "github.com/locallm/locallm/cmd/locallm").CombinedOutput()
		if err != nil {
			cliErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(b, cliErr)
	return cliPath
}

// proc runs a command to completion and returns its wall time and peak
// resident memory. The command is started by a helper process (this test
// binary again, TestPeakRSSHelper) and not by the benchmark itself: Linux
// carries a process's peak RSS across exec from the memory it was forked
// from, so a command started from a benchmark process of 800 MB would report
// at least 800 MB. The helper is small (its own peak, about 20 MB, is the
// floor of what can be measured) and times the command itself.
func proc(b *testing.B, name string, args ...string) (time.Duration, int64) {
	b.Helper()
	argv, err := json.Marshal(append([]string{name}, args...))
	require.NoError(b, err)
	cmd := exec.Command(os.Args[0], "-test.run=^TestPeakRSSHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), peakRSSEnv+"="+string(argv))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	require.NoError(b, err, "%s %s\n%s%s", name, strings.Join(args, " "), stdout.String(), stderr.String())
	var wall, rss int64
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.HasPrefix(line, "PEAKRSS ") {
			_, err := fmt.Sscanf(line, "PEAKRSS wall_ns=%d rss=%d", &wall, &rss)
			require.NoError(b, err, line)
		}
	}
	require.NotZero(b, wall, "no PEAKRSS line from the helper:\n%s%s", stdout.String(), stderr.String())
	return time.Duration(wall), rss
}

// peakRSSEnv holds the JSON argv that TestPeakRSSHelper runs.
const peakRSSEnv = "LOCALLM_PEAK_RSS_ARGV"

// TestPeakRSSHelper is not a test: proc runs this test binary with
// $LOCALLM_PEAK_RSS_ARGV set, and it runs that command and prints the
// command's wall time and peak RSS (its rusage, from wait4).
func TestPeakRSSHelper(t *testing.T) {
	v := os.Getenv(peakRSSEnv)
	if v == "" {
		t.Skip("a helper process of the peer benchmarks")
	}
	var argv []string
	require.NoError(t, json.Unmarshal([]byte(v), &argv))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	require.NoError(t, err)
	fmt.Printf("PEAKRSS wall_ns=%d rss=%d\n", wall.Nanoseconds(), cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss<<10)
}

// pairs runs two commands alternately (which goes first alternating, so
// that neither always finds a CPU the other warmed) and returns each one's
// median wall time and median peak RSS.
func pairs(b *testing.B, n int, first, second func() (time.Duration, int64)) (t1, t2 float64, r1, r2 float64) {
	var a1, a2, m1, m2 []float64
	for i := 0; i < n; i++ {
		var w1, w2 time.Duration
		var p1, p2 int64
		if i%2 == 0 {
			w1, p1 = first()
			w2, p2 = second()
		} else {
			w2, p2 = second()
			w1, p1 = first()
		}
		a1, a2 = append(a1, w1.Seconds()), append(a2, w2.Seconds())
		m1, m2 = append(m1, float64(p1)), append(m2, float64(p2))
	}
	return median(a1), median(a2), median(m1), median(m2)
}

// promptOf returns text that the benchmark model tokenises to n tokens
// (BOS included).
func promptOf(b *testing.B, path string, n int) string {
	m, err := llama.LoadModel(context.Background(), path, &llama.ModelParams{VocabOnly: true})
	require.NoError(b, err)
	defer m.Close()
	words := strings.Repeat("the history of printing begins in the fifteenth century when a goldsmith in mainz ", n/8)
	toks, err := m.Tokenize(words, true, false)
	require.NoError(b, err)
	text, err := m.Detokenize(toks[1:n], false, false)
	require.NoError(b, err)
	got, err := m.Tokenize(text, true, true)
	require.NoError(b, err)
	require.InDelta(b, n, len(got), 2, "prompt tokens")
	return text
}

// BenchmarkPeerStartup: a one-token generation as a user runs it, the whole
// process, against llama.cpp's llama-simple -n 1. llama-simple takes its
// thread count from llama.cpp's default (4), so locallm runs with 4 too.
func BenchmarkPeerStartup(b *testing.B) {
	simple := peerTool(b, "llama-simple")
	cli := cliBinary(b)
	model := benchModel(b, "q8_0")
	ts, tc, _, _ := pairs(b, max(b.N, 9),
		func() (time.Duration, int64) {
			return proc(b, cli, "generate", "--model", model, "--prompt", "Hello there", "--max-tokens", "1", "--threads", "4")
		},
		func() (time.Duration, int64) { return proc(b, simple, "-m", model, "-n", "1", "Hello there") })
	b.ReportMetric(ts, "locallm_s")
	b.ReportMetric(tc, "llama-simple_s")
	b.ReportMetric(ts/tc, "locallm/llama-simple")
}

// BenchmarkPeerHiddenContext: hidden states of a short prompt with --ctx
// 2048 and --ctx 32768: the KV cache is sized to the work, not to --ctx,
// so time and peak memory should not move.
func BenchmarkPeerHiddenContext(b *testing.B) {
	cli := cliBinary(b)
	model := benchModel(b, "q8_0")
	dir := b.TempDir()
	runs := 0
	run := func(ctx string) func() (time.Duration, int64) {
		return func() (time.Duration, int64) {
			runs++ // a new output each time: an existing one would be resumed
			return proc(b, cli, "hidden", "--model", model, "--prompt", "The quick brown fox jumps", "--ctx", ctx, "--threads", fmt.Sprint(benchThreads()),
				"--output", filepath.Join(dir, fmt.Sprintf("h%d.npy", runs)))
		}
	}
	t1, t2, r1, r2 := pairs(b, max(b.N, 7), run("2048"), run("32768"))
	b.ReportMetric(t2/t1, "time_32768/2048")
	b.ReportMetric(r2/r1, "rss_32768/2048")
	b.ReportMetric(r1/(1<<20), "rss_2048_MB")
	b.ReportMetric(r2/(1<<20), "rss_32768_MB")
}

// BenchmarkPeerNumGenerations: 8 generations of 64 tokens after a shared
// 560-token prompt, the whole process, against llama-batched-bench -pps
// (prompt shared) on the same work. At the pinned commit batched-bench gives
// each sequence its own KV stream of -c/-npl cells, so -c is 8 x 1024.
func BenchmarkPeerNumGenerations(b *testing.B) {
	bench := peerTool(b, "llama-batched-bench")
	cli := cliBinary(b)
	model := benchModel(b, "q8_0")
	prompt := promptOf(b, model, 560)
	th := fmt.Sprint(benchThreads())
	tl, tp, _, _ := pairs(b, max(b.N, 5),
		func() (time.Duration, int64) {
			return proc(b, cli, "generate", "--model", model, "--prompt", prompt, "--num-generations", "8", "--max-tokens", "64",
				"--ignore-eos", "--temperature", "0", "--threads", th)
		},
		func() (time.Duration, int64) {
			return proc(b, bench, "-m", model, "-c", "8192", "-b", "512", "-ub", "512", "-npp", "560", "-ntg", "64", "-npl", "8", "-pps", "-t", th)
		})
	b.ReportMetric(tl, "locallm_s")
	b.ReportMetric(tp, "batched-bench_s")
	b.ReportMetric(tp/tl, "speed_locallm/batched-bench")
}

// BenchmarkPeerJob16: a 16-row JSONL job (distinct 128-token prompts, 64
// new tokens each, greedy) against llama-batched-bench -npl 16 on the same
// shapes (each sequence its own prompt).
func BenchmarkPeerJob16(b *testing.B) {
	bench := peerTool(b, "llama-batched-bench")
	cli := cliBinary(b)
	model := benchModel(b, "q8_0")
	base := promptOf(b, model, 120)
	dir := b.TempDir()
	rows, err := os.Create(filepath.Join(dir, "rows.jsonl"))
	require.NoError(b, err)
	for i := 0; i < 16; i++ {
		line, _ := json.Marshal(map[string]any{"id": i, "prompt": fmt.Sprintf("Row %d. %s", i, base)})
		fmt.Fprintf(rows, "%s\n", line)
	}
	require.NoError(b, rows.Close())
	th := fmt.Sprint(benchThreads())
	run := 0
	tl, tp, _, _ := pairs(b, max(b.N, 5),
		func() (time.Duration, int64) {
			run++
			return proc(b, cli, "generate", "--model", model, "--input", rows.Name(), "--output", filepath.Join(dir, fmt.Sprintf("out%d.jsonl", run)),
				"--max-tokens", "64", "--ignore-eos", "--temperature", "0", "--parallel", "16", "--threads", th, "--quiet")
		},
		func() (time.Duration, int64) {
			return proc(b, bench, "-m", model, "-c", "4096", "-b", "512", "-ub", "512", "-npp", "128", "-ntg", "64", "-npl", "16", "-t", th)
		})
	b.ReportMetric(tl, "locallm_s")
	b.ReportMetric(tp, "batched-bench_s")
	b.ReportMetric(tp/tl, "speed_locallm/batched-bench")
	_ = testmodel.Root
}
