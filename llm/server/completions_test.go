package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/server"
)

func TestCompletions(t *testing.T) {
	f := &fake{reply: func(in llm.Input, g int) string { return []string{" one", " two"}[g] }}
	_, ts := newServer(t, f, server.Options{})
	status, v, _ := post(t, ts, "/v1/completions", `{"model":"fake-model","prompt":["A","BB"],"n":2,"max_tokens":8,"temperature":0.2}`)
	require.Equal(t, http.StatusOK, status, "%v", v)
	ins, n, p := f.last()
	assert.Equal(t, []llm.Input{llm.Prompt("A"), llm.Prompt("BB")}, ins)
	assert.Equal(t, 2, n)
	assert.Equal(t, 8, p.MaxNewTokens)
	assert.Equal(t, "text_completion", v["object"])
	require.Len(t, v["choices"], 4)
	for k, want := range []string{" one", " two", " one", " two"} {
		assert.Equal(t, float64(k), at(v, "choices", k, "index"), "choice i*n+g is generation g of prompt i")
		assert.Equal(t, want, at(v, "choices", k, "text"))
		assert.Equal(t, "stop", at(v, "choices", k, "finish_reason"))
	}
	assert.Equal(t, 3.0, num(at(v, "usage", "prompt_tokens")), "each prompt once")
	assert.Equal(t, 16.0, num(at(v, "usage", "completion_tokens")))
}

func TestCompletionsDefaults(t *testing.T) {
	f := &fake{}
	_, ts := newServer(t, f, server.Options{})
	status, _, _ := post(t, ts, "/v1/completions", `{"prompt":"x"}`)
	require.Equal(t, http.StatusOK, status)
	_, _, p := f.last()
	assert.Equal(t, 16, p.MaxNewTokens, "OpenAI's legacy default")
	assert.Equal(t, 1.0, p.Temperature)
}

func TestCompletionsEchoLogprobs(t *testing.T) {
	f := &fake{reply: func(llm.Input, int) string { return "yz" }}
	_, ts := newServer(t, f, server.Options{})
	status, v, _ := post(t, ts, "/v1/completions", `{"prompt":"wx","echo":true,"logprobs":2}`)
	require.Equal(t, http.StatusOK, status, "%v", v)
	_, _, p := f.last()
	assert.True(t, p.Logprobs)
	assert.Equal(t, 2, p.TopLogprobs)
	assert.Equal(t, "wxyz", at(v, "choices", 0, "text"))
	lp := at(v, "choices", 0, "logprobs")
	assert.Equal(t, []any{"y", "z"}, at(lp, "tokens"))
	assert.Equal(t, []any{-0.1, -0.2}, at(lp, "token_logprobs"))
	assert.Equal(t, []any{2.0, 3.0}, at(lp, "text_offset"), "offsets count the echoed prompt")
	assert.Equal(t, map[string]any{"a": 0.0, "b": -0.2}, at(lp, "top_logprobs", 0))

	status, v, _ = post(t, ts, "/v1/completions", `{"prompt":"wx","logprobs":0}`)
	require.Equal(t, http.StatusOK, status)
	_, _, p = f.last()
	assert.True(t, p.Logprobs, "logprobs 0: the sampled tokens' only")
	assert.Equal(t, map[string]any{}, at(v, "choices", 0, "logprobs", "top_logprobs", 0))
}

func TestCompletionsStream(t *testing.T) {
	f := &fake{reply: func(in llm.Input, g int) string { return in.Prompt + []string{"1", "22"}[g] }}
	_, ts := newServer(t, f, server.Options{})
	evs, done := events(t, ts, "/v1/completions", `{"prompt":["a","b"],"n":2,"stream":true,"echo":true,"logprobs":1,"stream_options":{"include_usage":true}}`)
	require.True(t, done)
	text := map[int]string{}
	finish := map[int]string{}
	tokens := map[int]int{}
	for _, e := range evs[:len(evs)-1] {
		assert.Equal(t, "text_completion", e["object"])
		c := at(e, "choices", 0)
		k := int(num(at(c, "index")))
		assert.Empty(t, finish[k])
		text[k] += at(c, "text").(string)
		if s, ok := at(c, "finish_reason").(string); ok {
			finish[k] = s
		}
		tokens[k] += len(asList(at(c, "logprobs", "tokens")))
	}
	assert.Equal(t, map[int]string{0: "aa1", 1: "aa22", 2: "bb1", 3: "bb22"}, text)
	assert.Equal(t, map[int]string{0: "stop", 1: "stop", 2: "stop", 3: "stop"}, finish)
	assert.Equal(t, map[int]int{0: 2, 1: 3, 2: 2, 3: 3}, tokens)
	assert.Equal(t, 10.0, num(at(evs[len(evs)-1], "usage", "completion_tokens")))
}

func TestCompletionsResponseFormat(t *testing.T) {
	f := &fake{}
	_, ts := newServer(t, f, server.Options{})
	status, _, _ := post(t, ts, "/v1/completions", `{"prompt":"JSON: ","response_format":{"type":"json_object"}}`)
	require.Equal(t, http.StatusOK, status)
	ins, _, _ := f.last()
	require.NotNil(t, ins[0].Structured, "response_format works on completions too (an extension)")
}
