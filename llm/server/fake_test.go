package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/server"
)

// fake is an llm.LLM (and Streamer, Embedder, HiddenStater, EngineStats)
// whose outputs are decided by the test: reply gives generation g's text
// for an input, and each byte of it is one token.
type fake struct {
	reply func(in llm.Input, g int) string
	// think, when set, is each generation's reasoning, streamed before
	// its text.
	think string
	// tokenDelay is slept (watching ctx) before each token.
	tokenDelay time.Duration
	// embedErr is what Embed returns; nil gives vectors.
	embedErr error
	hidden   int // width of hidden states; 0 = 4

	mu     sync.Mutex
	inputs [][]llm.Input
	params []llm.GenerationParams
	ns     []int
	ctxErr []error // ctx.Err() when each call returned
	layers []int
	loaded bool
}

var errNoPooling = errors.New("fake: no pooling")

func (f *fake) Load(context.Context) error { f.mu.Lock(); f.loaded = true; f.mu.Unlock(); return nil }
func (f *fake) Close() error               { return nil }
func (f *fake) ModelName() string          { return "fake-model" }
func (f *fake) QueueDepth() int            { return 7 }
func (f *fake) ActiveSequences() int       { return 3 }

func (f *fake) Generate(ctx context.Context, inputs []llm.Input, n int, p llm.GenerationParams) ([]llm.Output, error) {
	return f.GenerateStream(ctx, inputs, n, p, nil)
}

// defaultReply echoes the input's last message or prompt.
func defaultReply(in llm.Input, g int) string {
	if in.IsChat() {
		return "re: " + in.Messages[len(in.Messages)-1].Content
	}
	return " and more"
}

func (f *fake) GenerateStream(ctx context.Context, inputs []llm.Input, n int, p llm.GenerationParams, fn func(llm.Chunk)) ([]llm.Output, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	p = p.WithDefaults()
	f.mu.Lock()
	f.inputs = append(f.inputs, inputs)
	f.params = append(f.params, p)
	f.ns = append(f.ns, n)
	f.mu.Unlock()
	reply := f.reply
	if reply == nil {
		reply = defaultReply
	}
	outs := make([]llm.Output, len(inputs))
	var err error
	for i, in := range inputs {
		if verr := in.Validate(); verr != nil {
			outs[i].Err = verr
			continue
		}
		o := &outs[i]
		o.Statistics.InputTokens = len(in.Prompt) + 10*len(in.Messages)
		o.Statistics.CachedTokens = 2
		for g := 0; g < n; g++ {
			text := reply(in, g)
			reason := llm.FinishEOS
			if len(text) > p.MaxNewTokens {
				text, reason = text[:p.MaxNewTokens], llm.FinishLength
			}
			var lps []llm.TokenLogprob
			if f.think != "" && fn != nil {
				fn(llm.Chunk{Input: i, Generation: g, Reasoning: f.think})
			}
			for k := 0; k < len(text); k++ {
				if f.tokenDelay > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(f.tokenDelay):
					}
				}
				if ctx.Err() != nil {
					err = ctx.Err()
					break
				}
				if p.Logprobs {
					lp := llm.TokenLogprob{Token: int32(text[k]), Text: text[k : k+1], Logprob: -float64(k+1) / 10}
					for t := 0; t < p.TopLogprobs; t++ {
						lp.Top = append(lp.Top, llm.TopLogprob{Token: int32('a' + t), Text: string(rune('a' + t)), Logprob: -float64(t) / 5})
					}
					lps = append(lps, lp)
				}
				if fn != nil {
					fn(llm.Chunk{Input: i, Generation: g, Text: text[k : k+1], Tokens: k + 1, Done: k == len(text)-1, FinishReason: reason})
				}
			}
			if err != nil {
				reason = llm.FinishCancelled
			}
			o.Generations = append(o.Generations, text)
			o.FinishReasons = append(o.FinishReasons, reason)
			o.Statistics.OutputTokens = append(o.Statistics.OutputTokens, len(text))
			if f.think != "" {
				o.Reasoning = append(o.Reasoning, f.think)
			}
			if p.Logprobs {
				o.Logprobs = append(o.Logprobs, lps)
			}
		}
	}
	f.mu.Lock()
	f.ctxErr = append(f.ctxErr, ctx.Err())
	f.mu.Unlock()
	return outs, err
}

func (f *fake) width() int {
	if f.hidden == 0 {
		return 4
	}
	return f.hidden
}

func (f *fake) Embed(ctx context.Context, inputs []llm.Input) ([][]float32, error) {
	if f.embedErr != nil {
		return nil, f.embedErr
	}
	out := make([][]float32, len(inputs))
	for i, in := range inputs {
		out[i] = make([]float32, f.width())
		out[i][0] = float32(len(in.Prompt))
	}
	return out, nil
}

func (f *fake) LastHiddenStates(ctx context.Context, inputs []llm.Input) ([]llm.HiddenStates, error) {
	return f.HiddenStates(ctx, inputs, []int{-1})
}

// HiddenStates gives token t of an input, in layer l, the row
// (t+1, l, 0, ...): each pooling is then easy to check.
func (f *fake) HiddenStates(ctx context.Context, inputs []llm.Input, layers []int) ([]llm.HiddenStates, error) {
	f.mu.Lock()
	f.layers = append(f.layers, layers...)
	f.mu.Unlock()
	for _, l := range layers {
		if l > 2 || l < -3 {
			return nil, fmt.Errorf("%w: layer %d outside [-3, 2]", llm.ErrBadParameter, l)
		}
	}
	out := make([]llm.HiddenStates, len(inputs))
	for i, in := range inputs {
		n := len(in.Prompt)
		h := llm.HiddenStates{Tokens: make([]int32, n), Layers: layers}
		for _, l := range layers {
			m := mat.NewDense(n, f.width(), nil)
			for t := 0; t < n; t++ {
				m.Set(t, 0, float64(t+1))
				m.Set(t, 1, float64(l))
			}
			h.States = append(h.States, m)
		}
		out[i] = h
	}
	return out, nil
}

// last returns the inputs, n and parameters of the last call.
func (f *fake) last() ([]llm.Input, int, llm.GenerationParams) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := len(f.inputs) - 1
	if k < 0 {
		return nil, 0, llm.GenerationParams{}
	}
	return f.inputs[k], f.ns[k], f.params[k]
}

// newServer starts a ready Server for f behind an httptest.Server.
func newServer(t *testing.T, f *fake, opts server.Options) (*server.Server, *httptest.Server) {
	t.Helper()
	s, err := server.New(f, opts)
	require.NoError(t, err)
	require.NoError(t, s.Load(context.Background()))
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

// post sends a JSON body and returns the status and the decoded answer.
func post(t *testing.T, ts *httptest.Server, path, body string, header ...string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var v map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(data, &v), string(data))
	} else {
		v = map[string]any{"raw": string(data)}
	}
	return resp.StatusCode, v, resp.Header
}

func get(t *testing.T, ts *httptest.Server, path string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// events reads a server-sent event stream into its JSON events; the last
// is "[DONE]".
func events(t *testing.T, ts *httptest.Server, path, body string) ([]map[string]any, bool) {
	t.Helper()
	resp, err := ts.Client().Post(ts.URL+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out []map[string]any
	done := false
	for _, block := range strings.Split(string(data), "\n\n") {
		if block == "" {
			continue
		}
		require.True(t, strings.HasPrefix(block, "data: "), block)
		payload := strings.TrimPrefix(block, "data: ")
		require.False(t, done, "an event after [DONE]")
		if payload == "[DONE]" {
			done = true
			continue
		}
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(payload), &v), payload)
		out = append(out, v)
	}
	return out, done
}

// at walks a decoded JSON value: keys and indices.
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func num(v any) float64 {
	if x, ok := v.(float64); ok {
		return x
	}
	return math.NaN()
}

func compact(s string) string {
	var b bytes.Buffer
	json.Compact(&b, []byte(s))
	return b.String()
}
