package llama

/*
#include <stdlib.h>
#include "llama.h"
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// CacheType is the element type of the KV cache.
type CacheType string

// KV cache types.
const (
	CacheF16  CacheType = "f16" // the default
	CacheF32  CacheType = "f32" // exact; for comparisons with a reference
	CacheQ8_0 CacheType = "q8_0"
)

// FlashAttention says whether llama.cpp uses flash attention.
type FlashAttention string

// Flash attention modes.
const (
	FlashAuto FlashAttention = "auto" // the default: llama.cpp decides (on for the CPU)
	FlashOn   FlashAttention = "on"
	FlashOff  FlashAttention = "off"
)

// ContextParams configure a Context: llama.cpp's llama_context_params, the
// ones this project sets. The zero value works: a 4096-token KV cache shared
// by up to 16 sequences, 512-token batches, f16 cache, flash attention
// chosen by llama.cpp, one thread per physical core.
//
// An f16 cache or flash attention each move hidden states and logits by
// about 1e-3; exact comparisons need CacheF32 and FlashOff.
type ContextParams struct {
	// ContextSize is the number of KV cache cells, shared by all sequences
	// (llama.cpp's n_ctx with a unified cache; llama.cpp rounds it up to a
	// multiple of 256). Default 4096.
	ContextSize int
	// BatchSize is the most tokens given to one llama_decode (n_batch).
	// Default 512.
	BatchSize int
	// UBatchSize is the physical batch size (n_ubatch). Default BatchSize.
	UBatchSize int
	// Sequences is the most sequences decoded together (n_seq_max).
	// Default 16; at most 256.
	Sequences int
	// Threads is the number of threads for generation; BatchThreads for
	// prompt processing. Default: the number of physical cores (as
	// llama.cpp's tools do); BatchThreads defaults to Threads.
	Threads      int
	BatchThreads int
	// CacheType is the KV cache element type. Default CacheF16.
	CacheType CacheType
	// FlashAttention defaults to FlashAuto.
	FlashAttention FlashAttention
	// Embeddings makes the context produce embeddings (pooled per
	// sequence for models whose metadata declares pooling) as well as
	// logits; SetEmbeddings changes it between decodes.
	Embeddings bool
	// HiddenStates installs the graph-evaluation callback that SetCapture
	// and CapturedRows use to read hidden states of any layer. While
	// nothing is being captured the callback only answers "no" for each
	// graph node (a function call per node per decode).
	HiddenStates bool
	// SplitKV gives each sequence its own KV stream of
	// ContextSize/Sequences cells (llama.cpp's kv_unified off). The default,
	// one cache shared by all sequences, lets sequences share cells (a
	// prompt evaluated once for many generations, a common prefix reused);
	// with split streams a token attends only to its own stream's cells.
	SplitKV bool
}

// Defaults and limits of ContextParams.
const (
	DefaultContextSize = 4096
	DefaultBatchSize   = 512
	DefaultSequences   = 16
	MaxSequences       = 256
	// MaxContextSize bounds ContextSize (and the batch sizes).
	MaxContextSize = 1 << 24
)

// WithDefaults returns o with zero fields set to their defaults.
func (o ContextParams) WithDefaults() ContextParams {
	if o.ContextSize == 0 {
		o.ContextSize = DefaultContextSize
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.UBatchSize == 0 {
		o.UBatchSize = o.BatchSize
	}
	if o.Sequences == 0 {
		o.Sequences = DefaultSequences
	}
	if o.Threads == 0 {
		o.Threads = PhysicalCores()
	}
	if o.BatchThreads == 0 {
		o.BatchThreads = o.Threads
	}
	if o.CacheType == "" {
		o.CacheType = CacheF16
	}
	if o.FlashAttention == "" {
		o.FlashAttention = FlashAuto
	}
	return o
}

// Validate reports the first parameter that is out of range, naming it.
// Zero values stand for their defaults. It needs no model: NewContext
// checks the rest against the model.
func (o ContextParams) Validate() error {
	switch {
	case o.ContextSize < 0 || o.ContextSize > MaxContextSize:
		return badOption("context_size", o.ContextSize, fmt.Sprintf("0 (default) to %d", MaxContextSize))
	case o.BatchSize < 0 || o.BatchSize > MaxContextSize:
		return badOption("batch_size", o.BatchSize, "a positive number, or 0 for the default")
	case o.UBatchSize < 0 || o.UBatchSize > MaxContextSize:
		return badOption("ubatch_size", o.UBatchSize, "a positive number, or 0 for the default")
	case o.Sequences < 0 || o.Sequences > MaxSequences:
		return badOption("sequences", o.Sequences, fmt.Sprintf("1 to %d, or 0 for the default", MaxSequences))
	case o.Threads < 0 || o.Threads > 1024:
		return badOption("threads", o.Threads, "1 to 1024, or 0 for the default")
	case o.BatchThreads < 0 || o.BatchThreads > 1024:
		return badOption("batch_threads", o.BatchThreads, "1 to 1024, or 0 for the default")
	}
	if _, err := o.CacheType.ggml(); err != nil {
		return err
	}
	if _, err := o.FlashAttention.c(); err != nil {
		return err
	}
	d := o.WithDefaults()
	if d.UBatchSize > d.BatchSize {
		return badOption("ubatch_size", d.UBatchSize, fmt.Sprintf("at most batch_size (%d)", d.BatchSize))
	}
	if d.CacheType == CacheQ8_0 && d.FlashAttention == FlashOff {
		// llama.cpp throws when asked for this: a quantised V cache needs flash attention.
		return badOption("cache_type", d.CacheType, "f16 or f32 with flash_attention off (a quantised cache needs flash attention)")
	}
	return nil
}

func (t CacheType) ggml() (C.enum_ggml_type, error) {
	switch t {
	case "", CacheF16:
		return C.GGML_TYPE_F16, nil
	case CacheF32:
		return C.GGML_TYPE_F32, nil
	case CacheQ8_0:
		return C.GGML_TYPE_Q8_0, nil
	}
	return 0, badOption("cache_type", string(t), "f16, f32 or q8_0")
}

func (f FlashAttention) c() (C.enum_llama_flash_attn_type, error) {
	switch f {
	case "", FlashAuto:
		return C.LLAMA_FLASH_ATTN_TYPE_AUTO, nil
	case FlashOn:
		return C.LLAMA_FLASH_ATTN_TYPE_ENABLED, nil
	case FlashOff:
		return C.LLAMA_FLASH_ATTN_TYPE_DISABLED, nil
	}
	return 0, badOption("flash_attention", string(f), "auto, on or off")
}

// Context is a llama.cpp context: a KV cache and the buffers of one
// computation at a time. It is not safe for concurrent use: one goroutine
// owns it (the engine's scheduler does), except that Abort may be called
// from any goroutine. Close frees it.
type Context struct {
	mu      sync.Mutex // held by every call into c; Close takes it to free c
	flagMu  sync.Mutex // guards abort, which Abort sets while mu is held by Decode
	c       *C.struct_llama_context
	model   *Model
	params  ContextParams
	abort   *C.locallm_flag
	capture *C.locallm_capture
	nCtx    int
	nBatch  int
	nUBatch int
	noKV    bool // the model keeps no KV cache (encoders such as BERT)
	nSeqMax int
	embd    bool                // embeddings are on
	sampBuf *C.llama_token_data // n_vocab entries, for sampling
}

// NewContext makes a Context for the model. The parameters are checked in
// Go first (see ContextParams.Validate), so that llama.cpp never sees
// values it would abort on.
func (m *Model) NewContext(params *ContextParams) (*Context, error) {
	var o ContextParams
	if params != nil {
		o = *params
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.WithDefaults()
	if m.info.NLayer == 0 || m.nVocab == 0 {
		return nil, fmt.Errorf("%w: %s has no weights or vocabulary (vocab-only?)", ErrBadOption, m.path)
	}
	cache, _ := o.CacheType.ggml()
	fa, _ := o.FlashAttention.c()

	p := C.llama_context_default_params()
	p.n_ctx = C.uint32_t(o.ContextSize)
	p.n_batch = C.uint32_t(o.BatchSize)
	p.n_ubatch = C.uint32_t(o.UBatchSize)
	p.n_seq_max = C.uint32_t(o.Sequences)
	p.n_threads = C.int32_t(o.Threads)
	p.n_threads_batch = C.int32_t(o.BatchThreads)
	p.type_k = cache
	p.type_v = cache
	p.flash_attn_type = fa
	p.embeddings = C.bool(o.Embeddings)
	p.kv_unified = C.bool(!o.SplitKV)
	p.no_perf = true
	p.pooling_type = C.LLAMA_POOLING_TYPE_UNSPECIFIED // the model's own
	abort := C.locallm_flag_new()
	if abort == nil {
		return nil, errors.New("llamacpp: out of memory")
	}
	p.abort_callback = C.ggml_abort_callback(C.locallm_abort_callback)
	p.abort_callback_data = unsafe.Pointer(abort)

	var capt *C.locallm_capture
	if o.HiddenStates {
		capt = C.locallm_capture_new(C.int32_t(m.info.NLayer), C.int32_t(m.info.NLayer+1))
		if capt == nil {
			C.locallm_flag_free(abort)
			return nil, errors.New("llamacpp: out of memory")
		}
		p.cb_eval = C.ggml_backend_sched_eval_callback(C.locallm_capture_eval)
		p.cb_eval_user_data = unsafe.Pointer(capt)
	}
	if err := m.use(); err != nil {
		C.locallm_flag_free(abort)
		C.locallm_capture_free(capt)
		return nil, err
	}
	done := captureLog()
	cc := C.llama_init_from_model(m.c, p)
	lines := done()
	m.done()
	if cc == nil {
		C.locallm_flag_free(abort)
		C.locallm_capture_free(capt)
		return nil, fmt.Errorf("llamacpp: cannot create a context (n_ctx %d, n_batch %d, cache %s)%s", o.ContextSize, o.BatchSize, o.CacheType, logDetail(lines))
	}
	c := &Context{
		c: cc, model: m, params: o, abort: abort, capture: capt,
		nCtx:    int(C.llama_n_ctx(cc)),
		nBatch:  int(C.llama_n_batch(cc)),
		nUBatch: int(C.llama_n_ubatch(cc)),
		noKV:    C.llama_get_memory(cc) == nil,
		nSeqMax: int(C.llama_n_seq_max(cc)),
		embd:    o.Embeddings,
	}
	c.sampBuf = (*C.llama_token_data)(C.malloc(C.size_t(m.nVocab) * C.size_t(unsafe.Sizeof(C.llama_token_data{}))))
	m.mu.Lock()
	if m.c == nil || c.sampBuf == nil {
		m.mu.Unlock()
		C.llama_free(cc)
		C.free(unsafe.Pointer(c.sampBuf))
		C.locallm_flag_free(abort)
		C.locallm_capture_free(capt)
		if c.sampBuf == nil {
			return nil, errors.New("llamacpp: out of memory")
		}
		return nil, ErrClosed
	}
	m.children[c] = struct{}{}
	m.mu.Unlock()
	live.contexts.Add(1)
	runtime.SetFinalizer(c, (*Context).Close)
	return c, nil
}

// Close frees the context. It is idempotent. Closing from another
// goroutine while a Decode runs aborts that Decode first.
func (c *Context) Close() error {
	c.Abort()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return nil
	}
	C.llama_free(c.c)
	c.c = nil
	live.contexts.Add(-1)
	C.free(unsafe.Pointer(c.sampBuf))
	c.sampBuf = nil
	if c.capture != nil {
		C.locallm_capture_free(c.capture)
		c.capture = nil
	}
	c.flagMu.Lock()
	C.locallm_flag_free(c.abort)
	c.abort = nil
	c.flagMu.Unlock()
	runtime.SetFinalizer(c, nil)
	m := c.model
	m.mu.Lock()
	delete(m.children, c)
	m.mu.Unlock()
	return nil
}

// Abort asks a Decode in progress, from any goroutine, to stop; it then
// returns ErrAborted. Later Decodes fail the same way until ResetAbort.
func (c *Context) Abort() { c.setAbort(1) }

// ResetAbort clears Abort.
func (c *Context) ResetAbort() { c.setAbort(0) }

// setAbort takes only flagMu, never held during a Decode, so that it works
// while another goroutine is inside llama_decode.
func (c *Context) setAbort(v int32) {
	c.flagMu.Lock()
	defer c.flagMu.Unlock()
	if c.abort != nil {
		C.locallm_flag_set(c.abort, C.int32_t(v))
	}
}

// Size is the number of KV cache cells (n_ctx, as llama.cpp rounded it).
func (c *Context) Size() int { return c.nCtx }

// BatchSize is the most tokens one Decode takes (n_batch; llama.cpp caps
// it at n_ctx for causal models).
func (c *Context) BatchSize() int { return c.nBatch }

// UBatchSize is the physical batch size (n_ubatch): a Decode is evaluated
// in ubatches of at most this many tokens, in batch order.
func (c *Context) UBatchSize() int { return c.nUBatch }

// HasMemory says whether the context keeps a KV cache. One without (an
// encoder such as BERT, where llama_decode runs llama_encode) evaluates
// each Decode in a single ubatch, attending over all of a sequence's
// tokens at once; later decodes cannot continue a sequence.
func (c *Context) HasMemory() bool { return !c.noKV }

// Params returns the parameters the context was made with, defaults applied.
func (c *Context) Params() ContextParams { return c.params }

// Sequences is the most sequences the context holds.
func (c *Context) Sequences() int { return c.nSeqMax }

// Model is the model the context was made from.
func (c *Context) Model() *Model { return c.model }

// Decode evaluates a batch. Tokens marked for output have their logits (and
// embeddings, if enabled) available until the next Decode.
func (c *Context) Decode(ctx context.Context, b *Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return ErrClosed
	}
	if err := b.check(c); err != nil {
		return err
	}
	if b.n == 0 {
		return nil
	}
	stop := context.AfterFunc(ctx, c.Abort)
	done := captureLog()
	code := int32(C.llama_decode(c.c, b.c))
	lines := done()
	if !stop() {
		// ctx was cancelled during the call: the flag is set either way.
		c.ResetAbort()
		if code == 2 {
			return ctx.Err()
		}
	}
	return decodeError(code, lines)
}

// Logits copies the logits of the i-th output of the last Decode (i is the
// batch index of a token marked for output; -1 is the last output) into dst,
// which must have VocabSize elements, and returns it (allocating when dst is nil).
func (c *Context) Logits(i int, dst []float32) ([]float32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return nil, ErrClosed
	}
	n := c.model.nVocab
	if dst == nil {
		dst = make([]float32, n)
	}
	if len(dst) != n {
		return nil, fmt.Errorf("%w: logits buffer has %d elements, want %d", ErrBadOption, len(dst), n)
	}
	p := C.llama_get_logits_ith(c.c, C.int32_t(i))
	if p == nil {
		return nil, fmt.Errorf("llamacpp: no logits for output %d of the last batch", i)
	}
	copy(dst, unsafe.Slice((*float32)(unsafe.Pointer(p)), n))
	return dst, nil
}

// SequenceEmbedding copies the pooled embedding of a sequence, for contexts
// made with Embeddings on a model with pooling.
func (c *Context) SequenceEmbedding(seq int32) ([]float32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return nil, ErrClosed
	}
	if seq < 0 || int(seq) >= c.nSeqMax {
		return nil, fmt.Errorf("%w: sequence %d outside [0, %d)", ErrBadOption, seq, c.nSeqMax)
	}
	if !c.embd || C.llama_pooling_type(c.c) == C.LLAMA_POOLING_TYPE_NONE {
		return nil, errors.New("llamacpp: the context has no pooled embeddings (Embeddings off or the model declares no pooling)")
	}
	p := C.llama_get_embeddings_seq(c.c, C.llama_seq_id(seq))
	if p == nil {
		return nil, fmt.Errorf("llamacpp: no embedding for sequence %d", seq)
	}
	n := int(C.llama_model_n_embd(c.model.c))
	if C.llama_pooling_type(c.c) == C.LLAMA_POOLING_TYPE_RANK {
		// Rank pooling yields one score per classifier output, not n_embd floats.
		n = int(C.llama_model_n_cls_out(c.model.c))
	}
	out := make([]float32, n)
	copy(out, unsafe.Slice((*float32)(unsafe.Pointer(p)), n))
	return out, nil
}

// SetEmbeddings turns embeddings on or off for the following decodes
// (llama_set_embeddings). With them on, a decode also pools each
// sequence's output rows by the model's pooling type; logits are computed
// either way.
func (c *Context) SetEmbeddings(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c != nil && c.embd != on {
		C.llama_set_embeddings(c.c, C.bool(on))
		c.embd = on
	}
}

// PoolingType is the pooling the context applies to embeddings: "none",
// "mean", "cls", "last" or "rank".
func (c *Context) PoolingType() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return ""
	}
	switch C.llama_pooling_type(c.c) {
	case C.LLAMA_POOLING_TYPE_MEAN:
		return "mean"
	case C.LLAMA_POOLING_TYPE_CLS:
		return "cls"
	case C.LLAMA_POOLING_TYPE_LAST:
		return "last"
	case C.LLAMA_POOLING_TYPE_RANK:
		return "rank"
	}
	return "none"
}

// ClearKV empties the KV cache (a no-op for a context without one).
func (c *Context) ClearKV() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c != nil && !c.noKV {
		C.llama_memory_clear(C.llama_get_memory(c.c), true)
	}
}

// RemoveSequence drops positions [p0, p1) of a sequence from the KV cache;
// negative bounds mean the start and the end.
func (c *Context) RemoveSequence(seq int32, p0, p1 int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return ErrClosed
	}
	if seq < -1 || int(seq) >= c.nSeqMax {
		return fmt.Errorf("%w: sequence %d outside [0, %d)", ErrBadOption, seq, c.nSeqMax)
	}
	if c.noKV {
		return nil // nothing is kept between decodes
	}
	C.llama_memory_seq_rm(C.llama_get_memory(c.c), C.llama_seq_id(seq), C.llama_pos(p0), C.llama_pos(p1))
	return nil
}

// CopySequence makes positions [p0, p1) of src also belong to dst: the KV
// cells are shared, not copied, in a unified cache. With SplitKV, src's
// whole stream is copied into dst's (at the next Decode) and the range
// must be all of it (p0 <= 0, p1 < 0).
func (c *Context) CopySequence(src, dst int32, p0, p1 int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return ErrClosed
	}
	for _, s := range []int32{src, dst} {
		if s < 0 || int(s) >= c.nSeqMax {
			return fmt.Errorf("%w: sequence %d outside [0, %d)", ErrBadOption, s, c.nSeqMax)
		}
	}
	if c.noKV {
		return fmt.Errorf("%w: the context keeps no KV cache to share", ErrBadOption)
	}
	if c.params.SplitKV && src != dst && (p0 > 0 || p1 >= 0) {
		// Across streams llama.cpp copies whole streams only, and asserts
		// on a range.
		return fmt.Errorf("%w: with split KV streams a sequence is copied whole (positions [0, end), not [%d, %d))", ErrBadOption, p0, p1)
	}
	C.llama_memory_seq_cp(C.llama_get_memory(c.c), C.llama_seq_id(src), C.llama_seq_id(dst), C.llama_pos(p0), C.llama_pos(p1))
	return nil
}
