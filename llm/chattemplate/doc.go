// Package chattemplate renders a model's chat template, the Jinja program
// that Hugging Face tokenizers carry as tokenizer.chat_template (and GGUF
// files under the same key), the way transformers' apply_chat_template
// renders it, so that a conversation becomes the same prompt text under
// locallm as under transformers or vLLM.
//
// [Parse] compiles a template once; [Template.Render] formats an [Input]:
// messages, the tools offered, documents, add_generation_prompt, the BOS
// and EOS token texts and extra variables. The environment is
// transformers': trim_blocks and lstrip_blocks, loop controls ({% break %},
// {% continue %}), a no-op {% generation %} block, raise_exception,
// strftime_now (reading [Input.Now], so that tests can pin the date that
// Llama 3.x templates print), and a tojson filter that writes what Python's
// json.dumps writes (non-ASCII kept, keys in their order, indent,
// separators and sort_keys as transformers passes them).
//
// # What templates see
//
// Messages are given to the template as their OpenAI JSON form (what
// json.Marshal writes for an [llm.Message]: role and content always, name,
// reasoning_content, tool_calls and tool_call_id when set), with one
// change: a tool call's arguments, JSON text on the wire, are parsed into an
// object, because that is what transformers users pass and what templates
// index into (tool_call.arguments.city) or print with tojson. Tools are
// their OpenAI JSON form, a tool's type defaulting to "function"; object
// keys keep the order they were written in (a JSON Schema's properties
// print in the order the caller gave them). Without tools, tools is None,
// as in transformers; likewise documents.
//
// # Engine
//
// Templates are executed by github.com/ardanlabs/jinja, chosen by measured
// conformance with Python's jinja2 (see third_party/README.md). Where its
// behaviour differed from jinja2 on real templates this package fills the
// gap: tojson is its own filter (the engine's sorts keys and escapes HTML
// when indenting), the clock is injectable, and transformers' variables
// and globals are supplied. Known remaining differences, none met on the
// common model families: the engine is lenient where jinja2 raises (using
// an undefined value in arithmetic, adding a string to a dict, iterating
// None, mutating a list in the sandbox), prints None as "" and floats
// without a trailing ".0", and has no markupsafe semantics (a string marked
// |safe does not escape what is added to it).
//
// # Reasoning
//
// [DetectReasoning] tells, for a template and a prompt it rendered,
// whether the model writes a reasoning block first, with which markers,
// and whether the prompt already opened it (DeepSeek-R1's template ends
// the generation prompt with "<think>\n").
//
// A Template is safe for concurrent use. The package is pure Go.
package chattemplate
