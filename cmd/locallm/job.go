package main

// The JSONL job behind `locallm generate --input --output`: what a row is
// and what it produces. Reading, sharding, resuming and writing rows is
// the job engine's (internal/job): each finished row is one JSON line,
// written whole in one write, and a run starts by cutting the output after
// its last whole line, locking it and skipping the ids it holds, so that a
// job killed at any moment and run again writes each id once.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/locallm/locallm/cmd/locallm/internal/job"
	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llm"
)

// jobRow is one line of a job's input.
type jobRow struct {
	// ID names the row in the output: a non-empty string or a number.
	ID       json.RawMessage `json:"id"`
	Messages []llm.Message   `json:"messages,omitempty"`
	Prompt   string          `json:"prompt,omitempty"`
	// Structured is an llm.StructuredOutput, read apart so that its keys
	// are known (see parseRow).
	Structured json.RawMessage `json:"structured_output,omitempty"`
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

// task is what a row asks for, once read.
type task struct {
	in     llm.Input
	params llm.GenerationParams
	n      int
	label  string
}

// parseRow reads one input line (its id is the engine's to read): the
// input, and the generation parameters and count, the job's overridden by
// the row's. Fields the row gives are checked with the same rules as the
// flags (rules.go), and errors name them as the row spells them
// (generation_params.top_p).
func parseRow(b []byte, base llm.GenerationParams, baseN int) (task, error) {
	var t task
	var r jobRow
	if err := json.Unmarshal(b, &r); err != nil {
		return t, jsonError("", err)
	}
	t.in = llm.Input{Messages: r.Messages, Prompt: r.Prompt}
	if isSet(r.Structured) {
		so := new(llm.StructuredOutput)
		if err := decodeStrict(r.Structured, so); err != nil {
			return t, jsonError("structured_output", err)
		}
		if err := checkStructured(so, jsonKeys(r.Structured), "structured_output."); err != nil {
			return t, err
		}
		t.in.Structured = so
	}
	if err := t.in.Validate(); err != nil {
		return t, err
	}
	t.params = cloneParams(base)
	if isSet(r.Params) {
		if err := decodeStrict(r.Params, &t.params); err != nil {
			return t, jsonError("generation_params", err)
		}
		if err := checkGenParams(t.params, jsonKeys(r.Params), "generation_params."); err != nil {
			return t, err
		}
	}
	if err := t.params.Validate(); err != nil {
		return t, err
	}
	t.n = baseN
	if r.NumGenerations != nil {
		t.n = *r.NumGenerations
		if !ruleNumGenerations.ok(t.n) {
			return t, fieldError("num_generations", t.n, ruleNumGenerations.want)
		}
	}
	if isSet(r.Label) {
		var s string
		if json.Unmarshal(r.Label, &s) != nil {
			s = string(bytes.TrimSpace(r.Label))
		}
		t.label = s
	}
	return t, nil
}

// isSet reports whether a raw JSON field was given, and not as null.
func isSet(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// decodeStrict decodes raw into v, refusing unknown fields.
func decodeStrict(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(v)
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

// jobOptions configure one run of a generate job.
type jobOptions struct {
	Input, Output  string
	Params         llm.GenerationParams
	NumGenerations int
	Shard          job.Shard
	// Workers is how many rows are in flight at once (each one Generate
	// call; the LLM's scheduler decodes them together).
	Workers int
	// Progress is where progress goes; nil for none.
	Progress *job.Progress
	// ResumeHint is the command that resumes the job, for the message
	// after an interruption.
	ResumeHint string
	// SyncEvery is how often the output is fsync'd. Default 2 s.
	SyncEvery time.Duration
	// Closing, if not nil, counts the tokens appended to close cut
	// structures (llm.Statistics.ClosingTokens) of the rows written.
	Closing *atomic.Int64
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

// runJob runs a generate job on gen: one row per call, Workers at once,
// each finished row appended to the output as one JSON line, each bad one
// to the errors file. It returns when every row is done, at the first
// error that stops the job, or when ctx is cancelled (the error then wraps
// context.Canceled; rows in flight are dropped, to be run again on resume).
func runJob(ctx context.Context, gen generator, o jobOptions) (job.Summary, error) {
	if err := samePath(o.Input, o.Output); err != nil {
		return job.Summary{}, err
	}
	out, err := job.OpenLines(o.Output)
	if err != nil {
		return job.Summary{}, err
	}
	defer out.Close()
	if o.SyncEvery > 0 {
		out.SyncEvery = o.SyncEvery
	}
	sum, err := job.Run(ctx, job.Spec[task]{
		Input: o.Input, Shard: o.Shard,
		Parse:  func(b []byte) (task, error) { return parseRow(b, o.Params, o.NumGenerations) },
		Output: out, Errors: job.ErrorsPath(o.Output),
		Workers: o.Workers, Process: generateRow(gen, o.Progress, o.Closing),
		Progress: o.Progress, Messages: stderr, ResumeHint: o.ResumeHint,
	})
	return sum, errors.Join(err, out.Close())
}

// generateRow returns the job's Process: it generates one row and encodes
// its output line. Tokens count on the progress as they stream; the row's
// statistics correct the count when it ends.
func generateRow(gen generator, pr *job.Progress, closing *atomic.Int64) func(context.Context, []job.Task[task]) ([]job.Result, error) {
	return func(ctx context.Context, rows []job.Task[task]) ([]job.Result, error) {
		t := rows[0]
		var streamed atomic.Int64
		onToken := func() {
			streamed.Add(1)
			pr.AddTokens(1)
		}
		outs, err := gen(ctx, t.Row.in, t.Row.n, t.Row.params, onToken)
		ok := err == nil && len(outs) == 1 && outs[0].Err == nil && !cancelled(outs[0])
		if !ok && ctx.Err() != nil {
			pr.AddTokens(-streamed.Load())
			return nil, ctx.Err() // dropped: run again on resume
		}
		var rowErr error
		switch {
		case ok:
		case err != nil && len(outs) == 0 && errors.Is(err, llm.ErrBadParameter):
			rowErr = err
		case err != nil && len(outs) == 0, err != nil && fatalRowError(err):
			return nil, err
		case len(outs) != 1:
			return nil, fmt.Errorf("the LLM returned %d outputs for one input", len(outs))
		case outs[0].Err != nil:
			if fatalRowError(outs[0].Err) {
				return nil, outs[0].Err
			}
			rowErr = outs[0].Err
		default: // cancelled, though not by this job: unfinished
			rowErr = errors.New("a generation was cancelled")
		}
		if rowErr != nil {
			pr.AddTokens(-streamed.Load())
			return []job.Result{{Err: rowErr}}, nil
		}
		n := int64(0)
		for _, k := range outs[0].Statistics.OutputTokens {
			n += int64(k)
		}
		var line bytes.Buffer
		enc := json.NewEncoder(&line)
		enc.SetEscapeHTML(false) // generated text keeps its <, > and &
		if err := enc.Encode(outputRow{ID: t.ID, Output: outs[0]}); err != nil {
			return []job.Result{{Err: err}}, nil
		}
		pr.AddTokens(n - streamed.Load())
		if closing != nil {
			for _, k := range outs[0].Statistics.ClosingTokens {
				closing.Add(int64(k))
			}
		}
		return []job.Result{{Record: line.Bytes(), Tokens: n}}, nil
	}
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

// samePath refuses an output that is the input.
func samePath(in, out string) error {
	same, err := job.SameFile(in, out)
	if same {
		return usageError("--output %s is the input file", out)
	}
	return err
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

// runGenerateJob is `locallm generate --input --output` with settings that
// checkSettings has checked: it loads the model, and only then reads rows.
func runGenerateJob(ctx context.Context, s jobSettings, quiet, stats bool) error {
	n := max(s.NumGenerations, 1)
	sh, err := job.ResolveShard(s.Shard, s.ShardCount, os.Getenv)
	if err != nil {
		return usageError("%v", err)
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
		Workers:  2 * seqs,
		Progress: job.NewProgress(stderr, quiet),
		// The command as it was typed, whatever the binary's path.
		ResumeHint: shellQuote(os.Args),
		Closing:    new(atomic.Int64),
	}
	sum, err := runJob(ctx, generatorOf(l), o)
	if !quiet && err == nil {
		fmt.Fprintln(stderr, "locallm: "+sum.String(s.Output, job.ErrorsPath(s.Output)))
	}
	if stats {
		wall := time.Since(start).Seconds()
		st := map[string]any{
			"rows": sum.Total, "skipped": sum.Skipped, "done": sum.Done, "failed": sum.Failed,
			"generated_tokens": sum.Tokens, "closing_tokens": o.Closing.Load(), "wall_s": round(wall),
		}
		if wall > 0 {
			st["tokens_per_s"] = round(float64(sum.Tokens) / wall)
		}
		line, _ := json.Marshal(st)
		fmt.Fprintln(stderr, string(line))
	}
	return err
}
