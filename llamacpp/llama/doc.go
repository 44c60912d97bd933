// Package llama is locallm's binding to llama.cpp: thin, typed Go wrappers
// over llama.h, and the only package of locallm with C in it. Scheduling,
// sampling policy, grammars and everything else above single llama.cpp
// calls live in package engine; most programs use package llamacpp, which
// implements the llm contract on the engine.
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
// ModelParams.BackendDir or $LOCALLM_BACKEND_DIR, and layers offloaded with
// ModelParams.GPULayers.
//
// # Types and ownership
//
// A [Model] (weights and vocabulary) is safe to share between goroutines.
// A [Context] (a KV cache and compute buffers) is used by one goroutine at
// a time, except for Abort. A [Batch] is the input of one Decode; a
// [Sampler] is a llama.cpp sampler chain. Each owns C memory and has an
// idempotent Close that frees it; finalizers are only a safety net, and a
// Model's Close closes its Contexts first. C never holds a Go pointer.
// Logits, embeddings and hidden states are copied into Go memory before
// they are returned: nothing returned aliases C memory.
//
// Hidden states of any layer are read through llama.cpp's graph-evaluation
// callback (ContextParams.HiddenStates, Context.SetCapture); llama.cpp
// itself exposes only the last layer.
//
// # Errors and safety
//
// llama.cpp aborts the process on many bad inputs (GGML_ASSERT). This
// package checks what it can in Go before each C call: GGUF files are
// checked by package gguf before llama.cpp reads them, parameters are
// validated, batches are checked against the context. C failures become Go
// errors ([DecodeError], [ErrKVCacheFull], [ErrLoad], ...), with
// llama.cpp's own error lines attached where it logged any.
//
// # Logging
//
// llama.cpp's log is silent by default; [SetLogger] sends it to a
// log/slog logger at a chosen level. The log callback is installed on first
// use, not in init.
package llama
