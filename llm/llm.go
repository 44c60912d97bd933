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
	// numGenerations generations (numGenerations < 1 means 1).
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
	// Tokens is how many tokens the generation has produced so far.
	Tokens int
	// Done is true on the last chunk of a generation; FinishReason is then set.
	Done         bool
	FinishReason FinishReason
}

// Role is the author of a chat message.
type Role = string

// Chat roles used by chat templates.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one chat message.
type Message struct {
	Role    string `json:"role" yaml:"role"`
	Content string `json:"content" yaml:"content"`
}

// Input is one request: chat messages or a raw prompt.
//
// When Messages is non-empty it is formatted with the model's chat template,
// ending with the assistant's turn; otherwise Prompt is used as it is. The
// zero Input is an empty raw prompt, which implementations reject.
type Input struct {
	Messages []Message `json:"messages,omitempty" yaml:"messages,omitempty"`
	Prompt   string    `json:"prompt,omitempty" yaml:"prompt,omitempty"`
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
		if m.Role == "" {
			return fmt.Errorf("%w: message %d has no role", ErrBadInput, i)
		}
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
	// Lenient compiles schemas with keywords a grammar cannot express into
	// an over-approximating grammar; outputs are then validated, and may be
	// retried. The default, strict, rejects such schemas.
	Lenient bool `json:"lenient,omitempty" yaml:"lenient,omitempty"`
	// Retries is how many times an output that fails validation is
	// generated again with a new seed. Default 0.
	Retries int `json:"retries,omitempty" yaml:"retries,omitempty"`
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
	if s.Retries < 0 {
		return fmt.Errorf("%w: structured output retries %d is negative", ErrBadInput, s.Retries)
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
	// Err is this input's error, if it failed as a whole.
	Err error `json:"-"`
}

// Statistics counts tokens, as distilabel reports them.
type Statistics struct {
	InputTokens  int   `json:"input_tokens"`
	OutputTokens []int `json:"output_tokens"`
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
