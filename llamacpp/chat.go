package llamacpp

import (
	"fmt"
	"strings"

	"github.com/locallm/locallm/llamacpp/engine"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llm"
)

// chatFormat turns an input into prompt text: chat messages through a
// template, or a raw prompt as it is.
type chatFormat struct {
	template string // a llama.cpp template name or text; "" when the model has none
	// reasoning is set when the template writes a reasoning block.
	reasoning *engine.Reasoning
}

// Reasoning markers that chat templates of reasoning models write.
const (
	thinkOpen  = "<think>"
	thinkClose = "</think>"
)

func newChatFormat(m *llama.Model, template string) (*chatFormat, error) {
	f := &chatFormat{template: template}
	if f.template == "" {
		f.template = m.Info().ChatTemplate
	}
	if strings.Contains(f.template, thinkClose) {
		f.reasoning = &engine.Reasoning{Open: thinkOpen, Close: thinkClose}
	}
	return f, nil
}

// formatted is an input ready for the engine.
type formatted struct {
	tokens    []int32
	reasoning *engine.Reasoning // nil unless the model reasons in a block
}

// prompt formats and tokenises one input.
func (l *LLM) prompt(m *llama.Model, in llm.Input) (formatted, error) {
	if err := in.Validate(); err != nil {
		return formatted{}, err
	}
	text := in.Prompt
	var rs *engine.Reasoning
	if in.IsChat() {
		if l.chat.template == "" {
			return formatted{}, fmt.Errorf("%w: %s has no tokenizer.chat_template; set a template (for example \"chatml\") or use a raw prompt", llm.ErrNoChatTemplate, m.Path())
		}
		var err error
		text, err = m.ApplyChatTemplate(l.chat.template, in.Messages, true)
		if err != nil {
			return formatted{}, err
		}
		if l.chat.reasoning != nil {
			r := *l.chat.reasoning
			// The template may open the block itself at the end of the
			// generation prompt (DeepSeek-R1 writes "<think>\n").
			r.Opened = strings.HasSuffix(strings.TrimRight(text, " \n\t\r"), r.Open)
			rs = &r
		}
	}
	toks, err := m.Tokenize(text, true, true)
	if err != nil {
		return formatted{}, err
	}
	if len(toks) == 0 {
		return formatted{}, fmt.Errorf("%w: the prompt has no tokens", llm.ErrEmptyInput)
	}
	return formatted{tokens: toks, reasoning: rs}, nil
}
