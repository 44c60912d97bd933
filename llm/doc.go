// Package llm is the contract every locallm language model implements: the
// Go translation of distilabel's LLM and AsyncLLM.
//
// An [LLM] is loaded with Load, names its model with ModelName, generates
// for many inputs at once with Generate (numGenerations completions per
// input) and is unloaded with Close. Each [Input] is either chat messages,
// formatted with the model's chat template, or a raw prompt, and may carry
// its own [StructuredOutput] request. Generation parameters are one struct,
// [GenerationParams]; [RuntimeParameters] lists its fields with their types,
// defaults and descriptions, the way distilabel lists runtime parameters.
//
// Chat inputs carry what chat templates read: [Message] roles, content,
// tool calls and tool answers, and the [Tool] list offered to the model.
// An [Output] holds each generation's text and finish reason, and, where
// asked for or where the model gives them, per-token log-probabilities
// ([TokenLogprob]) and the reasoning of models that think before they
// answer.
//
// Models that expose their hidden states implement [HiddenStater]; those that
// stream text implement [Streamer]. Test for them with a type assertion.
//
// An LLM's configuration round-trips through JSON and YAML as a [Config]
// (a type name and the implementation's own settings), so a job can be
// re-created from a file with [New] once the implementation has called
// [Register] (package llamacpp registers "llamacpp" when imported).
//
// This package is pure Go. Implementations document what is safe to share;
// the llamacpp implementation may be used from many goroutines at once.
package llm
