// Package llamacpp is the cgo binding to llama.cpp and the implementation of
// the llm contract. It is the only package of locallm with C in it.
//
// # Building
//
// llama.cpp and ggml are compiled from the pinned github.com/ollama/ollama
// module (see third_party/README.md). cgo needs their headers:
//
//	eval "$(sh "$(go list -m -f '{{.Dir}}' github.com/locallm/locallm)/scripts/cgo-env")"
//
// sets CGO_CPPFLAGS, and CGO_CFLAGS/CGO_CXXFLAGS to -O3 -march=native
// (PORTABLE=1 for a baseline build). The CPU backend is built in; GPU
// backends (CUDA, built by `make cuda`) are loaded at run time from
// ModelOptions.BackendDir or $LOCALLM_BACKEND_DIR, and layers offloaded with
// ModelOptions.GPULayers.
//
// # Types and ownership
//
// [LLM] is what most programs use: Open (or New, then Load) loads a model
// and starts a scheduler that owns one llama.cpp context; Generate,
// GenerateStream and HiddenStates may be called from many goroutines at once,
// and the scheduler decodes every caller's sequences together (continuous
// batching); inputs sharing a prompt prefix reuse its KV cells. Embed gives
// an embedding model's own pooled embedding. Close cancels what is in
// progress and frees everything. Quantize writes a quantised copy of a
// model with llama.cpp's quantiser.
//
// The lower level is there for those who want it: a [Model] (weights and
// vocabulary; safe to share), a [Context] (a KV cache; one goroutine at a
// time), a [Batch] and a [Sampler]. Each owns C memory and has an idempotent
// Close; finalizers are only a safety net. A Model's Close closes its
// Contexts first. Logits, embeddings and hidden states are copied into Go
// memory before they are returned: nothing returned aliases C memory.
//
// # Errors and safety
//
// llama.cpp aborts the process on many bad inputs (GGML_ASSERT). This
// package checks what it can in Go before each C call: GGUF files are
// checked by package gguf before llama.cpp reads them, options and
// generation parameters are validated, batches are checked against the
// context, grammars are parsed by package grammar first, and a token the
// grammar forbids is never accepted. C failures become Go errors
// ([DecodeError], [ErrKVCacheFull], [ErrLoad], ...), with llama.cpp's own
// error lines attached where it logged any.
//
// # Logging
//
// llama.cpp's log is silent by default; [SetLogger] sends it to a
// log/slog logger at a chosen level. The log callback is installed on first
// use, not in init.
package llamacpp
