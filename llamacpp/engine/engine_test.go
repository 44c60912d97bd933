package engine

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/grammar/gbnf"
	"github.com/locallm/locallm/llm"
)

func newEngine(t *testing.T, f *fake, cfg Config) *Engine {
	t.Helper()
	if cfg.Sequences == 0 {
		cfg.Sequences = f.seqs
	}
	if cfg.MaxContext == 0 {
		cfg.MaxContext = 4096
	}
	e, err := New(f, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	return e
}

// fakeFor makes a fake whose every context, batch and sampler must be
// closed when the test ends (cleanups run last-in first-out, so this check
// runs after the engines made later are closed).
func fakeFor(t *testing.T) *fake {
	f := newFake()
	t.Cleanup(func() { assert.Zero(t, f.live.Load(), "every context, batch and sampler closed") })
	return f
}

type genCase struct {
	prompt string
	n      int
	params llm.GenerationParams
}

func (c genCase) request(f *fake) *GenerateRequest {
	req := &GenerateRequest{Tokens: f.tokens(c.prompt), Params: c.params}
	for i := 0; i < c.n; i++ {
		req.Seeds = append(req.Seeds, uint32(1000+i))
	}
	return req
}

// TestGenerateTogetherEqualsAlone: requests run concurrently on one engine
// (queued for sequence IDs and cells, sharing prompt prefixes, split into
// several jobs) give exactly what each gives alone on a fresh engine.
func TestGenerateTogetherEqualsAlone(t *testing.T) {
	prefix := strings.Repeat("You are a careful assistant. ", 2)
	cases := []genCase{
		{prompt: prefix + "Tell me a story.", n: 3, params: llm.GenerationParams{MaxNewTokens: 12, Temperature: 0.8}},
		{prompt: prefix + "Tell me a joke.", n: 2, params: llm.GenerationParams{MaxNewTokens: 9, Temperature: 1.2, IgnoreEOS: true}},
		{prompt: "Short.", n: 1, params: llm.GenerationParams{MaxNewTokens: 20}},
		{prompt: prefix + "Twelve generations, more than the sequences.", n: 12, params: llm.GenerationParams{MaxNewTokens: 5, Temperature: 1}},
		{prompt: "Stop at the letter e.", n: 2, params: llm.GenerationParams{MaxNewTokens: 30, Temperature: 1, Stop: []string{"e", "xy"}}},
		{prompt: strings.Repeat("long prompt ", 8), n: 2, params: llm.GenerationParams{MaxNewTokens: 6, Temperature: 0.5}},
	}
	f := fakeFor(t)
	alone := make([]*GenerateResult, len(cases))
	for i, c := range cases {
		e := newEngine(t, f, Config{})
		res, err := e.Generate(context.Background(), c.request(f))
		require.NoError(t, err)
		alone[i] = res
	}
	f2 := fakeFor(t)
	f2.seqs = 4 // fewer sequence IDs than generations in flight
	e := newEngine(t, f2, Config{MaxContext: 1024})
	var wg sync.WaitGroup
	together := make([]*GenerateResult, len(cases))
	for round := 0; round < 2; round++ {
		for i, c := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := e.Generate(context.Background(), c.request(f2))
				assert.NoError(t, err)
				together[i] = res
			}()
		}
		wg.Wait()
		for i := range cases {
			require.NotNil(t, together[i])
			assert.Equal(t, alone[i].Texts, together[i].Texts, "case %d", i)
			assert.Equal(t, alone[i].FinishReasons, together[i].FinishReasons, "case %d", i)
			assert.Equal(t, alone[i].OutputTokens, together[i].OutputTokens, "case %d", i)
		}
	}
	for _, r := range alone {
		for g, text := range r.Texts {
			assert.NotContains(t, text, "xy")
			assert.LessOrEqual(t, r.OutputTokens[g], 30)
		}
	}
	assert.Equal(t, llm.FinishLength, alone[1].FinishReasons[0], "IgnoreEOS runs to the budget")
}

// TestPrefixReuse: a prompt sharing a long prefix with a running one reuses
// its cells, with the same output.
func TestPrefixReuse(t *testing.T) {
	f := fakeFor(t)
	f.batch = 256
	e := newEngine(t, f, Config{})
	prefix := strings.Repeat("system prompt, ", 4)
	long := genCase{prompt: prefix + "first", n: 1, params: llm.GenerationParams{MaxNewTokens: 3000, IgnoreEOS: true}}
	second := genCase{prompt: prefix + "second", n: 1, params: llm.GenerationParams{MaxNewTokens: 5, IgnoreEOS: true}}
	ref := newEngine(t, fakeFor(t), Config{})
	want, err := ref.Generate(context.Background(), second.request(f))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := e.Generate(ctx, long.request(f))
		assert.ErrorIs(t, err, context.Canceled)
	}()
	require.Eventually(t, func() bool { return e.Stats().ActiveSequences > 0 }, 10*time.Second, time.Millisecond)
	got, err := e.Generate(context.Background(), second.request(f))
	require.NoError(t, err)
	cancel()
	<-done
	assert.Equal(t, want.Texts, got.Texts)
	assert.Equal(t, len(f.tokens(prefix)), got.CachedTokens, "the shared prefix's cells were reused")
}

// TestContextSizedToWork: the context is made at what the work needs and
// grows, doubling, only when waiting work does not fit; a large MaxContext
// is a limit, not an allocation.
func TestContextSizedToWork(t *testing.T) {
	f := fakeFor(t)
	e := newEngine(t, f, Config{MaxContext: 1 << 20})
	_, err := e.Capture(context.Background(), f.tokens("hello"), []int{1})
	require.NoError(t, err)
	_, err = e.Generate(context.Background(), genCase{prompt: "hi", n: 1, params: llm.GenerationParams{MaxNewTokens: 100}}.request(f))
	require.NoError(t, err)
	assert.Equal(t, []int{256}, f.contexts(), "one small context for small work")

	_, err = e.Generate(context.Background(), genCase{prompt: "hi", n: 2, params: llm.GenerationParams{MaxNewTokens: 600}}.request(f))
	require.NoError(t, err)
	assert.Equal(t, []int{256, 2048}, f.contexts(), "grown to the power of two that fits 1202 cells")

	// Concurrent work that needs more than the context has free: it runs
	// after the context grows, and everything completes.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.Generate(context.Background(), genCase{prompt: fmt.Sprint("p", i), n: 1, params: llm.GenerationParams{MaxNewTokens: 700}}.request(f))
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	sizes := f.contexts()
	assert.LessOrEqual(t, len(sizes), 4, "a few growths at most: %v", sizes)

	// A wave of jobs submitted together gets one context sized for all of
	// them, not one sized for whichever the scheduler saw first.
	f3 := fakeFor(t)
	e3 := newEngine(t, f3, Config{MaxContext: 1 << 16, GatherWindow: time.Second})
	var wg3 sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < f3.seqs; i++ {
		wg3.Add(1)
		go func() {
			defer wg3.Done()
			<-start
			_, err := e3.Generate(context.Background(), genCase{prompt: fmt.Sprint("row ", i), n: 1, params: llm.GenerationParams{MaxNewTokens: 250}}.request(f3))
			assert.NoError(t, err)
		}()
	}
	close(start)
	wg3.Wait()
	assert.Equal(t, []int{2048}, f3.contexts(), "8 rows of about 256 cells, in one context")

	f2 := fakeFor(t)
	e2 := newEngine(t, f2, Config{MaxContext: 300, Preallocate: true})
	_, err = e2.Capture(context.Background(), f2.tokens("x"), []int{0})
	require.NoError(t, err)
	assert.Equal(t, []int{512}, f2.contexts(), "preallocated at MaxContext (rounded as llama.cpp does)")

	_, err = e2.Generate(context.Background(), genCase{prompt: "hi", n: 1, params: llm.GenerationParams{MaxNewTokens: 400}}.request(f2))
	assert.ErrorIs(t, err, llm.ErrContextTooLong)
}

// checkRows asserts that a capture's rows are the fake's hidden states of
// the input's tokens, at each layer asked for.
func checkRows(t *testing.T, f *fake, toks []int32, layers []int, rows [][]float32) {
	t.Helper()
	require.Len(t, rows, len(layers))
	var hash uint64
	for p, tk := range toks {
		h := newHash()
		if p > 0 {
			fmt.Fprint(h, hash)
		}
		fmt.Fprint(h, "/", tk)
		hash = h.Sum64()
		for li, l := range layers {
			for k := 0; k < f.nEmbd; k++ {
				require.Equal(t, hidden(hash, l, k), rows[li][p*f.nEmbd+k], "layer %d token %d element %d", l, p, k)
			}
		}
	}
}

// TestCaptureWithGeneration: hidden-state captures share decodes with
// generations; long inputs span several decodes; every layer's rows are
// the right ones (the final layer's come from output rows), and the
// generations are unchanged.
func TestCaptureWithGeneration(t *testing.T) {
	f := fakeFor(t)
	ref := newEngine(t, fakeFor(t), Config{})
	gc := genCase{prompt: "generate while capturing", n: 2, params: llm.GenerationParams{MaxNewTokens: 25, Temperature: 0.7, IgnoreEOS: true}}
	want, err := ref.Generate(context.Background(), gc.request(f))
	require.NoError(t, err)

	e := newEngine(t, f, Config{})
	inputs := []string{"a", "hello world", strings.Repeat("a long input over several batches. ", 3), "x y"}
	layerSets := [][]int{{0}, {4}, {2, 4, 0}, {1, 3}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		got, err := e.Generate(context.Background(), gc.request(f))
		assert.NoError(t, err)
		assert.Equal(t, want.Texts, got.Texts)
	}()
	for i, in := range inputs {
		for _, layers := range layerSets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				toks := f.tokens(in)
				rows, err := e.Capture(context.Background(), toks, layers)
				if assert.NoError(t, err, "input %d", i) {
					checkRows(t, f, toks, layers, rows)
				}
			}()
		}
	}
	wg.Wait()
	_, err = e.Capture(context.Background(), f.tokens("x"), []int{5})
	assert.ErrorIs(t, err, llm.ErrBadParameter)
	_, err = e.Capture(context.Background(), nil, []int{1})
	assert.ErrorIs(t, err, llm.ErrEmptyInput)
}

// TestEmbedWithGeneration: pooled embeddings come from steps that keep
// each input within one ubatch, alongside generations.
func TestEmbedWithGeneration(t *testing.T) {
	f := fakeFor(t)
	f.ubatch = 16
	e := newEngine(t, f, Config{})
	inputs := []string{"first", "a second input", "third one here!", "x"}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := e.Generate(context.Background(), genCase{prompt: "busy", n: 4, params: llm.GenerationParams{MaxNewTokens: 30, IgnoreEOS: true}}.request(f))
		assert.NoError(t, err)
	}()
	for _, in := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks := f.tokens(in)
			v, err := e.Embed(context.Background(), toks)
			if !assert.NoError(t, err) {
				return
			}
			rows, err := e.Capture(context.Background(), toks, []int{f.nLayer})
			require.NoError(t, err)
			for k := 0; k < f.nEmbd; k++ {
				mean := 0.0
				for p := range toks {
					mean += float64(rows[0][p*f.nEmbd+k])
				}
				assert.InDelta(t, mean/float64(len(toks)), v[k], 1e-6, "the mean of the final hidden states")
			}
		}()
	}
	wg.Wait()
	_, err := e.Embed(context.Background(), f.tokens(strings.Repeat("z", 17)))
	assert.ErrorIs(t, err, llm.ErrContextTooLong, "an input over one ubatch")

	f.pooling = "none"
	e2 := newEngine(t, f, Config{})
	_, err = e2.Embed(context.Background(), f.tokens("x"))
	assert.ErrorIs(t, err, ErrNoPooling)
}

// TestEncoder: a model without KV cache evaluates each input whole, and
// cannot generate.
func TestEncoder(t *testing.T) {
	f := fakeFor(t)
	f.noKV = true
	f.ubatch = 12
	e := newEngine(t, f, Config{})
	var wg sync.WaitGroup
	for _, in := range []string{"one", "two two", "three three", "four", "a little longer"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks := f.tokens(in)
			if len(toks) > 12 {
				_, err := e.Capture(context.Background(), toks, []int{4})
				assert.ErrorIs(t, err, llm.ErrContextTooLong)
				return
			}
			rows, err := e.Capture(context.Background(), toks, []int{0, 4})
			if assert.NoError(t, err) {
				checkRows(t, f, toks, []int{0, 4}, rows)
			}
			_, err = e.Embed(context.Background(), toks)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	_, err := e.Generate(context.Background(), genCase{prompt: "no", n: 1}.request(f))
	assert.ErrorIs(t, err, llm.ErrBadInput)
}

// TestConstrained: every output follows the grammar; the allowed set is
// computed only when the sampler's draw is refused; a cut output is closed
// within ClosingTokens, counted apart.
func TestConstrained(t *testing.T) {
	f := fakeFor(t)
	g, err := gbnf.Parse("test", `root ::= "{\"" [a-z]+ "\":" [0-9]{1,3} "}"`)
	require.NoError(t, err)
	e := newEngine(t, f, Config{})
	req := genCase{prompt: "json: ", n: 6, params: llm.GenerationParams{MaxNewTokens: 40, Temperature: 1}}.request(f)
	req.Grammar = g
	res, err := e.Generate(context.Background(), req)
	require.NoError(t, err)
	for i, text := range res.Texts {
		if res.FinishReasons[i] != llm.FinishLength {
			assert.True(t, g.Accepts(text), "%q", text)
		}
		m := g.NewMatcher()
		assert.NoError(t, m.Feed([]byte(text)), "%q is a prefix of a match", text)
	}
	// A budget too short to finish: closed by the shortest completion.
	req = genCase{prompt: "json: ", n: 4, params: llm.GenerationParams{MaxNewTokens: 2, Temperature: 1}}.request(f)
	req.Grammar, req.ClosingTokens = g, 8
	res, err = e.Generate(context.Background(), req)
	require.NoError(t, err)
	for i, text := range res.Texts {
		assert.True(t, g.Accepts(text), "%q", text)
		assert.Equal(t, 2, res.OutputTokens[i])
		assert.Positive(t, res.ClosingTokens[i])
		assert.Equal(t, llm.FinishLength, res.FinishReasons[i])
	}
	// No closing budget: the cut output stands.
	req.ClosingTokens = 0
	res, err = e.Generate(context.Background(), req)
	require.NoError(t, err)
	for i, text := range res.Texts {
		assert.False(t, g.Accepts(text), "%q", text)
		assert.Zero(t, res.ClosingTokens[i])
	}
}

// TestGuideAllowedMatchesCheck: the trie walk lists exactly the tokens the
// one-token check allows, in every state along a match.
func TestGuideAllowedMatchesCheck(t *testing.T) {
	f := fakeFor(t)
	v := newVocab(f)
	for _, src := range []string{
		`root ::= "{\"" [a-z]+ "\":" [0-9]{1,3} "}"`,
		`root ::= ("the" | "then" | [é]+ | "ab" "c"?)+ "\n\n"?`,
		`root ::= [^"\\]* "\""`,
	} {
		g, err := gbnf.Parse("test", src)
		require.NoError(t, err)
		gd := newGuide(g)
		for step := 0; step < 12; step++ {
			allowed := map[int32]bool{}
			for _, tk := range gd.allowed(v, nil) {
				assert.False(t, allowed[tk], "token %d listed twice", tk)
				allowed[tk] = true
			}
			for tk := range int32(len(f.texts)) {
				assert.Equal(t, gd.allows(v, tk), allowed[tk], "%s: token %q at step %d", src, f.texts[tk], step)
			}
			var next int32 = -1
			for tk := range int32(len(f.texts)) {
				if allowed[tk] && !v.isEOG[tk] {
					next = tk
				}
			}
			if next < 0 {
				break
			}
			require.NoError(t, gd.accept(v, next))
		}
	}
}

// TestReasoning: a scripted model thinks, then answers; the block and the
// answer come apart, the grammar constrains only the answer, and stops
// apply to the answer only.
func TestReasoning(t *testing.T) {
	f := fakeFor(t)
	script := []string{"<think>", "\n", "h", "m", "m", "e", "</think>", "\n\n", "{\"", "a", "\":", "1", "}"}
	f.forced = func(h []int32) int32 {
		// The continuation after the prompt "Q:".
		for i := len(h) - 1; i >= 0; i-- {
			if f.texts[h[i]] == ":" && i > 0 && f.texts[h[i-1]] == "Q" {
				k := len(h) - 1 - i
				if k < len(script) {
					return f.tok(script[k])
				}
				return f.eog
			}
		}
		return -1
	}
	e := newEngine(t, f, Config{})
	var mu sync.Mutex
	var streamed, streamedR strings.Builder
	req := genCase{prompt: "Q:", n: 1, params: llm.GenerationParams{MaxNewTokens: 30, Stop: []string{"e"}}}.request(f)
	req.Reasoning = &Reasoning{Open: "<think>", Close: "</think>"}
	req.Stream = func(_ int, c llm.Chunk) {
		mu.Lock()
		defer mu.Unlock()
		streamed.WriteString(c.Text)
		streamedR.WriteString(c.Reasoning)
	}
	res, err := e.Generate(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, "hmme", res.Reasoning[0], "the stop sequence does not cut the reasoning")
	assert.Equal(t, `{"a":1}`, res.Texts[0])
	assert.Equal(t, llm.FinishEOS, res.FinishReasons[0])
	assert.Equal(t, res.Texts[0], streamed.String())
	assert.Equal(t, res.Reasoning[0], streamedR.String())

	// With a grammar, only the answer is constrained.
	g, err := gbnf.Parse("obj", `root ::= "{\"" [a-z] "\":" [0-9] "}"`)
	require.NoError(t, err)
	req.Stream, req.Grammar = nil, g
	res, err = e.Generate(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, `{"a":1}`, res.Texts[0])
	assert.Equal(t, "hmme", res.Reasoning[0])

	// A model that does not open the block has no reasoning.
	req = genCase{prompt: "plain", n: 1, params: llm.GenerationParams{MaxNewTokens: 5, IgnoreEOS: true}}.request(f)
	req.Reasoning = &Reasoning{Open: "<think>", Close: "</think>"}
	res, err = e.Generate(context.Background(), req)
	require.NoError(t, err)
	assert.Empty(t, res.Reasoning[0])
	assert.Equal(t, 5, res.OutputTokens[0])
}

// TestLogprobs: log-probabilities are the log-softmax of the raw logits,
// and the top alternatives are the most likely tokens in order.
func TestLogprobs(t *testing.T) {
	f := fakeFor(t)
	e := newEngine(t, f, Config{})
	req := genCase{prompt: "logprobs", n: 2, params: llm.GenerationParams{MaxNewTokens: 6, Temperature: 1, IgnoreEOS: true, TopLogprobs: 3}}.request(f)
	res, err := e.Generate(context.Background(), req)
	require.NoError(t, err)
	for g := range res.Texts {
		require.Len(t, res.Logprobs[g], 6)
		text := ""
		hist := f.tokens("logprobs")
		for _, lp := range res.Logprobs[g] {
			// Recompute from the fake's logits for this history.
			h := newHash()
			var hash uint64
			for p, tk := range hist {
				h = newHash()
				if p > 0 {
					fmt.Fprint(h, hash)
				}
				fmt.Fprint(h, "/", tk)
				hash = h.Sum64()
			}
			logits := f.logitsFor(&fakeCell{hash: hash, hist: hist})
			sum := 0.0
			for _, l := range logits {
				sum += math.Exp(float64(l))
			}
			assert.InDelta(t, float64(logits[lp.Token])-math.Log(sum), lp.Logprob, 1e-9)
			require.Len(t, lp.Top, 3)
			for k := 1; k < 3; k++ {
				assert.GreaterOrEqual(t, lp.Top[k-1].Logprob, lp.Top[k].Logprob)
			}
			for tk, l := range logits {
				assert.LessOrEqual(t, float64(l)-math.Log(sum), lp.Top[0].Logprob+1e-12, "token %d beats the top one", tk)
			}
			text += lp.Text
			hist = append(hist, lp.Token)
		}
		assert.Equal(t, res.Texts[g], text)
	}
}

// TestCancelAndClose: a cancelled request ends its sequences and frees
// their cells; Close fails what is in flight with ErrClosed and frees
// everything (newEngine's cleanup counts the fake's live objects).
func TestCancelAndClose(t *testing.T) {
	f := fakeFor(t)
	e := newEngine(t, f, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	req := genCase{prompt: "forever", n: 3, params: llm.GenerationParams{MaxNewTokens: 3000, IgnoreEOS: true}}.request(f)
	var res *GenerateResult
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err = e.Generate(ctx, req)
	}()
	require.Eventually(t, func() bool { return e.Stats().ActiveSequences > 0 }, 10*time.Second, time.Millisecond)
	cancel()
	<-done
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, []llm.FinishReason{llm.FinishCancelled, llm.FinishCancelled, llm.FinishCancelled}, res.FinishReasons)
	assert.Eventually(t, func() bool { return e.Stats().ActiveSequences == 0 }, time.Second, time.Millisecond)

	done = make(chan struct{})
	go func() {
		defer close(done)
		_, err = e.Generate(context.Background(), req)
	}()
	require.Eventually(t, func() bool { return e.Stats().ActiveSequences > 0 }, 10*time.Second, time.Millisecond)
	e.Close()
	<-done
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, err, llm.ErrClosed)
	_, err = e.Capture(context.Background(), f.tokens("x"), []int{0})
	assert.ErrorIs(t, err, ErrClosed)
}

// TestConcurrentMixed: generations, captures and embeddings from many
// goroutines on one engine (run under -race by make test).
func TestConcurrentMixed(t *testing.T) {
	f := fakeFor(t)
	f.seqs = 6
	e := newEngine(t, f, Config{MaxContext: 2048})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch i % 3 {
			case 0:
				_, err = e.Generate(context.Background(), genCase{prompt: fmt.Sprint("gen ", i), n: 1 + i%4, params: llm.GenerationParams{MaxNewTokens: 10 + i, Temperature: 1}}.request(f))
			case 1:
				_, err = e.Capture(context.Background(), f.tokens(fmt.Sprint("capture ", i)), []int{0, f.nLayer})
			case 2:
				_, err = e.Embed(context.Background(), f.tokens(fmt.Sprint("embed ", i)))
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	// Stats are published after each scheduler step, not with each job.
	assert.Eventually(t, func() bool { st := e.Stats(); return st.Waiting == 0 && st.ActiveSequences == 0 && st.Running == 0 }, time.Second, time.Millisecond)
	st := e.Stats()
	assert.Positive(t, st.Decodes)
	assert.Greater(t, float64(st.DecodedTokens)/float64(st.Decodes), 1.5, "work shared decodes")
}

// TestSplitKV: a wave of generations with no shared prefix gets a split
// context (a stream per sequence), whose results equal a unified cache's;
// a prompt with several generations is copied stream to stream; hidden
// states bring a unified context back, for good; shared prefixes keep the
// cache unified.
func TestSplitKV(t *testing.T) {
	cases := []genCase{
		{prompt: "first prompt", n: 3, params: llm.GenerationParams{MaxNewTokens: 20, Temperature: 0.9}},
		{prompt: "a second one", n: 1, params: llm.GenerationParams{MaxNewTokens: 30, IgnoreEOS: true}},
		{prompt: "third", n: 2, params: llm.GenerationParams{MaxNewTokens: 25, Temperature: 0.5, Stop: []string{"q"}}},
		{prompt: "and a fourth prompt here", n: 1, params: llm.GenerationParams{MaxNewTokens: 40}},
	}
	ref := newEngine(t, fakeFor(t), Config{KVLayout: KVUnified})
	want := make([]*GenerateResult, len(cases))
	fr := fakeFor(t)
	for i, c := range cases {
		res, err := ref.Generate(context.Background(), c.request(fr))
		require.NoError(t, err)
		want[i] = res
	}
	f := fakeFor(t)
	e := newEngine(t, f, Config{GatherWindow: 300 * time.Millisecond, MaxContext: 1 << 14})
	var wg sync.WaitGroup
	got := make([]*GenerateResult, len(cases))
	start := make(chan struct{})
	for i, c := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := e.Generate(context.Background(), c.request(f))
			assert.NoError(t, err)
			got[i] = res
		}()
	}
	close(start)
	wg.Wait()
	require.Equal(t, []bool{true}, f.layouts(), "one split context")
	for i := range cases {
		assert.Equal(t, want[i].Texts, got[i].Texts, "case %d", i)
		assert.Equal(t, want[i].FinishReasons, got[i].FinishReasons, "case %d", i)
	}

	// A longer generation than a stream holds: a larger split context
	// (8 streams of 1024 cells) for work that fills the streams, or a
	// unified one where that is more than MaxContext.
	long := genCase{prompt: "long", n: 4, params: llm.GenerationParams{MaxNewTokens: 600, IgnoreEOS: true}}
	_, err := e.Generate(context.Background(), long.request(f))
	require.NoError(t, err)
	assert.Equal(t, []bool{true, true}, f.layouts())
	assert.Equal(t, []int{2048, 8192}, f.contexts())
	f4 := fakeFor(t)
	e4 := newEngine(t, f4, Config{})
	four := cases[0]
	four.n = 4
	_, err = e4.Generate(context.Background(), four.request(f4))
	require.NoError(t, err)
	_, err = e4.Generate(context.Background(), long.request(f4))
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false}, f4.layouts(), "8 streams of 1024 would exceed 4096 cells")

	// Work that fills less than half of the streams (one prompt) gets a
	// unified context sized to it.
	f6 := fakeFor(t)
	e6 := newEngine(t, f6, Config{})
	_, err = e6.Generate(context.Background(), cases[0].request(f6))
	require.NoError(t, err)
	assert.Equal(t, []bool{false}, f6.layouts())
	assert.Equal(t, []int{256}, f6.contexts())

	// Hidden states need the unified cache: the context is made again,
	// unified, and stays so.
	toks := f.tokens("capture me")
	rows, err := e.Capture(context.Background(), toks, []int{0, 4})
	require.NoError(t, err)
	checkRows(t, f, toks, []int{0, 4}, rows)
	_, err = e.Generate(context.Background(), cases[0].request(f))
	require.NoError(t, err)
	assert.Equal(t, []bool{true, true, false}, f.layouts())

	// Prompts that share a prefix are worth a unified cache.
	f2 := fakeFor(t)
	e2 := newEngine(t, f2, Config{GatherWindow: 300 * time.Millisecond})
	prefix := strings.Repeat("shared system prompt ", 2)
	start2 := make(chan struct{})
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start2
			_, err := e2.Generate(context.Background(), genCase{prompt: prefix + fmt.Sprint(i), n: 1, params: llm.GenerationParams{MaxNewTokens: 5}}.request(f2))
			assert.NoError(t, err)
		}()
	}
	close(start2)
	wg.Wait()
	assert.Equal(t, []bool{false}, f2.layouts())

	// A split context, then prompts that share a prefix: a unified one,
	// and the prefix is reused.
	f5 := fakeFor(t)
	e5 := newEngine(t, f5, Config{GatherWindow: 300 * time.Millisecond})
	_, err = e5.Generate(context.Background(), four.request(f5))
	require.NoError(t, err)
	long5 := genCase{prompt: prefix + "first", n: 1, params: llm.GenerationParams{MaxNewTokens: 3000, IgnoreEOS: true}}
	ctx5, cancel5 := context.WithCancel(context.Background())
	decoded := e5.Stats().DecodedTokens
	done5 := make(chan struct{})
	go func() {
		defer close(done5)
		_, err := e5.Generate(ctx5, long5.request(f5))
		assert.ErrorIs(t, err, context.Canceled)
	}()
	// Its prompt evaluated and a token past it: the cells to reuse exist.
	require.Eventually(t, func() bool {
		return e5.Stats().DecodedTokens > decoded+int64(len(f5.tokens(long5.prompt)))
	}, 10*time.Second, time.Millisecond)
	res5, err := e5.Generate(context.Background(), genCase{prompt: prefix + "second", n: 1, params: llm.GenerationParams{MaxNewTokens: 4}}.request(f5))
	require.NoError(t, err)
	cancel5()
	<-done5
	assert.Equal(t, []bool{true, false}, f5.layouts())
	assert.Positive(t, res5.CachedTokens)

	// A forced split refuses what it cannot do.
	f3 := fakeFor(t)
	e3 := newEngine(t, f3, Config{KVLayout: KVSplit, MaxContext: 2048})
	_, err = e3.Capture(context.Background(), f3.tokens("x"), []int{1})
	assert.ErrorIs(t, err, llm.ErrBadInput)
	_, err = e3.Generate(context.Background(), genCase{prompt: "x", n: 1, params: llm.GenerationParams{MaxNewTokens: 300}}.request(f3))
	assert.ErrorIs(t, err, llm.ErrContextTooLong, "300 cells > a stream of 2048/8")
	res, err := e3.Generate(context.Background(), cases[0].request(f3))
	require.NoError(t, err)
	assert.Equal(t, want[0].Texts, res.Texts)
	_, err = New(f3, Config{MaxContext: 1, Sequences: 1, KVLayout: "sideways"})
	assert.Error(t, err)
}
