package chattemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/ardanlabs/jinja"

	"github.com/locallm/locallm/llm"
)

// Template is a parsed chat template. It is safe for concurrent use.
type Template struct {
	name   string
	source string
	t      *jinja.Template
}

// Input is what a template is rendered with: the variables transformers'
// apply_chat_template passes.
type Input struct {
	Messages []llm.Message
	// Tools are the tools offered (the template's tools); nil gives None.
	Tools []llm.Tool
	// Documents are retrieved documents for templates that render them
	// (Command-R's documents), each a JSON object such as {"title": "...",
	// "text": "..."} whose keys keep their order; nil gives None.
	Documents []json.RawMessage
	// AddGenerationPrompt ends the text with the assistant's header, so
	// that the model writes the next assistant message.
	AddGenerationPrompt bool
	// ContinueFinalMessage cuts the text after the last message's content,
	// so that the model continues that message (an assistant prefill), as
	// transformers' continue_final_message does. It excludes
	// AddGenerationPrompt.
	ContinueFinalMessage bool
	// BOSToken and EOSToken are the vocabulary's texts of those tokens
	// (bos_token, eos_token); "" leaves the variable undefined, as for a
	// tokenizer without that token.
	BOSToken, EOSToken string
	// Vars are further variables (such as enable_thinking); they override
	// the ones above. Values are Go values (bool, numbers, strings, slices,
	// maps, whose keys are then sorted) or json.RawMessage.
	Vars map[string]any
	// Now is the time strftime_now formats. Default: the current time.
	Now time.Time
}

// Error is a template that failed to parse or to render.
type Error struct {
	Template string // the template's name
	// Line is the template line the engine named, 1-based; 0 where it
	// named none (most errors raised while rendering).
	Line int
	// Raised is the message of a raise_exception call (a template refusing
	// the conversation, such as "roles must alternate"); "" for other errors.
	Raised string
	Err    error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("chat template %s:%d: %v", e.Template, e.Line, e.Err)
	}
	return fmt.Sprintf("chat template %s: %v", e.Template, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrRaised is wrapped by the error of a template that called
// raise_exception.
var ErrRaised = errors.New("template raised an exception")

var lineRE = regexp.MustCompile(`\bline (\d+)\b`)

func newError(name string, err error) *Error {
	e := &Error{Template: name, Err: err}
	var r *raised
	if errors.As(err, &r) {
		e.Raised = r.msg
	}
	if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
	}
	return e
}

// Parse compiles a Jinja chat template; name names it in errors (such as
// "tokenizer.chat_template" or a file name).
func Parse(name, source string) (*Template, error) {
	t, err := jinja.Compile(rewriteFilters(jinjaNewlines(source)))
	if err != nil {
		return nil, newError(name, errors.New(strings.Replace(err.Error(), tojsonName, "tojson", -1)))
	}
	return &Template{name: name, source: source, t: t}, nil
}

// Name is the name given to Parse.
func (t *Template) Name() string { return t.name }

// Source is the template's text.
func (t *Template) Source() string { return t.source }

// Render formats the input. A template that rejects the conversation
// (raise_exception) or fails gives an *Error naming the template.
func (t *Template) Render(in Input) (string, error) {
	if in.ContinueFinalMessage && in.AddGenerationPrompt {
		return "", newError(t.name, errors.New("continue_final_message and add_generation_prompt exclude each other"))
	}
	data, err := in.variables()
	if err != nil {
		return "", newError(t.name, err)
	}
	out, err := t.t.RenderValues(data)
	if err != nil {
		return "", newError(t.name, err)
	}
	if in.ContinueFinalMessage {
		if len(in.Messages) == 0 {
			return "", newError(t.name, errors.New("continue_final_message with no messages"))
		}
		out, err = continueFinal(out, in.Messages[len(in.Messages)-1].Content)
		if err != nil {
			return "", newError(t.name, err)
		}
	}
	return out, nil
}

// continueFinal cuts rendered after the final message's content, as
// transformers' continue_final_message does: the content is found stripped
// (templates often trim it), and its trailing whitespace is kept only where
// the template kept it.
func continueFinal(rendered, final string) (string, error) {
	stripped := strings.TrimFunc(final, isPySpace)
	loc := strings.LastIndex(rendered, stripped)
	if loc < 0 {
		return "", errors.New("continue_final_message: the final message does not appear in the rendered text")
	}
	lstripped := strings.TrimLeftFunc(final, isPySpace)
	if end := loc + len(lstripped); end <= len(rendered) && rendered[loc:end] == final {
		return rendered[:end], nil
	}
	return rendered[:loc+len(stripped)], nil
}

// isPySpace is Python's str.isspace for one character.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// jinjaNewlines does to a source what jinja2's lexer does before it reads
// it: every line break Python's str.splitlines knows (\r\n, \r, \v, \f,
// \x1c-\x1e, \x85, U+2028, U+2029) becomes \n, and one final line break
// is dropped (keep_trailing_newline is off).
func jinjaNewlines(src string) string {
	if strings.ContainsAny(src, "\r\v\f\x1c\x1d\x1e\u0085\u2028\u2029") {
		var b strings.Builder
		for i, r := range src {
			switch r {
			case '\r':
				if !strings.HasPrefix(src[i+1:], "\n") {
					b.WriteByte('\n')
				}
			case '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
				b.WriteByte('\n')
			default:
				b.WriteRune(r)
			}
		}
		src = b.String()
	}
	return strings.TrimSuffix(src, "\n")
}
