package llamacpp

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/locallm/locallm/llamacpp/engine"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/chattemplate"
)

// chatFormat is how chat inputs become prompt text: a Jinja template
// rendered as transformers renders it (package chattemplate), or one of
// llama.cpp's built-in templates.
type chatFormat struct {
	jinja   *chattemplate.Template // nil for a built-in
	builtin string                 // a llama.cpp built-in template's name
	// bos and eos are the vocabulary's texts of its BOS and EOS tokens, the
	// template's bos_token and eos_token ("" where it has none).
	bos, eos string
	addBOS   bool // tokenising adds BOS
}

// newChatFormat resolves a chat template option (see Options.ChatTemplate)
// and parses Jinja, so that a bad template fails at Load, named. It returns
// nil, and no error, for a model without a template when no option is
// given: its chat inputs then fail with llm.ErrNoChatTemplate.
func newChatFormat(m *llama.Model, template string) (*chatFormat, error) {
	info := m.Info()
	name, src := "tokenizer.chat_template", info.ChatTemplate
	switch named := info.Metadata["tokenizer.chat_template."+template]; {
	case template == "":
		if src == "" {
			return nil, nil
		}
	case named != "":
		name, src = "tokenizer.chat_template."+template, named
	case slices.Contains(llama.ChatTemplates(), template):
		return &chatFormat{builtin: template}, nil
	default:
		name, src = "chat_template option", template
	}
	t, err := chattemplate.Parse(name, src)
	if err != nil {
		return nil, fmt.Errorf("llamacpp: %s: %w", m.Path(), err)
	}
	f := &chatFormat{jinja: t, addBOS: info.Special.AddBOS}
	f.bos = specialText(m, info.Special.BOS)
	f.eos = specialText(m, info.Special.EOS)
	return f, nil
}

// specialText is a special token's text, "" for -1 (no such token).
func specialText(m *llama.Model, tok int32) string {
	if tok < 0 || int(tok) >= m.VocabSize() {
		return ""
	}
	s, _ := m.Piece(tok, true)
	return s
}

// format turns a chat input into prompt text and says whether tokenising
// it should add the vocabulary's special tokens. An input whose last
// message is the assistant's is a prefill: the prompt ends inside that
// message and the model continues it (transformers' text-generation
// pipeline does the same); otherwise the prompt ends with the assistant's
// header. A prompt that already starts with the BOS text is tokenised
// without adding another BOS, as transformers users get one.
func (f *chatFormat) format(m *llama.Model, in llm.Input) (text string, addSpecial bool, err error) {
	if len(in.Messages) == 0 {
		return "", false, fmt.Errorf("%w: no messages", llm.ErrEmptyInput)
	}
	if f.builtin != "" {
		if len(in.Tools) > 0 {
			return "", false, fmt.Errorf("%w: llama.cpp's built-in template %q cannot offer tools; use a Jinja template", llm.ErrBadInput, f.builtin)
		}
		text, err = m.ApplyChatTemplate(f.builtin, in.Messages, true)
		return text, true, err
	}
	prefill := in.Messages[len(in.Messages)-1].Role == llm.RoleAssistant
	text, err = f.jinja.Render(chattemplate.Input{
		Messages:             in.Messages,
		Tools:                in.Tools,
		AddGenerationPrompt:  !prefill,
		ContinueFinalMessage: prefill,
		BOSToken:             f.bos,
		EOSToken:             f.eos,
	})
	if err != nil {
		return "", false, err
	}
	addSpecial = !(f.bos != "" && f.addBOS && strings.HasPrefix(text, f.bos))
	return text, addSpecial, nil
}

// reasoning says whether the model writes a reasoning block before its
// answer to this prompt: nil for built-in templates, templates without a
// block, and prompts that closed the block themselves (Qwen3 with
// thinking off).
func (f *chatFormat) reasoning(prompt string) *engine.Reasoning {
	if f.jinja == nil {
		return nil
	}
	r := chattemplate.DetectReasoning(f.jinja, prompt)
	if r.Start == "" || r.Closed {
		return nil
	}
	return &engine.Reasoning{Open: r.Start, Close: r.End, Opened: r.Opened}
}

// formatted is an input ready for the engine.
type formatted struct {
	tokens    []int32
	reasoning *engine.Reasoning // nil unless the model reasons in a block
}

// prompt formats and tokenises one input.
func (l *LLM) prompt(m *llama.Model, in llm.Input) (formatted, error) {
	text, addSpecial, rs, err := l.formatText(m, in)
	if err != nil {
		return formatted{}, err
	}
	toks, err := m.Tokenize(text, addSpecial, true)
	if err != nil {
		return formatted{}, err
	}
	if len(toks) == 0 {
		return formatted{}, fmt.Errorf("%w: the prompt has no tokens", llm.ErrEmptyInput)
	}
	return formatted{tokens: toks, reasoning: rs}, nil
}

func (l *LLM) formatText(m *llama.Model, in llm.Input) (text string, addSpecial bool, rs *engine.Reasoning, err error) {
	if err := in.Validate(); err != nil {
		return "", false, nil, err
	}
	if !in.IsChat() {
		return in.Prompt, true, nil, nil
	}
	if l.chat == nil {
		return "", false, nil, errNoChatTemplate(m.Path())
	}
	text, addSpecial, err = l.chat.format(m, in)
	if err != nil {
		return "", false, nil, err
	}
	return text, addSpecial, l.chat.reasoning(text), nil
}

// FormatChat returns the prompt text an input is generated from: chat
// messages (and tools) rendered with the chat template, or a raw prompt as
// it is. Tokenising it adds the vocabulary's BOS unless the text already
// starts with it.
func (l *LLM) FormatChat(in llm.Input) (string, error) {
	l.mu.RLock()
	m := l.model
	err := l.usableLocked()
	l.mu.RUnlock()
	if err != nil {
		return "", err
	}
	text, _, _, err := l.formatText(m, in)
	return text, err
}

// Reasoning says whether the model writes a reasoning block before its
// answer to a chat input, with which markers, and whether the input's
// prompt already opened it (see chattemplate.DetectReasoning). It is the
// zero Reasoning for raw prompts and llama.cpp's built-in templates.
func (l *LLM) Reasoning(in llm.Input) (chattemplate.Reasoning, error) {
	text, err := l.FormatChat(in)
	if err != nil {
		if errors.Is(err, llm.ErrNoChatTemplate) {
			return chattemplate.Reasoning{}, nil
		}
		return chattemplate.Reasoning{}, err
	}
	if !in.IsChat() || l.chat == nil || l.chat.jinja == nil {
		return chattemplate.Reasoning{}, nil
	}
	return chattemplate.DetectReasoning(l.chat.jinja, text), nil
}

func errNoChatTemplate(path string) error {
	return fmt.Errorf("%w: %s has no tokenizer.chat_template; set a template (for example \"chatml\") or use a raw prompt", llm.ErrNoChatTemplate, path)
}
