package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/server"
)

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fake) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.inputs)
}

func (f *fake) returned() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.ctxErr...)
}

// slowReply makes each generation long enough to be caught in flight.
func slowReply(llm.Input, int) string { return strings.Repeat("x", 200) }

func TestQueueFull(t *testing.T) {
	f := &fake{reply: slowReply, tokenDelay: 5 * time.Millisecond}
	_, ts := newServer(t, f, server.Options{MaxConcurrent: 1, MaxQueue: 1})
	body := `{"messages":[{"role":"user","content":"hi"}],"max_tokens":200}`
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _, _ := post(t, ts, "/v1/chat/completions", body)
			codes <- status
		}()
		time.Sleep(50 * time.Millisecond) // the first runs, the second waits
	}
	waitFor(t, "the first request to run", func() bool { return f.calls() == 1 })
	status, v, h := post(t, ts, "/v1/chat/completions", body)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "queue_full", at(v, "error", "code"))
	assert.Equal(t, "1", h.Get("Retry-After"))
	wg.Wait()
	close(codes)
	for c := range codes {
		assert.Equal(t, http.StatusOK, c, "the running and the waiting request both finish")
	}
}

// TestDisconnectCancels: a client that goes away cancels its generation.
func TestDisconnectCancels(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprint("stream=", stream), func(t *testing.T) {
			f := &fake{reply: func(llm.Input, int) string { return strings.Repeat("x", 100000) }, tokenDelay: time.Millisecond}
			_, ts := newServer(t, f, server.Options{})
			ctx, cancel := context.WithCancel(context.Background())
			body := fmt.Sprintf(`{"messages":[{"role":"user","content":"hi"}],"max_tokens":100000,"stream":%v}`, stream)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/chat/completions", strings.NewReader(body))
			errc := make(chan error, 1)
			go func() {
				resp, err := ts.Client().Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				errc <- err
			}()
			waitFor(t, "the generation to start", func() bool { return f.calls() == 1 })
			time.Sleep(20 * time.Millisecond)
			cancel()
			<-errc
			waitFor(t, "the generation to stop", func() bool { return len(f.returned()) == 1 })
			assert.ErrorIs(t, f.returned()[0], context.Canceled)
		})
	}
}

// TestShutdown: in-flight requests finish; new ones are refused; after the
// deadline, what still runs is cancelled.
func TestShutdown(t *testing.T) {
	f := &fake{reply: func(llm.Input, int) string { return "done" }, tokenDelay: 20 * time.Millisecond}
	s, err := server.New(f, server.Options{})
	require.NoError(t, err)
	s.MarkReady()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	url := "http://" + ln.Addr().String()

	result := make(chan string, 1)
	go func() {
		resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			result <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		result <- string(b)
	}()
	waitFor(t, "the request to start", func() bool { return f.calls() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
	assert.Contains(t, <-result, `"content":"done"`, "the request in flight finished")
	assert.ErrorIs(t, <-served, http.ErrServerClosed)
	_, err = http.Get(url + "/health")
	assert.Error(t, err, "no longer accepting")
}

func TestShutdownDeadline(t *testing.T) {
	f := &fake{reply: slowReply, tokenDelay: 50 * time.Millisecond}
	s, err := server.New(f, server.Options{})
	require.NoError(t, err)
	s.MarkReady()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go s.Serve(ln)
	url := "http://" + ln.Addr().String()
	answer := make(chan string, 1)
	go func() {
		resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(`{"messages":[{"role":"user","content":"hi"}],"max_tokens":200}`))
		if err != nil {
			answer <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answer <- fmt.Sprint(resp.StatusCode, " ", string(b))
	}()
	waitFor(t, "the request to start", func() bool { return f.calls() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = s.Shutdown(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 3*time.Second, "the generation was cancelled, not waited for")
	waitFor(t, "the generation to stop", func() bool { return len(f.returned()) == 1 })
	assert.ErrorIs(t, f.returned()[0], context.Canceled)
	a := <-answer
	assert.Contains(t, a, "503 ", "the client hears why")
	assert.Contains(t, a, "shutting_down")
}

// TestShutdownHandler: Shutdown works for a Server used as a plain handler.
func TestShutdownHandler(t *testing.T) {
	f := &fake{}
	s, ts := newServer(t, f, server.Options{})
	require.NoError(t, s.Shutdown(context.Background()))
	status, v, _ := post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "shutting_down", at(v, "error", "code"))
	code, _ := get(t, ts, "/health")
	assert.Equal(t, http.StatusServiceUnavailable, code)
}

func TestMetrics(t *testing.T) {
	f := &fake{reply: func(llm.Input, int) string { return "abcd" }}
	_, ts := newServer(t, f, server.Options{})
	post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"n":2}`)
	events(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"stream":true}`)
	post(t, ts, "/v1/chat/completions", `{"messages":[]}`)
	post(t, ts, "/v1/completions", `{"prompt":"abc"}`)
	code, body := get(t, ts, "/metrics")
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{
		`locallm_http_requests_total{code="200",route="/v1/chat/completions"} 2`,
		`locallm_http_requests_total{code="400",route="/v1/chat/completions"} 1`,
		`locallm_http_requests_total{code="200",route="/v1/completions"} 1`,
		"locallm_prompt_tokens_total 23",
		"locallm_generated_tokens_total 16",
		"locallm_prompt_cached_tokens_total 6",
		"locallm_time_to_first_token_seconds_count 4",
		"locallm_time_per_output_token_seconds_count 4",
		"locallm_queue_depth 7",
		"locallm_active_sequences 3",
		"locallm_requests_waiting 0",
		"locallm_requests_running 0",
		"locallm_running_generations 0",
		`locallm_http_request_duration_seconds_count{route="/v1/chat/completions"} 3`,
		"go_goroutines",
	} {
		assert.Contains(t, body, want)
	}
}

// plain hides the fake's EngineStats.
type plain struct{ *fake }

func (p plain) GenerateStream(ctx context.Context, inputs []llm.Input, n int, params llm.GenerationParams, fn func(llm.Chunk)) ([]llm.Output, error) {
	return p.fake.GenerateStream(ctx, inputs, n, params, fn)
}

// onlyGenerate is an LLM that does not stream.
type onlyGenerate struct{ f *fake }

func (o onlyGenerate) Load(ctx context.Context) error { return o.f.Load(ctx) }
func (o onlyGenerate) Close() error                   { return nil }
func (o onlyGenerate) ModelName() string              { return o.f.ModelName() }
func (o onlyGenerate) Generate(ctx context.Context, in []llm.Input, n int, p llm.GenerationParams) ([]llm.Output, error) {
	return o.f.Generate(ctx, in, n, p)
}

// TestNotStreamer: an LLM that does not stream still serves streams (one
// chunk per choice) and tells its own queue depth from the server's.
func TestNotStreamer(t *testing.T) {
	f := &fake{reply: func(llm.Input, int) string { return "whole" }}
	s, err := server.New(onlyGenerate{f}, server.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Load(context.Background()))
	ts := httptest.NewServer(s)
	defer ts.Close()
	evs, done := events(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"stream":true,"n":2}`)
	require.True(t, done)
	text := map[float64]string{}
	for _, e := range evs {
		if s, ok := at(e, "choices", 0, "delta", "content").(string); ok {
			text[at(e, "choices", 0, "index").(float64)] += s
		}
	}
	assert.Equal(t, map[float64]string{0: "whole", 1: "whole"}, text)
	status, _, _ := post(t, ts, "/v1/embeddings", `{"input":"x"}`)
	assert.Equal(t, http.StatusBadRequest, status, "no embeddings from an LLM that has none")
	code, body := get(t, ts, "/metrics")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "locallm_queue_depth 0")
}

// TestConcurrentRequests: 32 requests at once, of every kind, under the
// race detector in make test.
func TestConcurrentRequests(t *testing.T) {
	f := &fake{tokenDelay: 100 * time.Microsecond}
	_, ts := newServer(t, f, server.Options{MaxConcurrent: 8, EmbedFallback: errNoPooling})
	bodies := []struct{ path, body string }{
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"q%d"}],"n":2}`},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"q%d"}],"stream":true,"stream_options":{"include_usage":true}}`},
		{"/v1/completions", `{"prompt":["p%d","r"],"n":2,"logprobs":1}`},
		{"/v1/embeddings", `{"input":["e%d","f"]}`},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := bodies[i%len(bodies)]
			resp, err := ts.Client().Post(ts.URL+b.path, "application/json", strings.NewReader(fmt.Sprintf(b.body, i)))
			if err != nil {
				errs <- err
				return
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("request %d: %d %s", i, resp.StatusCode, data)
				return
			}
			if want := fmt.Sprintf("q%d", i); i%4 == 0 && !strings.Contains(string(data), want) {
				errs <- fmt.Errorf("request %d: answer %s lacks %s", i, data, want)
			}
			if want := "data: [DONE]"; i%4 == 1 && !strings.Contains(string(data), want) {
				errs <- fmt.Errorf("request %d: answer %s lacks %s", i, data, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

// TestNew checks the options.
func TestNew(t *testing.T) {
	_, err := server.New(nil, server.Options{})
	assert.Error(t, err)
	_, err = server.New(&fake{}, server.Options{MaxN: -1})
	assert.Error(t, err)
	_, err = server.New(&fake{}, server.Options{ChatMaxTokens: llm.MaxNewTokensLimit + 1})
	assert.Error(t, err)
	s, err := server.New(plain{&fake{}}, server.Options{})
	require.NoError(t, err)
	assert.NotNil(t, s.Registry())
	assert.False(t, errors.Is(err, context.Canceled))
}
