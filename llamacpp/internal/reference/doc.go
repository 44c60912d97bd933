// Package reference is a plain-Go forward pass of llama-architecture GGUF
// models, in float64, for checking what llama.cpp computes: its hidden
// states per layer, final norm and logits are the expected values of the
// binding's tests.
//
// It follows llama.cpp's graph for LLM_ARCH_LLAMA (llm_build_llama) step by
// step, not a Hugging Face implementation: RoPE rotates adjacent pairs, as
// ggml's "normal" mode does on the weights that llama.cpp's converter has
// permuted. It is slow (no SIMD, no KV cache: every call runs the whole
// sequence) and meant for small models and short inputs.
//
// Forward keeps nothing between calls and is safe for concurrent use with
// one *gguf.File, whose reads are. It panics on nothing a file contains.
package reference
