package llamacpp_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/tinyllama"
	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/chattemplate"
)

// chatPrompt generates one token for a chat input and returns its prompt
// token count.
func chatPrompt(t *testing.T, l *llamacpp.LLM, in llm.Input) int {
	t.Helper()
	out, err := l.Generate(context.Background(), []llm.Input{in}, 1, llm.GenerationParams{MaxNewTokens: 1})
	require.NoError(t, err)
	require.NoError(t, out[0].Err)
	return out[0].Statistics.InputTokens
}

func TestChatTemplateOptions(t *testing.T) {
	// A model with a named template besides its default (ChatML).
	w, err := tinyllama.Build(tinyllama.Config{})
	require.NoError(t, err)
	require.NoError(t, w.AddString("tokenizer.chat_template.tool_use",
		"{% for t in tools %}[{{ t.function.name }}]{% endfor %}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"))
	path := filepath.Join(t.TempDir(), "named.gguf")
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = w.WriteTo(f)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	msgs := []llm.Message{{Role: "user", Content: "Hi"}}
	tools := []llm.Tool{{Type: "function", Function: llm.Function{Name: "search"}}}
	open := func(tmpl string) (*llamacpp.LLM, error) {
		return llamacpp.Open(context.Background(), llamacpp.Options{ModelPath: path, ChatTemplate: tmpl, Context: llamacpp.ContextOptions{Threads: 1}})
	}
	for _, c := range []struct {
		name, option string
		in           llm.Input
		want         string
	}{
		{"model's own, as Jinja", "", llm.Input{Messages: msgs}, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
		{"named GGUF template, with tools", "tool_use", llm.Input{Messages: msgs, Tools: tools}, "[search]<user>Hi<assistant>"},
		{"llama.cpp built-in", "llama3", llm.Input{Messages: msgs}, "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
		{"Jinja text", "{{ messages[0].content | upper }}{{ bos_token }}{{ eos_token }}", llm.Input{Messages: msgs}, "HI<s></s>"},
		{"assistant prefill continues the message", "", llm.Input{Messages: append(msgs, llm.Message{Role: "assistant", Content: "Sure"})},
			"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nSure"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, err := open(c.option)
			require.NoError(t, err)
			defer l.Close()
			toks, err := l.Model().Tokenize(c.want, true, true)
			require.NoError(t, err)
			assert.Equal(t, len(toks), chatPrompt(t, l, c.in), "prompt tokens of %q", c.want)
			if c.in.Messages[len(c.in.Messages)-1].Role == "user" && len(c.in.Tools) == 0 {
				text, err := l.FormatChat(c.in)
				require.NoError(t, err)
				assert.Equal(t, c.want, text)
			}
		})
	}

	// Tools cannot be offered through a built-in template.
	l, err := open("chatml")
	require.NoError(t, err)
	out, err := l.Generate(context.Background(), []llm.Input{{Messages: msgs, Tools: tools}}, 1, llm.GenerationParams{MaxNewTokens: 1})
	require.NoError(t, err)
	assert.ErrorIs(t, out[0].Err, llm.ErrBadInput)
	l.Close()

	// A template that does not parse fails Load, named, with its line.
	_, err = open("line one\n{% for m in messages %}{{ m.content }}{% endif %}")
	var te *chattemplate.Error
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "chat_template option", te.Template)
	assert.Contains(t, err.Error(), "chat template chat_template option:2:")

	// A template that refuses the conversation fails that input only.
	l, err = open("{{ raise_exception('roles must alternate') }}")
	require.NoError(t, err)
	defer l.Close()
	out, err = l.Generate(context.Background(), []llm.Input{llm.Chat(msgs...)}, 1, llm.GenerationParams{MaxNewTokens: 1})
	require.NoError(t, err)
	assert.ErrorIs(t, out[0].Err, chattemplate.ErrRaised)
	assert.ErrorContains(t, out[0].Err, "roles must alternate")
}

// TestChatBOSNotDoubled: phi-3's template writes bos_token itself and its
// vocabulary adds BOS when tokenising; the prompt gets one BOS, as with
// transformers.
func TestChatBOSNotDoubled(t *testing.T) {
	l := openLLM(t, tinyModel(t, "phi-3"), llamacpp.ContextOptions{})
	m := l.Model()
	require.True(t, m.Info().Special.AddBOS)
	msgs := []llm.Message{{Role: "user", Content: "Hello"}}
	text, err := l.FormatChat(llm.Chat(msgs...))
	require.NoError(t, err)
	assert.Equal(t, "<s><|user|>\nHello<|end|>\n<|assistant|>\n", text)
	toks, err := m.Tokenize(text, false, true)
	require.NoError(t, err)
	bos := m.Info().Special.BOS
	require.Equal(t, bos, toks[0])
	require.NotEqual(t, bos, toks[1])
	assert.Equal(t, len(toks), chatPrompt(t, l, llm.Chat(msgs...)), "one BOS")
}

func TestLLMReasoning(t *testing.T) {
	l, err := llamacpp.Open(context.Background(), llamacpp.Options{ModelPath: tinyModel(t, ""),
		ChatTemplate: "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content.split('</think>')[-1] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}",
		Context:      llamacpp.ContextOptions{Threads: 1}})
	require.NoError(t, err)
	defer l.Close()
	r, err := l.Reasoning(llm.Chat(llm.Message{Role: "user", Content: "2+2?"}))
	require.NoError(t, err)
	assert.Equal(t, chattemplate.Reasoning{Start: "<think>", End: "</think>", Opened: true}, r)
	r, err = l.Reasoning(llm.Prompt("raw"))
	require.NoError(t, err)
	assert.Equal(t, chattemplate.Reasoning{}, r)
}
