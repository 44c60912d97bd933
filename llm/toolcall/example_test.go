package toolcall_test

import (
	"encoding/json"
	"fmt"

	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/toolcall"
)

var exampleTools = []llm.Tool{{Type: "function", Function: llm.Function{
	Name:       "get_weather",
	Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`),
}}}

func ExampleParse() {
	content, calls := toolcall.Parse("Let me look.<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>", exampleTools)
	fmt.Printf("%q\n", content)
	for _, c := range calls {
		fmt.Println(c.Function.Name, c.Function.Arguments)
	}
	// Output:
	// "Let me look."
	// get_weather {"city":"Oslo"}
}

func ExampleSchema() {
	schema, err := toolcall.Schema(exampleTools, toolcall.Choice{Mode: toolcall.Function, Name: "get_weather"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(schema))
	// Output:
	// {"type":"object","properties":{"name":{"const":"get_weather"},"arguments":{"$ref":"#/$defs/args0"}},"required":["name","arguments"],"additionalProperties":false,"$defs":{"args0":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}
}

func ExampleCallStream() {
	var s toolcall.CallStream
	for _, piece := range []string{`{"name":"get_`, `weather","argu`, `ments":{"ci`, `ty": "Os`, `lo"}}`} {
		name, args := s.Write(piece)
		if name != "" {
			fmt.Println("call", name)
		}
		if args != "" {
			fmt.Printf("arguments %q\n", args)
		}
	}
	// Output:
	// call get_weather
	// arguments "{\"ci"
	// arguments "ty\":\"Os"
	// arguments "lo\"}"
}

func ExampleStream() {
	var s toolcall.Stream
	for _, piece := range []string{"Sure", ". <tool", "_call>{\"name\":\"get_weather\",", "\"arguments\":{\"city\":\"Oslo\"}}</tool_call>"} {
		if c := s.Write(piece); c != "" {
			fmt.Printf("content %q\n", c)
		}
	}
	content, calls := s.Close(exampleTools)
	fmt.Printf("rest %q, %d call: %s\n", content, len(calls), calls[0].Function.Arguments)
	// Output:
	// content "Sure"
	// content ". "
	// rest "", 1 call: {"city":"Oslo"}
}
