package llm_test

import (
	"fmt"

	"github.com/locallm/locallm/llm"
)

func ExampleRuntimeParameters() {
	ps, err := llm.RuntimeParameters(llm.GenerationParams{})
	if err != nil {
		panic(err)
	}
	for _, p := range ps[:3] {
		fmt.Printf("%s (%s, optional=%v, default=%v)\n", p.Name, p.Type, p.Optional, p.Default)
	}
	// Output:
	// frequency_penalty (number, optional=true, default=0)
	// ignore_eos (boolean, optional=true, default=false)
	// logit_bias (object of number, optional=true, default=<nil>)
}

func ExampleGenerationParams_Validate() {
	p := llm.GenerationParams{Temperature: 0.7, TopP: 1.5}
	fmt.Println(p.Validate())
	// Output:
	// llm: bad generation parameter: top_p = 1.5, want in (0, 1], or 0 for the default
}

func ExampleChat() {
	in := llm.Chat(
		llm.Message{Role: llm.RoleSystem, Content: "You label reviews."},
		llm.Message{Role: llm.RoleUser, Content: "Great phone, poor battery."},
	)
	in.Structured = &llm.StructuredOutput{Schema: `{"type":"object","properties":{"label":{"enum":["pos","neg","mixed"]}},"required":["label"]}`}
	fmt.Println(in.IsChat(), in.Validate())
	// Output:
	// true <nil>
}

func ExampleParseConfig() {
	c, err := llm.ParseConfig([]byte("type: llamacpp\nconfig:\n  model_path: model.gguf\n  context:\n    context_size: 2048\n"))
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Type, string(c.Config))
	// Output:
	// llamacpp {"context":{"context_size":2048},"model_path":"model.gguf"}
}
