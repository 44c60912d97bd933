package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// Task is one row ready to run.
type Task[T any] struct {
	Line int             // the input line, from 1
	ID   json.RawMessage // the id, compacted
	Key  string          // the id's key (IDKey)
	Row  T               // what Spec.Parse made of the line
}

// Result is what became of one row.
type Result struct {
	// Record is appended to the output (see Log.Append) when Err is nil.
	Record []byte
	// Err is the row's own failure: the row goes to the errors file, and
	// the job goes on. A row whose Err is set while the job is being
	// cancelled is dropped instead, to run again on resume.
	Err error
	// Tokens the row produced or evaluated, for the summary.
	Tokens int64
}

// Spec describes one run of a job.
type Spec[T any] struct {
	// Input is the JSONL file of rows; Shard picks this run's.
	Input string
	Shard Shard
	// Parse reads one line into what Process needs. It is called for each
	// row of the shard when the run is planned and again when the row is
	// fed, so it must be deterministic. An error makes the row bad: it
	// goes to the errors file and never reaches Process.
	Parse func(line []byte) (T, error)
	// Output receives the finished rows; the caller opens and closes it,
	// and rows it holds are skipped. OutputName names the output in
	// messages (default: its path).
	Output     *Log
	OutputName string
	// Errors is the errors file: rewritten by each run, created only when
	// a row fails.
	Errors string
	// Batch is how many rows one Process call gets (default 1), in input
	// order; Workers how many calls run at once (default 1).
	Batch, Workers int
	// Process runs a batch and returns one Result per row. An error stops
	// the job, unless the context was cancelled: the batch is then dropped,
	// to run again on resume.
	Process func(ctx context.Context, rows []Task[T]) ([]Result, error)
	// Progress shows rows as they finish; Process may add tokens to it.
	Progress *Progress
	// Messages is where notices go (a torn tail cut, an interruption);
	// nil discards them. ResumeHint is the command that resumes the job,
	// printed after an interruption.
	Messages   io.Writer
	ResumeHint string
}

// Summary counts what a run did.
type Summary struct {
	Total     int   // rows of this shard (a line without a usable id belongs to one shard by its number)
	Skipped   int   // already in the output when the run started
	Done      int   // finished and written in this run
	Failed    int   // rows that went to the errors file (bad input or a failed row)
	Tokens    int64 // tokens of the rows done in this run
	Truncated int64 // bytes of torn tail cut from the output
	Foreign   int   // ids in the output that are not rows of this shard
}

// String is the summary line: "N of M rows are in OUT (K this run)",
// with the failures and where they are.
func (s Summary) String(output, errorsFile string) string {
	msg := fmt.Sprintf("%d of %d rows are in %s (%d this run)", s.Skipped+s.Done, s.Total, output, s.Done)
	if s.Failed > 0 {
		msg += fmt.Sprintf("; %d failed, see %s", s.Failed, errorsFile)
	}
	return msg
}

// ErrorsPath is where the bad rows of an output go.
func ErrorsPath(output string) string { return output + ".errors.jsonl" }

// RowError is one line of an errors file.
type RowError struct {
	Line  int             `json:"line"`
	ID    json.RawMessage `json:"id,omitempty"`
	Error string          `json:"error"`
}

// plan is what scanning the input found.
type plan struct {
	todo []int // input lines to run, ascending
	bad  []RowError
	sum  Summary
}

// makePlan scans the input: it checks that ids are unique, picks the rows
// of the shard that the output does not hold yet, and collects the bad rows
// of the shard. Duplicate ids are an error for the whole job.
func makePlan[T any](s *Spec[T], done map[string]bool) (*plan, error) {
	f, err := os.Open(s.Input)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p := &plan{}
	seen := map[string]int{} // id key → line
	var dups []string
	ndup := 0
	inShard := map[string]bool{}
	lr := NewLineReader(f)
	for {
		b, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Input, err)
		}
		if IsBlank(b) {
			continue
		}
		key, id, ierr := RowID(b)
		if ierr != nil {
			if s.Shard.HasLine(lr.Line) {
				p.sum.Total++
				p.bad = append(p.bad, RowError{Line: lr.Line, Error: ierr.Error()})
			}
			continue
		}
		if first, ok := seen[key]; ok {
			ndup++
			if len(dups) < 5 {
				dups = append(dups, fmt.Sprintf("id %s on lines %d and %d", id, first, lr.Line))
			}
			continue
		}
		seen[key] = lr.Line
		if !s.Shard.Has(key) {
			continue
		}
		inShard[key] = true
		p.sum.Total++
		if done[key] {
			p.sum.Skipped++
			continue
		}
		if _, perr := s.Parse(b); perr != nil {
			p.bad = append(p.bad, RowError{Line: lr.Line, ID: id, Error: perr.Error()})
			continue
		}
		p.todo = append(p.todo, lr.Line)
	}
	if ndup > 0 {
		more := ""
		if ndup > len(dups) {
			more = fmt.Sprintf(" (and %d more)", ndup-len(dups))
		}
		return nil, fmt.Errorf("%s: ids must be unique: %d duplicates: %s%s", s.Input, ndup, strings.Join(dups, "; "), more)
	}
	for k := range done {
		if !inShard[k] {
			p.sum.Foreign++
		}
	}
	return p, nil
}

// Run runs the job: it plans the rows, then runs those still to do, Batch
// at a time on Workers goroutines, appending each finished row to the
// output and each bad one to the errors file. It returns when every row is
// done, at the first error that stops the job, or when ctx is cancelled:
// the error then wraps context.Canceled, and rows in flight were dropped,
// to run again on resume.
func Run[T any](ctx context.Context, s Spec[T]) (Summary, error) {
	s.Batch, s.Workers = max(s.Batch, 1), max(s.Workers, 1)
	msgs := s.Messages
	if msgs == nil {
		msgs = io.Discard
	}
	name := s.OutputName
	if name == "" {
		name = s.Output.Path()
	}
	if s.Output.Truncated > 0 {
		what := "last line"
		if s.Output.records {
			what = "tail"
		}
		fmt.Fprintf(msgs, "locallm: cut a torn %s (%d bytes) from %s\n", what, s.Output.Truncated, s.Output.Path())
	}
	if s.Output.Dups > 0 {
		fmt.Fprintf(msgs, "locallm: warning: %s holds %d ids more than once\n", s.Output.Path(), s.Output.Dups)
	}
	p, err := makePlan(&s, s.Output.Keys())
	if err != nil {
		return Summary{}, err
	}
	sum := p.sum
	sum.Truncated = s.Output.Truncated
	if sum.Foreign > 0 {
		fmt.Fprintf(msgs, "locallm: warning: %s holds %d ids that are not rows of this input%s\n", name, sum.Foreign, s.Shard.suffix())
	}

	// The errors file describes the latest run: rows that failed before
	// are tried again, and land in it again if they fail again.
	ew, err := createErrors(s.Errors)
	if err != nil {
		return sum, err
	}
	defer ew.close()
	for _, e := range p.bad {
		if err := ew.write(e); err != nil {
			return sum, err
		}
	}
	var failed atomic.Int64
	failed.Add(int64(len(p.bad)))
	pr := s.Progress
	pr.Begin(sum.Total, sum.Skipped, len(p.bad))

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan []Task[T])
	go func() {
		defer close(batches)
		if err := feed(ctx, &s, p.todo, batches); err != nil {
			cancel(err)
		}
	}()
	var done, tokens atomic.Int64
	var wg sync.WaitGroup
	for range s.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rows := range batches {
				if ctx.Err() != nil {
					continue // stopping: run again on resume
				}
				results, err := s.Process(ctx, rows)
				if err == nil && len(results) != len(rows) {
					err = fmt.Errorf("%d results for %d rows", len(results), len(rows))
				}
				if err != nil {
					if ctx.Err() == nil {
						cancel(err)
					}
					continue // dropped: run again on resume
				}
				for i, r := range results {
					t := rows[i]
					if r.Err != nil {
						if ctx.Err() != nil {
							continue // unfinished: run again on resume
						}
						if err := ew.write(RowError{Line: t.Line, ID: t.ID, Error: r.Err.Error()}); err != nil {
							cancel(err)
							break
						}
						failed.Add(1)
						pr.AddFailed(1)
						continue
					}
					if err := s.Output.Append(t.ID, r.Record); err != nil {
						cancel(err)
						break
					}
					done.Add(1)
					tokens.Add(r.Tokens)
					pr.AddDone(1)
				}
			}
		}()
	}
	wg.Wait()
	pr.End()
	sum.Done, sum.Failed, sum.Tokens = int(done.Load()), int(failed.Load()), tokens.Load()
	werr := ew.close()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return sum, errors.Join(cause, werr)
	}
	if ctx.Err() != nil {
		fmt.Fprintf(msgs, "locallm: interrupted: %d of %d rows are in %s; rows in progress were dropped.\n", sum.Skipped+sum.Done, sum.Total, name)
		if s.ResumeHint != "" {
			fmt.Fprintf(msgs, "locallm: to resume, run the same command again:\n  %s\n", s.ResumeHint)
		}
		return sum, errors.Join(fmt.Errorf("interrupted: %w", context.Canceled), werr)
	}
	return sum, werr
}

// feed reads the input again and sends the planned rows, in batches, to
// out.
func feed[T any](ctx context.Context, s *Spec[T], todo []int, out chan<- []Task[T]) error {
	if len(todo) == 0 {
		return nil
	}
	f, err := os.Open(s.Input)
	if err != nil {
		return err
	}
	defer f.Close()
	lr := NewLineReader(f)
	var batch []Task[T]
	send := func() bool {
		select {
		case out <- batch:
			batch = nil
			return true
		case <-ctx.Done():
			return false
		}
	}
	for k := 0; k < len(todo); {
		b, err := lr.Next()
		if err == io.EOF {
			return fmt.Errorf("%s changed while the job ran: it ends before line %d", s.Input, todo[k])
		}
		if err != nil {
			return err
		}
		if lr.Line != todo[k] {
			continue
		}
		k++
		key, id, err := RowID(b)
		if err != nil {
			return fmt.Errorf("%s changed while the job ran: line %d: %w", s.Input, lr.Line, err)
		}
		row, err := s.Parse(b)
		if err != nil {
			return fmt.Errorf("%s changed while the job ran: line %d: %w", s.Input, lr.Line, err)
		}
		batch = append(batch, Task[T]{Line: lr.Line, ID: id, Key: key, Row: row})
		if len(batch) == s.Batch && !send() {
			return nil
		}
	}
	if len(batch) > 0 {
		send()
	}
	return nil
}

// errorsFile is a job's errors file, written afresh by each run and created
// only when a row fails. It is safe for concurrent use.
type errorsFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
	n    int
	err  error
}

func createErrors(path string) (*errorsFile, error) {
	if path == "" {
		return nil, errors.New("job: no errors file")
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return &errorsFile{path: path}, nil
}

func (e *errorsFile) write(r RowError) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return e.err
	}
	if e.f == nil {
		if e.f, e.err = os.OpenFile(e.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644); e.err != nil {
			return e.err
		}
	}
	if _, err := e.f.Write(append(line, '\n')); err != nil {
		e.err = fmt.Errorf("write %s: %w", e.path, err)
	}
	e.n++
	return e.err
}

func (e *errorsFile) close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.f == nil {
		return e.err
	}
	err := errors.Join(e.f.Sync(), e.f.Close())
	e.f = nil
	if e.err != nil {
		return e.err
	}
	return err
}
