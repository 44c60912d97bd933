// Package cloop is a plain C loop over the llama.cpp calls that a
// generation makes (tokenise, decode the prompt, then sample and decode one
// token at a time), for benchmarks that measure the Go binding's own
// overhead against it. It is internal: tests and benchmarks only.
package cloop

/*
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include "llama.h"

typedef struct {
    int32_t n_prompt;
    int32_t n_gen;
    double  prompt_s;
    double  gen_s;
    int32_t status;   // 0 ok, else the step that failed
} cloop_result;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void quiet(enum ggml_log_level level, const char * text, void * ud) { (void) level; (void) text; (void) ud; }

// Greedy generation of n_gen tokens, end-of-generation ignored, as
// llama-bench's tg test does.
static cloop_result cloop_run(const char * path, const char * prompt, int32_t n_gen,
                              int32_t n_threads, int32_t n_ctx, int32_t n_batch, int32_t flash, int32_t cache_type) {
    cloop_result r = {0};
    llama_log_set(quiet, NULL);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model * model = llama_model_load_from_file(path, mp);
    if (!model) { r.status = 1; return r; }
    const struct llama_vocab * vocab = llama_model_get_vocab(model);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n_ctx; cp.n_batch = n_batch; cp.n_ubatch = n_batch; cp.n_seq_max = 1;
    cp.n_threads = n_threads; cp.n_threads_batch = n_threads;
    cp.flash_attn_type = (enum llama_flash_attn_type) flash;
    cp.type_k = (enum ggml_type) cache_type; cp.type_v = (enum ggml_type) cache_type;
    cp.no_perf = true;
    struct llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) { llama_model_free(model); r.status = 2; return r; }
    int32_t cap = 4096;
    llama_token * toks = (llama_token *) malloc(sizeof(llama_token) * cap);
    int32_t n = llama_tokenize(vocab, prompt, (int32_t) strlen(prompt), toks, cap, true, true);
    if (n <= 0) { r.status = 3; goto out; }
    r.n_prompt = n;
    struct llama_sampler * smpl = llama_sampler_chain_init(llama_sampler_chain_default_params());
    llama_sampler_chain_add(smpl, llama_sampler_init_greedy());
    double t0 = now_s();
    if (llama_decode(ctx, llama_batch_get_one(toks, n)) != 0) { r.status = 4; llama_sampler_free(smpl); goto out; }
    llama_token tok = llama_sampler_sample(smpl, ctx, -1);
    double t1 = now_s();
    r.n_gen = 1;
    for (int32_t i = 1; i < n_gen; i++) {
        if (llama_decode(ctx, llama_batch_get_one(&tok, 1)) != 0) { r.status = 5; break; }
        tok = llama_sampler_sample(smpl, ctx, -1);
        r.n_gen++;
    }
    r.prompt_s = t1 - t0;
    r.gen_s = now_s() - t1;
    llama_sampler_free(smpl);
out:
    free(toks);
    llama_free(ctx);
    llama_model_free(model);
    return r;
}
*/
import "C"

import (
	"fmt"
	"time"
	"unsafe"

	_ "github.com/ollama/ollama/llama/llama.cpp/src"
	_ "github.com/ollama/ollama/ml/backend/ggml/ggml/src"
)

// Options of Run. FlashAttention is -1 auto, 0 off, 1 on; CacheType is a
// ggml type number (1 f16, 0 f32, 8 q8_0).
type Options struct {
	Threads, ContextSize, BatchSize int
	FlashAttention, CacheType       int
}

// Result of Run: the prompt's token count and evaluation time, and the
// generated tokens with the time after the first.
type Result struct {
	PromptTokens    int
	GeneratedTokens int
	PromptTime      time.Duration
	GenerationTime  time.Duration
}

// DecodeTokensPerSecond counts the tokens after the first, which the
// prompt's evaluation yields.
func (r Result) DecodeTokensPerSecond() float64 {
	return float64(r.GeneratedTokens-1) / r.GenerationTime.Seconds()
}

// Run loads the model, evaluates the prompt and generates nGen tokens
// greedily, ignoring end-of-generation.
func Run(path, prompt string, nGen int, o Options) (Result, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	cprompt := C.CString(prompt)
	defer C.free(unsafe.Pointer(cprompt))
	r := C.cloop_run(cpath, cprompt, C.int32_t(nGen), C.int32_t(o.Threads), C.int32_t(o.ContextSize), C.int32_t(o.BatchSize), C.int32_t(o.FlashAttention), C.int32_t(o.CacheType))
	if r.status != 0 {
		return Result{}, fmt.Errorf("cloop: step %d failed", int(r.status))
	}
	return Result{
		PromptTokens:    int(r.n_prompt),
		GeneratedTokens: int(r.n_gen),
		PromptTime:      time.Duration(float64(r.prompt_s) * float64(time.Second)),
		GenerationTime:  time.Duration(float64(r.gen_s) * float64(time.Second)),
	}, nil
}
