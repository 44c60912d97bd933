// Package server serves any llm.LLM over OpenAI's HTTP API, so that
// OpenAI's clients (the official SDKs, distilabel's OpenAILLM and
// ClientvLLM, instructor) use a local model as they would OpenAI's.
//
// Routes: GET /health (503 until the model is ready), GET /v1/models,
// POST /v1/chat/completions, POST /v1/completions, POST /v1/embeddings and
// GET /metrics (Prometheus' text format); the API routes also answer
// without the /v1 prefix. Requests and responses follow OpenAI's shapes,
// with a few extensions (top_k, min_p, typical_p, repeat_penalty and
// ignore_eos for generation; layer, pooling and normalize for
// embeddings). Unknown fields are ignored; a known field with a bad value
// is a 400 naming it. Every error is {"error": {"message", "type",
// "param", "code"}}.
//
// A request's n is the LLM's numGenerations: the prompt is evaluated once
// and its generations decoded together. response_format and forced tool
// calls become an llm.StructuredOutput (see package toolcall), so that
// every output follows its schema. Streams are server-sent events in
// OpenAI's chunk format, ending with "data: [DONE]".
//
// # Concurrency and resources
//
// A Server is safe for concurrent use. At most Options.MaxConcurrent
// generation and embedding requests run at once (the LLM batches their
// sequences); up to Options.MaxQueue more wait, and beyond that a request
// gets 503 with Retry-After. A client that disconnects cancels its
// request's context, which stops its sequences and frees their KV cells.
// The LLM's stream callback never blocks on a client: chunks are queued
// and written by the request's own goroutine.
//
// Shutdown stops accepting requests, waits for those in flight, and
// cancels them when its context ends. The package is pure Go: it serves
// the llm contract and never imports the cgo binding.
package server
