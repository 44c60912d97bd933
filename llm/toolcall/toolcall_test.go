package toolcall_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/grammar/jsonschema"
	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/toolcall"
)

var weather = llm.Tool{Type: "function", Function: llm.Function{
	Name:       "get_weather",
	Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["c","f"]}},"required":["city"]}`),
}}

// user is the parameters schema Pydantic writes for a model with a nested
// model: local references into $defs.
var user = llm.Tool{Type: "function", Function: llm.Function{
	Name:        "User",
	Description: "Correctly extracted `User` with all the required parameters with correct types",
	Parameters: json.RawMessage(`{"$defs":{"Address":{"properties":{"city":{"title":"City","type":"string"}},"required":["city"],"title":"Address","type":"object"}},
		"properties":{"name":{"title":"Name","type":"string"},"age":{"title":"Age","type":"integer"},"address":{"$ref":"#/$defs/Address"}},
		"required":["name","age","address"],"title":"User","type":"object"}`),
}}

var noArgs = llm.Tool{Function: llm.Function{Name: "now"}}

func TestChoiceJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want toolcall.Choice
		bad  bool
	}{
		{in: `"auto"`, want: toolcall.Choice{Mode: toolcall.Auto}},
		{in: `"none"`, want: toolcall.Choice{Mode: toolcall.None}},
		{in: `"required"`, want: toolcall.Choice{Mode: toolcall.Required}},
		{in: `null`, want: toolcall.Choice{}},
		{in: `{"type":"function","function":{"name":"f"}}`, want: toolcall.Choice{Mode: toolcall.Function, Name: "f"}},
		{in: `"any"`, bad: true},
		{in: `{"type":"function"}`, bad: true},
		{in: `{"type":"tool","function":{"name":"f"}}`, bad: true},
		{in: `3`, bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var c toolcall.Choice
			err := json.Unmarshal([]byte(tc.in), &c)
			if tc.bad {
				assert.ErrorIs(t, err, toolcall.ErrChoice)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, c)
			b, err := json.Marshal(c)
			require.NoError(t, err)
			var back toolcall.Choice
			require.NoError(t, json.Unmarshal(b, &back))
			assert.Equal(t, c, back)
		})
	}
}

func TestChoiceCheck(t *testing.T) {
	tools := []llm.Tool{weather}
	assert.NoError(t, toolcall.Choice{}.Check(nil))
	assert.ErrorIs(t, toolcall.Choice{Mode: toolcall.Required}.Check(nil), toolcall.ErrChoice)
	assert.NoError(t, toolcall.Choice{Mode: toolcall.Function, Name: "get_weather"}.Check(tools))
	assert.ErrorIs(t, toolcall.Choice{Mode: toolcall.Function, Name: "nope"}.Check(tools), toolcall.ErrChoice)
}

// accepts compiles a call schema and checks that its grammar and its
// validator agree on a document.
func accepts(t *testing.T, schema []byte, doc string) bool {
	t.Helper()
	g, err := jsonschema.Compile(schema, nil)
	require.NoError(t, err, string(schema))
	v, err := jsonschema.NewValidator(schema)
	require.NoError(t, err)
	valid := v.Validate([]byte(doc)) == nil
	assert.Equal(t, valid, g.Accepts(doc), "grammar and validator disagree on %s", doc)
	return valid
}

func TestSchemaFunction(t *testing.T) {
	tools := []llm.Tool{weather, user, noArgs}
	s, err := toolcall.Schema(tools, toolcall.Choice{Mode: toolcall.Function, Name: "User"})
	require.NoError(t, err)
	assert.Contains(t, string(s), `"$ref":"#/$defs/args1/$defs/Address"`, "the nested reference moved with its parameters")
	assert.True(t, accepts(t, s, `{"name":"User","arguments":{"name":"Ann","age":3,"address":{"city":"Oslo"}}}`))
	assert.False(t, accepts(t, s, `{"name":"User","arguments":{"name":"Ann","age":"3","address":{"city":"Oslo"}}}`))
	assert.False(t, accepts(t, s, `{"name":"get_weather","arguments":{"city":"Oslo"}}`))
	g, err := jsonschema.Compile(s, nil)
	require.NoError(t, err)
	assert.False(t, g.Accepts(`{"arguments":{"name":"Ann","age":3,"address":{"city":"Oslo"}},"name":"User"}`), "the grammar writes the name first")

	s, err = toolcall.Schema(tools, toolcall.Choice{Mode: toolcall.Function, Name: "now"})
	require.NoError(t, err)
	assert.True(t, accepts(t, s, `{"name":"now","arguments":{}}`))
	assert.False(t, accepts(t, s, `{"name":"now","arguments":{"x":1}}`))
}

func TestSchemaRequired(t *testing.T) {
	tools := []llm.Tool{weather, user}
	s, err := toolcall.Schema(tools, toolcall.Choice{Mode: toolcall.Required})
	require.NoError(t, err)
	assert.True(t, accepts(t, s, `{"name":"get_weather","arguments":{"city":"Oslo","unit":"c"}}`))
	assert.True(t, accepts(t, s, `{"name":"User","arguments":{"name":"Ann","age":3,"address":{"city":"Oslo"}}}`))
	assert.False(t, accepts(t, s, `{"name":"get_weather","arguments":{"unit":"c"}}`))
	assert.False(t, accepts(t, s, `{"name":"other","arguments":{}}`))

	so, err := toolcall.Structured(tools, toolcall.Choice{Mode: toolcall.Required}, 64)
	require.NoError(t, err)
	require.NoError(t, so.Validate())
	assert.Equal(t, 64, so.ClosingTokens)
}

func TestSchemaRootReference(t *testing.T) {
	tree := llm.Tool{Function: llm.Function{Name: "tree", Parameters: json.RawMessage(
		`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#"},"maxItems":2}},"additionalProperties":false}`)}}
	s, err := toolcall.Schema([]llm.Tool{tree}, toolcall.Choice{Mode: toolcall.Required})
	require.NoError(t, err)
	assert.NotContains(t, string(s), "$schema")
	assert.True(t, accepts(t, s, `{"name":"tree","arguments":{"kids":[{"kids":[]},{}]}}`))
	assert.False(t, accepts(t, s, `{"name":"tree","arguments":{"kids":[{"x":1}]}}`))
}

func TestSchemaErrors(t *testing.T) {
	_, err := toolcall.Schema([]llm.Tool{weather}, toolcall.Choice{Mode: toolcall.Auto})
	assert.ErrorIs(t, err, toolcall.ErrChoice)
	_, err = toolcall.Schema(nil, toolcall.Choice{Mode: toolcall.Required})
	assert.ErrorIs(t, err, toolcall.ErrChoice)
	bad := llm.Tool{Function: llm.Function{Name: "bad", Parameters: json.RawMessage(`[1]`)}}
	_, err = toolcall.Schema([]llm.Tool{bad}, toolcall.Choice{Mode: toolcall.Required})
	assert.Error(t, err)
}

func TestParse(t *testing.T) {
	tools := []llm.Tool{weather, user, noArgs}
	type call struct{ name, args string }
	for _, tc := range []struct {
		name    string
		text    string
		content string
		calls   []call
	}{
		{name: "forced", text: `{"name":"get_weather","arguments":{"city":"Oslo"}}`, calls: []call{{"get_weather", `{"city":"Oslo"}`}}},
		{name: "plain text", text: "It is sunny.", content: "It is sunny."},
		{name: "hermes", text: "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>",
			content: "Let me check.", calls: []call{{"get_weather", `{"city":"Oslo"}`}}},
		{name: "hermes twice", text: "<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"city\":\"A\"}}</tool_call>\n<tool_call>{\"name\":\"now\",\"arguments\":{}}</tool_call>",
			calls: []call{{"get_weather", `{"city":"A"}`}, {"now", `{}`}}},
		{name: "hermes unclosed", text: "<tool_call>{\"name\":\"now\"}", calls: []call{{"now", `{}`}}},
		{name: "hermes unknown function", text: "<tool_call>{\"name\":\"rm\",\"arguments\":{}}</tool_call>",
			content: "<tool_call>{\"name\":\"rm\",\"arguments\":{}}</tool_call>"},
		{name: "llama parameters", text: `{"type": "function", "name": "get_weather", "parameters": {"city": "Oslo"}}`, calls: []call{{"get_weather", `{"city":"Oslo"}`}}},
		{name: "python tag", text: `<|python_tag|>{"name": "now", "parameters": {}}`, calls: []call{{"now", `{}`}}},
		{name: "mistral array", text: `[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Oslo"}}, {"name": "now", "arguments": {}}]`,
			calls: []call{{"get_weather", `{"city":"Oslo"}`}, {"now", `{}`}}},
		{name: "mistral args", text: `[TOOL_CALLS]get_weather[ARGS]{"city": "Oslo"}`, calls: []call{{"get_weather", `{"city":"Oslo"}`}}},
		{name: "function tag", text: `Sure. <function=get_weather>{"city": "Oslo"}</function>`, content: "Sure.", calls: []call{{"get_weather", `{"city":"Oslo"}`}}},
		{name: "fenced array", text: "```json\n[{\"name\": \"now\", \"arguments\": \"{}\"}]\n```", calls: []call{{"now", `{}`}}},
		{name: "string arguments", text: `{"name":"get_weather","arguments":"{\"city\": \"Oslo\"}"}`, calls: []call{{"get_weather", `{"city":"Oslo"}`}}},
		{name: "openai shape", text: `{"type":"function","function":{"name":"now","arguments":"{}"}}`, calls: []call{{"now", `{}`}}},
		{name: "json answer", text: `{"city": "Oslo"}`, content: `{"city": "Oslo"}`},
		{name: "arguments not an object", text: `{"name":"now","arguments":[1]}`, content: `{"name":"now","arguments":[1]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			content, calls := toolcall.Parse(tc.text, tools)
			assert.Equal(t, tc.content, content)
			require.Len(t, calls, len(tc.calls))
			for i, c := range calls {
				assert.Equal(t, tc.calls[i].name, c.Function.Name)
				assert.Equal(t, tc.calls[i].args, c.Function.Arguments)
				assert.Equal(t, "function", c.Type)
				assert.True(t, strings.HasPrefix(c.ID, "call_") && len(c.ID) == 29, c.ID)
				assert.NoError(t, c.Validate())
			}
		})
	}
}

func TestNewIDUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := toolcall.NewID()
		assert.False(t, seen[id])
		seen[id] = true
	}
}

// streamed feeds text to a Stream in pieces of n bytes.
func streamed(text string, n int, tools []llm.Tool) (string, []llm.ToolCall) {
	var s toolcall.Stream
	var out strings.Builder
	for i := 0; i < len(text); i += n {
		out.WriteString(s.Write(text[i:min(i+n, len(text))]))
	}
	rest, calls := s.Close(tools)
	out.WriteString(rest)
	return out.String(), calls
}

func TestStream(t *testing.T) {
	tools := []llm.Tool{weather, noArgs}
	for _, text := range []string{
		"It is sunny today.",
		"Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>",
		`{"name":"now","arguments":{}}`,
		"a < b and <tool_ is not a tag",
		"[TOOL_CALLS]now[ARGS]{}",
		"  {\"not\": \"a call\"}",
	} {
		wantContent, wantCalls := toolcall.Parse(text, tools)
		for _, n := range []int{1, 2, 3, 7, 1000} {
			content, calls := streamed(text, n, tools)
			if len(wantCalls) == 0 {
				assert.Equal(t, text, content, "piece size %d", n)
			} else {
				assert.Equal(t, wantContent, strings.TrimSpace(content), "piece size %d", n)
			}
			require.Len(t, calls, len(wantCalls))
			for i := range calls {
				assert.Equal(t, wantCalls[i].Function, calls[i].Function)
			}
		}
	}
}

// TestStreamReleasesText checks that plain text is not held back.
func TestStreamReleasesText(t *testing.T) {
	var s toolcall.Stream
	assert.Equal(t, "Hello", s.Write("Hello"))
	assert.Equal(t, " wor", s.Write(" wor"))
	assert.Equal(t, "ld ", s.Write("ld <"), "a possible marker start is held")
	assert.Equal(t, "<b>", s.Write("b>"))
	assert.Equal(t, "", s.Write("<tool_call>{\"name\":\"now\"}</tool_call>"))
	content, calls := s.Close(nil)
	assert.Equal(t, "", content)
	require.Len(t, calls, 1)
	assert.Equal(t, "now", calls[0].Function.Name)
}

// TestCallStream checks the streamed name and arguments of forced calls,
// fed whole, byte by byte and in uneven pieces, against Parse of the
// whole text.
func TestCallStream(t *testing.T) {
	tools := []llm.Tool{weather, user, noArgs}
	for _, text := range []string{
		`{"name":"get_weather","arguments":{"city":"Oslo"}}`,
		`{"name":"get_weather","arguments":{"city":"O \"quoted\" {brace} \\ back","unit":"c"}}`,
		"{ \"name\" : \"User\" ,\n \"arguments\" : { \"name\" : \"A  B\", \"age\" : 3, \"address\" : {\"city\": \"x\"} } }",
		`{"arguments":{"city":"Bergen"},"name":"get_weather"}`,
		`{"name":"now","arguments":{}}`,
		`{"name":"get_\u0077eather","arguments":{"city":"[]"}}`,
	} {
		_, calls := toolcall.Parse(text, tools)
		require.Len(t, calls, 1, text)
		for _, size := range []int{len(text), 1, 2, 7} {
			var s toolcall.CallStream
			var names []string
			var args strings.Builder
			for i := 0; i < len(text); i += size {
				name, a := s.Write(text[i:min(i+size, len(text))])
				if name != "" {
					names = append(names, name)
				}
				if a != "" {
					assert.Len(t, names, 1, "arguments before the name: %s", text)
				}
				args.WriteString(a)
			}
			assert.Equal(t, []string{calls[0].Function.Name}, names, "%s in pieces of %d", text, size)
			assert.Equal(t, calls[0].Function.Arguments, args.String(), "%s in pieces of %d", text, size)
		}
	}
	// Arguments given as a string are left to Parse.
	var s toolcall.CallStream
	name, args := s.Write(`{"name":"now","arguments":"{}"}`)
	assert.Equal(t, "now", name)
	assert.Empty(t, args)
}
