package server_test

import (
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/server"
)

// The exact request bodies the Python clients send, written from their
// documented behaviour: the openai package sends a parameter passed as
// None as null, and distilabel passes all of its generation keywords.
// MODEL stands for the served model's id.
var clientBodies = map[string]struct{ path, body string }{
	// distilabel's OpenAILLM.agenerate for chat input, with its defaults.
	"distilabel OpenAILLM": {"/v1/chat/completions", `{
		"messages": [{"role": "system", "content": "You are a helpful assistant."},
			{"role": "user", "content": "Write a haiku about the sea."}],
		"model": "MODEL", "logprobs": false, "top_logprobs": null, "max_tokens": 128, "n": 1,
		"frequency_penalty": 0.0, "presence_penalty": 0.0, "temperature": 1.0, "top_p": 1.0, "stop": null}`},
	// The same with num_generations=3, logprobs and top_logprobs.
	"distilabel OpenAILLM logprobs": {"/v1/chat/completions", `{
		"messages": [{"role": "user", "content": "Name a colour."}],
		"model": "MODEL", "logprobs": true, "top_logprobs": 3, "max_tokens": 16, "n": 3,
		"frequency_penalty": 0.0, "presence_penalty": 0.0, "temperature": 0.7, "top_p": 1.0, "stop": ["\n\n"]}`},
	// OpenAILLM with response_format set (distilabel's JSON mode).
	"distilabel OpenAILLM json": {"/v1/chat/completions", `{
		"messages": [{"role": "user", "content": "Give a JSON object describing a cat."}],
		"model": "MODEL", "logprobs": false, "top_logprobs": null, "max_tokens": 64, "n": 2,
		"frequency_penalty": 0.0, "presence_penalty": 0.0, "temperature": 1.0, "top_p": 1.0, "stop": null,
		"response_format": {"type": "json_object"}}`},
	// instructor's default mode (TOOLS) on a Pydantic model User(name: str,
	// age: int), as distilabel's structured output sends it: the model's
	// schema without title, sorted required, and the call forced.
	"instructor tools": {"/v1/chat/completions", `{
		"messages": [{"role": "user", "content": "Extract: Jason is 25 years old."}],
		"model": "MODEL", "logprobs": false, "top_logprobs": null, "max_tokens": 64, "n": 1,
		"frequency_penalty": 0.0, "presence_penalty": 0.0, "temperature": 1.0, "top_p": 1.0, "stop": null,
		"tools": [{"type": "function", "function": {"name": "User",
			"description": "Correctly extracted ` + "`User`" + ` with all the required parameters with correct types",
			"parameters": {"properties": {"name": {"title": "Name", "type": "string"}, "age": {"title": "Age", "type": "integer"}},
				"required": ["age", "name"], "type": "object"}}}],
		"tool_choice": {"type": "function", "function": {"name": "User"}}}`},
	// instructor's JSON mode: the schema in a system message, and
	// response_format json_object.
	"instructor json": {"/v1/chat/completions", `{
		"messages": [{"role": "system", "content": "As a genius expert, your task is to understand the content and provide the parsed objects in json that match the following json_schema:\n\n{\"properties\": {\"name\": {\"title\": \"Name\", \"type\": \"string\"}, \"age\": {\"title\": \"Age\", \"type\": \"integer\"}}, \"required\": [\"age\", \"name\"], \"title\": \"User\", \"type\": \"object\"}\n\nMake sure to return an instance of the JSON, not the schema itself"},
			{"role": "user", "content": "Extract: Jason is 25 years old."}],
		"model": "MODEL", "max_tokens": 64, "response_format": {"type": "json_object"}}`},
	// distilabel's ClientvLLM: a prompt already formatted by the chat
	// template, through the completions route.
	"distilabel ClientvLLM": {"/v1/completions", `{
		"model": "MODEL", "prompt": "<|im_start|>user\nWrite a haiku.<|im_end|>\n<|im_start|>assistant\n",
		"n": 2, "max_tokens": 32, "frequency_penalty": 0.0, "logit_bias": null, "presence_penalty": 0.0,
		"temperature": 1.0, "top_p": 1.0}`},
}

// checkClientAnswer checks an answer the way its client reads it.
func checkClientAnswer(t *testing.T, name string, v map[string]any) {
	t.Helper()
	choices := asList(v["choices"])
	require.NotEmpty(t, choices, "%s: %v", name, v)
	assert.Positive(t, num(at(v, "usage", "prompt_tokens")), name)
	assert.False(t, at(v, "usage", "completion_tokens") == nil, name)
	for _, c := range choices {
		assert.NotNil(t, at(c, "finish_reason"), name)
		switch name {
		case "distilabel ClientvLLM":
			assert.IsType(t, "", at(c, "text"), name)
		case "instructor tools":
			args := at(c, "message", "tool_calls", 0, "function", "arguments")
			require.IsType(t, "", args, "%s: %v", name, c)
			// As pydantic reads it: an integer of any size (the schema
			// sets no bound, and a random model writes long ones).
			var user struct {
				Name *string      `json:"name"`
				Age  *json.Number `json:"age"`
			}
			require.NoError(t, json.Unmarshal([]byte(args.(string)), &user), name)
			assert.NotNil(t, user.Name, name)
			if assert.NotNil(t, user.Age, name) {
				_, ok := new(big.Int).SetString(user.Age.String(), 10)
				assert.True(t, ok, "%s: age %s is an integer", name, user.Age)
			}
		case "distilabel OpenAILLM json", "instructor json":
			// As Python's json.loads reads it: a number of any size (the
			// JSON grammar bounds none, and a random model writes
			// exponents past float64's range, which Python reads as inf).
			dec := json.NewDecoder(strings.NewReader(at(c, "message", "content").(string)))
			dec.UseNumber()
			var obj map[string]any
			assert.NoError(t, dec.Decode(&obj), name)
			assert.False(t, dec.More(), "%s: one JSON value", name)
		default:
			assert.IsType(t, "", at(c, "message", "content"), name)
		}
		if name == "distilabel OpenAILLM logprobs" {
			// distilabel reads [[{token, logprob} for t in token.top_logprobs] for token in content].
			content := asList(at(c, "logprobs", "content"))
			require.NotEmpty(t, content, name)
			for _, tok := range content {
				top := asList(at(tok, "top_logprobs"))
				assert.Len(t, top, 3, name)
				for _, alt := range top {
					assert.IsType(t, "", at(alt, "token"))
					assert.IsType(t, 0.0, at(alt, "logprob"))
				}
			}
		}
	}
}

func TestClientBodies(t *testing.T) {
	f := &fake{reply: func(in llm.Input, g int) string {
		if in.Structured != nil {
			if len(in.Tools) > 0 {
				return `{"name":"User","arguments":{"name":"Jason","age":25}}`
			}
			return `{"name":"Jason","age":25}`
		}
		return "waves"
	}}
	_, ts := newServer(t, f, server.Options{})
	for name, c := range clientBodies {
		t.Run(name, func(t *testing.T) {
			body := strings.ReplaceAll(c.body, "MODEL", "fake-model")
			status, v, _ := post(t, ts, c.path, body)
			require.Equal(t, http.StatusOK, status, "%v", v)
			checkClientAnswer(t, name, v)
		})
	}
	_, n, p := f.last()
	_ = n
	assert.Equal(t, 1.0, p.TopP)
}

// FuzzRequest: no body, however bad, gives a 500 or stops the server;
// every error is in OpenAI's shape.
func FuzzRequest(f *testing.F) {
	for _, c := range clientBodies {
		f.Add(c.path, strings.ReplaceAll(c.body, "MODEL", "fake-model"))
	}
	for _, seed := range []struct{ path, body string }{
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"stream":true,"n":2,"logprobs":true}`},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],` + weatherTools + `,"tool_choice":"required","stream":true}`},
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"$ref":"#/nope"}}}}`},
		{"/v1/chat/completions", `{"messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}]}]}`},
		{"/v1/completions", `{"prompt":["a","b"],"n":3,"echo":true,"logprobs":2,"stream":true}`},
		{"/v1/embeddings", `{"input":["a","b"],"layer":-1,"pooling":"max","encoding_format":"base64","dimensions":2}`},
		{"/v1/embeddings", `{"input":"x","layer":-99999999999}`},
		{"/v1/models", ``},
	} {
		f.Add(seed.path, seed.body)
	}
	fk := &fake{reply: func(in llm.Input, g int) string { return `{"name":"now","arguments":{}}` }, embedErr: errNoPooling}
	s, err := server.New(fk, server.Options{EmbedFallback: errNoPooling, MaxN: 4})
	require.NoError(f, err)
	s.MarkReady()
	f.Fuzz(func(t *testing.T, path, body string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		method := http.MethodPost
		if strings.Contains(path, "models") {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, "http://localhost/", strings.NewReader(body))
		req.URL.Path = path
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		require.Less(t, rec.Code, 500, "%s %s: %s", path, body, rec.Body)
		if rec.Code >= 400 {
			var e struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), rec.Body.String())
			require.NotEmpty(t, e.Error.Message)
			require.NotEmpty(t, e.Error.Type)
		}
	})
}
