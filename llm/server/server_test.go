package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llm/server"
)

func TestHealthWhileLoading(t *testing.T) {
	f := &fake{}
	s, err := server.New(f, server.Options{})
	require.NoError(t, err)
	ts := httptest.NewServer(s)
	defer ts.Close()

	code, body := get(t, ts, "/health")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "loading")
	status, v, h := post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "model_loading", at(v, "error", "code"))
	assert.Equal(t, "1", h.Get("Retry-After"))

	require.NoError(t, s.Load(context.Background()))
	code, body = get(t, ts, "/health")
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"status":"ok"}`, body)
}

func TestModels(t *testing.T) {
	_, ts := newServer(t, &fake{}, server.Options{Aliases: []string{"alias"}})
	code, body := get(t, ts, "/v1/models")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"id":"fake-model"`)
	assert.Contains(t, body, `"object":"list"`)
	code, _ = get(t, ts, "/models")
	assert.Equal(t, http.StatusOK, code, "without the /v1 prefix too")
	code, body = get(t, ts, "/v1/models/alias")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"id":"fake-model"`)
	code, body = get(t, ts, "/v1/models/gpt-4")
	assert.Equal(t, http.StatusNotFound, code)
	assert.Contains(t, body, "model_not_found")
}

func TestModelID(t *testing.T) {
	_, ts := newServer(t, &fake{}, server.Options{ModelID: "tiny"})
	code, body := get(t, ts, "/v1/models")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"id":"tiny"`)
	for _, model := range []string{"tiny", "fake-model", ""} {
		status, v, _ := post(t, ts, "/v1/chat/completions", `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`)
		assert.Equal(t, http.StatusOK, status, model)
		assert.Equal(t, "tiny", v["model"])
	}
	status, v, _ := post(t, ts, "/v1/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "model", at(v, "error", "param"))
	assert.Equal(t, "model_not_found", at(v, "error", "code"))
}

func TestAPIKey(t *testing.T) {
	_, ts := newServer(t, &fake{}, server.Options{APIKey: "sekret"})
	body := `{"messages":[{"role":"user","content":"hi"}]}`
	status, v, _ := post(t, ts, "/v1/chat/completions", body)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "invalid_api_key", at(v, "error", "code"))
	assert.Contains(t, at(v, "error", "message"), "missing")
	status, v, _ = post(t, ts, "/v1/chat/completions", body, "Authorization", "Bearer wrong")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, at(v, "error", "message"), "incorrect")
	status, _, _ = post(t, ts, "/v1/chat/completions", body, "Authorization", "Bearer sekret")
	assert.Equal(t, http.StatusOK, status)
	code, _ := get(t, ts, "/v1/models")
	assert.Equal(t, http.StatusUnauthorized, code)
	code, _ = get(t, ts, "/metrics")
	assert.Equal(t, http.StatusUnauthorized, code)
	code, _ = get(t, ts, "/nothing")
	assert.Equal(t, http.StatusUnauthorized, code, "unknown routes do not tell an unauthenticated client what exists")
	code, _ = get(t, ts, "/health")
	assert.Equal(t, http.StatusOK, code, "health needs no key")
}

func TestUnknownRouteAndMethod(t *testing.T) {
	_, ts := newServer(t, &fake{}, server.Options{})
	status, v, _ := post(t, ts, "/v1/images/generations", `{}`)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "not_found_error", at(v, "error", "type"))
	code, body := get(t, ts, "/v1/chat/completions")
	assert.Equal(t, http.StatusMethodNotAllowed, code)
	assert.Contains(t, body, `"error"`)
}

func TestBodyTooLarge(t *testing.T) {
	_, ts := newServer(t, &fake{}, server.Options{MaxBodyBytes: 1000})
	big := `{"messages":[{"role":"user","content":"` + strings.Repeat("x", 2000) + `"}]}`
	status, v, _ := post(t, ts, "/v1/chat/completions", big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Equal(t, "request_too_large", at(v, "error", "code"))
}

// TestBadValues: a known field with a bad value is a 400 in OpenAI's
// shape that names the field.
func TestBadValues(t *testing.T) {
	_, ts := newServer(t, &fake{}, server.Options{})
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	weather := `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]`
	for _, tc := range []struct {
		path, body, param string
	}{
		{"/v1/chat/completions", `{"messages":[]}`, "messages"},
		{"/v1/chat/completions", `{"messages":"hi"}`, "messages"},
		{"/v1/chat/completions", `{}`, "messages"},
		{"/v1/chat/completions", `{"messages":[{"role":"robot","content":"hi"}]}`, "messages[0].role"},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"},{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, "messages[1].content[0].type"},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":7}]}`, "messages[0].content"},
		{"/v1/chat/completions", `{"messages":[{"role":"user"}]}`, "messages[0]"},
		{"/v1/chat/completions", `{"messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`, "messages[0].tool_calls[0]"},
		{"/v1/chat/completions", `{` + msgs + `,"n":0}`, "n"},
		{"/v1/chat/completions", `{` + msgs + `,"n":"3"}`, "n"},
		{"/v1/chat/completions", `{` + msgs + `,"n":1.5}`, "n"},
		{"/v1/chat/completions", `{` + msgs + `,"n":1000}`, "n"},
		{"/v1/chat/completions", `{` + msgs + `,"max_tokens":0}`, "max_tokens"},
		{"/v1/chat/completions", `{` + msgs + `,"max_completion_tokens":-3}`, "max_completion_tokens"},
		{"/v1/chat/completions", `{` + msgs + `,"temperature":2.5}`, "temperature"},
		{"/v1/chat/completions", `{` + msgs + `,"temperature":"hot"}`, "temperature"},
		{"/v1/chat/completions", `{` + msgs + `,"top_p":1.5}`, "top_p"},
		{"/v1/chat/completions", `{` + msgs + `,"top_k":-1}`, "top_k"},
		{"/v1/chat/completions", `{` + msgs + `,"min_p":2}`, "min_p"},
		{"/v1/chat/completions", `{` + msgs + `,"frequency_penalty":3}`, "frequency_penalty"},
		{"/v1/chat/completions", `{` + msgs + `,"presence_penalty":-2.5}`, "presence_penalty"},
		{"/v1/chat/completions", `{` + msgs + `,"seed":"x"}`, "seed"},
		{"/v1/chat/completions", `{` + msgs + `,"seed":1e30}`, "seed"},
		{"/v1/chat/completions", `{` + msgs + `,"stop":[""]}`, "stop"},
		{"/v1/chat/completions", `{` + msgs + `,"stop":5}`, "stop"},
		{"/v1/chat/completions", `{` + msgs + `,"logit_bias":{"x":1}}`, "logit_bias"},
		{"/v1/chat/completions", `{` + msgs + `,"logit_bias":{"5":200}}`, "logit_bias"},
		{"/v1/chat/completions", `{` + msgs + `,"logit_bias":[1]}`, "logit_bias"},
		{"/v1/chat/completions", `{` + msgs + `,"logprobs":"yes"}`, "logprobs"},
		{"/v1/chat/completions", `{` + msgs + `,"top_logprobs":21}`, "top_logprobs"},
		{"/v1/chat/completions", `{` + msgs + `,"stream":1}`, "stream"},
		{"/v1/chat/completions", `{` + msgs + `,"stream_options":{"include_usage":"x"}}`, "stream_options.include_usage"},
		{"/v1/chat/completions", `{` + msgs + `,"stream_options":3}`, "stream_options"},
		{"/v1/chat/completions", `{` + msgs + `,"response_format":{"type":"xml"}}`, "response_format.type"},
		{"/v1/chat/completions", `{` + msgs + `,"response_format":"json"}`, "response_format"},
		{"/v1/chat/completions", `{` + msgs + `,"response_format":{"type":"json_schema"}}`, "response_format.json_schema"},
		{"/v1/chat/completions", `{` + msgs + `,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":3}}}`, "response_format.json_schema.schema"},
		{"/v1/chat/completions", `{` + msgs + `,"response_format":{"type":"json_schema","json_schema":{"name":"x","strict":"yes","schema":{}}}}`, "response_format.json_schema.strict"},
		{"/v1/chat/completions", `{` + msgs + `,"response_format":{"type":"json_schema","json_schema":{"name":"x","strict":true,"schema":{"type":"array","uniqueItems":true,"items":{"type":"string"}}}}}`, "response_format.json_schema.schema"},
		{"/v1/chat/completions", `{` + msgs + `,"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","minLength":3,"maxLength":1}}}}`, "response_format.json_schema.schema"},
		{"/v1/chat/completions", `{` + msgs + `,"tools":[{"type":"function","function":{"name":"bad name!"}}]}`, "tools[0]"},
		{"/v1/chat/completions", `{` + msgs + `,"tools":[{"type":"retrieval"}]}`, "tools[0]"},
		{"/v1/chat/completions", `{` + msgs + `,"tools":{"a":1}}`, "tools"},
		{"/v1/chat/completions", `{` + msgs + `,` + weather + `,"tool_choice":"sometimes"}`, "tool_choice"},
		{"/v1/chat/completions", `{` + msgs + `,` + weather + `,"tool_choice":{"type":"function","function":{"name":"other"}}}`, "tool_choice"},
		{"/v1/chat/completions", `{` + msgs + `,"tool_choice":"required"}`, "tool_choice"},
		{"/v1/chat/completions", `{` + msgs + `,` + weather + `,"parallel_tool_calls":"no"}`, "parallel_tool_calls"},
		{"/v1/chat/completions", `{` + msgs + `,"model":5}`, "model"},
		{"/v1/completions", `{}`, "prompt"},
		{"/v1/completions", `{"prompt":[]}`, "prompt"},
		{"/v1/completions", `{"prompt":[1,2,3]}`, "prompt"},
		{"/v1/completions", `{"prompt":[[1,2],[3]]}`, "prompt"},
		{"/v1/completions", `{"prompt":{"a":1}}`, "prompt"},
		{"/v1/completions", `{"prompt":["a",""]}`, "prompt"},
		{"/v1/completions", `{"prompt":"a","logprobs":21}`, "logprobs"},
		{"/v1/completions", `{"prompt":"a","logprobs":true}`, "logprobs"},
		{"/v1/completions", `{"prompt":"a","echo":"x"}`, "echo"},
		{"/v1/completions", `{"prompt":"a","suffix":"b"}`, "suffix"},
		{"/v1/completions", `{"prompt":"a","best_of":3}`, "best_of"},
		{"/v1/completions", `{"prompt":"a","n":-1}`, "n"},
		{"/v1/embeddings", `{}`, "input"},
		{"/v1/embeddings", `{"input":""}`, "input"},
		{"/v1/embeddings", `{"input":[1,2]}`, "input"},
		{"/v1/embeddings", `{"input":"a","encoding_format":"hex"}`, "encoding_format"},
		{"/v1/embeddings", `{"input":"a","pooling":"median"}`, "pooling"},
		{"/v1/embeddings", `{"input":"a","pooling":"none"}`, "pooling"},
		{"/v1/embeddings", `{"input":"a","layer":"last"}`, "layer"},
		{"/v1/embeddings", `{"input":"a","layer":9}`, "layer"},
		{"/v1/embeddings", `{"input":"a","normalize":"x"}`, "normalize"},
		{"/v1/embeddings", `{"input":"a","dimensions":0}`, "dimensions"},
		{"/v1/embeddings", `{"input":"a","dimensions":99}`, "dimensions"},
	} {
		t.Run(tc.path+" "+tc.body, func(t *testing.T) {
			status, v, _ := post(t, ts, tc.path, tc.body)
			require.Equal(t, http.StatusBadRequest, status, "%v", v)
			assert.Equal(t, tc.param, at(v, "error", "param"), "%v", v)
			assert.Equal(t, "invalid_request_error", at(v, "error", "type"))
			assert.NotEmpty(t, at(v, "error", "message"))
			e := v["error"].(map[string]any)
			assert.Contains(t, e, "code")
		})
	}
}

func TestBadJSON(t *testing.T) {
	_, ts := newServer(t, &fake{}, server.Options{})
	for _, body := range []string{``, `{`, `[1]`, `"x"`, `null`, `{"messages":[]} trailing`} {
		status, v, _ := post(t, ts, "/v1/chat/completions", body)
		assert.Equal(t, http.StatusBadRequest, status, body)
		assert.Equal(t, "invalid_request_error", at(v, "error", "type"), body)
		assert.Nil(t, at(v, "error", "param"), "param is null when no field is at fault")
	}
}

func TestUnknownFieldsIgnored(t *testing.T) {
	f := &fake{}
	_, ts := newServer(t, f, server.Options{})
	status, v, _ := post(t, ts, "/v1/chat/completions",
		`{"messages":[{"role":"user","content":"hi","weird":1}],"user":"u1","metadata":{"a":"b"},"store":false,"service_tier":"auto","brand_new_field":{"x":[1]}}`)
	require.Equal(t, http.StatusOK, status, "%v", v)
	assert.Equal(t, "re: hi", at(v, "choices", 0, "message", "content"))
}

// TestNullFields: clients send null for fields they leave unset (Python's
// None); null is the same as absent.
func TestNullFields(t *testing.T) {
	f := &fake{}
	_, ts := newServer(t, f, server.Options{})
	status, v, _ := post(t, ts, "/v1/chat/completions",
		`{"messages":[{"role":"user","content":"hi","name":null}],"model":null,"max_tokens":null,"n":null,"temperature":null,"top_p":null,"stop":null,"seed":null,"logprobs":null,"top_logprobs":null,"logit_bias":null,"response_format":null,"tools":null,"tool_choice":null,"stream":null,"stream_options":null}`)
	require.Equal(t, http.StatusOK, status, "%v", v)
}
