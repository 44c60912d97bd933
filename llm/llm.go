package llm

import (
	"context"
	"errors"
	"fmt"
)

// LLM is a language model that generates text for many inputs.
//
// Load must be called before Generate; Close unloads the model and releases
// everything Load acquired. Calls after Close return ErrClosed.
type LLM interface {
	// Load loads the model. Loading twice is a no-op.
	Load(ctx context.Context) error
	// Close unloads the model. It is safe to call more than once.
	Close() error
	// ModelName names the model, for example its file name or general.name.
	ModelName() string
	// Generate returns one Output per input, in input order, each with
	// numGenerations generations (0 means 1; see CheckNumGenerations).
	//
	// A problem with one input (a prompt longer than the context, a bad
	// schema) is reported in that input's Output.Err and does not stop the
	// others. The returned error is for the call as a whole (the LLM is not
	// loaded or was closed, bad parameters, ctx cancelled); outputs finished
	// before such an error are still returned.
	Generate(ctx context.Context, inputs []Input, numGenerations int, params GenerationParams) ([]Output, error)
}

// Streamer is implemented by LLMs that deliver text as it is generated.
type Streamer interface {
	// GenerateStream is Generate with fn called with each piece of text as
	// it is produced. fn is called from one goroutine at a time; it must
	// not block for long, since it runs inside the decode loop.
	GenerateStream(ctx context.Context, inputs []Input, numGenerations int, params GenerationParams, fn func(Chunk)) ([]Output, error)
}

// Chunk is a piece of streamed text.
type Chunk struct {
	Input      int    // index of the input
	Generation int    // index of the generation within that input
	Text       string // the new text; may be empty on the final chunk
	// Reasoning is new reasoning text, for models that reason before
	// they answer (see Output.Reasoning).
	Reasoning string
	// Tokens is how many tokens the generation has produced so far.
	Tokens int
	// Done is true on the last chunk of a generation; FinishReason is then set.
	Done         bool
	FinishReason FinishReason
}

// Input is one request: chat messages or a raw prompt.
//
// When Messages is non-empty it is formatted with the model's chat template,
// ending with the assistant's turn; otherwise Prompt is used as it is. The
// zero Input is an empty raw prompt, which implementations reject.
type Input struct {
	Messages []Message `json:"messages,omitempty" yaml:"messages,omitempty"`
	Prompt   string    `json:"prompt,omitempty" yaml:"prompt,omitempty"`
	// Tools are the tools offered to the model, for chat templates that
	// render them (ignored for a raw prompt).
	Tools []Tool `json:"tools,omitempty" yaml:"tools,omitempty"`
	// Structured, when set, constrains this input's output and overrides the
	// LLM's own structured-output setting.
	Structured *StructuredOutput `json:"structured_output,omitempty" yaml:"structured_output,omitempty"`
}

// Chat returns an Input made of messages.
func Chat(messages ...Message) Input { return Input{Messages: messages} }

// Prompt returns a raw-prompt Input.
func Prompt(text string) Input { return Input{Prompt: text} }

// IsChat reports whether the input is formatted with a chat template.
func (in Input) IsChat() bool { return len(in.Messages) > 0 }

// Validate checks the input's shape without a model.
func (in Input) Validate() error {
	if len(in.Messages) == 0 && in.Prompt == "" {
		return fmt.Errorf("%w: neither messages nor prompt", ErrEmptyInput)
	}
	if len(in.Messages) > 0 && in.Prompt != "" {
		return fmt.Errorf("%w: both messages and prompt are set", ErrBadInput)
	}
	for i, m := range in.Messages {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("%w: message %d: %w", ErrBadInput, i, err)
		}
	}
	if len(in.Tools) > 0 && len(in.Messages) == 0 {
		return fmt.Errorf("%w: tools are offered through a chat template: give messages, not a raw prompt", ErrBadInput)
	}
	names := map[string]bool{}
	for i, t := range in.Tools {
		if err := t.Validate(); err != nil {
			return fmt.Errorf("%w: tool %d: %w", ErrBadInput, i, err)
		}
		if names[t.Function.Name] {
			return fmt.Errorf("%w: tool %d: function name %q given twice", ErrBadInput, i, t.Function.Name)
		}
		names[t.Function.Name] = true
	}
	if in.Structured != nil {
		if err := in.Structured.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// StructuredOutput constrains generated text. Exactly one of Schema, GBNF
// and Regex is set.
type StructuredOutput struct {
	// Schema is a JSON Schema: json.RawMessage, []byte or string holding
	// JSON, a map[string]any, or any other Go value, whose type is turned
	// into a schema (struct tags honoured).
	Schema any `json:"schema,omitempty" yaml:"schema,omitempty"`
	// GBNF is a grammar in llama.cpp's GBNF format, with a root rule.
	GBNF string `json:"gbnf,omitempty" yaml:"gbnf,omitempty"`
	// Regex is a regular expression (ECMA-262 subset) the whole output must match.
	Regex string `json:"regex,omitempty" yaml:"regex,omitempty"`
	// Strict rejects a schema with keywords a grammar cannot express
	// (uniqueItems beyond small cases, not, ...) with ErrBadInput naming
	// the keyword, so that the grammar alone admits only valid outputs.
	// By default such keywords are over-approximated: the grammar admits
	// a superset of the valid outputs, and every output is validated
	// (Output.Valid) and may be retried, so that real-world schemas
	// generate (a sixth of them use uniqueItems).
	Strict bool `json:"strict,omitempty" yaml:"strict,omitempty"`
	// Lenient asks for the default, over-approximating compilation of
	// schemas; it is kept for requests written when strict was the
	// default, and may not be set together with Strict.
	Lenient bool `json:"lenient,omitempty" yaml:"lenient,omitempty"`
	// Retries is how many times an output that fails validation is
	// generated again with a new seed. Default 0.
	Retries int `json:"retries,omitempty" yaml:"retries,omitempty"`
	// ClosingTokens is the most tokens that may be appended, beyond
	// GenerationParams.MaxNewTokens, to close an output that the token
	// budget cut mid-structure: the grammar's shortest completion (closing
	// quotes, brackets and braces, required properties). They are not
	// sampled; Statistics.ClosingTokens counts them apart from
	// OutputTokens. Default 0: nothing is appended, and a cut output ends
	// where the budget ended (finish reason length) and fails validation.
	ClosingTokens int `json:"closing_tokens,omitempty" yaml:"closing_tokens,omitempty"`
}

// Validate checks that exactly one constraint is set.
func (s *StructuredOutput) Validate() error {
	n := 0
	if s.Schema != nil {
		n++
	}
	if s.GBNF != "" {
		n++
	}
	if s.Regex != "" {
		n++
	}
	if n != 1 {
		return fmt.Errorf("%w: structured output needs exactly one of schema, gbnf and regex (has %d)", ErrBadInput, n)
	}
	if s.Strict && s.Lenient {
		return fmt.Errorf("%w: structured output is both strict and lenient", ErrBadInput)
	}
	if s.Retries < 0 || s.Retries > MaxRetries {
		return fmt.Errorf("%w: structured output retries = %d, want 0 to %d", ErrBadInput, s.Retries, MaxRetries)
	}
	if s.ClosingTokens < 0 || s.ClosingTokens > MaxNewTokensLimit {
		return fmt.Errorf("%w: structured output closing_tokens = %d, want 0 to %d", ErrBadInput, s.ClosingTokens, MaxNewTokensLimit)
	}
	return nil
}

// FinishReason says why a generation ended.
type FinishReason string

// Finish reasons.
const (
	FinishStop      FinishReason = "stop"      // a stop sequence was generated (or the grammar completed)
	FinishLength    FinishReason = "length"    // MaxNewTokens reached, or the context is full
	FinishEOS       FinishReason = "eos"       // the model generated an end-of-generation token
	FinishCancelled FinishReason = "cancelled" // the context was cancelled
	FinishError     FinishReason = "error"     // see Output.Err
)

// Output is the result for one input.
type Output struct {
	// Generations holds numGenerations texts.
	Generations []string `json:"generations"`
	// FinishReasons holds why each generation ended.
	FinishReasons []FinishReason `json:"finish_reasons"`
	Statistics    Statistics     `json:"statistics"`
	// Valid reports, for structured inputs, whether each generation
	// validated against its schema; nil for unstructured inputs.
	Valid []bool `json:"valid,omitempty"`
	// ValidationErrors holds, for structured inputs, why each invalid
	// generation failed ("" for valid ones).
	ValidationErrors []string `json:"validation_errors,omitempty"`
	// Reasoning holds, for models whose chat template opens a reasoning
	// block (such as <think>), the text of each generation's reasoning;
	// Generations then hold only the answer after the block. Nil when the
	// model does not reason.
	Reasoning []string `json:"reasoning,omitempty"`
	// Logprobs holds, when GenerationParams.Logprobs is set, one entry per
	// sampled token of each generation (tokens appended to close a
	// structure have none).
	Logprobs [][]TokenLogprob `json:"logprobs,omitempty"`
	// Err is this input's error, if it failed as a whole.
	Err error `json:"-"`
}

// TokenLogprob is a sampled token's log-probability and, when asked for,
// the most likely tokens at its position.
//
// Log-probabilities are the log-softmax of the model's raw logits at that
// position: before logit bias, penalties, temperature, truncation (top-k,
// top-p, min-p, typical-p) and grammar masks. They say what the model
// predicts, not what the sampler's transformed distribution was.
type TokenLogprob struct {
	Token int32 `json:"token"`
	// Text is the token's text. A token may end inside a multi-byte UTF-8
	// character, so Text is not always valid UTF-8.
	Text    string  `json:"text"`
	Logprob float64 `json:"logprob"`
	// Top holds the GenerationParams.TopLogprobs most likely tokens at
	// this position, most likely first.
	Top []TopLogprob `json:"top_logprobs,omitempty"`
}

// TopLogprob is one of the most likely tokens at a position.
type TopLogprob struct {
	Token   int32   `json:"token"`
	Text    string  `json:"text"`
	Logprob float64 `json:"logprob"`
}

// Statistics counts tokens, as distilabel reports them.
type Statistics struct {
	InputTokens int `json:"input_tokens"`
	// OutputTokens counts the tokens sampled for each generation.
	OutputTokens []int `json:"output_tokens"`
	// ClosingTokens counts, for structured outputs cut by MaxNewTokens,
	// the tokens appended to close the structure (see
	// StructuredOutput.ClosingTokens); nil when nothing was appended.
	ClosingTokens []int `json:"closing_tokens,omitempty"`
	// PromptSeconds is the wall time from the start of the prompt's
	// evaluation to its first sampled token; GenerationSeconds the time from
	// then to the last generation's end. Both are zero where an
	// implementation does not measure them.
	PromptSeconds     float64 `json:"prompt_seconds,omitempty"`
	GenerationSeconds float64 `json:"generation_seconds,omitempty"`
	// CachedTokens counts the prompt tokens whose evaluation was reused
	// from another input with the same prefix (a shared system prompt).
	CachedTokens int `json:"cached_tokens,omitempty"`
}

// Sentinel errors. Implementations wrap them, so test with errors.Is.
var (
	ErrNotLoaded      = errors.New("llm: model not loaded")
	ErrClosed         = errors.New("llm: LLM closed")
	ErrEmptyInput     = errors.New("llm: empty input")
	ErrBadInput       = errors.New("llm: bad input")
	ErrBadParameter   = errors.New("llm: bad generation parameter")
	ErrContextTooLong = errors.New("llm: input does not fit the context")
	ErrNoChatTemplate = errors.New("llm: model has no chat template")
)
