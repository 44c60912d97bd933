package chattemplate_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/chattemplate"
)

func render(t *testing.T, src string, in chattemplate.Input) string {
	t.Helper()
	tmpl, err := chattemplate.Parse("test", src)
	require.NoError(t, err)
	out, err := tmpl.Render(in)
	require.NoError(t, err)
	return out
}

func TestTojson(t *testing.T) {
	in := chattemplate.Input{Vars: map[string]any{
		"nums":     json.RawMessage(`[1.0, 1e16, 1e-5, 123456.789, 0.1, -0.0, 2.5e-7, 1e22, 12]`),
		"obj":      json.RawMessage(`{"b": [1, {}], "a": "é\u2028\u007f\u0001\"<&>"}`),
		"withnull": json.RawMessage(`{"b": [], "a": null}`),
	}}
	for _, c := range []struct{ name, src, want string }{
		{"python floats", `{{ nums | tojson }}`, `[1.0, 1e+16, 1e-05, 123456.789, 0.1, -0.0, 2.5e-07, 1e+22, 12]`},
		{"keys in order, no HTML escaping", `{{ obj | tojson }}`, `{"b": [1, {}], "a": "é` + "\u2028\u007f" + `\u0001\"<&>"}`},
		{"ensure_ascii and indent", `{{ obj | tojson(ensure_ascii=true, indent=2) }}`,
			"{\n  \"b\": [\n    1,\n    {}\n  ],\n  \"a\": \"\\u00e9\\u2028\\u007f\\u0001\\\"<&>\"\n}"},
		{"sort_keys and separators", `{{ withnull | tojson(sort_keys=true, separators=(',', ':')) }}`, `{"a":null,"b":[]}`},
		{"indent string", `{{ [1] | tojson(indent='\t') }}`, "[\n\t1\n]"},
		{"in a string literal it stays text", `{{ "| tojson" }}`, `| tojson`},
		{"raw block untouched", `{% raw %}{{ x | tojson }}{% endraw %}`, `{{ x | tojson }}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, render(t, c.src, in))
		})
	}
	_, err := render2(`{{ undefined_thing | tojson }}`, in)
	assert.ErrorContains(t, err, "not JSON serializable")
}

func render2(src string, in chattemplate.Input) (string, error) {
	tmpl, err := chattemplate.Parse("test", src)
	if err != nil {
		return "", err
	}
	return tmpl.Render(in)
}

func TestStrftimeNow(t *testing.T) {
	now := time.Date(2024, 7, 6, 9, 5, 3, 0, time.UTC)
	got := render(t, `{{ strftime_now('%d %b %Y|%-d|%e|%I%p|%j|%U|%W|%u|%w|%c|%x|%X|%G-%V|%y|%C|%Z|%z|%%|%q') }}`, chattemplate.Input{Now: now})
	// What Python's datetime(2024, 7, 6, 9, 5, 3).strftime(...) gives.
	assert.Equal(t, "06 Jul 2024|6| 6|09AM|188|26|27|6|6|Sat Jul  6 09:05:03 2024|07/06/24|09:05:03|2024-27|24|20|||%|%q", got)
}

func TestVariables(t *testing.T) {
	src := `{{ bos_token }}|{{ eos_token is defined }}|{{ tools is none }}|{{ documents is none }}|{{ add_generation_prompt }}|{{ enable_thinking }}|{{ extra.b }}`
	got := render(t, src, chattemplate.Input{BOSToken: "<s>", Vars: map[string]any{"enable_thinking": false, "extra": map[string]int{"b": 2, "a": 1}}})
	assert.Equal(t, "<s>|False|True|True|False|False|2", got)

	// Tool calls: arguments parsed into an object, type defaulted, keys in
	// the order of the OpenAI form.
	msgs := []llm.Message{
		{Role: "assistant", ToolCalls: []llm.ToolCall{{ID: "c1", Function: llm.FunctionCall{Name: "f", Arguments: `{"z": 1, "a": [true, null]}`}}}},
		{Role: "tool", ToolCallID: "c1", Name: "f", Content: "ok"},
	}
	tools := []llm.Tool{{Function: llm.Function{Name: "f", Parameters: json.RawMessage(`{"type": "object", "properties": {"z": {}, "a": {}}}`)}}}
	got = render(t, `{{ messages | tojson }}|{{ messages[0].tool_calls[0].function.arguments.z }}|{{ tools | tojson }}`, chattemplate.Input{Messages: msgs, Tools: tools})
	assert.Equal(t, `[{"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"z": 1, "a": [true, null]}}}]}, `+
		`{"role": "tool", "content": "ok", "name": "f", "tool_call_id": "c1"}]|1|`+
		`[{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"z": {}, "a": {}}}}}]`, got)

	_, err := render2(`x`, chattemplate.Input{Messages: []llm.Message{{Role: "assistant", ToolCalls: []llm.ToolCall{{Function: llm.FunctionCall{Name: "f", Arguments: `{"a":`}}}}}})
	assert.ErrorContains(t, err, "arguments")
}

func TestErrors(t *testing.T) {
	_, err := chattemplate.Parse("tokenizer.chat_template", "a\n{% for x in y %}{{ x }}{% endif %}")
	var te *chattemplate.Error
	require.ErrorAs(t, err, &te)
	assert.Equal(t, "tokenizer.chat_template", te.Template)
	assert.Equal(t, 2, te.Line)
	assert.Contains(t, err.Error(), "chat template tokenizer.chat_template:2:")
	assert.Contains(t, err.Error(), "endif")

	tmpl, err := chattemplate.Parse("gemma", "{% if messages[0].role != 'user' %}{{ raise_exception('Conversation roles must alternate') }}{% endif %}ok")
	require.NoError(t, err)
	_, err = tmpl.Render(chattemplate.Input{Messages: []llm.Message{{Role: "assistant", Content: "x"}}})
	require.ErrorAs(t, err, &te)
	assert.True(t, errors.Is(err, chattemplate.ErrRaised))
	assert.Equal(t, "Conversation roles must alternate", te.Raised)
	assert.Equal(t, "chat template gemma: Conversation roles must alternate", err.Error())

	_, err = tmpl.Render(chattemplate.Input{Messages: []llm.Message{{Role: "user", Content: "x"}}, AddGenerationPrompt: true, ContinueFinalMessage: true})
	assert.ErrorContains(t, err, "exclude each other")
}

func TestContinueFinalMessage(t *testing.T) {
	src := `{% for m in messages %}<{{ m.role }}>{{ m.content | trim }}</{{ m.role }}>{% endfor %}`
	for _, c := range []struct{ content, want string }{
		{"Sure", "<user>hi</user><assistant>Sure"},
		{"Sure, ", "<user>hi</user><assistant>Sure,"}, // the template trimmed the space
		{"  {\"a\": ", "<user>hi</user><assistant>{\"a\":"},
	} {
		got := render(t, src, chattemplate.Input{ContinueFinalMessage: true, Messages: []llm.Message{{Role: "user", Content: "hi"}, {Role: "assistant", Content: c.content}}})
		assert.Equal(t, c.want, got, c.content)
	}
	got := render(t, `{% for m in messages %}[{{ m.content }}]{% endfor %}`, chattemplate.Input{ContinueFinalMessage: true, Messages: []llm.Message{{Role: "assistant", Content: "a b "}}})
	assert.Equal(t, "[a b ", got, "trailing space kept where the template kept it")
}

func TestNewlines(t *testing.T) {
	// jinja2 reads \r\n as \n and drops one final newline.
	assert.Equal(t, "a\nb", render(t, "a\r\nb\r\n", chattemplate.Input{}))
	assert.Equal(t, "a\n", render(t, "a\n\n", chattemplate.Input{}))
}

func TestDetectReasoning(t *testing.T) {
	r1 := `{% for m in messages %}<｜User｜>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<｜Assistant｜><think>` + "\n" + `{% endif %}{# strips </think> from history #}`
	qwen3 := `{% for m in messages %}<|im_start|>{{ m.role }}` + "\n" + `{{ m.content }}<|im_end|>` + "\n" + `{% endfor %}<|im_start|>assistant` + "\n" +
		`{% if enable_thinking is defined and enable_thinking is false %}<think>` + "\n\n" + `</think>` + "\n\n" + `{% endif %}`
	plain := `{% for m in messages %}{{ m.content }}{% endfor %}`
	msgs := []llm.Message{{Role: "user", Content: "hi"}}
	for _, c := range []struct {
		name, src string
		vars      map[string]any
		want      chattemplate.Reasoning
	}{
		{"r1 opens the block", r1, nil, chattemplate.Reasoning{Start: "<think>", End: "</think>", Opened: true}},
		{"qwen3 lets the model open it", qwen3, nil, chattemplate.Reasoning{Start: "<think>", End: "</think>"}},
		{"qwen3 without thinking closes it", qwen3, map[string]any{"enable_thinking": false}, chattemplate.Reasoning{Start: "<think>", End: "</think>", Closed: true}},
		{"no reasoning", plain, nil, chattemplate.Reasoning{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tmpl, err := chattemplate.Parse(c.name, c.src)
			require.NoError(t, err)
			prompt, err := tmpl.Render(chattemplate.Input{Messages: msgs, AddGenerationPrompt: true, Vars: c.vars})
			require.NoError(t, err)
			assert.Equal(t, c.want, chattemplate.DetectReasoning(tmpl, prompt))
		})
	}
}

// TestDetectReasoningReal checks DetectReasoning on real templates where
// they are available (see TestReferenceReal).
func TestDetectReasoningReal(t *testing.T) {
	dir := os.Getenv("LOCALLM_CHAT_TEMPLATES")
	if dir == "" {
		dir = "../../../shared/chat-templates"
	}
	want := map[string]chattemplate.Reasoning{
		"deepseek-ai-DeepSeek-R1-Distill-Llama-8B": {Start: "<think>", End: "</think>", Opened: true},
		"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B": {Start: "<think>", End: "</think>", Opened: true},
		"Qwen-QwQ-32B":                         {Start: "<think>", End: "</think>", Opened: true},
		"Qwen-Qwen3-0.6B":                      {Start: "<think>", End: "</think>"},
		"Qwen-Qwen2.5-7B-Instruct":             {},
		"meta-llama-Llama-3.1-8B-Instruct":     {},
		"mistralai-Mistral-Nemo-Instruct-2407": {},
		"ByteDance-Seed-OSS":                   {Start: "<seed:think>", End: "</seed:think>"},
	}
	found := 0
	msgs := []llm.Message{{Role: "user", Content: "What is 2+2?"}}
	for name, w := range want {
		src, err := os.ReadFile(filepath.Join(dir, name+".jinja"))
		if err != nil {
			continue
		}
		found++
		tmpl, err := chattemplate.Parse(name, string(src))
		require.NoError(t, err)
		prompt, err := tmpl.Render(chattemplate.Input{Messages: msgs, AddGenerationPrompt: true, BOSToken: "<s>", EOSToken: "</s>"})
		require.NoError(t, err)
		assert.Equal(t, w, chattemplate.DetectReasoning(tmpl, prompt), name)
		if name == "Qwen-Qwen3-0.6B" {
			prompt, err = tmpl.Render(chattemplate.Input{Messages: msgs, AddGenerationPrompt: true, Vars: map[string]any{"enable_thinking": false}})
			require.NoError(t, err)
			assert.Equal(t, chattemplate.Reasoning{Start: "<think>", End: "</think>", Closed: true}, chattemplate.DetectReasoning(tmpl, prompt))
		}
	}
	if found == 0 {
		t.Skip("no real chat templates: set LOCALLM_CHAT_TEMPLATES")
	}
}
