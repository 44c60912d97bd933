package llamacpp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/locallm/locallm/llamacpp/engine"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llm"
)

// TypeName is the name under which LLM registers with llm.Register.
const TypeName = "llamacpp"

// LLM is the llama.cpp implementation of llm.LLM. It is safe for concurrent
// use: Generate, GenerateStream, HiddenStates and Embed may be called from
// many goroutines at once, and all their work is scheduled by one engine on
// one llama.cpp context (see package engine).
type LLM struct {
	opts Options

	mu     sync.RWMutex // guards the fields below; Close takes it for writing
	model  *llama.Model
	eng    *engine.Engine
	chat   *chatFormat
	closed bool
	// cancels holds the calls in progress, so that Close can cancel them.
	cancels map[*context.CancelFunc]struct{}
}

var (
	_ llm.LLM          = (*LLM)(nil)
	_ llm.Streamer     = (*LLM)(nil)
	_ llm.Configurable = (*LLM)(nil)
	_ llm.HiddenStater = (*LLM)(nil)
	_ llm.Embedder     = (*LLM)(nil)
)

func init() {
	llm.Register(TypeName, func(config json.RawMessage) (llm.LLM, error) {
		var o Options
		d := json.NewDecoder(strings.NewReader(string(config)))
		d.DisallowUnknownFields()
		if err := d.Decode(&o); err != nil {
			return nil, fmt.Errorf("llamacpp: config: %w", err)
		}
		return New(o)
	})
}

// New returns an unloaded LLM, after checking the options.
func New(opts Options) (*LLM, error) {
	if opts.ModelPath == "" {
		return nil, fmt.Errorf("%w: model_path is required", ErrBadOption)
	}
	if err := opts.Model.Validate(); err != nil {
		return nil, err
	}
	if err := opts.Context.Validate(); err != nil {
		return nil, err
	}
	if opts.Structured != nil {
		if err := opts.Structured.Validate(); err != nil {
			return nil, err
		}
	}
	return &LLM{opts: opts, cancels: map[*context.CancelFunc]struct{}{}}, nil
}

// Open is New followed by Load.
func Open(ctx context.Context, opts Options) (*LLM, error) {
	l, err := New(opts)
	if err != nil {
		return nil, err
	}
	if err := l.Load(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// TypeName implements llm.Configurable.
func (l *LLM) TypeName() string { return TypeName }

// Config returns the Options, for llm.ConfigOf.
func (l *LLM) Config() any { return l.opts }

// Options returns the options the LLM was made with.
func (l *LLM) Options() Options { return l.opts }

// Load loads the model and checks the options against it, in Go: no
// llama.cpp context is made until there is work for it. Loading twice is a
// no-op.
func (l *LLM) Load(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.model != nil {
		return nil
	}
	m, err := llama.LoadModel(ctx, l.opts.ModelPath, &l.opts.Model)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		m.Close()
		return err
	}
	if err := l.opts.Context.checkAgainst(m.Info()); err != nil {
		return fail(err)
	}
	chat, err := newChatFormat(m, l.opts.ChatTemplate)
	if err != nil {
		return fail(err)
	}
	p := capThreads(l.opts.Context.params().WithDefaults())
	layout, _ := l.opts.Context.kvLayout() // checked by New
	eng, err := engine.New(&backend{m: m, params: p}, engine.Config{
		MaxContext:  p.ContextSize,
		Preallocate: l.opts.Context.Preallocate,
		Sequences:   p.Sequences,
		KVLayout:    layout,
	})
	if err != nil {
		return fail(err)
	}
	l.model, l.eng, l.chat = m, eng, chat
	return nil
}

// Close cancels the calls in progress, stops the engine and frees the
// model. It is idempotent; later calls of other methods return ErrClosed.
func (l *LLM) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	for c := range l.cancels {
		(*c)()
	}
	eng, model := l.eng, l.model
	l.eng, l.model = nil, nil
	l.mu.Unlock()
	if eng != nil {
		eng.Close()
	}
	if model != nil {
		return model.Close()
	}
	return nil
}

// ModelName is the model's general.name, or its file name without extension.
func (l *LLM) ModelName() string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.model != nil && l.model.Info().Name != "" {
		return l.model.Info().Name
	}
	base := filepath.Base(l.opts.ModelPath)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// Model returns the loaded model (the binding's), or nil before Load and
// after Close.
func (l *LLM) Model() *llama.Model {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.model
}

// ModelInfo returns the loaded model's metadata.
func (l *LLM) ModelInfo() (ModelInfo, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if err := l.usableLocked(); err != nil {
		return ModelInfo{}, err
	}
	return l.model.Info(), nil
}

// Stats is a snapshot of the scheduler's work.
type Stats = engine.Stats

// Stats reports the scheduler's queue and sequences (zero before Load).
func (l *LLM) Stats() Stats {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.eng == nil {
		return Stats{}
	}
	return l.eng.Stats()
}

// QueueDepth is the number of jobs waiting for room in the scheduler.
func (l *LLM) QueueDepth() int { return l.Stats().Waiting }

// ActiveSequences is the number of sequences the scheduler is decoding.
func (l *LLM) ActiveSequences() int { return l.Stats().ActiveSequences }

func (l *LLM) usableLocked() error {
	if l.closed {
		return ErrClosed
	}
	if l.model == nil {
		return fmt.Errorf("llamacpp: %w: call Load first", llm.ErrNotLoaded)
	}
	return nil
}

// acquire returns the engine, the model and a context that Close cancels.
func (l *LLM) acquire(ctx context.Context) (*engine.Engine, *llama.Model, context.Context, func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return nil, nil, nil, nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	key := &cancel
	l.cancels[key] = struct{}{}
	release := func() {
		l.mu.Lock()
		delete(l.cancels, key)
		l.mu.Unlock()
		cancel()
	}
	return l.eng, l.model, cctx, release, nil
}

func (l *LLM) isClosed() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.closed
}

// Generate implements llm.LLM.
func (l *LLM) Generate(ctx context.Context, inputs []llm.Input, numGenerations int, params llm.GenerationParams) ([]llm.Output, error) {
	return l.GenerateStream(ctx, inputs, numGenerations, params, nil)
}

// GenerateStream implements llm.Streamer. fn may be nil.
func (l *LLM) GenerateStream(ctx context.Context, inputs []llm.Input, numGenerations int, params llm.GenerationParams, fn func(llm.Chunk)) ([]llm.Output, error) {
	if err := llm.CheckNumGenerations(numGenerations); err != nil {
		return nil, err
	}
	numGenerations = max(numGenerations, 1)
	if err := params.Validate(); err != nil {
		return nil, err
	}
	params = params.WithDefaults()
	eng, model, cctx, release, err := l.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()

	outs := make([]llm.Output, len(inputs))
	var streamMu sync.Mutex
	var wg sync.WaitGroup
	for i := range inputs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var stream func(gen int, c llm.Chunk)
			if fn != nil {
				stream = func(gen int, c llm.Chunk) {
					streamMu.Lock()
					defer streamMu.Unlock()
					c.Input, c.Generation = i, gen
					fn(c)
				}
			}
			outs[i] = l.generateOne(cctx, eng, model, inputs[i], numGenerations, params, stream)
		}(i)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return outs, err
	}
	if l.isClosed() {
		return outs, ErrClosed
	}
	return outs, nil
}

// generateOne runs one input's generations and validates structured
// outputs, generating invalid ones again (with new seeds) as Retries asks.
func (l *LLM) generateOne(ctx context.Context, eng *engine.Engine, m *llama.Model, in llm.Input, n int, params llm.GenerationParams, stream func(int, llm.Chunk)) llm.Output {
	out := llm.Output{}
	fail := func(err error) llm.Output {
		out.Err = err
		return out
	}
	p, err := l.prompt(m, in)
	if err != nil {
		return fail(err)
	}
	out.Statistics.InputTokens = len(p.tokens)
	so := in.Structured
	if so == nil {
		so = l.opts.Structured
	}
	var cons *constraint
	if so != nil {
		if cons, err = compileConstraint(so); err != nil {
			return fail(err)
		}
	}
	out.Generations = make([]string, n)
	out.FinishReasons = make([]llm.FinishReason, n)
	out.Statistics.OutputTokens = make([]int, n)
	closing := make([]int, n)
	if p.reasoning != nil {
		out.Reasoning = make([]string, n)
	}
	if params.Logprobs {
		out.Logprobs = make([][]llm.TokenLogprob, n)
	}
	gens := make([]int, n)
	for i := range gens {
		gens[i] = i
	}
	base := params.Seed
	if base < 0 {
		base = randomSeed()
	}
	for attempt := 0; len(gens) > 0; attempt++ {
		req := &engine.GenerateRequest{Tokens: p.tokens, Params: params, Reasoning: p.reasoning}
		for _, g := range gens {
			// Generation g draws with seed base+g; each retry with a new one.
			req.Seeds = append(req.Seeds, uint32(base+int64(g+attempt*len(gens)*7919)))
		}
		if cons != nil {
			req.Grammar, req.ClosingTokens = cons.grammar, so.ClosingTokens
		}
		if stream != nil {
			idx := gens
			req.Stream = func(k int, c llm.Chunk) { stream(idx[k], c) }
		}
		res, err := eng.Generate(ctx, req)
		if res != nil {
			for k, g := range gens {
				out.Generations[g] = res.Texts[k]
				out.FinishReasons[g] = res.FinishReasons[k]
				out.Statistics.OutputTokens[g] = res.OutputTokens[k]
				closing[g] = res.ClosingTokens[k]
				if out.Reasoning != nil {
					out.Reasoning[g] = res.Reasoning[k]
				}
				if out.Logprobs != nil {
					out.Logprobs[g] = res.Logprobs[k]
				}
			}
			out.Statistics.CachedTokens = max(out.Statistics.CachedTokens, res.CachedTokens)
			out.Statistics.PromptSeconds += res.PromptTime.Seconds()
			out.Statistics.GenerationSeconds += res.GenerationTime.Seconds()
		}
		if err != nil {
			out.Err = err
			break
		}
		if cons == nil || cons.validate == nil {
			break
		}
		if out.Valid == nil {
			out.Valid = make([]bool, n)
			out.ValidationErrors = make([]string, n)
		}
		var retry []int
		for _, g := range gens {
			if verr := cons.validate([]byte(out.Generations[g])); verr != nil {
				out.Valid[g], out.ValidationErrors[g] = false, verr.Error()
				retry = append(retry, g)
			} else {
				out.Valid[g], out.ValidationErrors[g] = true, ""
			}
		}
		if attempt >= so.Retries {
			break
		}
		gens = retry
	}
	for _, c := range closing {
		if c > 0 {
			out.Statistics.ClosingTokens = closing
			break
		}
	}
	return out
}

// randomSeed draws a non-negative seed.
func randomSeed() int64 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return int64(binary.LittleEndian.Uint32(b[:]))
}
