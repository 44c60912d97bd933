package main

// The JSONL job runner behind `locallm generate --input --output`.
//
// Crash safety rests on three rules. Each finished row is one write(2) of a
// whole line to the output, so a process killed at any moment leaves at most
// one torn line, the last. A run starts by truncating the output after its
// last complete line and skipping the ids it holds, so a resumed run writes
// each remaining id once. And only one process may write an output at a
// time (an exclusive flock on it). The output is fsync'd every few seconds
// and at the end, so that a power cut loses seconds of work, not rows
// already reported done.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llm"
)

// jobRow is one line of a job's input.
type jobRow struct {
	// ID names the row in the output: a non-empty string or a number.
	ID         json.RawMessage       `json:"id"`
	Messages   []llm.Message         `json:"messages,omitempty"`
	Prompt     string                `json:"prompt,omitempty"`
	Structured *llm.StructuredOutput `json:"structured_output,omitempty"`
	// Params are llm.GenerationParams fields that override the job's for
	// this row.
	Params         json.RawMessage `json:"generation_params,omitempty"`
	NumGenerations *int            `json:"num_generations,omitempty"`
	// Label is what embed's --plot colours a row by.
	Label json.RawMessage `json:"label,omitempty"`
}

// outputRow is one line of a job's output: the row's id and its llm.Output
// (generations, finish_reasons, statistics, and valid and
// validation_errors for structured rows).
type outputRow struct {
	ID json.RawMessage `json:"id"`
	llm.Output
}

// rowError is one line of a job's errors file.
type rowError struct {
	Line  int             `json:"line"`
	ID    json.RawMessage `json:"id,omitempty"`
	Error string          `json:"error"`
}

// errorsPath is where a job's bad rows go.
func errorsPath(output string) string { return output + ".errors.jsonl" }

var errNoID = errors.New(`no "id"`)

// idKey returns the key an id is compared and sharded by: a string's value,
// or a number as it is written (so 7 and "7" are the same id, 7.0 another).
func idKey(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", errNoID
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("bad id %s: %w", raw, err)
		}
		if s == "" {
			return "", errors.New("empty id")
		}
		return s, nil
	case c == '-' || (c >= '0' && c <= '9'):
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", fmt.Errorf("bad id %s: %w", raw, err)
		}
		return string(raw), nil
	}
	return "", fmt.Errorf("id %s is not a string or a number", clip(raw, 40))
}

// clip shortens b for an error message.
func clip(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}

// task is a row ready to run.
type task struct {
	line   int
	id     json.RawMessage
	key    string
	in     llm.Input
	params llm.GenerationParams
	n      int
	label  string
}

// parseRow reads one input line. It returns the row's key whenever the id
// is usable, even when the row is bad otherwise, so that duplicates and
// shards are decided by id alone.
func parseRow(line int, b []byte, base llm.GenerationParams, baseN int) (task, error) {
	t := task{line: line}
	var r jobRow
	if err := json.Unmarshal(b, &r); err != nil {
		return t, fmt.Errorf("bad JSON: %w", err)
	}
	key, err := idKey(r.ID)
	if err != nil {
		return t, err
	}
	var id bytes.Buffer
	json.Compact(&id, r.ID)
	t.id, t.key = id.Bytes(), key
	t.in = llm.Input{Messages: r.Messages, Prompt: r.Prompt, Structured: r.Structured}
	if err := t.in.Validate(); err != nil {
		return t, err
	}
	t.params = cloneParams(base)
	if len(r.Params) > 0 && string(r.Params) != "null" {
		d := json.NewDecoder(bytes.NewReader(r.Params))
		d.DisallowUnknownFields()
		if err := d.Decode(&t.params); err != nil {
			return t, fmt.Errorf("generation_params: %w", err)
		}
	}
	if err := t.params.Validate(); err != nil {
		return t, err
	}
	t.n = baseN
	if r.NumGenerations != nil {
		t.n = *r.NumGenerations
		if t.n < 1 || t.n > llamacpp.MaxGenerations {
			return t, fmt.Errorf("num_generations = %d, want 1 to %d", t.n, llamacpp.MaxGenerations)
		}
	}
	if len(r.Label) > 0 && string(r.Label) != "null" {
		var s string
		if json.Unmarshal(r.Label, &s) != nil {
			s = string(bytes.TrimSpace(r.Label))
		}
		t.label = s
	}
	return t, nil
}

// cloneParams copies p so that a row's overrides cannot reach the job's
// slices and maps.
func cloneParams(p llm.GenerationParams) llm.GenerationParams {
	p.Stop = append([]string(nil), p.Stop...)
	if p.LogitBias != nil {
		m := make(map[int32]float64, len(p.LogitBias))
		for k, v := range p.LogitBias {
			m[k] = v
		}
		p.LogitBias = m
	}
	return p
}

// lineReader reads a file line by line, however long the lines, numbering
// them from 1.
type lineReader struct {
	r    *bufio.Reader
	line int
}

func newLineReader(r io.Reader) *lineReader { return &lineReader{r: bufio.NewReaderSize(r, 1<<20)} }

// next returns the next line without its newline. A last line without a
// newline is returned too; io.EOF follows.
func (lr *lineReader) next() ([]byte, error) {
	b, err := lr.r.ReadBytes('\n')
	if len(b) == 0 && err != nil {
		return nil, err
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	lr.line++
	return bytes.TrimRight(b, "\r\n"), nil
}

func isBlank(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }

// jobOptions configure one run of a job.
type jobOptions struct {
	Input, Output  string
	Params         llm.GenerationParams
	NumGenerations int
	Shard          shard
	// Workers is how many rows are in flight at once (each one Generate
	// call; the LLM's scheduler decodes them together).
	Workers int
	// Progress is where progress goes; nil for none.
	Progress *progress
	// ResumeHint is the command that resumes the job, for the message
	// after an interruption.
	ResumeHint string
	// SyncEvery is how often the output is fsync'd. Default 2 s.
	SyncEvery time.Duration
}

// jobSummary counts what a run did.
type jobSummary struct {
	Total     int   // rows of this shard (a line without a usable id belongs to one shard by its number)
	Skipped   int   // already in the output when the run started
	Done      int   // finished and written in this run
	Failed    int   // rows that went to the errors file (bad input or failed generation)
	Tokens    int64 // generated tokens in this run
	Truncated int64 // bytes of torn tail cut from the output
	Foreign   int   // ids in the output that are not rows of this shard
}

// jobPlan is what scanning the input and the output found.
type jobPlan struct {
	todo    []int      // input lines to run, ascending
	bad     []rowError // rows of this shard that cannot run
	summary jobSummary
}

// outputFile is the job's output, open, locked and cut after its last
// complete line, with the ids it holds.
type outputFile struct {
	f    *os.File
	path string
	done map[string]bool
	size int64
	// Counts for the summary.
	truncated, dups int64
}

// openOutput opens (or creates) the output for appending, takes its lock,
// reads the ids already done and cuts a torn tail: a last line without a
// newline, or trailing lines that are not JSON rows with an id (the NULs a
// crashed file system can leave). A bad line followed by good ones is not a
// tail but damage, and an error.
func openOutput(path string) (*outputFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	o := &outputFile{f: f, path: path, done: map[string]bool{}}
	fail := func(err error) (*outputFile, error) {
		f.Close()
		return nil, err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var off, keep int64 // keep: the end of the last good line
	badLine := 0        // the first bad line after keep, if any
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if len(b) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return fail(err)
		}
		off += int64(len(b))
		if err == io.EOF {
			break // no newline: torn
		}
		var row struct {
			ID json.RawMessage `json:"id"`
		}
		key := ""
		if json.Unmarshal(b, &row) == nil {
			key, _ = idKey(row.ID)
		}
		if key == "" {
			if !isBlank(b) && badLine == 0 {
				badLine = line
			}
			continue
		}
		if badLine != 0 {
			return fail(fmt.Errorf("%s: line %d is not a JSON row with an id, but rows follow it: the file is damaged; move it away or remove that line", path, badLine))
		}
		if o.done[key] {
			o.dups++
		}
		o.done[key] = true
		keep = off
	}
	if off > keep {
		if err := f.Truncate(keep); err != nil {
			return fail(err)
		}
		o.truncated = off - keep
	}
	if _, err := f.Seek(keep, io.SeekStart); err != nil {
		return fail(err)
	}
	o.size = keep
	return o, nil
}

// planJob scans the input: it checks that ids are unique, picks the rows of
// the shard that the output does not hold yet, and collects the bad rows
// of the shard. Duplicate ids are an error for the whole job.
func planJob(o jobOptions, done map[string]bool) (*jobPlan, error) {
	f, err := os.Open(o.Input)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p := &jobPlan{}
	seen := map[string]int{} // id key → line
	var dups []string
	ndup := 0
	inShard := map[string]bool{}
	lr := newLineReader(f)
	for {
		b, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Input, err)
		}
		if isBlank(b) {
			continue
		}
		t, perr := parseRow(lr.line, b, o.Params, o.NumGenerations)
		if t.key == "" {
			if o.Shard.hasLine(lr.line) {
				p.summary.Total++
				p.bad = append(p.bad, rowError{Line: lr.line, Error: perr.Error()})
			}
			continue
		}
		if first, ok := seen[t.key]; ok {
			ndup++
			if len(dups) < 5 {
				dups = append(dups, fmt.Sprintf("id %s on lines %d and %d", t.id, first, lr.line))
			}
			continue
		}
		seen[t.key] = lr.line
		if !o.Shard.has(t.key) {
			continue
		}
		inShard[t.key] = true
		p.summary.Total++
		switch {
		case done[t.key]:
			p.summary.Skipped++
		case perr != nil:
			p.bad = append(p.bad, rowError{Line: lr.line, ID: t.id, Error: perr.Error()})
		default:
			p.todo = append(p.todo, lr.line)
		}
	}
	if ndup > 0 {
		more := ""
		if ndup > len(dups) {
			more = fmt.Sprintf(" (and %d more)", ndup-len(dups))
		}
		return nil, fmt.Errorf("%s: ids must be unique: %d duplicates: %s%s", o.Input, ndup, strings.Join(dups, "; "), more)
	}
	for k := range done {
		if !inShard[k] {
			p.summary.Foreign++
		}
	}
	return p, nil
}

// lineWriter appends whole lines to a file, one write each, and fsyncs it
// now and then. It is safe for concurrent use.
type lineWriter struct {
	mu        sync.Mutex
	f         *os.File
	path      string
	open      func() (*os.File, error) // opens f on first write, if nil
	size      int64
	syncEvery time.Duration
	lastSync  time.Time
	dirty     bool
	n         int // lines written
	err       error
	buf       bytes.Buffer
	enc       *json.Encoder
}

func newLineWriter(f *os.File, path string, size int64, syncEvery time.Duration) *lineWriter {
	w := &lineWriter{f: f, path: path, size: size, syncEvery: syncEvery, lastSync: time.Now()}
	w.enc = json.NewEncoder(&w.buf)
	w.enc.SetEscapeHTML(false) // generated text keeps its <, > and &
	return w
}

// write appends v as one JSON line. After a failed write the file is cut
// back to its last whole line and every later write fails.
func (w *lineWriter) write(v any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.f == nil {
		f, err := w.open()
		if err != nil {
			w.err = err
			return err
		}
		w.f = f
	}
	w.buf.Reset()
	if err := w.enc.Encode(v); err != nil { // Encode ends the line with \n
		return err
	}
	n, err := w.f.Write(w.buf.Bytes())
	if err != nil {
		if n > 0 {
			w.f.Truncate(w.size)
			w.f.Seek(w.size, io.SeekStart)
		}
		w.err = fmt.Errorf("write %s: %w", w.path, err)
		return w.err
	}
	w.size += int64(n)
	w.n++
	w.dirty = true
	if time.Since(w.lastSync) >= w.syncEvery {
		w.syncLocked()
	}
	return w.err
}

func (w *lineWriter) syncLocked() {
	if w.f != nil && w.dirty {
		if err := w.f.Sync(); err != nil && w.err == nil {
			w.err = fmt.Errorf("sync %s: %w", w.path, err)
		}
	}
	w.dirty = false
	w.lastSync = time.Now()
}

// lines returns the number of lines written.
func (w *lineWriter) lines() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// close syncs and closes the file.
func (w *lineWriter) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return w.err
	}
	w.syncLocked()
	err := w.f.Close()
	w.f = nil
	if w.err != nil {
		return w.err
	}
	return err
}

// generator is what a job needs of an LLM: one call per row.
type generator func(ctx context.Context, in llm.Input, n int, p llm.GenerationParams, onToken func()) ([]llm.Output, error)

func generatorOf(l llm.LLM) generator {
	s, ok := l.(llm.Streamer)
	return func(ctx context.Context, in llm.Input, n int, p llm.GenerationParams, onToken func()) ([]llm.Output, error) {
		if !ok || onToken == nil {
			return l.Generate(ctx, []llm.Input{in}, n, p)
		}
		return s.GenerateStream(ctx, []llm.Input{in}, n, p, func(c llm.Chunk) {
			if c.Text != "" {
				onToken()
			}
		})
	}
}

// fatalRowError reports whether a row's error means the LLM itself is
// unusable, so that the job must stop rather than record the row.
func fatalRowError(err error) bool {
	return errors.Is(err, llm.ErrClosed) || errors.Is(err, llm.ErrNotLoaded)
}

// runJob runs the job on l: it opens the output, plans the rows, and runs
// them Workers at a time, appending each finished row to the output and
// each bad one to the errors file. It returns when every row is done, at
// the first error that stops the job, or when ctx is cancelled (the error
// then wraps context.Canceled; rows in flight are dropped, to be run again
// on resume).
func runJob(ctx context.Context, gen generator, o jobOptions) (jobSummary, error) {
	if o.Workers < 1 {
		o.Workers = 1
	}
	if o.SyncEvery <= 0 {
		o.SyncEvery = 2 * time.Second
	}
	if err := samePath(o.Input, o.Output); err != nil {
		return jobSummary{}, err
	}
	out, err := openOutput(o.Output)
	if err != nil {
		return jobSummary{}, err
	}
	ow := newLineWriter(out.f, o.Output, out.size, o.SyncEvery)
	defer ow.close()
	if out.truncated > 0 {
		fmt.Fprintf(stderr, "locallm: cut a torn last line (%d bytes) from %s\n", out.truncated, o.Output)
	}
	if out.dups > 0 {
		fmt.Fprintf(stderr, "locallm: warning: %s holds %d ids more than once\n", o.Output, out.dups)
	}
	plan, err := planJob(o, out.done)
	if err != nil {
		return jobSummary{}, err
	}
	sum := plan.summary
	sum.Truncated = out.truncated
	if sum.Foreign > 0 {
		fmt.Fprintf(stderr, "locallm: warning: %s holds %d ids that are not rows of this input%s\n", o.Output, sum.Foreign, shardSuffix(o.Shard))
	}

	// The errors file describes the latest run: rows that failed before
	// are tried again, and land in it again if they fail again.
	epath := errorsPath(o.Output)
	if err := os.Remove(epath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return sum, err
	}
	ew := newLineWriter(nil, epath, 0, o.SyncEvery)
	ew.open = func() (*os.File, error) { return os.OpenFile(epath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644) }
	defer ew.close()
	for _, e := range plan.bad {
		if err := ew.write(e); err != nil {
			return sum, err
		}
	}
	var failed atomic.Int64
	failed.Add(int64(len(plan.bad)))

	pr := o.Progress
	if pr != nil {
		pr.begin(sum.Total, sum.Skipped, len(plan.bad))
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	tasks := make(chan task)
	go func() {
		defer close(tasks)
		if err := feed(ctx, o, plan.todo, tasks); err != nil {
			cancel(err)
		}
	}()

	var done, tokens atomic.Int64
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range tasks {
				var streamed atomic.Int64
				onToken := func() {
					streamed.Add(1)
					if pr != nil {
						pr.addTokens(1)
					}
				}
				outs, err := gen(ctx, t.in, t.n, t.params, onToken)
				ok := err == nil && len(outs) == 1 && outs[0].Err == nil && !cancelled(outs[0])
				if !ok && ctx.Err() != nil {
					continue // dropped: run again on resume
				}
				var rowErr error
				switch {
				case ok:
				case err != nil && len(outs) == 0 && errors.Is(err, llm.ErrBadParameter):
					rowErr = err
				case err != nil && len(outs) == 0, err != nil && fatalRowError(err):
					cancel(err)
					continue
				case len(outs) != 1:
					cancel(fmt.Errorf("the LLM returned %d outputs for one input", len(outs)))
					continue
				case outs[0].Err != nil:
					if fatalRowError(outs[0].Err) {
						cancel(outs[0].Err)
						continue
					}
					rowErr = outs[0].Err
				default: // cancelled, though not by this job: unfinished
					rowErr = errors.New("a generation was cancelled")
				}
				if rowErr != nil {
					if err := ew.write(rowError{Line: t.line, ID: t.id, Error: rowErr.Error()}); err != nil {
						cancel(err)
						continue
					}
					failed.Add(1)
					if pr != nil {
						pr.addFailed(1)
						pr.addTokens(-streamed.Load())
					}
					continue
				}
				n := int64(0)
				for _, k := range outs[0].Statistics.OutputTokens {
					n += int64(k)
				}
				if err := ow.write(outputRow{ID: t.id, Output: outs[0]}); err != nil {
					cancel(err)
					continue
				}
				done.Add(1)
				tokens.Add(n)
				if pr != nil {
					// Streamed chunks stand for tokens while a row runs;
					// its statistics give the exact count when it ends.
					pr.addTokens(n - streamed.Load())
					pr.addDone(1)
				}
			}
		}()
	}
	wg.Wait()
	sum.Done, sum.Failed, sum.Tokens = int(done.Load()), int(failed.Load()), tokens.Load()
	werr := errors.Join(ow.close(), ew.close())
	if pr != nil {
		pr.end()
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return sum, errors.Join(cause, werr)
	}
	if ctx.Err() != nil {
		finished := sum.Skipped + sum.Done
		fmt.Fprintf(stderr, "locallm: interrupted: %d of %d rows are in %s; rows in progress were dropped.\n", finished, sum.Total, o.Output)
		if o.ResumeHint != "" {
			fmt.Fprintf(stderr, "locallm: to resume, run the same command again:\n  %s\n", o.ResumeHint)
		}
		return sum, errors.Join(fmt.Errorf("interrupted: %w", context.Canceled), werr)
	}
	return sum, werr
}

// cancelled reports whether any generation of out was cut short by
// cancellation, which makes the row unfinished.
func cancelled(out llm.Output) bool {
	for _, r := range out.FinishReasons {
		if r == llm.FinishCancelled {
			return true
		}
	}
	return false
}

func shardSuffix(s shard) string {
	if s.whole() {
		return ""
	}
	return " (shard " + s.String() + ")"
}

// feed reads the input again and sends the planned rows to tasks.
func feed(ctx context.Context, o jobOptions, todo []int, tasks chan<- task) error {
	if len(todo) == 0 {
		return nil
	}
	f, err := os.Open(o.Input)
	if err != nil {
		return err
	}
	defer f.Close()
	lr := newLineReader(f)
	k := 0
	for k < len(todo) {
		b, err := lr.next()
		if err == io.EOF {
			return fmt.Errorf("%s changed while the job ran: it ends before line %d", o.Input, todo[k])
		}
		if err != nil {
			return err
		}
		if lr.line != todo[k] {
			continue
		}
		k++
		t, err := parseRow(lr.line, b, o.Params, o.NumGenerations)
		if err != nil {
			return fmt.Errorf("%s changed while the job ran: line %d: %w", o.Input, lr.line, err)
		}
		select {
		case tasks <- t:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// samePath refuses an output that is the input.
func samePath(in, out string) error {
	same, err := sameFile(in, out)
	if same {
		return usageError("--output %s is the input file", out)
	}
	return err
}

// sameFile reports whether out names the existing file in (out need not exist).
func sameFile(in, out string) (bool, error) {
	a, err := os.Stat(in)
	if err != nil {
		return false, err
	}
	b, err := os.Stat(out)
	return err == nil && os.SameFile(a, b), nil
}

// shellQuote quotes args for a POSIX shell, for the resume hint.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// sortedKeys lists a set's keys in order, for messages and tests.
func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// runGenerateJob is `locallm generate --input --output`: it checks the
// settings, loads the model, and only then reads rows.
func runGenerateJob(ctx context.Context, s jobSettings, quiet, stats bool) error {
	switch {
	case s.Input == "":
		return usageError("-input is required with -output")
	case s.Output == "":
		return usageError("-output is required with -input")
	case s.Model.ModelPath == "":
		return usageError("-model is required")
	}
	if err := s.Params.Validate(); err != nil {
		return &exitError{code: 2, err: err}
	}
	n := max(s.NumGenerations, 1)
	if n > llamacpp.MaxGenerations {
		return usageError("-num-generations %d: at most %d", n, llamacpp.MaxGenerations)
	}
	sh, err := resolveShard(s.Shard, s.ShardCount, os.Getenv)
	if err != nil {
		return usageError("%v", err)
	}
	if _, err := os.Stat(s.Input); err != nil {
		return &exitError{code: 2, err: err}
	}
	if err := samePath(s.Input, s.Output); err != nil {
		return err
	}
	if _, err := llamacpp.New(s.Model); err != nil {
		return &exitError{code: 2, err: err}
	}
	start := time.Now()
	l, err := llamacpp.Open(ctx, s.Model)
	if err != nil {
		return err
	}
	defer l.Close()
	seqs := s.Model.Context.Sequences
	if seqs == 0 {
		seqs = llamacpp.DefaultSequences
	}
	o := jobOptions{
		Input: s.Input, Output: s.Output, Params: s.Params, NumGenerations: n, Shard: sh,
		// Two rows per sequence keep the scheduler fed: while one row's
		// result is written, the next is already queued.
		Workers:    2 * seqs,
		Progress:   newProgress(stderr, quiet),
		ResumeHint: "locallm " + shellQuote(os.Args[1:]),
	}
	sum, err := runJob(ctx, generatorOf(l), o)
	if !quiet && err == nil {
		msg := fmt.Sprintf("locallm: %d of %d rows are in %s (%d this run)", sum.Skipped+sum.Done, sum.Total, s.Output, sum.Done)
		if sum.Failed > 0 {
			msg += fmt.Sprintf("; %d failed, see %s", sum.Failed, errorsPath(s.Output))
		}
		fmt.Fprintln(stderr, msg)
	}
	if stats {
		wall := time.Since(start).Seconds()
		st := map[string]any{
			"rows": sum.Total, "skipped": sum.Skipped, "done": sum.Done, "failed": sum.Failed,
			"generated_tokens": sum.Tokens, "wall_s": round(wall),
		}
		if wall > 0 {
			st["tokens_per_s"] = round(float64(sum.Tokens) / wall)
		}
		line, _ := json.Marshal(st)
		fmt.Fprintln(stderr, string(line))
	}
	return err
}
