package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/locallm/locallm/cmd/locallm/internal/job"
	"github.com/locallm/locallm/llm"
)

// fakeGen is a generator without a model: generation i of a prompt is
// "<prompt> #i" (upper-cased with temperature > 0, to show per-row
// parameters), one token per word. A prompt holding LONG fails as over the
// context; one holding BLOCK waits for cancellation. It counts calls and
// the most in flight at once.
type fakeGen struct {
	calls, inFlight, maxInFlight atomic.Int64
	delay                        time.Duration
	started                      chan struct{} // if not nil, receives once per call
}

func (f *fakeGen) gen(ctx context.Context, in llm.Input, n int, p llm.GenerationParams, onToken func()) ([]llm.Output, error) {
	f.calls.Add(1)
	cur := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxInFlight.Load()
		if cur <= m || f.maxInFlight.CompareAndSwap(m, cur) {
			break
		}
	}
	if f.started != nil {
		f.started <- struct{}{}
	}
	prompt := in.Prompt
	if in.IsChat() {
		prompt = in.Messages[len(in.Messages)-1].Content
	}
	out := llm.Output{Statistics: llm.Statistics{InputTokens: len(strings.Fields(prompt))}}
	switch {
	case strings.Contains(prompt, "LONG"):
		out.Err = fmt.Errorf("%w: 9999 tokens", llm.ErrContextTooLong)
		return []llm.Output{out}, nil
	case strings.Contains(prompt, "BLOCK"):
		<-ctx.Done()
		out.Generations, out.FinishReasons = []string{""}, []llm.FinishReason{llm.FinishCancelled}
		return []llm.Output{out}, ctx.Err()
	}
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for i := range n {
		text := fmt.Sprintf("%s #%d", prompt, i)
		if p.Temperature > 0 {
			text = strings.ToUpper(text)
		}
		if p.MaxNewTokens == 1 {
			text = strings.Fields(text)[0]
		}
		for range strings.Fields(text) {
			onToken()
		}
		out.Generations = append(out.Generations, text)
		out.FinishReasons = append(out.FinishReasons, llm.FinishEOS)
		out.Statistics.OutputTokens = append(out.Statistics.OutputTokens, len(strings.Fields(text)))
	}
	if in.Structured != nil {
		out.Valid = make([]bool, n)
		out.ValidationErrors = make([]string, n)
		for i := range n {
			out.ValidationErrors[i] = "not JSON"
		}
	}
	return []llm.Output{out}, nil
}

// writeLines writes a file of lines, each ended by a newline.
func writeLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
}

// promptRows returns n rows {"id": "r<i>", "prompt": "row <i>"}.
func promptRows(n int) []string {
	var rows []string
	for i := range n {
		rows = append(rows, fmt.Sprintf(`{"id": "r%d", "prompt": "row %d"}`, i, i))
	}
	return rows
}

// readOutput parses every line of a job output, failing the test on a line
// that does not parse, and returns the rows by id.
func readOutput(t *testing.T, path string) map[string]outputRow {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	rows := map[string]outputRow{}
	if len(data) == 0 {
		return rows
	}
	require.True(t, bytes.HasSuffix(data, []byte("\n")), "%s ends in a torn line", path)
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var r outputRow
		require.NoError(t, json.Unmarshal([]byte(line), &r), "%s line %d: %q", path, i+1, line)
		key, err := job.IDKey(r.ID)
		require.NoError(t, err)
		_, dup := rows[key]
		require.False(t, dup, "%s: id %s twice", path, key)
		rows[key] = r
	}
	return rows
}

// readErrors parses a job's errors file.
func readErrors(t *testing.T, output string) []job.RowError {
	t.Helper()
	f, err := os.Open(job.ErrorsPath(output))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var out []job.RowError
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e job.RowError
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), "%q", sc.Text())
		out = append(out, e)
	}
	return out
}

// quietStderr sends the job's messages to a buffer for the test.
func quietStderr(t *testing.T) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	old := stderr
	stderr = &syncWriter{w: &b}
	t.Cleanup(func() { stderr = old })
	return &b
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func jobOpts(dir string) jobOptions {
	return jobOptions{
		Input: filepath.Join(dir, "in.jsonl"), Output: filepath.Join(dir, "out.jsonl"),
		NumGenerations: 1, Workers: 4,
	}
}

func TestJobRunsEveryRowConcurrently(t *testing.T) {
	quietStderr(t)
	dir := t.TempDir()
	o := jobOpts(dir)
	writeLines(t, o.Input, promptRows(40)...)
	f := &fakeGen{delay: 5 * time.Millisecond}
	sum, err := runJob(context.Background(), f.gen, o)
	require.NoError(t, err)
	assert.Equal(t, job.Summary{Total: 40, Done: 40, Tokens: 40 * 3}, sum)
	rows := readOutput(t, o.Output)
	require.Len(t, rows, 40)
	assert.Equal(t, []string{"row 7 #0"}, rows["r7"].Generations)
	assert.Equal(t, []llm.FinishReason{llm.FinishEOS}, rows["r7"].FinishReasons)
	assert.Equal(t, 2, rows["r7"].Statistics.InputTokens)
	assert.Greater(t, f.maxInFlight.Load(), int64(1), "rows must run concurrently")
	assert.LessOrEqual(t, f.maxInFlight.Load(), int64(o.Workers))
	assert.Nil(t, readErrors(t, o.Output), "no errors file without bad rows")
}

func TestJobRowFields(t *testing.T) {
	quietStderr(t)
	dir := t.TempDir()
	o := jobOpts(dir)
	o.NumGenerations = 2
	writeLines(t, o.Input,
		`{"id": 1, "prompt": "numeric id"}`,
		`{"id": "chat", "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]}`,
		`{"id": "hot", "prompt": "warm", "generation_params": {"temperature": 0.5}, "num_generations": 1}`,
		`{"id": "json", "prompt": "give json", "structured_output": {"schema": {"type": "object"}}}`,
		`{"id": "<&>", "prompt": "a <b> & c"}`,
	)
	_, err := runJob(context.Background(), (&fakeGen{}).gen, o)
	require.NoError(t, err)
	rows := readOutput(t, o.Output)
	require.Len(t, rows, 5)
	assert.JSONEq(t, `1`, string(rows["1"].ID), "ids are written as given")
	assert.Equal(t, []string{"numeric id #0", "numeric id #1"}, rows["1"].Generations)
	assert.Equal(t, []string{"hello there #0", "hello there #1"}, rows["chat"].Generations)
	assert.Equal(t, []string{"WARM #0"}, rows["hot"].Generations, "per-row parameters and num_generations")
	assert.Equal(t, []bool{false, false}, rows["json"].Valid)
	assert.Equal(t, []string{"not JSON", "not JSON"}, rows["json"].ValidationErrors)
	assert.Nil(t, rows["1"].Valid, "no validation fields for unstructured rows")
	data, err := os.ReadFile(o.Output)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"a <b> & c #0"`, "text is not HTML-escaped")
	assert.NotContains(t, string(data), `"valid"`+":null")
}

func TestJobDuplicateIDs(t *testing.T) {
	quietStderr(t)
	dir := t.TempDir()
	o := jobOpts(dir)
	writeLines(t, o.Input,
		`{"id": "a", "prompt": "x"}`,
		`{"id": "b", "prompt": "x"}`,
		`{"id": "a", "prompt": "y"}`,
		`{"id": 7, "prompt": "x"}`,
		`{"id": "7", "prompt": "x"}`,
	)
	f := &fakeGen{}
	_, err := runJob(context.Background(), f.gen, o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 duplicates")
	assert.Contains(t, err.Error(), `id "a" on lines 1 and 3`)
	assert.Contains(t, err.Error(), `id "7" on lines 4 and 5`)
	assert.Zero(t, f.calls.Load(), "no row runs")
	data, _ := os.ReadFile(o.Output)
	assert.Empty(t, data)
}

func TestJobBadRows(t *testing.T) {
	quietStderr(t)
	dir := t.TempDir()
	o := jobOpts(dir)
	writeLines(t, o.Input,
		`{"id": "ok1", "prompt": "fine"}`,
		`{"id": "torn", "prompt": "no end`,
		`{"prompt": "no id"}`,
		`{"id": "", "prompt": "empty id"}`,
		`{"id": {"x": 1}, "prompt": "object id"}`,
		`{"id": "noprompt"}`,
		`{"id": "both", "prompt": "p", "messages": [{"role": "user", "content": "m"}]}`,
		`{"id": "badparam", "prompt": "p", "generation_params": {"top_p": 2}}`,
		`{"id": "typo", "prompt": "p", "generation_params": {"temprature": 2}}`,
		`{"id": "badn", "prompt": "p", "num_generations": 0}`,
		`{"id": "long", "prompt": "a LONG prompt"}`,
		``,
		`{"id": "ok2", "prompt": "fine too"}`,
	)
	sum, err := runJob(context.Background(), (&fakeGen{}).gen, o)
	require.NoError(t, err, "bad rows do not stop the job")
	assert.Equal(t, 12, sum.Total)
	assert.Equal(t, 2, sum.Done)
	assert.Equal(t, 10, sum.Failed)
	rows := readOutput(t, o.Output)
	assert.Equal(t, []string{"ok1", "ok2"}, sortedKeys(keysOf(rows)))
	errs := readErrors(t, o.Output)
	byLine := map[int]job.RowError{}
	for _, e := range errs {
		byLine[e.Line] = e
	}
	for line, want := range map[int]string{
		2: "bad JSON", 3: `no "id"`, 4: "empty id", 5: "not a string or a number",
		6: "neither messages nor prompt", 7: "both messages and prompt", 8: "generation_params.top_p = 2: want a number in (0, 1]",
		9: `unknown field "temprature"`, 10: "num_generations = 0: want an integer from 1 to 65536", 11: "does not fit the context",
	} {
		require.Contains(t, byLine, line)
		assert.Contains(t, byLine[line].Error, want, "line %d", line)
	}
	assert.Len(t, errs, 10)
	assert.JSONEq(t, `"long"`, string(byLine[11].ID))
	assert.Nil(t, byLine[3].ID)

	// A second run retries the failed rows and rewrites the errors file.
	sum, err = runJob(context.Background(), (&fakeGen{}).gen, o)
	require.NoError(t, err)
	assert.Equal(t, 2, sum.Skipped)
	assert.Len(t, readErrors(t, o.Output), 10)
}

func keysOf(m map[string]outputRow) map[string]bool {
	s := map[string]bool{}
	for k := range m {
		s[k] = true
	}
	return s
}

func TestJobResumeAfterTornOutput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tail  string // appended to the first rows' output
		keep  int    // rows left after the tail is cut
		cut   bool
		error string
	}{
		{name: "clean", keep: 3},
		{name: "torn last line", tail: `{"id":"r3","generations":["ro`, keep: 3, cut: true},
		{name: "torn after newline-less id", tail: `{"id":"r3"}`, keep: 3, cut: true},
		{name: "NULs at the end", tail: "\x00\x00\x00\x00\n\x00\x00", keep: 3, cut: true},
		{name: "empty line at the end", tail: "\n", keep: 3, cut: true},
		{name: "damage before good rows", tail: "garbage\n" + `{"id":"r4","generations":[]}` + "\n", error: "line 4 is not a JSON row"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs := quietStderr(t)
			dir := t.TempDir()
			o := jobOpts(dir)
			writeLines(t, o.Input, promptRows(10)...)
			// A first run of three rows, as if it had been killed.
			var first []string
			for i := range 3 {
				first = append(first, fmt.Sprintf(`{"id":"r%d","generations":["old %d"],"finish_reasons":["eos"],"statistics":{"input_tokens":1,"output_tokens":[1]}}`, i, i))
			}
			require.NoError(t, os.WriteFile(o.Output, []byte(strings.Join(first, "\n")+"\n"+tc.tail), 0o644))
			f := &fakeGen{}
			sum, err := runJob(context.Background(), f.gen, o)
			if tc.error != "" {
				assert.ErrorContains(t, err, tc.error)
				assert.Zero(t, f.calls.Load())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.keep, sum.Skipped)
			assert.Equal(t, 10-tc.keep, sum.Done)
			assert.Equal(t, int64(10-tc.keep), f.calls.Load(), "done rows are not run again")
			assert.Equal(t, tc.cut, sum.Truncated > 0)
			if tc.cut {
				assert.Contains(t, msgs.String(), "cut a torn last line")
			}
			rows := readOutput(t, o.Output)
			require.Len(t, rows, 10)
			assert.Equal(t, []string{"old 1"}, rows["r1"].Generations, "finished rows are kept")
			assert.Equal(t, []string{"row 5 #0"}, rows["r5"].Generations)
		})
	}
}

func TestJobCancelAndResume(t *testing.T) {
	msgs := quietStderr(t)
	dir := t.TempDir()
	o := jobOpts(dir)
	o.Workers = 2
	o.ResumeHint = "locallm generate --input in.jsonl --output out.jsonl"
	rows := promptRows(20)
	rows[10] = `{"id": "r10", "prompt": "BLOCK until cancelled"}`
	writeLines(t, o.Input, rows...)
	ctx, cancel := context.WithCancel(context.Background())
	f := &fakeGen{started: make(chan struct{}, 100)}
	go func() {
		for range 12 { // rows 0-9 finish; the blocked row 10 and one more are in flight
			<-f.started
		}
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	sum, err := runJob(ctx, f.gen, o)
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, sum.Done, 20)
	assert.Contains(t, msgs.String(), "interrupted")
	assert.Contains(t, msgs.String(), "to resume, run the same command again:\n  "+o.ResumeHint)
	done := readOutput(t, o.Output)
	assert.Len(t, done, sum.Done)
	assert.NotContains(t, done, "r10", "a cancelled row is not written")

	// Resume: the row no longer blocks.
	rows[10] = `{"id": "r10", "prompt": "row 10"}`
	writeLines(t, o.Input, rows...)
	sum2, err := runJob(context.Background(), (&fakeGen{}).gen, o)
	require.NoError(t, err)
	assert.Equal(t, sum.Done, sum2.Skipped)
	assert.Len(t, readOutput(t, o.Output), 20)
}

func TestJobOutputLocked(t *testing.T) {
	quietStderr(t)
	dir := t.TempDir()
	o := jobOpts(dir)
	writeLines(t, o.Input, promptRows(3)...)
	held, err := job.OpenLines(o.Output)
	require.NoError(t, err)
	defer held.Close()
	_, err = runJob(context.Background(), (&fakeGen{}).gen, o)
	assert.ErrorContains(t, err, "another process is writing")
}

func TestJobRefusesInputAsOutput(t *testing.T) {
	quietStderr(t)
	dir := t.TempDir()
	o := jobOpts(dir)
	o.Output = o.Input
	writeLines(t, o.Input, promptRows(3)...)
	_, err := runJob(context.Background(), (&fakeGen{}).gen, o)
	assert.ErrorContains(t, err, "is the input file")
}

func TestJobShards(t *testing.T) {
	quietStderr(t)
	dir := t.TempDir()
	o := jobOpts(dir)
	lines := promptRows(50)
	lines = append(lines, `not json`, `{"prompt": "no id"}`, `{"id": "x1", "prompt": "LONG"}`)
	writeLines(t, o.Input, lines...)
	var outs []string
	total, failed := 0, 0
	seen := map[string]int{}
	for s := range 3 {
		so := o
		so.Shard = job.Shard{Index: s, Count: 3}
		so.Output = filepath.Join(dir, fmt.Sprintf("shard%d.jsonl", s))
		sum, err := runJob(context.Background(), (&fakeGen{}).gen, so)
		require.NoError(t, err)
		total += sum.Total
		failed += sum.Failed
		for k := range readOutput(t, so.Output) {
			seen[k]++
			assert.True(t, so.Shard.Has(k))
		}
		outs = append(outs, so.Output)
	}
	assert.Equal(t, 53, total, "every row belongs to one shard")
	assert.Equal(t, 3, failed, "every bad row is reported once")
	assert.Len(t, seen, 50)
	for k, n := range seen {
		assert.Equal(t, 1, n, k)
	}

	// Merged shards equal one unsharded run, in input order.
	_, err := runJob(context.Background(), (&fakeGen{}).gen, o)
	require.NoError(t, err)
	merged := filepath.Join(dir, "merged.jsonl")
	res, err := mergeShards(merged, outs, o.Input, true)
	require.NoError(t, err)
	assert.Equal(t, 50, res.rows)
	assert.Equal(t, []string{"x1"}, res.missing)
	assert.Equal(t, readOutput(t, o.Output), readOutput(t, merged))
}

func TestParseRowKeepsJobParams(t *testing.T) {
	base := llm.GenerationParams{Temperature: 0.8, Stop: []string{"\n"}, LogitBias: map[int32]float64{5: -1}}
	tk, err := parseRow([]byte(`{"id": "a", "prompt": "p", "generation_params": {"stop": ["x"], "logit_bias": {"9": 2}, "seed": 3}}`), base, 2)
	require.NoError(t, err)
	assert.Equal(t, []string{"x"}, tk.params.Stop)
	assert.Equal(t, map[int32]float64{5: -1, 9: 2}, tk.params.LogitBias)
	assert.Equal(t, int64(3), tk.params.Seed)
	assert.Equal(t, 0.8, tk.params.Temperature)
	assert.Equal(t, 2, tk.n)
	assert.Equal(t, []string{"\n"}, base.Stop, "the job's parameters are not changed")
	assert.Equal(t, map[int32]float64{5: -1}, base.LogitBias)
}

func TestShellQuote(t *testing.T) {
	assert.Equal(t, `locallm generate --input in.jsonl --stop '\n' 'it'\''s' ''`,
		shellQuote([]string{"locallm", "generate", "--input", "in.jsonl", "--stop", `\n`, "it's", ""}))
}
