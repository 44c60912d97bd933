// C helpers for the Go binding. They exist where a llama.cpp call would
// abort the process on a condition Go cannot check cheaply beforehand, or
// where a loop over the vocabulary is better done in C.
#ifndef LOCALLM_SHIM_H
#define LOCALLM_SHIM_H

#include <stdbool.h>
#include <stdint.h>
#include "llama.h"

// 1 when ggml's CPU threads are run by OpenMP in this build (GGML_USE_OPENMP).
int32_t locallm_openmp(void);

// A flag shared between Go (which sets it) and llama.cpp callbacks (which read it).
typedef struct { volatile int32_t value; } locallm_flag;
locallm_flag * locallm_flag_new(void);
void locallm_flag_set(locallm_flag * f, int32_t v);
void locallm_flag_free(locallm_flag * f);

// Callbacks that read a flag: abort when it is non-zero.
bool locallm_abort_callback(void * data);
bool locallm_progress_callback(float progress, void * data);

// Route llama.cpp's and ggml's log through Go.
void locallm_log_install(int enabled);

// Sampling without llama.cpp's asserts. buf has room for n_vocab entries.
// Returns the token, or -1 when every token was excluded, -2 when the
// context has no logits at idx.
int32_t locallm_sample(struct llama_sampler * chain, struct llama_context * ctx, int32_t idx,
                       llama_token_data * buf, int32_t n_vocab);

// Sampling among the candidates ids[0..n) only: the chain sees just them,
// with their logits. buf has room for n entries.
int32_t locallm_sample_subset(struct llama_sampler * chain, struct llama_context * ctx, int32_t idx,
                              llama_token_data * buf, const int32_t * ids, int32_t n);

// Writes the end-of-generation token IDs into out (room for n_vocab) and returns their count.
int32_t locallm_eog_tokens(const struct llama_vocab * vocab, int32_t * out);

// Hidden-state capture through the graph-evaluation callback. Layers use
// Hugging Face's numbering: 0 the token embeddings, i the output of block i,
// n_layer the final normed output.
typedef struct locallm_capture locallm_capture;
locallm_capture * locallm_capture_new(int32_t n_layer, int32_t max_layers);
void locallm_capture_free(locallm_capture * c);
// How the capture finds the hidden states in a graph: by llama.cpp's names
// for decoder graphs (inp_embd, l_out-N, result_norm), by shape for
// llm_build_bert's (see layer_of in shim.c).
enum { LOCALLM_GRAPH_DECODER = 0, LOCALLM_GRAPH_BERT = 1 };
// Sets the layers to capture (n = 0 captures nothing) and the graph kind,
// and empties the buffers. With stop_early, the graph stops after the
// highest layer is captured.
int32_t locallm_capture_set(locallm_capture * c, const int32_t * layers, int32_t n, int32_t stop_early, int32_t graph);
void locallm_capture_reset(locallm_capture * c);
bool locallm_capture_eval(struct ggml_tensor * t, bool ask, void * user_data);
// Copies rows [row0, row0+n_rows) captured for layers[layer_index] into dst.
int64_t locallm_capture_rows(locallm_capture * c, int32_t layer_index, float * dst, int64_t row0, int64_t n_rows, int64_t n_embd);
int64_t locallm_capture_count(locallm_capture * c, int32_t layer_index);

#endif
