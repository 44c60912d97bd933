package llamacpp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/locallm/locallm/llm"
)

// TypeName is the name under which LLM registers with llm.Register.
const TypeName = "llamacpp"

// Options configure an LLM. Only ModelPath is required; every other field's
// zero value is the documented default of its type.
type Options struct {
	// ModelPath is the GGUF file to load.
	ModelPath string         `json:"model_path" yaml:"model_path"`
	Model     ModelOptions   `json:"model,omitempty" yaml:"model,omitempty"`
	Context   ContextOptions `json:"context,omitempty" yaml:"context,omitempty"`
	// ChatTemplate chooses how chat inputs are formatted: the name of one
	// of the model's own tokenizer.chat_template.NAME templates (such as
	// "tool_use"), the name of a llama.cpp built-in template ("chatml",
	// "llama3", ...; see ChatTemplates), formatted by llama.cpp's
	// llama_chat_apply_template, or else Jinja text. Jinja templates are
	// rendered as Hugging Face transformers renders them (package
	// chattemplate), and parsed at Load, so that a bad one fails there.
	// Default: the model's tokenizer.chat_template, as Jinja; without one,
	// chat inputs fail with llm.ErrNoChatTemplate.
	ChatTemplate string `json:"chat_template,omitempty" yaml:"chat_template,omitempty"`
	// Structured constrains every input that has no structured output of its own.
	Structured *llm.StructuredOutput `json:"structured_output,omitempty" yaml:"structured_output,omitempty"`
}

// LLM is the llama.cpp implementation of llm.LLM. It is safe for concurrent
// use: Generate may be called from many goroutines, and their sequences are
// decoded together by one scheduler.
type LLM struct {
	opts Options

	mu     sync.RWMutex // guards the fields below; Close takes it for writing
	model  *Model
	gen    *Context
	sched  *scheduler
	hidden *hiddenContext
	closed bool
	// chat formats chat inputs; nil when the model has no template and
	// none is set. Set by Load.
	chat atomic.Pointer[chatFormat]
	// inflight counts Generate calls in progress, so Close can cancel them.
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
	if err := opts.Model.validate(); err != nil {
		return nil, err
	}
	if err := opts.Context.validate(); err != nil {
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

// Load loads the model and starts the scheduler. Loading twice is a no-op.
func (l *LLM) Load(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.model != nil {
		return nil
	}
	m, err := LoadModel(ctx, l.opts.ModelPath, &l.opts.Model)
	if err != nil {
		return err
	}
	// Check the context options against the model now, so that a bad
	// configuration fails at Load rather than at the first Generate.
	c, err := m.NewContext(&l.opts.Context)
	if err != nil {
		m.Close()
		return err
	}
	c.Close()
	f, err := m.chatFormat(l.opts.ChatTemplate)
	if err != nil && (l.opts.ChatTemplate != "" || !errors.Is(err, llm.ErrNoChatTemplate)) {
		m.Close()
		return err
	}
	l.chat.Store(f)
	l.model = m
	return nil
}

// schedulerLocked returns the generation scheduler, making its context on first
// use: programs that only read hidden states never pay for it. l.mu is held.
func (l *LLM) schedulerLocked() (*scheduler, error) {
	if l.sched != nil {
		return l.sched, nil
	}
	c, err := l.model.NewContext(&l.opts.Context)
	if err != nil {
		return nil, err
	}
	s, err := newScheduler(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	l.gen, l.sched = c, s
	return s, nil
}

// Close cancels generations in progress, stops the scheduler and frees the
// model. It is idempotent; later calls of other methods return llm.ErrClosed.
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
	sched, hidden, model := l.sched, l.hidden, l.model
	l.sched, l.hidden, l.model, l.gen = nil, nil, nil, nil
	l.mu.Unlock()
	if sched != nil {
		sched.close()
	}
	if hidden != nil {
		hidden.close()
	}
	if model != nil {
		return model.Close() // closes the contexts too
	}
	return nil
}

// ModelName is the model's general.name, or its file name without extension.
func (l *LLM) ModelName() string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.model != nil && l.model.info.Name != "" {
		return l.model.info.Name
	}
	base := filepath.Base(l.opts.ModelPath)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// Model returns the loaded model, or nil before Load and after Close.
func (l *LLM) Model() *Model {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.model
}

// acquire returns the scheduler and a context that Close cancels.
func (l *LLM) acquire(ctx context.Context) (*scheduler, context.Context, func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, nil, nil, ErrClosed
	}
	if l.model == nil {
		return nil, nil, nil, fmt.Errorf("llamacpp: %w: call Load first", llm.ErrNotLoaded)
	}
	s, err := l.schedulerLocked()
	if err != nil {
		return nil, nil, nil, err
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
	return s, cctx, release, nil
}

// Generate implements llm.LLM.
func (l *LLM) Generate(ctx context.Context, inputs []llm.Input, numGenerations int, params llm.GenerationParams) ([]llm.Output, error) {
	return l.GenerateStream(ctx, inputs, numGenerations, params, nil)
}

// MaxGenerations bounds numGenerations.
const MaxGenerations = 1 << 16

// GenerateStream implements llm.Streamer. fn may be nil.
func (l *LLM) GenerateStream(ctx context.Context, inputs []llm.Input, numGenerations int, params llm.GenerationParams, fn func(llm.Chunk)) ([]llm.Output, error) {
	if numGenerations < 1 {
		numGenerations = 1
	}
	if numGenerations > MaxGenerations {
		return nil, fmt.Errorf("%w: num_generations = %d, want at most %d", llm.ErrBadParameter, numGenerations, MaxGenerations)
	}
	if err := params.Validate(); err != nil {
		return nil, err
	}
	params = params.WithDefaults()
	sched, cctx, release, err := l.acquire(ctx)
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
			outs[i] = l.generateOne(cctx, sched, inputs[i], numGenerations, params, stream)
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

func (l *LLM) isClosed() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.closed
}

// prompt formats and tokenises one input.
func (l *LLM) prompt(m *Model, in llm.Input) ([]int32, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	text, addSpecial := in.Prompt, true
	if in.IsChat() {
		f := l.chat.Load()
		if f == nil {
			return nil, errNoChatTemplate(m.path)
		}
		var err error
		if text, addSpecial, err = f.format(m, in); err != nil {
			return nil, err
		}
	}
	toks, err := m.Tokenize(text, addSpecial, true)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("%w: the prompt has no tokens", llm.ErrEmptyInput)
	}
	return toks, nil
}

// generateOne runs one input's generations, split into jobs that fit the
// context, and validates structured outputs.
func (l *LLM) generateOne(ctx context.Context, s *scheduler, in llm.Input, n int, params llm.GenerationParams, stream func(int, llm.Chunk)) llm.Output {
	out := llm.Output{}
	fail := func(err error) llm.Output {
		out.Err = err
		return out
	}
	toks, err := l.prompt(s.model, in)
	if err != nil {
		return fail(err)
	}
	out.Statistics.InputTokens = len(toks)
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
	per := s.maxPerJob(len(toks), params.MaxNewTokens)
	if per < 1 {
		return fail(fmt.Errorf("%w: %d prompt tokens + %d max new tokens > context size %d", llm.ErrContextTooLong, len(toks), params.MaxNewTokens, s.c.Size()))
	}
	out.Generations = make([]string, n)
	out.FinishReasons = make([]llm.FinishReason, n)
	out.Statistics.OutputTokens = make([]int, n)
	gens := make([]int, n)
	for i := range gens {
		gens[i] = i
	}
	attempt := 0
	for len(gens) > 0 {
		res, err := l.runJobs(ctx, s, toks, gens, params, cons, attempt, stream)
		for k, g := range gens {
			if k < len(res.texts) {
				out.Generations[g] = res.texts[k]
				out.FinishReasons[g] = res.reasons[k]
				out.Statistics.OutputTokens[g] = res.outTokens[k]
			}
		}
		out.Statistics.CachedTokens = max(out.Statistics.CachedTokens, res.cached)
		out.Statistics.PromptSeconds += res.promptTime.Seconds()
		out.Statistics.GenerationSeconds += res.genTime.Seconds()
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
		attempt++
		if attempt > so.Retries {
			break
		}
		gens = retry
	}
	return out
}

// runJobs generates the listed generations of one prompt, as many jobs as
// the context needs, and returns their results in order.
func (l *LLM) runJobs(ctx context.Context, s *scheduler, toks []int32, gens []int, params llm.GenerationParams, cons *constraint, attempt int, stream func(int, llm.Chunk)) (jobResult, error) {
	per := s.maxPerJob(len(toks), params.MaxNewTokens)
	var all jobResult
	var jobs []*job
	for start := 0; start < len(gens); start += per {
		chunk := gens[start:min(start+per, len(gens))]
		j := &job{ctx: ctx, tokens: toks, params: params, result: make(chan jobResult, 1)}
		if cons != nil {
			j.guide = cons.grammar
		}
		if stream != nil {
			j.stream = func(k int, c llm.Chunk) { stream(chunk[k], c) }
		}
		for _, g := range chunk {
			// Each attempt of a generation draws with a new seed.
			seed := seedFor(params.Seed, g+attempt*len(gens)*7919)
			gbnf := ""
			if cons != nil {
				gbnf = cons.gbnf
			}
			smp, err := NewSampler(s.model, params, seed, gbnf)
			if err != nil {
				closeSamplers(j.samplers)
				for _, pj := range jobs {
					<-pj.result
				}
				return all, err
			}
			j.samplers = append(j.samplers, smp)
		}
		jobs = append(jobs, j)
		go s.enqueue(j)
	}
	var firstErr error
	for _, j := range jobs {
		r := <-j.result
		all.texts = append(all.texts, r.texts...)
		all.reasons = append(all.reasons, r.reasons...)
		all.outTokens = append(all.outTokens, r.outTokens...)
		all.promptTime += r.promptTime
		all.genTime += r.genTime
		all.cached = max(all.cached, r.cached)
		if r.err != nil && firstErr == nil {
			firstErr = r.err
		}
	}
	return all, firstErr
}

var _ = time.Second
