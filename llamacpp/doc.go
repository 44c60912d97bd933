// Package llamacpp implements the llm contract with llama.cpp: an [LLM]
// loads a GGUF model, generates for many inputs at once with structured
// output, and reads hidden states and embeddings.
//
// # Architecture
//
// Three layers, one folder each, imports flowing one way:
//
//	llamacpp         the llm.LLM implementation: options, prompt formatting,
//	                 structured-output compilation and validation, results
//	llamacpp/engine  pure Go: one scheduler for generation, hidden states
//	                 and embeddings on one context; sampling policy,
//	                 grammar steering, stops, streaming, prefix reuse
//	llamacpp/llama   the binding: thin typed wrappers over llama.h, the only
//	                 package with C in it
//
// The engine sees the binding through small interfaces (engine.Backend and
// friends), which this package implements in binding.go; the engine's own
// tests use a fake. Package gguf checks and writes GGUF files in Go, and
// package tinyllama writes the deterministic tiny models the tests use.
//
// # Building
//
// llama.cpp and ggml are compiled from the pinned github.com/ollama/ollama
// module; cgo needs their headers (see package llama):
//
//	eval "$(sh "$(go list -m -f '{{.Dir}}' github.com/locallm/locallm)/scripts/cgo-env")"
//
// # Use
//
// Open (or New, then Load) loads a model; nothing else is allocated until
// there is work. Generate, GenerateStream, HiddenStates and Embed may be
// called from many goroutines at once: every call's work becomes jobs of
// one scheduler, which decodes the tokens of all of them together (a
// generation's generations share its prompt's evaluation; prompts that
// share a prefix share its KV cells). The one llama.cpp context is made at
// the size the first work needs and grows as work needs more, up to
// ContextOptions.ContextSize, so a short prompt or a hidden-state request
// does not pay for a large context. Close cancels what is in progress and
// frees everything.
//
// Structured output (a JSON Schema, a GBNF grammar or a regular expression,
// per input or for the whole LLM) is compiled once per content into a
// grammar value that the engine follows token by token; finished outputs
// are validated (Output.Valid), and may be generated again (Retries).
//
// # Errors and safety
//
// llama.cpp aborts the process on many bad inputs; nothing reaches it
// unchecked. GGUF files are checked by package gguf, options are validated
// against the model's metadata in Go at Load, and bad parameters and
// inputs are errors that name them (wrapping llm's sentinels).
package llamacpp
