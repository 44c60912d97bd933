package llamacpp

import (
	"fmt"
	"slices"
	"strings"

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
}

// chatFormat resolves a chat template option (see Options.ChatTemplate)
// and parses Jinja, so that a bad template fails here, named. An option
// of "" on a model without a template gives llm.ErrNoChatTemplate.
func (m *Model) chatFormat(template string) (*chatFormat, error) {
	name, src := "tokenizer.chat_template", m.info.ChatTemplate
	switch named := m.info.Metadata["tokenizer.chat_template."+template]; {
	case template == "":
	case named != "":
		name, src = "tokenizer.chat_template."+template, named
	case slices.Contains(ChatTemplates(), template):
		return &chatFormat{builtin: template}, nil
	default:
		name, src = "chat_template option", template
	}
	if src == "" {
		return nil, errNoChatTemplate(m.path)
	}
	t, err := chattemplate.Parse(name, src)
	if err != nil {
		return nil, fmt.Errorf("llamacpp: %s: %w", m.path, err)
	}
	f := &chatFormat{jinja: t}
	if f.bos, err = m.specialText(m.info.Special.BOS); err != nil {
		return nil, err
	}
	if f.eos, err = m.specialText(m.info.Special.EOS); err != nil {
		return nil, err
	}
	return f, nil
}

// specialText is a special token's text, "" for -1 (no such token).
func (m *Model) specialText(tok int32) (string, error) {
	if tok < 0 || int(tok) >= m.nVocab {
		return "", nil
	}
	return m.Piece(tok, true)
}

// apply formats an input's messages (and tools, for Jinja). addAssistant
// adds the generation prompt; continueFinal instead leaves the last
// message open, for the model to continue it (Jinja only: a built-in
// template has no such mode and ends that message).
func (f *chatFormat) apply(m *Model, in llm.Input, addAssistant, continueFinal bool) (string, error) {
	if len(in.Messages) == 0 {
		return "", fmt.Errorf("%w: no messages", llm.ErrEmptyInput)
	}
	if f.builtin != "" {
		if len(in.Tools) > 0 {
			return "", fmt.Errorf("%w: llama.cpp's built-in template %q cannot offer tools; use a Jinja template", llm.ErrBadInput, f.builtin)
		}
		return m.applyBuiltinTemplate(f.builtin, in.Messages, addAssistant)
	}
	return f.jinja.Render(chattemplate.Input{
		Messages:             in.Messages,
		Tools:                in.Tools,
		AddGenerationPrompt:  addAssistant,
		ContinueFinalMessage: continueFinal,
		BOSToken:             f.bos,
		EOSToken:             f.eos,
	})
}

// format turns a chat input into prompt text and says whether tokenising
// it should add the vocabulary's special tokens. An input whose last
// message is the assistant's is a prefill: the prompt ends inside that
// message and the model continues it (transformers' text-generation
// pipeline does the same); otherwise the prompt ends with the assistant's
// header. A prompt that already starts with the BOS text is tokenised
// without adding another BOS, as transformers users get one.
func (f *chatFormat) format(m *Model, in llm.Input) (text string, addSpecial bool, err error) {
	prefill := in.Messages[len(in.Messages)-1].Role == llm.RoleAssistant && f.jinja != nil
	text, err = f.apply(m, in, !prefill, prefill)
	if err != nil {
		return "", false, err
	}
	addSpecial = !(f.bos != "" && m.info.Special.AddBOS && strings.HasPrefix(text, f.bos))
	return text, addSpecial, nil
}

// Reasoning says whether the model writes a reasoning block before its
// answer to a chat input, with which markers, and whether the input's
// prompt already opened it (see chattemplate.DetectReasoning). It is the
// zero Reasoning for raw prompts and llama.cpp's built-in templates.
func (l *LLM) Reasoning(in llm.Input) (chattemplate.Reasoning, error) {
	f := l.chat.Load()
	m := l.Model()
	if !in.IsChat() || f == nil || m == nil || f.jinja == nil {
		return chattemplate.Reasoning{}, nil
	}
	text, _, err := f.format(m, in)
	if err != nil {
		return chattemplate.Reasoning{}, err
	}
	return chattemplate.DetectReasoning(f.jinja, text), nil
}

func errNoChatTemplate(path string) error {
	return fmt.Errorf("%w: %s has no tokenizer.chat_template; set a template (for example \"chatml\") or use a raw prompt", llm.ErrNoChatTemplate, path)
}
