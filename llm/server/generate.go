package server

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/locallm/locallm/llm"
)

// job is one generation request, decoded and ready to run.
type job struct {
	inputs []llm.Input
	n      int
	params llm.GenerationParams
	// inputParam names the request field the inputs come from, for errors.
	inputParam string
}

// generate runs a job to its end. onChunk, when not nil, receives the
// LLM's chunks (from one goroutine at a time, inside the decode loop: it
// must not block). The returned error is an *APIError, for the call or
// the first input that failed.
func (s *Server) generate(ctx context.Context, start time.Time, j job, onChunk func(llm.Chunk)) ([]llm.Output, error) {
	release, err := s.admit.acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			err = s.cancelled(ctx)
		}
		return nil, generationError(err, j.inputParam)
	}
	defer release()
	t := s.metrics.timing(start, len(j.inputs), j.n)
	defer t.done()
	var outs []llm.Output
	if st, ok := s.llm.(llm.Streamer); ok {
		outs, err = st.GenerateStream(ctx, j.inputs, j.n, j.params, func(c llm.Chunk) {
			t.chunk(c)
			if onChunk != nil {
				onChunk(c)
			}
		})
	} else {
		outs, err = s.llm.Generate(ctx, j.inputs, j.n, j.params)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = s.cancelled(ctx)
		}
		return outs, generationError(err, j.inputParam)
	}
	if len(outs) != len(j.inputs) {
		return outs, generationError(fmt.Errorf("server: the LLM returned %d outputs for %d inputs", len(outs), len(j.inputs)), "")
	}
	for i, o := range outs {
		if o.Err != nil {
			param := j.inputParam
			if len(outs) > 1 {
				param = fmt.Sprintf("%s[%d]", param, i)
			}
			return outs, generationError(o.Err, param)
		}
		if len(o.Generations) != j.n || len(o.FinishReasons) != j.n {
			return outs, generationError(fmt.Errorf("server: the LLM returned %d generations for n = %d", len(o.Generations), j.n), "")
		}
	}
	s.metrics.usage(outs)
	return outs, nil
}

// cancelled is the error of a request whose context ended: the client's
// going away, or Shutdown's deadline, which the client hears of.
func (s *Server) cancelled(ctx context.Context) error {
	if s.base.Err() != nil {
		return unavailable("shutting_down", "the server shut down before the request finished")
	}
	return ctx.Err()
}

// chunkQueue carries chunks from the LLM's callback, which must not
// block, to the handler that writes them: the callback appends and wakes
// the handler, which takes everything queued at once, so that under load
// many chunks go out in one write.
type chunkQueue struct {
	mu    sync.Mutex
	items []llm.Chunk
	wake  chan struct{}
}

func newChunkQueue() *chunkQueue { return &chunkQueue{wake: make(chan struct{}, 1)} }

func (q *chunkQueue) push(c llm.Chunk) {
	q.mu.Lock()
	q.items = append(q.items, c)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns the chunks queued, reusing buf for the next ones.
func (q *chunkQueue) take(buf []llm.Chunk) []llm.Chunk {
	q.mu.Lock()
	items := q.items
	q.items = buf[:0]
	q.mu.Unlock()
	return items
}

// streamJob runs a job whose chunks are written as they come: each batch
// of chunks is handed to emit, in the handler's goroutine. It returns when
// the generation has ended, with its outputs.
func (s *Server) streamJob(ctx context.Context, start time.Time, j job, emit func([]llm.Chunk)) ([]llm.Output, error) {
	q := newChunkQueue()
	type result struct {
		outs []llm.Output
		err  error
	}
	done := make(chan result, 1)
	go func() {
		outs, err := s.generate(ctx, start, j, q.push)
		done <- result{outs, err}
	}()
	var buf []llm.Chunk
	var last time.Time // of the last batch emitted
	var timer *time.Timer
	for {
		select {
		case <-q.wake:
			// Within StreamInterval of the last batch, let chunks gather:
			// fewer, larger events cost the client and the server less,
			// and leave the CPU to the decode.
			if wait := s.opts.StreamInterval - time.Since(last); wait > 0 && !last.IsZero() {
				if timer == nil {
					timer = time.NewTimer(wait)
					defer timer.Stop()
				} else {
					timer.Reset(wait)
				}
				select {
				case <-timer.C:
				case r := <-done:
					timer.Stop()
					if items := q.take(buf); len(items) > 0 {
						emit(items)
					}
					return r.outs, r.err
				}
			}
			items := q.take(buf)
			emit(items)
			buf, last = items, time.Now()
		case r := <-done:
			if items := q.take(buf); len(items) > 0 {
				emit(items)
			}
			return r.outs, r.err
		}
	}
}

// sse writes server-sent events. Headers go out with the first event, so
// that a request that fails before it can still get a plain error
// response.
type sse struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	started bool
	failed  bool
	cancel  context.CancelFunc // stops the generation when the client is gone
	buf     []byte
}

func newSSE(w http.ResponseWriter, timeout time.Duration, cancel context.CancelFunc) *sse {
	return &sse{w: w, rc: http.NewResponseController(w), timeout: timeout, cancel: cancel}
}

// event queues one "data:" event holding JSON.
func (e *sse) event(data []byte) {
	e.buf = append(e.buf, "data: "...)
	e.buf = append(e.buf, data...)
	e.buf = append(e.buf, "\n\n"...)
}

// flush writes the queued events.
func (e *sse) flush() {
	if e.failed || len(e.buf) == 0 {
		e.buf = e.buf[:0]
		return
	}
	if !e.started {
		h := e.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		e.w.WriteHeader(http.StatusOK)
		e.started = true
	}
	e.rc.SetWriteDeadline(time.Now().Add(e.timeout))
	_, err := e.w.Write(e.buf)
	if err == nil {
		err = e.rc.Flush()
	}
	e.buf = e.buf[:0]
	if err != nil {
		e.failed = true
		e.cancel()
	}
}

// done writes the closing "data: [DONE]".
func (e *sse) done() {
	e.buf = append(e.buf, "data: [DONE]\n\n"...)
	e.flush()
}

// fail ends a stream with an error: a plain error response when nothing
// was sent yet, else an error event and [DONE].
func (e *sse) fail(err error) {
	if !e.started {
		writeError(e.w, err)
		e.failed = true
		return
	}
	e.event(errorJSON(err))
	e.done()
}
