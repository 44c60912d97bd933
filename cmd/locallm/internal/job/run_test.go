package job

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testRow is a row of the tests' jobs: {"id": ..., "text": ...}. Text BAD
// fails to parse, FAIL fails when run, BLOCK runs until the job is
// cancelled, and FATAL stops the job.
type testRow struct{ Text string }

func parseTestRow(line []byte) (testRow, error) {
	var r struct {
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return testRow{}, err
	}
	if r.Text == nil || *r.Text == "BAD" {
		return testRow{}, errors.New("no good text")
	}
	return testRow{Text: *r.Text}, nil
}

// testProc records its batches and turns each row into the JSON line
// {"id": ..., "upper": TEXT}.
type testProc struct {
	mu      sync.Mutex
	batches [][]int // lines
	started chan struct{}
	calls   atomic.Int64
}

func (p *testProc) process(ctx context.Context, rows []Task[testRow]) ([]Result, error) {
	p.calls.Add(1)
	var lines []int
	for _, r := range rows {
		lines = append(lines, r.Line)
	}
	p.mu.Lock()
	p.batches = append(p.batches, lines)
	p.mu.Unlock()
	if p.started != nil {
		p.started <- struct{}{}
	}
	var out []Result
	for _, r := range rows {
		switch r.Row.Text {
		case "FAIL":
			out = append(out, Result{Err: errors.New("this row fails")})
			continue
		case "BLOCK":
			<-ctx.Done()
			return nil, ctx.Err()
		case "FATAL":
			return nil, errors.New("the model is gone")
		}
		line, _ := json.Marshal(map[string]any{"id": r.ID, "upper": strings.ToUpper(r.Row.Text)})
		out = append(out, Result{Record: line, Tokens: int64(len(r.Row.Text))})
	}
	return out, nil
}

func testRows(n int) []string {
	var rows []string
	for i := range n {
		rows = append(rows, fmt.Sprintf(`{"id": "r%d", "text": "row %d"}`, i, i))
	}
	return rows
}

func writeInput(t *testing.T, dir string, lines ...string) string {
	t.Helper()
	path := filepath.Join(dir, "in.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	return path
}

// runTest runs a job over in into out (a JSONL log) with p.
func runTest(t *testing.T, ctx context.Context, in, out string, p *testProc, mod func(*Spec[testRow])) (Summary, error) {
	t.Helper()
	l, err := OpenLines(out)
	require.NoError(t, err)
	defer l.Close()
	s := Spec[testRow]{Input: in, Parse: parseTestRow, Output: l, Errors: ErrorsPath(out), Process: p.process}
	if mod != nil {
		mod(&s)
	}
	return Run(ctx, s)
}

// readJSONL reads an output: its rows by id key, failing on a torn line or
// an id twice.
func readJSONL(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	rows := map[string]string{}
	if len(data) == 0 {
		return rows
	}
	require.True(t, bytes.HasSuffix(data, []byte("\n")), "torn")
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		key, _, err := RowID([]byte(line))
		require.NoError(t, err, line)
		_, dup := rows[key]
		require.False(t, dup, "id %s twice", key)
		rows[key] = line
	}
	return rows
}

func readErrorsFile(t *testing.T, path string) []RowError {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var out []RowError
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e RowError
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e))
		out = append(out, e)
	}
	return out
}

func TestRunBatchesInInputOrder(t *testing.T) {
	dir := t.TempDir()
	rows := testRows(10)
	rows[4] = `{"id": "r4", "text": "BAD"}`
	rows[6] = `{"id": "r6", "text": "FAIL"}`
	in, out := writeInput(t, dir, rows...), filepath.Join(dir, "out.jsonl")
	p := &testProc{}
	sum, err := runTest(t, context.Background(), in, out, p, func(s *Spec[testRow]) { s.Batch = 3 })
	require.NoError(t, err)
	assert.Equal(t, Summary{Total: 10, Done: 8, Failed: 2, Tokens: 8 * 5}, sum)
	assert.Equal(t, [][]int{{1, 2, 3}, {4, 6, 7}, {8, 9, 10}}, p.batches, "bad rows never reach Process")
	got := readJSONL(t, out)
	assert.Len(t, got, 8)
	assert.JSONEq(t, `{"id": "r9", "upper": "ROW 9"}`, got["r9"])
	errs := readErrorsFile(t, ErrorsPath(out))
	require.Len(t, errs, 2)
	assert.Equal(t, RowError{Line: 5, ID: json.RawMessage(`"r4"`), Error: "no good text"}, errs[0])
	assert.Equal(t, RowError{Line: 7, ID: json.RawMessage(`"r6"`), Error: "this row fails"}, errs[1])
	assert.Equal(t, "8 of 10 rows are in out (8 this run); 2 failed, see out.err", sum.String("out", "out.err"))

	// Run again: nothing to do but the failed rows, tried again; the errors
	// file is rewritten.
	p2 := &testProc{}
	sum, err = runTest(t, context.Background(), in, out, p2, nil)
	require.NoError(t, err)
	assert.Equal(t, Summary{Total: 10, Skipped: 8, Failed: 2}, sum)
	assert.Equal(t, [][]int{{7}}, p2.batches)
	assert.Len(t, readErrorsFile(t, ErrorsPath(out)), 2)
}

func TestRunWorkersRunConcurrently(t *testing.T) {
	dir := t.TempDir()
	in, out := writeInput(t, dir, testRows(40)...), filepath.Join(dir, "out.jsonl")
	var inFlight, most atomic.Int64
	p := &testProc{}
	sum, err := runTest(t, context.Background(), in, out, p, func(s *Spec[testRow]) {
		s.Workers = 4
		s.Process = func(ctx context.Context, rows []Task[testRow]) ([]Result, error) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(5 * time.Millisecond)
			return p.process(ctx, rows)
		}
	})
	require.NoError(t, err)
	assert.Equal(t, 40, sum.Done)
	assert.Len(t, readJSONL(t, out), 40)
	assert.Greater(t, most.Load(), int64(1))
	assert.LessOrEqual(t, most.Load(), int64(4))
}

func TestRunDuplicateIDsBeforeAnyWork(t *testing.T) {
	dir := t.TempDir()
	rows := append(testRows(5), `{"id": "r2", "text": "again"}`, `{"id": 7, "text": "x"}`, `{"id": "7", "text": "y"}`)
	in, out := writeInput(t, dir, rows...), filepath.Join(dir, "out.jsonl")
	p := &testProc{}
	_, err := runTest(t, context.Background(), in, out, p, nil)
	require.ErrorContains(t, err, `2 duplicates: id "r2" on lines 3 and 6; id "7" on lines 7 and 8`)
	assert.Zero(t, p.calls.Load())
	assert.NoFileExists(t, ErrorsPath(out))
}

func TestRunCancelAndResume(t *testing.T) {
	msgs := &syncWriter{w: new(bytes.Buffer)}
	dir := t.TempDir()
	rows := testRows(20)
	rows[10] = `{"id": "r10", "text": "BLOCK"}`
	in, out := writeInput(t, dir, rows...), filepath.Join(dir, "out.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	p := &testProc{started: make(chan struct{}, 100)}
	go func() {
		for range 11 { // rows 1-10 finish, row 11 blocks
			<-p.started
		}
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	sum, err := runTest(t, ctx, in, out, p, func(s *Spec[testRow]) {
		s.Messages, s.ResumeHint = msgs, "locallm again"
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 10, sum.Done)
	assert.Contains(t, msgs.String(), "interrupted: 10 of 20 rows are in "+out)
	assert.Contains(t, msgs.String(), "to resume, run the same command again:\n  locallm again")
	assert.NotContains(t, readJSONL(t, out), "r10", "a dropped row is not written")
	assert.NoFileExists(t, ErrorsPath(out), "nor recorded as failed")

	rows[10] = `{"id": "r10", "text": "row 10"}`
	writeInput(t, dir, rows...)
	p2 := &testProc{}
	sum, err = runTest(t, context.Background(), in, out, p2, nil)
	require.NoError(t, err)
	assert.Equal(t, Summary{Total: 20, Skipped: 10, Done: 10, Tokens: 10 * 6}, sum)
	assert.Len(t, readJSONL(t, out), 20)
}

func TestRunFatalErrorStopsTheJob(t *testing.T) {
	dir := t.TempDir()
	rows := testRows(30)
	rows[3] = `{"id": "r3", "text": "FATAL"}`
	in, out := writeInput(t, dir, rows...), filepath.Join(dir, "out.jsonl")
	p := &testProc{}
	sum, err := runTest(t, context.Background(), in, out, p, nil)
	require.ErrorContains(t, err, "the model is gone")
	assert.Equal(t, 3, sum.Done)
	assert.Less(t, int(p.calls.Load()), 30, "no row runs after the error")
}

// Shards of one input, run one after another, hold every row once, and
// every bad line is reported by exactly one of them.
func TestRunShardsPartition(t *testing.T) {
	dir := t.TempDir()
	rows := append(testRows(50), `not json`, `{"text": "no id"}`, `{"id": "x", "text": "BAD"}`, `{"id": [1], "text": "a"}`)
	in := writeInput(t, dir, rows...)
	seen := map[string]int{}
	total, failed := 0, 0
	for i := range 3 {
		out := filepath.Join(dir, fmt.Sprintf("shard%d.jsonl", i))
		sum, err := runTest(t, context.Background(), in, out, &testProc{}, func(s *Spec[testRow]) { s.Shard = Shard{i, 3} })
		require.NoError(t, err)
		total += sum.Total
		failed += sum.Failed
		for k := range readJSONL(t, out) {
			seen[k]++
			assert.True(t, Shard{i, 3}.Has(k))
		}
	}
	assert.Equal(t, 54, total)
	assert.Equal(t, 4, failed)
	assert.Len(t, seen, 50)
	for k, n := range seen {
		assert.Equal(t, 1, n, k)
	}
}

func TestRunWarnsOfForeignIDs(t *testing.T) {
	msgs := &syncWriter{w: new(bytes.Buffer)}
	dir := t.TempDir()
	in, out := writeInput(t, dir, testRows(3)...), filepath.Join(dir, "out.jsonl")
	require.NoError(t, os.WriteFile(out, []byte(`{"id":"elsewhere"}`+"\n"), 0o644))
	sum, err := runTest(t, context.Background(), in, out, &testProc{}, func(s *Spec[testRow]) { s.Messages = msgs })
	require.NoError(t, err)
	assert.Equal(t, 1, sum.Foreign)
	assert.Contains(t, msgs.String(), "holds 1 ids that are not rows of this input")
}

func TestInputKeys(t *testing.T) {
	dir := t.TempDir()
	in := writeInput(t, dir, `{"id": "b"}`, `not json`, ``, `{"id": 2, "x": 1}`, `{"text": "no id"}`, `{"id": "a"}`)
	keys, err := InputKeys(in, Shard{})
	require.NoError(t, err)
	assert.Equal(t, []string{"b", "2", "a"}, keys)
	var all []string
	for i := range 2 {
		part, err := InputKeys(in, Shard{i, 2})
		require.NoError(t, err)
		for _, k := range part {
			assert.Equal(t, i, ShardOf(k, 2))
		}
		all = append(all, part...)
	}
	assert.ElementsMatch(t, keys, all)
	in = writeInput(t, dir, `{"id": "b"}`, `{"id": "c"}`, `{"id": "b"}`)
	_, err = InputKeys(in, Shard{})
	assert.ErrorContains(t, err, `id "b" on lines 1 and 3`)
}
