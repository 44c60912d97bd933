package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/locallm/locallm/grammar/gbnf"
	"github.com/locallm/locallm/llm"
)

// Config configures an Engine.
type Config struct {
	// MaxContext is the most KV cells the context may have, shared by all
	// sequences (required). The context starts at the size the first work
	// needs and grows, doubling, as work needs more, up to MaxContext.
	MaxContext int
	// MinContext is the smallest context made. Default 256 (llama.cpp's
	// granularity).
	MinContext int
	// Preallocate makes the first context MaxContext cells at once, for
	// servers that want their memory taken at start.
	Preallocate bool
	// Sequences is the number of sequence IDs a context has (required):
	// the most generations, hidden-state and embedding inputs in flight.
	Sequences int
	// MinSharedPrefix is the shortest common prompt prefix whose KV cells
	// a generation reuses from another running one. Default 16.
	MinSharedPrefix int
	// KVLayout chooses how each context's KV cache is laid out. Default
	// KVAuto.
	KVLayout KVLayout
	// GatherWindow is how long the scheduler waits for more work before it
	// makes its first context, so that jobs submitted together from several
	// goroutines (a JSONL job's first rows) get one context sized for all
	// of them rather than for whichever came first. Default 5ms; negative
	// waits not at all.
	GatherWindow time.Duration
}

// KVLayout is how a context's KV cache is laid out.
type KVLayout string

// KV layouts. A unified cache is shared by all sequences: they can share
// cells (a prompt evaluated once for many generations, a prefix reused
// across prompts), and hidden states and embeddings are read in the same
// decodes as generations; but each token's attention walks every cell in
// use, masking the other sequences' ones, which with many sequences costs
// llama.cpp's CPU kernels about a fifth of the decode rate. Split streams
// give each sequence its own cells (Config.MaxContext/Sequences of them):
// attention reads only its own, a prompt shared by several generations is
// copied stream to stream, prefixes are not reused, and hidden states and
// embeddings cannot be read (llama.cpp evaluates a batch sequence by
// sequence, not in batch order).
const (
	// KVAuto splits a context made for generations alone whose prompts
	// share no prefix, fit a stream and fill at least half of the
	// sequence IDs, and unifies it otherwise; once
	// hidden-state or embedding work has come, contexts stay unified.
	KVAuto KVLayout = ""
	// KVUnified always shares one cache.
	KVUnified KVLayout = "unified"
	// KVSplit always splits: hidden-state and embedding requests fail,
	// and a generation must fit one stream.
	KVSplit KVLayout = "split"
)

// Errors of the engine; llm's sentinels are wrapped where they apply.
var (
	// ErrClosed: the engine was closed.
	ErrClosed = fmt.Errorf("engine: closed: %w", llm.ErrClosed)
	// ErrNoToken: a sampler excluded every token (the backend's
	// Context.Sample returns it).
	ErrNoToken = errors.New("engine: every token was excluded by the sampler")
	// ErrNoPooling: Embed on a model that pools nothing.
	ErrNoPooling = errors.New("engine: the model declares no pooling, so it has no embedding of its own; pool its hidden states instead")
)

// Engine schedules all the work on one model: generations, hidden-state
// captures and embeddings are jobs of one scheduler, whose goroutine owns
// the model's one context and decodes the tokens of all running jobs
// together, step by step (continuous batching). Its methods block until
// their job is done and may be called from many goroutines at once.
type Engine struct {
	b      Backend
	cfg    Config
	submit chan *job
	stop   chan struct{}
	done   chan struct{}

	startOnce sync.Once
	closeOnce sync.Once

	curMu sync.Mutex
	cur   Context // the scheduler's context, for Close to abort a decode

	// Statistics, written by the scheduler.
	split                                atomic.Bool
	waiting, running, sequences, ctxSize atomic.Int64
	decodes, decodedTokens               atomic.Int64
}

// New returns an engine for the backend. Nothing is allocated until the
// first job: the context is made for the work it brings.
func New(b Backend, cfg Config) (*Engine, error) {
	if cfg.MaxContext <= 0 {
		return nil, fmt.Errorf("engine: MaxContext = %d, want > 0", cfg.MaxContext)
	}
	if cfg.Sequences <= 0 {
		return nil, fmt.Errorf("engine: Sequences = %d, want > 0", cfg.Sequences)
	}
	if cfg.MinContext <= 0 {
		cfg.MinContext = 256
	}
	cfg.MinContext = min(cfg.MinContext, cfg.MaxContext)
	if cfg.MinSharedPrefix <= 0 {
		cfg.MinSharedPrefix = 16
	}
	if cfg.GatherWindow == 0 {
		cfg.GatherWindow = 5 * time.Millisecond
	}
	switch cfg.KVLayout {
	case KVAuto, KVUnified, KVSplit:
	default:
		return nil, fmt.Errorf("engine: KVLayout %q, want \"\" (auto), \"unified\" or \"split\"", cfg.KVLayout)
	}
	return &Engine{
		b: b, cfg: cfg,
		submit: make(chan *job),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}, nil
}

// Close fails the jobs in progress with ErrClosed (aborting a decode under
// way), waits for the scheduler to stop, and frees the context. It is
// idempotent.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		close(e.stop)
		e.startOnce.Do(func() { close(e.done) }) // never started
		e.curMu.Lock()
		if e.cur != nil {
			e.cur.Abort() // a decode under way stops early
		}
		e.curMu.Unlock()
		<-e.done
	})
	return nil
}

// Stats is a snapshot of the scheduler.
type Stats struct {
	Waiting         int   // jobs waiting for room
	Running         int   // jobs admitted and not finished
	ActiveSequences int   // sequences decoding or prefilling
	ContextSize     int   // KV cells of the current context (0: none yet)
	SplitKV         bool  // the current context gives each sequence its own stream
	Decodes         int64 // llama_decode calls so far
	DecodedTokens   int64 // tokens in them
}

// Stats returns a snapshot of the scheduler's state.
func (e *Engine) Stats() Stats {
	return Stats{
		Waiting: int(e.waiting.Load()), Running: int(e.running.Load()),
		ActiveSequences: int(e.sequences.Load()), ContextSize: int(e.ctxSize.Load()), SplitKV: e.split.Load(),
		Decodes: e.decodes.Load(), DecodedTokens: e.decodedTokens.Load(),
	}
}

// MaxGenerationsPerJob is how many generations of a prompt of n tokens,
// each of up to maxNew tokens, share one job (one prompt evaluation); 0
// when even one does not fit MaxContext.
func (e *Engine) MaxGenerationsPerJob(n, maxNew int) int {
	room := e.cfg.MaxContext - n
	if room < maxNew || maxNew <= 0 && room < 1 {
		return 0
	}
	if maxNew <= 0 {
		return e.cfg.Sequences
	}
	return min(room/maxNew, e.cfg.Sequences)
}

// Reasoning describes a model's reasoning block, as its chat template
// writes it: text between Open and Close markers before the answer.
type Reasoning struct {
	Open, Close string
	// Opened says the prompt already ends inside the block (the template
	// opened it): the output starts with reasoning.
	Opened bool
}

// GenerateRequest is one prompt and its generations.
type GenerateRequest struct {
	Tokens []int32
	// Params are the generation parameters, validated by the caller; the
	// engine applies their defaults.
	Params llm.GenerationParams
	// Seeds has one seed per generation: its length is the number of
	// generations.
	Seeds []uint32
	// Grammar, when set, constrains every generation: only tokens that
	// continue a match are drawn, and one ends only where the grammar
	// does (or at the token budget). With Reasoning, it constrains the
	// answer after the reasoning block.
	Grammar *gbnf.Grammar
	// ClosingTokens is the most tokens appended past Params.MaxNewTokens to
	// complete a constrained output the budget cut (the grammar's shortest
	// completion); 0 appends none.
	ClosingTokens int
	// Reasoning, when set, splits each output into reasoning and answer.
	Reasoning *Reasoning
	// Stream, when set, is called from the scheduler's goroutine with each
	// piece of final text (complete UTF-8, past any possible start of a
	// stop sequence) of generation gen, and once more with Done set. It
	// must not block for long.
	Stream func(gen int, c llm.Chunk)
}

// GenerateResult holds a request's generations, in seed order.
type GenerateResult struct {
	Texts         []string
	Reasoning     []string // nil without GenerateRequest.Reasoning
	FinishReasons []llm.FinishReason
	OutputTokens  []int // sampled tokens
	ClosingTokens []int // tokens appended to close a cut structure
	// Logprobs is set when Params ask for them: one entry per sampled
	// token that is part of the output.
	Logprobs [][]llm.TokenLogprob
	// PromptTime is from the start of the prompt's evaluation to the first
	// sampled token; GenerationTime from then to the last generation's end
	// (both summed over the jobs a request was split into).
	PromptTime, GenerationTime time.Duration
	// CachedTokens counts prompt tokens whose KV cells were reused from
	// another running generation.
	CachedTokens int
}

// start launches the scheduler on first use.
func (e *Engine) start() {
	e.startOnce.Do(func() { go e.loop() })
}

// run hands a job to the scheduler and waits for it to finish.
func (e *Engine) run(ctx context.Context, j *job) error {
	select {
	case <-e.stop:
		j.abandon(ErrClosed, llm.FinishError)
		return ErrClosed
	default:
	}
	e.start()
	j.ctx = ctx
	j.done = make(chan struct{})
	select {
	case e.submit <- j:
	case <-e.stop:
		j.abandon(ErrClosed, llm.FinishError)
		return ErrClosed
	case <-ctx.Done():
		j.abandon(ctx.Err(), llm.FinishCancelled)
		return ctx.Err()
	}
	<-j.done
	return j.err
}

// Generate runs a request's generations. Those that fit one job (sequences,
// and KV cells within MaxContext) share one prompt evaluation; more are
// split into several jobs, scheduled together. An error that ends a job
// early (cancellation, Close, a failed decode) is returned with what was
// generated so far.
func (e *Engine) Generate(ctx context.Context, req *GenerateRequest) (*GenerateResult, error) {
	n := len(req.Seeds)
	if n == 0 {
		return nil, fmt.Errorf("%w: no generations asked for", llm.ErrBadParameter)
	}
	if len(req.Tokens) == 0 {
		return nil, fmt.Errorf("%w: the prompt has no tokens", llm.ErrEmptyInput)
	}
	params := req.Params.WithDefaults()
	per := e.MaxGenerationsPerJob(len(req.Tokens), params.MaxNewTokens)
	if per < 1 {
		return nil, fmt.Errorf("%w: %d prompt tokens + %d max new tokens > context size %d", llm.ErrContextTooLong, len(req.Tokens), params.MaxNewTokens, e.cfg.MaxContext)
	}
	res := &GenerateResult{
		Texts: make([]string, n), FinishReasons: make([]llm.FinishReason, n),
		OutputTokens: make([]int, n), ClosingTokens: make([]int, n),
	}
	if req.Reasoning != nil {
		res.Reasoning = make([]string, n)
	}
	if params.Logprobs {
		res.Logprobs = make([][]llm.TokenLogprob, n)
	}
	var jobs []*job
	for first := 0; first < n; first += per {
		last := min(first+per, n)
		j, err := e.newGenJob(req, params, first, last)
		if err != nil {
			for _, pj := range jobs {
				pj.release()
			}
			return nil, err
		}
		jobs = append(jobs, j)
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.run(ctx, j)
		}()
	}
	wg.Wait()
	var first error
	for i, j := range jobs {
		j.gen.collect(res)
		if errs[i] != nil && first == nil {
			first = errs[i]
		}
	}
	return res, first
}

// Capture evaluates tokens as one sequence and returns the hidden states
// of the given layers (0..NLayer, as Hugging Face numbers hidden_states),
// each as len(tokens) rows of NEmbd values, row-major. Several captures
// run in one decode with whatever else is running.
func (e *Engine) Capture(ctx context.Context, tokens []int32, layers []int) ([][]float32, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("%w: the input has no tokens", llm.ErrEmptyInput)
	}
	nl := e.b.NLayer()
	if len(layers) == 0 {
		return nil, fmt.Errorf("%w: no layers asked for", llm.ErrBadParameter)
	}
	seen := map[int]bool{}
	for _, l := range layers {
		if l < 0 || l > nl || seen[l] {
			return nil, fmt.Errorf("%w: layers %v: want distinct layers in [0, %d]", llm.ErrBadParameter, layers, nl)
		}
		seen[l] = true
	}
	j := &job{kind: captureJob, tokens: tokens, nseq: 1, layers: layers}
	if err := e.fits(j); err != nil {
		return nil, err
	}
	j.rows = make([][]float32, len(layers))
	for i := range j.rows {
		j.rows[i] = make([]float32, len(tokens)*e.b.NEmbd())
	}
	if err := e.run(ctx, j); err != nil {
		return nil, err
	}
	return j.rows, nil
}

// Embed evaluates tokens as one sequence and returns the model's own pooled
// embedding of it. The whole input is evaluated in one ubatch (pooling is
// per ubatch); a model that declares no pooling gives ErrNoPooling.
func (e *Engine) Embed(ctx context.Context, tokens []int32) ([]float32, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("%w: the input has no tokens", llm.ErrEmptyInput)
	}
	j := &job{kind: embedJob, tokens: tokens, nseq: 1}
	if err := e.fits(j); err != nil {
		return nil, err
	}
	if err := e.run(ctx, j); err != nil {
		return nil, err
	}
	return j.embedding, nil
}

// fits checks what can be checked before a context exists: the KV cells a
// capture or embedding needs.
func (e *Engine) fits(j *job) error {
	if len(j.tokens) > e.cfg.MaxContext {
		return fmt.Errorf("%w: %d tokens > context size %d", llm.ErrContextTooLong, len(j.tokens), e.cfg.MaxContext)
	}
	return nil
}
