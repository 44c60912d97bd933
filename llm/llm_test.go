package llm_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/locallm/locallm/llm"
)

func TestGenerationParamsValidate(t *testing.T) {
	ok := []llm.GenerationParams{
		{},
		{Temperature: 0.7, TopP: 1, TopK: 40, MinP: 0.05, Seed: -1},
		{LogitBias: map[int32]float64{3: math.Inf(-1)}},
		{PenaltyLastN: -1, Stop: []string{"\n"}},
	}
	for _, p := range ok {
		assert.NoError(t, p.Validate(), "%+v", p)
	}
	bad := []struct {
		name string
		p    llm.GenerationParams
	}{
		{"temperature", llm.GenerationParams{Temperature: -0.1}},
		{"temperature", llm.GenerationParams{Temperature: math.NaN()}},
		{"top_p", llm.GenerationParams{TopP: 1.5}},
		{"top_p", llm.GenerationParams{TopP: -0.5}},
		{"min_p", llm.GenerationParams{MinP: 2}},
		{"typical_p", llm.GenerationParams{TypicalP: math.Inf(1)}},
		{"top_k", llm.GenerationParams{TopK: -1}},
		{"max_new_tokens", llm.GenerationParams{MaxNewTokens: -5}},
		{"max_new_tokens", llm.GenerationParams{MaxNewTokens: llm.MaxNewTokensLimit + 1}},
		{"stop[0]", llm.GenerationParams{Stop: []string{""}}},
		{"logit_bias", llm.GenerationParams{LogitBias: map[int32]float64{-1: 1}}},
		{"repeat_penalty", llm.GenerationParams{RepeatPenalty: -1}},
		{"penalty_last_n", llm.GenerationParams{PenaltyLastN: -2}},
	}
	for _, c := range bad {
		err := c.p.Validate()
		require.Error(t, err, c.name)
		assert.True(t, errors.Is(err, llm.ErrBadParameter))
		assert.Contains(t, err.Error(), c.name)
	}
}

func TestWithDefaults(t *testing.T) {
	p := llm.GenerationParams{}.WithDefaults()
	assert.Equal(t, llm.DefaultMaxNewTokens, p.MaxNewTokens)
	assert.Equal(t, 1.0, p.TopP)
	assert.Equal(t, 1.0, p.RepeatPenalty)
	assert.Equal(t, llm.DefaultPenaltyLastN, p.PenaltyLastN)
	q := llm.GenerationParams{MaxNewTokens: 7, TopP: 0.5}.WithDefaults()
	assert.Equal(t, 7, q.MaxNewTokens)
	assert.Equal(t, 0.5, q.TopP)
}

func TestRuntimeParameters(t *testing.T) {
	ps, err := llm.RuntimeParameters(llm.GenerationParams{})
	require.NoError(t, err)
	byName := map[string]llm.RuntimeParameter{}
	for _, p := range ps {
		byName[p.Name] = p
		assert.NotEmpty(t, p.Description, p.Name)
		assert.True(t, p.Optional, p.Name)
	}
	// Every JSON field of GenerationParams is listed.
	var fields map[string]any
	full := llm.GenerationParams{MaxNewTokens: 1, Temperature: 1, TopK: 1, TopP: 1, MinP: 1, TypicalP: 1, RepeatPenalty: 1,
		PresencePenalty: 1, FrequencyPenalty: 1, PenaltyLastN: 1, Seed: 1, LogitBias: map[int32]float64{1: 1}, Stop: []string{"x"}, IgnoreEOS: true,
		Logprobs: true, TopLogprobs: 1}
	data, _ := json.Marshal(full)
	require.NoError(t, json.Unmarshal(data, &fields))
	assert.Len(t, ps, len(fields))
	for name := range fields {
		assert.Contains(t, byName, name)
	}
	assert.Equal(t, "integer", byName["max_new_tokens"].Type)
	assert.Equal(t, "number", byName["temperature"].Type)
	assert.Equal(t, "array of string", byName["stop"].Type)
	assert.EqualValues(t, 128, byName["max_new_tokens"].Default)

	_, err = llm.RuntimeParameters(3)
	assert.Error(t, err)

	type req struct {
		Need int `json:"need" jsonschema_description:"a required one"`
	}
	ps, err = llm.RuntimeParameters(req{})
	require.NoError(t, err)
	require.Len(t, ps, 1)
	assert.False(t, ps[0].Optional)
}

func TestInputValidate(t *testing.T) {
	assert.ErrorIs(t, llm.Input{}.Validate(), llm.ErrEmptyInput)
	assert.NoError(t, llm.Prompt("hi").Validate())
	assert.NoError(t, llm.Chat(llm.Message{Role: "user", Content: "hi"}).Validate())
	assert.ErrorIs(t, llm.Input{Prompt: "a", Messages: []llm.Message{{Role: "user"}}}.Validate(), llm.ErrBadInput)
	assert.ErrorIs(t, llm.Chat(llm.Message{Content: "x"}).Validate(), llm.ErrBadInput)
	in := llm.Prompt("x")
	in.Structured = &llm.StructuredOutput{GBNF: "root ::= \"a\"", Regex: "a"}
	assert.ErrorIs(t, in.Validate(), llm.ErrBadInput)
	in.Structured = &llm.StructuredOutput{}
	assert.ErrorIs(t, in.Validate(), llm.ErrBadInput)
	in.Structured = &llm.StructuredOutput{Regex: "a", ClosingTokens: -1}
	assert.ErrorIs(t, in.Validate(), llm.ErrBadInput)
}

func TestMessageValidate(t *testing.T) {
	weather := llm.Tool{Type: "function", Function: llm.Function{Name: "get_weather",
		Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`)}}
	call := llm.ToolCall{ID: "call_1", Type: "function", Function: llm.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}}
	for _, tc := range []struct {
		name string
		in   llm.Input
		want string // "" for valid
	}{
		{"user", llm.Chat(llm.Message{Role: "user", Content: "hi"}), ""},
		{"no content", llm.Chat(llm.Message{Role: "user"}), "message 0: user message has no content"},
		{"no role", llm.Chat(llm.Message{Content: "x"}), "message 0: no role"},
		{"assistant calls", llm.Input{Messages: []llm.Message{
			{Role: "user", Content: "weather?"},
			{Role: "assistant", ToolCalls: []llm.ToolCall{call}},
			{Role: "tool", ToolCallID: "call_1", Content: "sunny"},
		}, Tools: []llm.Tool{weather}}, ""},
		{"empty assistant", llm.Chat(llm.Message{Role: "user", Content: "a"}, llm.Message{Role: "assistant"}), "message 1: assistant message has no content"},
		{"user calls", llm.Chat(llm.Message{Role: "user", Content: "a", ToolCalls: []llm.ToolCall{call}}), "only assistant messages call tools"},
		{"bad arguments", llm.Chat(llm.Message{Role: "assistant", ToolCalls: []llm.ToolCall{{Function: llm.FunctionCall{Name: "f", Arguments: "[1]"}}}}), "arguments are not a JSON object"},
		{"bad name", llm.Input{Messages: []llm.Message{{Role: "user", Content: "a"}}, Tools: []llm.Tool{{Function: llm.Function{Name: "a b"}}}}, "tool 0: function name \"a b\""},
		{"duplicate tool", llm.Input{Messages: []llm.Message{{Role: "user", Content: "a"}}, Tools: []llm.Tool{weather, weather}}, "given twice"},
		{"tools with prompt", llm.Input{Prompt: "a", Tools: []llm.Tool{weather}}, "give messages, not a raw prompt"},
		{"bad parameters", llm.Input{Messages: []llm.Message{{Role: "user", Content: "a"}}, Tools: []llm.Tool{{Function: llm.Function{Name: "f", Parameters: json.RawMessage(`true`)}}}}, "parameters are not a JSON Schema object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.in.Validate()
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, llm.ErrBadInput)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestCheckNumGenerations(t *testing.T) {
	assert.NoError(t, llm.CheckNumGenerations(0))
	assert.NoError(t, llm.CheckNumGenerations(1))
	assert.NoError(t, llm.CheckNumGenerations(llm.MaxGenerations))
	assert.ErrorIs(t, llm.CheckNumGenerations(-3), llm.ErrBadParameter)
	assert.ErrorIs(t, llm.CheckNumGenerations(llm.MaxGenerations+1), llm.ErrBadParameter)
	assert.ErrorIs(t, llm.GenerationParams{TopLogprobs: 21}.Validate(), llm.ErrBadParameter)
	assert.True(t, llm.GenerationParams{TopLogprobs: 2}.WithDefaults().Logprobs)
}

// fake is a Configurable LLM for the registry round trip.
type fake struct {
	Path  string  `json:"path" yaml:"path"`
	Temp  float64 `json:"temp" yaml:"temp"`
	Layer []int   `json:"layers" yaml:"layers"`
}

func TestConfigRoundTrip(t *testing.T) {
	llm.Register("fake-test", func(cfg json.RawMessage) (llm.LLM, error) {
		var f fake
		if err := json.Unmarshal(cfg, &f); err != nil {
			return nil, err
		}
		return &configurable{cfg: f}, nil
	})
	orig := &configurable{cfg: fake{Path: "/m.gguf", Temp: 0.25, Layer: []int{-1, 3}}}
	c, err := llm.ConfigOf(orig)
	require.NoError(t, err)

	// JSON
	data, err := json.Marshal(c)
	require.NoError(t, err)
	c2, err := llm.ParseConfig(data)
	require.NoError(t, err)
	l, err := llm.New(c2)
	require.NoError(t, err)
	assert.Equal(t, orig.cfg, l.(*configurable).cfg)

	// YAML
	y, err := yaml.Marshal(c)
	require.NoError(t, err)
	assert.Contains(t, string(y), "type: fake-test")
	assert.Contains(t, string(y), "path: /m.gguf")
	c3, err := llm.ParseConfig(y)
	require.NoError(t, err)
	l, err = llm.New(c3)
	require.NoError(t, err)
	assert.Equal(t, orig.cfg, l.(*configurable).cfg)

	_, err = llm.New(llm.Config{Type: "no-such"})
	assert.ErrorContains(t, err, "unknown LLM type")
	_, err = llm.ParseConfig([]byte("config: {}"))
	assert.Error(t, err)
	assert.Contains(t, llm.Types(), "fake-test")
	assert.Panics(t, func() { llm.Register("fake-test", func(json.RawMessage) (llm.LLM, error) { return nil, nil }) })
}
