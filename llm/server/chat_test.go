package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/server"
)

func TestChatParams(t *testing.T) {
	f := &fake{}
	_, ts := newServer(t, f, server.Options{})
	status, v, _ := post(t, ts, "/v1/chat/completions", `{
		"model": "fake-model",
		"messages": [{"role": "developer", "content": "Be brief."},
			{"role": "user", "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " there"}]}],
		"max_tokens": 50, "max_completion_tokens": 40, "n": 3, "temperature": 0.7, "top_p": 0.9,
		"top_k": 20, "min_p": 0.1, "frequency_penalty": 0.5, "presence_penalty": -0.5, "seed": 42,
		"stop": "END", "logit_bias": {"15": -100, "7": 2.5}}`)
	require.Equal(t, http.StatusOK, status, "%v", v)
	ins, n, p := f.last()
	require.Len(t, ins, 1)
	assert.Equal(t, 3, n, "n is the LLM's numGenerations: one prompt, three generations")
	assert.Equal(t, []llm.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hello there"}}, ins[0].Messages)
	assert.Nil(t, ins[0].Structured)
	assert.Equal(t, 40, p.MaxNewTokens, "max_completion_tokens wins over max_tokens")
	assert.Equal(t, 0.7, p.Temperature)
	assert.Equal(t, 0.9, p.TopP)
	assert.Equal(t, 20, p.TopK)
	assert.Equal(t, 0.1, p.MinP)
	assert.Equal(t, 0.5, p.FrequencyPenalty)
	assert.Equal(t, -0.5, p.PresencePenalty)
	assert.Equal(t, int64(42), p.Seed)
	assert.Equal(t, []string{"END"}, p.Stop)
	assert.Equal(t, map[int32]float64{15: -100, 7: 2.5}, p.LogitBias)
	assert.False(t, p.Logprobs)

	assert.Equal(t, "chat.completion", v["object"])
	assert.True(t, strings.HasPrefix(v["id"].(string), "chatcmpl-"))
	assert.Equal(t, "fake-model", v["model"])
	require.Len(t, v["choices"], 3)
	for g := range 3 {
		assert.Equal(t, float64(g), at(v, "choices", g, "index"))
		assert.Equal(t, "assistant", at(v, "choices", g, "message", "role"))
		assert.Equal(t, "re: Hello there", at(v, "choices", g, "message", "content"))
		assert.Equal(t, "stop", at(v, "choices", g, "finish_reason"))
		assert.Nil(t, at(v, "choices", g, "logprobs"))
	}
	assert.Equal(t, 20.0, num(at(v, "usage", "prompt_tokens")))
	assert.Equal(t, 45.0, num(at(v, "usage", "completion_tokens")))
	assert.Equal(t, 65.0, num(at(v, "usage", "total_tokens")))
	assert.Equal(t, 2.0, num(at(v, "usage", "prompt_tokens_details", "cached_tokens")))
}

// TestChatDefaults: OpenAI's defaults, not the library's greedy zero value.
func TestChatDefaults(t *testing.T) {
	f := &fake{}
	_, ts := newServer(t, f, server.Options{ChatMaxTokens: 77})
	status, _, _ := post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"top_p":0}`)
	require.Equal(t, http.StatusOK, status)
	_, n, p := f.last()
	assert.Equal(t, 1, n)
	assert.Equal(t, 1.0, p.Temperature)
	assert.Equal(t, int64(-1), p.Seed, "no seed: a random one")
	assert.Equal(t, 77, p.MaxNewTokens)
	assert.InDelta(t, 0, p.TopP, 1e-6, "top_p 0 keeps only the most likely token")
	assert.Greater(t, p.TopP, 0.0)
}

func TestChatLength(t *testing.T) {
	f := &fake{reply: func(llm.Input, int) string { return "a long answer" }}
	_, ts := newServer(t, f, server.Options{})
	status, v, _ := post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":4}`)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "a lo", at(v, "choices", 0, "message", "content"))
	assert.Equal(t, "length", at(v, "choices", 0, "finish_reason"))
}

func TestChatLogprobs(t *testing.T) {
	f := &fake{reply: func(llm.Input, int) string { return "ok" }}
	_, ts := newServer(t, f, server.Options{})
	status, v, _ := post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":2}`)
	require.Equal(t, http.StatusOK, status)
	_, _, p := f.last()
	assert.True(t, p.Logprobs)
	assert.Equal(t, 2, p.TopLogprobs)
	content := at(v, "choices", 0, "logprobs", "content").([]any)
	require.Len(t, content, 2)
	assert.Equal(t, "o", at(content[0], "token"))
	assert.Equal(t, -0.1, at(content[0], "logprob"))
	assert.Equal(t, []any{111.0}, at(content[0], "bytes"))
	top := at(content[1], "top_logprobs").([]any)
	require.Len(t, top, 2)
	assert.Equal(t, "b", at(top[1], "token"))
	assert.Equal(t, -0.2, at(top[1], "logprob"))
	assert.Equal(t, []any{98.0}, at(top[1], "bytes"))

	status, v, _ = post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"logprobs":true}`)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []any{}, at(v, "choices", 0, "logprobs", "content", 0, "top_logprobs"), "top_logprobs is an empty list, not absent")
}

func TestChatResponseFormat(t *testing.T) {
	f := &fake{reply: func(llm.Input, int) string { return `{"a":1}` }}
	_, ts := newServer(t, f, server.Options{ClosingTokens: 99})
	schema := `{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}`
	status, v, _ := post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],
		"response_format":{"type":"json_schema","json_schema":{"name":"thing","strict":true,"schema":`+schema+`}}}`)
	require.Equal(t, http.StatusOK, status, "%v", v)
	ins, _, _ := f.last()
	so := ins[0].Structured
	require.NotNil(t, so)
	assert.JSONEq(t, schema, string(so.Schema.(json.RawMessage)))
	assert.False(t, so.Lenient)
	assert.Equal(t, 99, so.ClosingTokens, "cut outputs are closed, so that they parse")
	assert.Equal(t, `{"a":1}`, at(v, "choices", 0, "message", "content"))

	status, _, _ = post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}`)
	require.Equal(t, http.StatusOK, status)
	ins, _, _ = f.last()
	assert.JSONEq(t, `{"type":"object"}`, string(ins[0].Structured.Schema.(json.RawMessage)))

	status, _, _ = post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"text"}}`)
	require.Equal(t, http.StatusOK, status)
	ins, _, _ = f.last()
	assert.Nil(t, ins[0].Structured)

	// A keyword no grammar expresses: strict refuses, non-strict compiles
	// leniently and validates.
	unique := `{"type":"array","uniqueItems":true,"items":{"type":"string"}}`
	status, _, _ = post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],
		"response_format":{"type":"json_schema","json_schema":{"name":"u","schema":`+unique+`}}}`)
	require.Equal(t, http.StatusOK, status)
	ins, _, _ = f.last()
	assert.True(t, ins[0].Structured.Lenient)
	assert.Positive(t, ins[0].Structured.Retries)
}

var weatherTools = `"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather in a city",
	"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
	{"type":"function","function":{"name":"now"}}]`

func TestChatForcedToolCall(t *testing.T) {
	f := &fake{reply: func(in llm.Input, g int) string { return `{"name":"get_weather","arguments":{"city":"Oslo"}}` }}
	_, ts := newServer(t, f, server.Options{})
	status, v, _ := post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"Weather in Oslo?"}],`+weatherTools+`,
		"tool_choice":{"type":"function","function":{"name":"get_weather"}},"n":2}`)
	require.Equal(t, http.StatusOK, status, "%v", v)
	ins, _, _ := f.last()
	require.Len(t, ins[0].Tools, 2, "the tools reach the chat template")
	so := ins[0].Structured
	require.NotNil(t, so, "a forced call is constrained by a grammar")
	schema := string(so.Schema.(json.RawMessage))
	assert.Contains(t, schema, `"name":{"const":"get_weather"}`)
	assert.NotContains(t, schema, `"now"`)
	for g := range 2 {
		msg := at(v, "choices", g, "message")
		assert.Nil(t, at(msg, "content"))
		assert.Equal(t, "tool_calls", at(v, "choices", g, "finish_reason"))
		calls := at(msg, "tool_calls").([]any)
		require.Len(t, calls, 1)
		assert.Equal(t, "function", at(calls[0], "type"))
		assert.True(t, strings.HasPrefix(at(calls[0], "id").(string), "call_"))
		assert.Equal(t, "get_weather", at(calls[0], "function", "name"))
		assert.JSONEq(t, `{"city":"Oslo"}`, at(calls[0], "function", "arguments").(string))
	}

	status, _, _ = post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"Weather?"}],`+weatherTools+`,"tool_choice":"required"}`)
	require.Equal(t, http.StatusOK, status)
	ins, _, _ = f.last()
	schema = string(ins[0].Structured.Schema.(json.RawMessage))
	assert.Contains(t, schema, `"anyOf"`)
	assert.Contains(t, schema, `"now"`)
}

func TestChatAutoToolCall(t *testing.T) {
	reply := "I will look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"
	f := &fake{reply: func(in llm.Input, g int) string { return reply }}
	_, ts := newServer(t, f, server.Options{})
	status, v, _ := post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"Weather in Oslo?"}],`+weatherTools+`}`)
	require.Equal(t, http.StatusOK, status, "%v", v)
	ins, _, _ := f.last()
	assert.Nil(t, ins[0].Structured, "auto does not constrain")
	assert.Equal(t, "I will look.", at(v, "choices", 0, "message", "content"))
	assert.Equal(t, "get_weather", at(v, "choices", 0, "message", "tool_calls", 0, "function", "name"))
	assert.Equal(t, "tool_calls", at(v, "choices", 0, "finish_reason"))

	status, v, _ = post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"Weather in Oslo?"}],`+weatherTools+`,"tool_choice":"none"}`)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, reply, at(v, "choices", 0, "message", "content"), "none: the text is the answer")
	assert.Nil(t, at(v, "choices", 0, "message", "tool_calls"))
	assert.Equal(t, "stop", at(v, "choices", 0, "finish_reason"))
}

// TestChatToolConversation: a conversation with an assistant's calls and
// the tools' answers reaches the LLM as messages.
func TestChatToolConversation(t *testing.T) {
	f := &fake{}
	_, ts := newServer(t, f, server.Options{})
	status, v, _ := post(t, ts, "/v1/chat/completions", `{"messages":[
		{"role":"user","content":"Weather in Oslo?"},
		{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},
		{"role":"tool","tool_call_id":"call_1","content":"sunny"}],`+weatherTools+`}`)
	require.Equal(t, http.StatusOK, status, "%v", v)
	ins, _, _ := f.last()
	msgs := ins[0].Messages
	require.Len(t, msgs, 3)
	assert.Equal(t, []llm.ToolCall{{ID: "call_1", Type: "function", Function: llm.FunctionCall{Name: "get_weather", Arguments: `{"city":"Oslo"}`}}}, msgs[1].ToolCalls)
	assert.Equal(t, llm.Message{Role: "tool", Content: "sunny", ToolCallID: "call_1"}, msgs[2])
}

func TestChatStream(t *testing.T) {
	f := &fake{reply: func(in llm.Input, g int) string { return []string{"abc", "de"}[g] }}
	_, ts := newServer(t, f, server.Options{})
	evs, done := events(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"n":2,"stream":true,"stream_options":{"include_usage":true}}`)
	require.True(t, done, "the stream ends with data: [DONE]")
	text := map[int]string{}
	finish := map[int]string{}
	roles := map[int]int{}
	id := evs[0]["id"]
	for _, e := range evs[:len(evs)-1] {
		assert.Equal(t, "chat.completion.chunk", e["object"])
		assert.Equal(t, id, e["id"], "one id for the whole stream")
		require.Len(t, e["choices"], 1)
		c := at(e, "choices", 0)
		g := int(num(at(c, "index")))
		if r := at(c, "delta", "role"); r != nil {
			assert.Equal(t, "assistant", r)
			roles[g]++
		}
		if s, ok := at(c, "delta", "content").(string); ok {
			assert.Empty(t, finish[g], "no content after the finish reason")
			text[g] += s
		}
		if fr, ok := at(c, "finish_reason").(string); ok {
			finish[g] = fr
		}
		assert.Nil(t, e["usage"])
	}
	assert.Equal(t, map[int]string{0: "abc", 1: "de"}, text)
	assert.Equal(t, map[int]string{0: "stop", 1: "stop"}, finish)
	assert.Equal(t, map[int]int{0: 1, 1: 1}, roles)
	last := evs[len(evs)-1]
	assert.Equal(t, []any{}, last["choices"])
	assert.Equal(t, 5.0, num(at(last, "usage", "completion_tokens")))
	assert.Equal(t, 15.0, num(at(last, "usage", "total_tokens")))
}

func TestChatStreamLogprobs(t *testing.T) {
	f := &fake{reply: func(llm.Input, int) string { return "xyz" }}
	_, ts := newServer(t, f, server.Options{})
	evs, done := events(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"stream":true,"logprobs":true,"top_logprobs":1}`)
	require.True(t, done)
	var tokens []string
	for _, e := range evs {
		for _, lp := range asList(at(e, "choices", 0, "logprobs", "content")) {
			tokens = append(tokens, at(lp, "token").(string))
			assert.Len(t, at(lp, "top_logprobs"), 1)
		}
	}
	assert.Equal(t, []string{"x", "y", "z"}, tokens)
	assert.Equal(t, "stop", at(evs[len(evs)-1], "choices", 0, "finish_reason"))
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func TestChatStreamToolCalls(t *testing.T) {
	for _, tc := range []struct {
		name, reply, choice, content string
	}{
		{"forced", `{"name":"get_weather","arguments":{"city":"Oslo"}}`, `,"tool_choice":{"type":"function","function":{"name":"get_weather"}}`, ""},
		{"auto", "Looking.<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}</tool_call>", ``, "Looking."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{reply: func(llm.Input, int) string { return tc.reply }, tokenDelay: time.Millisecond}
			_, ts := newServer(t, f, server.Options{StreamInterval: -1}) // every token written
			evs, done := events(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"stream":true,`+weatherTools+tc.choice+`}`)
			require.True(t, done)
			var content, name, args, finish string
			deltas := 0
			for _, e := range evs {
				c := at(e, "choices", 0)
				if s, ok := at(c, "delta", "content").(string); ok {
					content += s
				}
				for _, call := range asList(at(c, "delta", "tool_calls")) {
					// OpenAI's shape: the first delta of a call names it,
					// the next ones carry only more arguments.
					assert.Equal(t, 0.0, at(call, "index"))
					if deltas == 0 {
						assert.True(t, strings.HasPrefix(at(call, "id").(string), "call_"))
						assert.Equal(t, "function", at(call, "type"))
						name = at(call, "function", "name").(string)
					} else {
						assert.Nil(t, at(call, "id"))
						assert.Nil(t, at(call, "function", "name"))
					}
					args += at(call, "function", "arguments").(string)
					deltas++
				}
				if s, ok := at(c, "finish_reason").(string); ok {
					finish = s
				}
			}
			assert.Equal(t, tc.content, content)
			assert.Equal(t, "get_weather", name)
			assert.JSONEq(t, `{"city":"Oslo"}`, args)
			assert.Equal(t, "tool_calls", finish)
			if tc.name == "forced" {
				// The fake writes a byte at a time: the arguments
				// arrive in pieces, as they are generated.
				assert.Greater(t, deltas, 2, "a forced call's arguments are streamed")
			}
		})
	}
}

// TestChatInputErrors: errors the LLM finds in an input are the client's.
func TestChatInputErrors(t *testing.T) {
	f := &fake{}
	_, ts := newServer(t, f, server.Options{})
	// The fake checks logit_bias like llm.GenerationParams.Validate; here a
	// tool message without content reaches llm.Input.Validate.
	status, v, _ := post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"tool","tool_call_id":"c"}]}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "messages[0]", at(v, "error", "param"))
}

// TestChatReasoning: a reasoning model's reasoning comes back as
// reasoning_content, in the message and in the stream.
func TestChatReasoning(t *testing.T) {
	f := &fake{think: "Let me think.", reply: func(llm.Input, int) string { return "42" }}
	_, ts := newServer(t, f, server.Options{})
	status, v, _ := post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"?"}]}`)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "Let me think.", at(v, "choices", 0, "message", "reasoning_content"))
	assert.Equal(t, "42", at(v, "choices", 0, "message", "content"))

	evs, done := events(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"?"}],"stream":true}`)
	require.True(t, done)
	var reasoning, content string
	for _, e := range evs {
		if s, ok := at(e, "choices", 0, "delta", "reasoning_content").(string); ok {
			assert.Empty(t, content, "reasoning comes before the answer")
			reasoning += s
		}
		if s, ok := at(e, "choices", 0, "delta", "content").(string); ok {
			content += s
		}
	}
	assert.Equal(t, "Let me think.", reasoning)
	assert.Equal(t, "42", content)
}

func TestChatParallelToolCalls(t *testing.T) {
	reply := "<tool_call>{\"name\":\"now\"}</tool_call><tool_call>{\"name\":\"get_weather\",\"arguments\":{\"city\":\"A\"}}</tool_call>"
	f := &fake{reply: func(llm.Input, int) string { return reply }}
	_, ts := newServer(t, f, server.Options{})
	status, v, _ := post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],`+weatherTools+`}`)
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, at(v, "choices", 0, "message", "tool_calls"), 2)
	status, v, _ = post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],`+weatherTools+`,"parallel_tool_calls":false}`)
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, at(v, "choices", 0, "message", "tool_calls"), 1)
}

// TestChatStreamToolCallCut: a forced call that max_tokens cuts before it
// closes is streamed as far as it went, with finish_reason "length", as
// OpenAI does.
func TestChatStreamToolCallCut(t *testing.T) {
	reply := `{"name":"get_weather","arguments":{"city":"Oslo and further"}}`
	f := &fake{reply: func(llm.Input, int) string { return reply }}
	_, ts := newServer(t, f, server.Options{StreamInterval: -1})
	evs, done := events(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":45,`+weatherTools+`,"tool_choice":"required"}`)
	require.True(t, done)
	var name, args, finish, content string
	for _, e := range evs {
		c := at(e, "choices", 0)
		if s, ok := at(c, "delta", "content").(string); ok {
			content += s
		}
		for _, call := range asList(at(c, "delta", "tool_calls")) {
			if s, ok := at(call, "function", "name").(string); ok {
				name += s
			}
			args += at(call, "function", "arguments").(string)
		}
		if s, ok := at(c, "finish_reason").(string); ok {
			finish = s
		}
	}
	assert.Equal(t, "get_weather", name)
	assert.Equal(t, reply[34:45], args, "the arguments as far as they went")
	assert.Equal(t, "length", finish)
	assert.Empty(t, content)
}
