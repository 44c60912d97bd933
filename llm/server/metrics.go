package server

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/locallm/locallm/llm"
)

// Route labels of the request metrics: fixed names, so that unknown paths
// cannot grow the label set.
const (
	routeModels      = "/v1/models"
	routeChat        = "/v1/chat/completions"
	routeCompletions = "/v1/completions"
	routeEmbeddings  = "/v1/embeddings"
	routeHealth      = "/health"
	routeMetrics     = "/metrics"
	routeOther       = "other"
)

// metrics are the server's Prometheus collectors.
type metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	promptTokens prometheus.Counter
	cachedTokens prometheus.Counter
	genTokens    prometheus.Counter
	firstToken   prometheus.Histogram
	perToken     prometheus.Histogram
	// generations counts the generations of the requests running.
	generations atomic.Int64
}

func newMetrics(s *Server) (*metrics, error) {
	reg := s.opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "locallm_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "locallm_http_request_duration_seconds", Help: "Time from a request's arrival to the end of its response, by route.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14),
		}, []string{"route"}),
		promptTokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "locallm_prompt_tokens_total", Help: "Prompt tokens of finished generation requests (each input once, whatever n).",
		}),
		cachedTokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "locallm_prompt_cached_tokens_total", Help: "Prompt tokens whose evaluation was reused from a shared prefix.",
		}),
		genTokens: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "locallm_generated_tokens_total", Help: "Tokens generated (sampled, and appended to close structures).",
		}),
		firstToken: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "locallm_time_to_first_token_seconds", Help: "Time from a generation request's arrival to each generation's first token.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 15),
		}),
		perToken: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "locallm_time_per_output_token_seconds", Help: "Mean time between a generation's tokens after the first, one observation per generation.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 15),
		}),
	}
	running := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "locallm_running_generations", Help: "Generations (n per input) of the requests being served.",
	}, func() float64 { return float64(m.generations.Load()) })
	stats, _ := s.llm.(EngineStats)
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "locallm_queue_depth", Help: "Sequences waiting for the scheduler (without engine statistics: requests waiting for admission).",
	}, func() float64 {
		if stats != nil {
			return float64(stats.QueueDepth())
		}
		return float64(s.admit.waiting.Load())
	})
	active := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "locallm_active_sequences", Help: "Sequences being decoded (without engine statistics: generations of the requests running).",
	}, func() float64 {
		if stats != nil {
			return float64(stats.ActiveSequences())
		}
		return float64(m.generations.Load())
	})
	waiting := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "locallm_requests_waiting", Help: "Requests waiting for admission (bounded by the queue size).",
	}, func() float64 { return float64(s.admit.waiting.Load()) })
	admitted := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "locallm_requests_running", Help: "Generation and embedding requests admitted and running.",
	}, func() float64 { return float64(s.admit.running.Load()) })
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.promptTokens, m.cachedTokens, m.genTokens,
		m.firstToken, m.perToken, running, queue, active, waiting, admitted} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// usage counts a finished request's tokens.
func (m *metrics) usage(outs []llm.Output) {
	for _, o := range outs {
		m.promptTokens.Add(float64(o.Statistics.InputTokens))
		m.cachedTokens.Add(float64(o.Statistics.CachedTokens))
		m.genTokens.Add(float64(completionTokens(o)))
	}
}

// instrument counts a route's requests by status and times them.
func (s *Server) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		code := sw.status
		switch {
		case code == 0 && r.Context().Err() != nil:
			code = statusClientClosed
		case code == 0:
			code = http.StatusOK
		}
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		s.metrics.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// statusWriter records the status a handler writes. It passes Flush and
// Unwrap through, so that streaming and http.ResponseController work.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// timing follows the generations of one request for the latency
// histograms: when each produced its first token and how many it has. It
// is fed from the LLM's stream callback, which runs one call at a time.
type timing struct {
	m      *metrics
	start  time.Time
	n      int
	first  []time.Time
	counts []int
}

func (m *metrics) timing(start time.Time, inputs, n int) *timing {
	m.generations.Add(int64(inputs * n))
	return &timing{m: m, start: start, n: n, first: make([]time.Time, inputs*n), counts: make([]int, inputs*n)}
}

// chunk records a streamed chunk.
func (t *timing) chunk(c llm.Chunk) {
	k := c.Input*t.n + c.Generation
	if k < 0 || k >= len(t.first) {
		return
	}
	now := time.Now()
	if t.first[k].IsZero() && c.Tokens > 0 {
		t.first[k] = now
		t.m.firstToken.Observe(now.Sub(t.start).Seconds())
	}
	t.counts[k] = c.Tokens
	if c.Done && c.Tokens > 1 && !t.first[k].IsZero() {
		t.m.perToken.Observe(now.Sub(t.first[k]).Seconds() / float64(c.Tokens-1))
	}
}

// done ends the request's share of the running generations.
func (t *timing) done() { t.m.generations.Add(-int64(len(t.first))) }
