// Package engine schedules a model's work on llama.cpp: generation,
// hidden-state capture and embedding requests are jobs of one scheduler,
// whose goroutine owns the model's one context and decodes the tokens of
// every running job together, step by step (continuous batching).
//
// The engine is plain Go. It sees llama.cpp through the small interfaces
// of backend.go (a model's vocabulary, contexts, batches, samplers), which
// package llamacpp implements over the binding (package llama) and tests
// implement with a fake.
//
// # What one scheduler does
//
//   - Admission: jobs are admitted in order while sequence IDs and KV
//     cells last; cells are reserved up front (a prompt plus MaxNewTokens
//     per generation, an input's tokens), so a running sequence never
//     finds the cache full.
//   - Contexts sized to their work: the context is made at the size the
//     first work needs (rounded up to a power of two, at least 256 cells)
//     and made again, twice as large or as large as the waiting work
//     needs, when that work does not fit; up to Config.MaxContext. A
//     short generation or a hidden-state request therefore never allocates
//     a KV cache of MaxContext cells.
//   - One batch per step: a token from every generating sequence, then
//     prompt chunks and inputs, in admission order. A generation's
//     generations share its prompt's evaluation (its tokens belong to all
//     of their sequences); a prompt that shares a prefix of at least
//     MinSharedPrefix tokens with a running one reuses its KV cells.
//   - Hidden states are read during the same decodes through the graph's
//     evaluation callback; a step with nothing but captures stops the
//     graph after the highest layer asked for. Embeddings (the model's own
//     pooling) turn llama.cpp's embeddings on for the steps that carry
//     them; such a step stays within one ubatch, since llama.cpp pools per
//     ubatch.
//   - Sampling is llama.cpp's sampler chain (Backend.NewSampler); the
//     engine adds grammar constraints, stop sequences, streaming,
//     log-probabilities, the split of a reasoning block from the answer,
//     and completion of outputs the token budget cut.
//
// # Grammars
//
// A constrained generation follows its grammar with one engine, package
// grammar's matcher: the sampler's draw is checked against it, and only
// when the grammar refuses it are all allowed tokens listed (by walking a
// byte trie of the vocabulary with the matcher) and the draw made again
// among them. llama.cpp's own grammar sampler is not used.
//
// # Concurrency
//
// Engine methods may be called from many goroutines; each blocks until
// its job is done. Stream callbacks run on the scheduler's goroutine.
package engine
