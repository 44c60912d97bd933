package chattemplate_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/chattemplate"
)

func Example() {
	// A template in the style of Llama 3.1's: a dated system block, tools
	// as indented JSON.
	const src = `{{- bos_token }}<|start_header_id|>system<|end_header_id|>

Today Date: {{ strftime_now("%d %b %Y") }}
{%- if tools is not none %}
{%- for t in tools %}

{{ t | tojson(indent=2) }}
{%- endfor %}
{%- endif %}<|eot_id|>
{%- for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>

{{ m.content | trim }}<|eot_id|>
{%- endfor %}
{%- if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>

{% endif %}`
	tmpl, err := chattemplate.Parse("llama-style", src)
	if err != nil {
		panic(err)
	}
	out, err := tmpl.Render(chattemplate.Input{
		Messages:            []llm.Message{{Role: "user", Content: "Weather in Paris?"}},
		Tools:               []llm.Tool{{Function: llm.Function{Name: "get_weather"}}},
		AddGenerationPrompt: true,
		BOSToken:            "<|begin_of_text|>",
		Now:                 time.Date(2024, 7, 26, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(out)
	// Output:
	// <|begin_of_text|><|start_header_id|>system<|end_header_id|>
	//
	// Today Date: 26 Jul 2024
	// {
	//   "type": "function",
	//   "function": {
	//     "name": "get_weather"
	//   }
	// }<|eot_id|><|start_header_id|>user<|end_header_id|>
	//
	// Weather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>
}

func ExampleTemplate_Render_error() {
	tmpl, _ := chattemplate.Parse("strict", `{% if messages[0].role != 'user' %}{{ raise_exception('the first message must be the user\'s') }}{% endif %}`)
	_, err := tmpl.Render(chattemplate.Input{Messages: []llm.Message{{Role: "assistant", Content: "Hi"}}})
	fmt.Println(err)
	fmt.Println(errors.Is(err, chattemplate.ErrRaised))
	// Output:
	// chat template strict: the first message must be the user's
	// true
}

func ExampleDetectReasoning() {
	tmpl, _ := chattemplate.Parse("r1-style", `{% for m in messages %}<｜User｜>{{ m.content.split('</think>')[-1] }}{% endfor %}<｜Assistant｜><think>
`)
	prompt, _ := tmpl.Render(chattemplate.Input{Messages: []llm.Message{{Role: "user", Content: "2+2?"}}, AddGenerationPrompt: true})
	r := chattemplate.DetectReasoning(tmpl, prompt)
	fmt.Printf("%q %q opened=%v\n", r.Start, r.End, r.Opened)
	// Output:
	// "<think>" "</think>" opened=true
}
