// Package toolcall holds the model-independent half of tool calling: the
// JSON Schema that a forced tool call must follow, and the recognition of
// tool calls in a model's text. It is pure Go and serves the OpenAI server
// (package server), the JSONL job and library users alike.
//
// # Forced calls
//
// When the caller requires a call ([Required]) or names the function
// ([Function]), the model's output is constrained to one JSON object,
//
//	{"name": "get_weather", "arguments": {"city": "Paris"}}
//
// whose "arguments" follow the function's parameters schema. [Schema]
// builds that schema (an anyOf over the offered functions for Required),
// moving each function's parameters under "$defs" and rewriting their
// local "$ref"s, so that Pydantic-style schemas with "$defs" keep
// resolving. [Structured] wraps it in an llm.StructuredOutput, whose
// grammar makes the arguments parse and validate. A [CallStream] follows
// such an output as it is generated, giving the function's name once it
// is written and then the arguments piece by piece, so that a server can
// stream the call.
//
// # Recognising calls
//
// With [Auto] the model writes what its chat template taught it. [Parse]
// recognises the common formats:
//
//   - Hermes and Qwen: <tool_call>{"name": ..., "arguments": ...}</tool_call>,
//     any number of them, with text around;
//   - Mistral: [TOOL_CALLS] followed by a JSON array of calls, or by
//     name[ARGS]{...};
//   - Llama 3.1 and later: <|python_tag|> or a bare object with
//     "parameters" for "arguments";
//   - <function=name>{...}</function> (Llama 3.1's custom format,
//     functionary);
//   - a bare JSON object or array of calls, possibly in a ``` fence, and
//     OpenAI's own {"type": "function", "function": {...}} shape.
//
// Only calls of offered functions count; arguments given as a JSON string
// are parsed, and every call's arguments come back as compact JSON text.
// Text that is not a call is returned as content. A [Stream] does the same
// for text that arrives in pieces, releasing content as soon as it cannot
// be the start of a call.
//
// # Concurrency
//
// Functions are safe for concurrent use; a Stream or a CallStream is for
// one goroutine.
package toolcall
