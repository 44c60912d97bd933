package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/locallm/locallm/llm"
)

// EngineStats is implemented by LLMs that report their scheduler's load;
// the server exports it as the locallm_queue_depth and
// locallm_active_sequences gauges. Without it the server reports its own
// counts: requests waiting for admission, and the generations of the
// requests it is running.
type EngineStats interface {
	// QueueDepth is the number of sequences waiting for the scheduler.
	QueueDepth() int
	// ActiveSequences is the number of sequences being decoded.
	ActiveSequences() int
}

// Options configure a Server. The zero value of each field is the default
// its comment gives.
type Options struct {
	// ModelID is the model's id in /v1/models and in responses. Default:
	// the LLM's ModelName, read when the model is ready.
	ModelID string
	// Aliases are other names a request's "model" may give. "" (no model)
	// is always accepted.
	Aliases []string
	// APIKey, when set, is required on every route but /health, as
	// "Authorization: Bearer KEY".
	APIKey string
	// MaxConcurrent bounds the generation and embedding requests running
	// at once (their sequences are batched together by the LLM). Default 64.
	MaxConcurrent int
	// MaxQueue bounds the requests waiting for one of those places; beyond
	// it a request gets 503 with Retry-After. Default 256; -1 means none wait.
	MaxQueue int
	// MaxBodyBytes bounds a request body (413 beyond). Default 16 MiB.
	MaxBodyBytes int64
	// MaxN bounds a request's n. Default 128.
	MaxN int
	// ChatMaxTokens is max_tokens for chat requests that give none.
	// Default 1024. CompletionMaxTokens is the same for text completions:
	// default 16, as OpenAI's legacy API.
	ChatMaxTokens       int
	CompletionMaxTokens int
	// ClosingTokens is how many tokens may be appended to close a
	// structured output (response_format, forced tool call) that
	// max_tokens cut mid-structure, so that it still parses (see
	// llm.StructuredOutput.ClosingTokens). Default 256; -1 means none.
	ClosingTokens int
	// EmbedFallback is the error (tested with errors.Is) that the LLM's
	// Embed returns for a model with no pooled embedding of its own, such
	// as llamacpp.ErrNoPooling; the server then pools hidden states
	// instead. Default nil: Embed's errors are the request's.
	EmbedFallback error
	// StreamInterval is the least time between two writes to a stream:
	// the tokens generated meanwhile go out together, one delta per choice.
	// The first token goes out at once. Fewer, larger events leave more of
	// the CPU to the decode when many clients stream. Default 40ms (25
	// updates a second); -1 writes every token as it comes.
	StreamInterval time.Duration
	// WriteTimeout bounds each write to a client (a response, or one
	// streamed event); a client that stops reading longer is dropped and
	// its generation cancelled. Default 60s.
	WriteTimeout time.Duration
	// ReadHeaderTimeout, ReadTimeout and IdleTimeout are http.Server's.
	// Defaults 10s, 60s (the whole request body), 120s.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	// Registry receives the server's metrics. Default: a new registry of
	// the server's own, with the Go and process collectors.
	Registry *prometheus.Registry
	// Logger logs requests that fail on the server's side. Default: none.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxConcurrent, 64)
	def(&o.MaxQueue, 256)
	def(&o.MaxN, 128)
	def(&o.ChatMaxTokens, 1024)
	def(&o.CompletionMaxTokens, 16)
	def(&o.ClosingTokens, 256)
	if o.MaxQueue < 0 {
		o.MaxQueue = 0
	}
	if o.ClosingTokens < 0 {
		o.ClosingTokens = 0
	}
	switch {
	case o.StreamInterval == 0:
		o.StreamInterval = 40 * time.Millisecond
	case o.StreamInterval < 0:
		o.StreamInterval = 0
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 16 << 20
	}
	durs := []struct {
		v *time.Duration
		d time.Duration
	}{{&o.WriteTimeout, 60 * time.Second}, {&o.ReadHeaderTimeout, 10 * time.Second}, {&o.ReadTimeout, 60 * time.Second}, {&o.IdleTimeout, 120 * time.Second}}
	for _, x := range durs {
		if *x.v == 0 {
			*x.v = x.d
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func (o Options) validate() error {
	switch {
	case o.MaxConcurrent < 0:
		return fmt.Errorf("server: MaxConcurrent = %d, want >= 0", o.MaxConcurrent)
	case o.MaxN < 0 || o.MaxN > llm.MaxGenerations:
		return fmt.Errorf("server: MaxN = %d, want 0 to %d", o.MaxN, llm.MaxGenerations)
	case o.ChatMaxTokens < 0 || o.ChatMaxTokens > llm.MaxNewTokensLimit:
		return fmt.Errorf("server: ChatMaxTokens = %d, want 0 to %d", o.ChatMaxTokens, llm.MaxNewTokensLimit)
	case o.CompletionMaxTokens < 0 || o.CompletionMaxTokens > llm.MaxNewTokensLimit:
		return fmt.Errorf("server: CompletionMaxTokens = %d, want 0 to %d", o.CompletionMaxTokens, llm.MaxNewTokensLimit)
	case o.ClosingTokens > llm.MaxNewTokensLimit:
		return fmt.Errorf("server: ClosingTokens = %d, want at most %d", o.ClosingTokens, llm.MaxNewTokensLimit)
	case o.MaxBodyBytes < 0:
		return fmt.Errorf("server: MaxBodyBytes = %d, want >= 0", o.MaxBodyBytes)
	}
	return nil
}

// Server serves an llm.LLM over OpenAI's HTTP API. It is an http.Handler;
// Serve and Shutdown run it on a listener with http.Server's timeouts.
// Its methods are safe for concurrent use.
type Server struct {
	llm     llm.LLM
	opts    Options
	mux     *http.ServeMux
	admit   *admission
	metrics *metrics

	started  time.Time
	ready    atomic.Bool
	draining atomic.Bool
	// base is the context of every request's generation: Shutdown cancels
	// it when its deadline passes.
	base      context.Context
	cancelAll context.CancelFunc
	inflight  sync.WaitGroup

	mu   sync.Mutex
	http *http.Server
}

// New returns a Server for l. The server answers /health with 503 until
// the model is ready: call Load (or MarkReady when l is already loaded).
func New(l llm.LLM, opts Options) (*Server, error) {
	if l == nil {
		return nil, errors.New("server: nil LLM")
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Server{llm: l, opts: opts.withDefaults(), started: time.Now()}
	s.base, s.cancelAll = context.WithCancel(context.Background())
	s.admit = newAdmission(s.opts.MaxConcurrent, s.opts.MaxQueue)
	var err error
	if s.metrics, err = newMetrics(s); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Load loads the LLM and marks the server ready.
func (s *Server) Load(ctx context.Context) error {
	if err := s.llm.Load(ctx); err != nil {
		return err
	}
	s.MarkReady()
	return nil
}

// MarkReady marks the model loaded: /health answers 200 and the API routes
// serve.
func (s *Server) MarkReady() { s.ready.Store(true) }

// Registry returns the registry the server's metrics are in.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.registry }

// modelID is the id the server gives its model.
func (s *Server) modelID() string {
	if s.opts.ModelID != "" {
		return s.opts.ModelID
	}
	return s.llm.ModelName()
}

// modelIDs are the names a request may give.
func (s *Server) modelIDs() []string {
	return append([]string{s.modelID(), s.llm.ModelName()}, s.opts.Aliases...)
}

// routes registers the handlers. Each API route is served with and without
// the /v1 prefix, since clients differ on whether the base URL includes it.
func (s *Server) routes() {
	s.mux = http.NewServeMux()
	api := map[string]http.Handler{
		"/v1/models":           s.api(routeModels, http.MethodGet, false, http.HandlerFunc(s.handleModels)),
		"/v1/models/{model}":   s.api(routeModels, http.MethodGet, false, http.HandlerFunc(s.handleModel)),
		"/v1/chat/completions": s.api(routeChat, http.MethodPost, true, http.HandlerFunc(s.handleChat)),
		"/v1/completions":      s.api(routeCompletions, http.MethodPost, true, http.HandlerFunc(s.handleCompletions)),
		"/v1/embeddings":       s.api(routeEmbeddings, http.MethodPost, true, http.HandlerFunc(s.handleEmbeddings)),
	}
	for path, h := range api {
		s.mux.Handle(path, h)
		s.mux.Handle(strings.TrimPrefix(path, "/v1"), h)
	}
	s.mux.Handle("/health", s.instrument(routeHealth, http.HandlerFunc(s.handleHealth)))
	s.mux.Handle("/metrics", s.instrument(routeMetrics, s.auth(s.metrics.handler())))
	s.mux.Handle("/", s.instrument(routeOther, s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &APIError{Status: http.StatusNotFound, Type: typeNotFound, Code: "unknown_route",
			Message: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)})
	}))))
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// api wraps a route's handler: metrics, the API key, the method, readiness
// and, for work (generation, embeddings), the count of requests in flight
// that Shutdown waits for.
func (s *Server) api(route, method string, work bool, h http.Handler) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, &APIError{Status: http.StatusMethodNotAllowed, Type: typeInvalidRequest, Code: "method_not_allowed",
				Message: fmt.Sprintf("%s takes %s, not %s", r.URL.Path, method, r.Method)})
			return
		}
		if s.draining.Load() {
			writeError(w, unavailable("shutting_down", "the server is shutting down"))
			return
		}
		if !s.ready.Load() {
			writeError(w, unavailable("model_loading", "the model is loading"))
			return
		}
		if work {
			s.inflight.Add(1)
			defer s.inflight.Done()
		}
		h.ServeHTTP(w, r)
	})
	return s.instrument(route, s.auth(inner))
}

// auth checks the API key, when one is set.
func (s *Server) auth(h http.Handler) http.Handler {
	if s.opts.APIKey == "" {
		return h
	}
	want := []byte("Bearer " + s.opts.APIKey)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			msg := "missing API key: send it as Authorization: Bearer KEY"
			if len(got) > 0 {
				msg = "incorrect API key"
			}
			writeError(w, &APIError{Status: http.StatusUnauthorized, Type: typeAuthentication, Code: "invalid_api_key", Message: msg})
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	status, body := http.StatusOK, `{"status":"ok"}`
	switch {
	case s.draining.Load():
		status, body = http.StatusServiceUnavailable, `{"status":"shutting down"}`
	case !s.ready.Load():
		status, body = http.StatusServiceUnavailable, `{"status":"loading"}`
	}
	if status != http.StatusOK {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintln(w, body)
}

// modelObject is an entry of /v1/models.
type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *Server) model() modelObject {
	return modelObject{ID: s.modelID(), Object: "model", Created: s.started.Unix(), OwnedBy: "locallm"}
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, map[string]any{"object": "list", "data": []modelObject{s.model()}})
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	if err := s.checkModel(r.PathValue("model")); err != nil {
		writeError(w, err)
		return
	}
	s.writeJSON(w, s.model())
}

// writeJSON writes a 200 response, within the write timeout.
func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// requestContext is the context of a request's work: cancelled when the
// client goes away, and by Shutdown once its deadline has passed.
func (s *Server) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(s.base, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// Serve accepts connections on ln until Shutdown, with http.Server's
// timeouts from the Options. It returns http.ErrServerClosed after
// Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.http = hs
	s.mu.Unlock()
	return hs.Serve(ln)
}

// Shutdown stops accepting connections and new requests, and waits for
// the requests in flight. When ctx ends first, it cancels their
// generations (freeing their KV cells), waits for their handlers to
// return, closes the connections, and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.mu.Lock()
	hs := s.http
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(done)
	}()
	var err error
	if hs != nil {
		err = hs.Shutdown(ctx)
	}
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		s.cancelAll()
		<-done
		if hs != nil {
			// The cancelled handlers have answered; net/http writes their
			// responses after they return, so close the connections only
			// once they are idle (or after a short grace).
			grace, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			if hs.Shutdown(grace) != nil {
				hs.Close()
			}
			cancel()
		}
	}
	return err
}

// shutdownGrace is how long Shutdown waits, after its deadline, for the
// answers of the requests it cancelled to reach their clients.
const shutdownGrace = time.Second
