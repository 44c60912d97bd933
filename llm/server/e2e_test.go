//go:build cgo

package server_test

// End-to-end tests: OpenAI's official Go client (openai-go) against the
// server on the project's tiny llama, through llama.cpp. They need cgo;
// the rest of the package's tests do not.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/grammar/jsonschema"
	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/tinyllama"
	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/server"
)

// The engine reports its queue to the metrics.
var _ server.EngineStats = (*llamacpp.LLM)(nil)

// sharedDir is the project's shared test data, beside the checkout.
const sharedDir = "../../../shared"

var tiny struct {
	once sync.Once
	dir  string
	path string
	l    *llamacpp.LLM
	srv  *server.Server
	ts   *httptest.Server
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if tiny.ts != nil {
		tiny.ts.Close()
	}
	if tiny.l != nil {
		tiny.l.Close()
	}
	if tiny.dir != "" {
		os.RemoveAll(tiny.dir)
	}
	os.Exit(code)
}

// tinyServer serves the tiny llama (once per test binary) and returns the
// server's base URL.
func tinyServer(t testing.TB) *httptest.Server {
	t.Helper()
	tiny.once.Do(func() {
		if tiny.dir, tiny.err = os.MkdirTemp("", "locallm-server-*"); tiny.err != nil {
			return
		}
		tiny.path = filepath.Join(tiny.dir, "tiny.gguf")
		if tiny.err = tinyllama.Write(tiny.path, tinyllama.Config{}); tiny.err != nil {
			return
		}
		// One thread: go test runs packages in parallel on a small machine.
		tiny.l, tiny.err = llamacpp.Open(context.Background(), llamacpp.Options{ModelPath: tiny.path,
			Context: llamacpp.ContextOptions{ContextSize: 8192, Sequences: 32, Threads: 1}})
		if tiny.err != nil {
			return
		}
		tiny.srv, tiny.err = server.New(tiny.l, server.Options{EmbedFallback: llamacpp.ErrNoPooling, APIKey: "test-key"})
		if tiny.err != nil {
			return
		}
		tiny.srv.MarkReady()
		tiny.ts = httptest.NewServer(tiny.srv)
	})
	require.NoError(t, tiny.err)
	return tiny.ts
}

func tinyClient(t testing.TB) openai.Client {
	ts := tinyServer(t)
	return openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("test-key"), option.WithMaxRetries(0))
}

var bg = context.Background()

func TestE2EModels(t *testing.T) {
	c := tinyClient(t)
	page, err := c.Models.List(bg)
	require.NoError(t, err)
	require.Len(t, page.Data, 1)
	assert.Equal(t, "tinyllama", page.Data[0].ID)
	m, err := c.Models.Get(bg, "tinyllama")
	require.NoError(t, err)
	assert.Equal(t, "tinyllama", m.ID)
}

func TestE2EChatN(t *testing.T) {
	c := tinyClient(t)
	resp, err := c.Chat.Completions.New(bg, openai.ChatCompletionNewParams{
		Model:       "tinyllama",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Name a colour.")},
		N:           openai.Int(3),
		MaxTokens:   openai.Int(12),
		Temperature: openai.Float(0.9),
		TopP:        openai.Float(0.95),
		Seed:        openai.Int(7),
		Stop:        openai.ChatCompletionNewParamsStopUnion{OfStringArray: []string{"\n\n"}},
	})
	require.NoError(t, err)
	require.Len(t, resp.Choices, 3)
	for i, ch := range resp.Choices {
		assert.Equal(t, int64(i), ch.Index)
		assert.Equal(t, "assistant", string(ch.Message.Role))
		assert.Contains(t, []string{"stop", "length"}, ch.FinishReason)
	}
	assert.Positive(t, resp.Usage.PromptTokens)
	assert.Positive(t, resp.Usage.CompletionTokens)
	assert.LessOrEqual(t, resp.Usage.CompletionTokens, int64(36))
	assert.Equal(t, resp.Usage.PromptTokens+resp.Usage.CompletionTokens, resp.Usage.TotalTokens)
	assert.Equal(t, "tinyllama", resp.Model)

	// Greedy: the same text twice, and the prompt's prefix reused the
	// second time is counted as cached (where the engine reports it).
	greedy := openai.ChatCompletionNewParams{Messages: []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage(strings.Repeat("You are a careful assistant. ", 8)), openai.UserMessage("Hello")},
		MaxTokens: openai.Int(8), Temperature: openai.Float(0), Model: "tinyllama"}
	a, err := c.Chat.Completions.New(bg, greedy)
	require.NoError(t, err)
	b, err := c.Chat.Completions.New(bg, greedy)
	require.NoError(t, err)
	assert.Equal(t, a.Choices[0].Message.Content, b.Choices[0].Message.Content)
}

const personSchema = `{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":0,"maximum":120},
	"tags":{"type":"array","items":{"enum":["a","b","c"]},"maxItems":3}},"required":["name","age","tags"],"additionalProperties":false}`

func TestE2EJSONSchema(t *testing.T) {
	c := tinyClient(t)
	var schema map[string]any
	require.NoError(t, json.Unmarshal([]byte(personSchema), &schema))
	resp, err := c.Chat.Completions.New(bg, openai.ChatCompletionNewParams{
		Model:     "tinyllama",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("A person as JSON.")},
		N:         openai.Int(4),
		MaxTokens: openai.Int(40),
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
			JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "person", Schema: schema, Strict: openai.Bool(true)}}},
	})
	require.NoError(t, err)
	require.Len(t, resp.Choices, 4)
	v, err := jsonschema.NewValidator([]byte(personSchema))
	require.NoError(t, err)
	for _, ch := range resp.Choices {
		assert.NoError(t, v.Validate([]byte(ch.Message.Content)), "every output validates: %s", ch.Message.Content)
	}
}

func TestE2EJSONObject(t *testing.T) {
	c := tinyClient(t)
	resp, err := c.Chat.Completions.New(bg, openai.ChatCompletionNewParams{
		Model:          "tinyllama",
		Messages:       []openai.ChatCompletionMessageParamUnion{openai.UserMessage("JSON please.")},
		MaxTokens:      openai.Int(24),
		N:              openai.Int(2),
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}},
	})
	require.NoError(t, err)
	for _, ch := range resp.Choices {
		var obj map[string]any
		assert.NoError(t, json.Unmarshal([]byte(ch.Message.Content), &obj), ch.Message.Content)
	}
}

// streamChat streams a chat completion and returns its chunks, and the
// client's accumulation of them.
func streamChat(t *testing.T, c openai.Client, params openai.ChatCompletionNewParams) (openai.ChatCompletionAccumulator, []openai.ChatCompletionChunk) {
	t.Helper()
	stream := c.Chat.Completions.NewStreaming(bg, params)
	acc := openai.ChatCompletionAccumulator{}
	var chunks []openai.ChatCompletionChunk
	for stream.Next() {
		chunk := stream.Current()
		require.True(t, acc.AddChunk(chunk))
		chunks = append(chunks, chunk)
	}
	require.NoError(t, stream.Err())
	require.NoError(t, stream.Close())
	return acc, chunks
}

func TestE2EStream(t *testing.T) {
	c := tinyClient(t)
	params := openai.ChatCompletionNewParams{
		Model:         "tinyllama",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell a story.")},
		MaxTokens:     openai.Int(20),
		Temperature:   openai.Float(0),
		N:             openai.Int(2),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	acc, chunks := streamChat(t, c, params)
	assert.Greater(t, len(chunks), 4)
	require.Len(t, acc.Choices, 2)
	assert.Positive(t, acc.Usage.CompletionTokens, "the last chunk carries usage")
	assert.Equal(t, acc.Usage.PromptTokens+acc.Usage.CompletionTokens, acc.Usage.TotalTokens)

	whole, err := c.Chat.Completions.New(bg, params)
	require.NoError(t, err)
	for i := range 2 {
		assert.Equal(t, whole.Choices[i].Message.Content, acc.Choices[i].Message.Content, "streamed text is the whole text (greedy)")
		assert.Equal(t, whole.Choices[i].FinishReason, acc.Choices[i].FinishReason)
	}
	assert.Equal(t, whole.Usage.CompletionTokens, acc.Usage.CompletionTokens)
}

// TestE2ELogprobs waits for the engine: until llamacpp fills
// llm.Output.Logprobs, it skips.
func TestE2ELogprobs(t *testing.T) {
	c := tinyClient(t)
	resp, err := c.Chat.Completions.New(bg, openai.ChatCompletionNewParams{
		Model:       "tinyllama",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
		MaxTokens:   openai.Int(6),
		Temperature: openai.Float(0),
		Logprobs:    openai.Bool(true),
		TopLogprobs: openai.Int(3),
	})
	require.NoError(t, err)
	content := resp.Choices[0].Logprobs.Content
	if len(content) == 0 {
		t.Skip("the engine does not fill llm.Output.Logprobs yet")
	}
	assert.Equal(t, resp.Usage.CompletionTokens, int64(len(content)))
	var text strings.Builder
	for _, lp := range content {
		text.WriteString(lp.Token)
		assert.LessOrEqual(t, lp.Logprob, 0.0)
		require.Len(t, lp.TopLogprobs, 3)
		assert.InDelta(t, lp.TopLogprobs[0].Logprob, lp.Logprob, 1e-6, "greedy: the sampled token is the most likely")
		for k := 1; k < 3; k++ {
			assert.LessOrEqual(t, lp.TopLogprobs[k].Logprob, lp.TopLogprobs[k-1].Logprob)
		}
	}
	assert.Equal(t, resp.Choices[0].Message.Content, text.String())
}

func TestE2EForcedToolCall(t *testing.T) {
	c := tinyClient(t)
	params := `{"type":"object","properties":{"city":{"type":"string","maxLength":20},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"]}`
	var schema map[string]any
	require.NoError(t, json.Unmarshal([]byte(params), &schema))
	req := openai.ChatCompletionNewParams{
		Model:       "tinyllama",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Oslo for 3 days?")},
		MaxTokens:   openai.Int(30),
		N:           openai.Int(2),
		Temperature: openai.Float(0),
		Tools: []openai.ChatCompletionToolUnionParam{
			openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "forecast", Description: openai.String("Weather forecast"), Parameters: schema}),
			openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "other"}),
		},
		ToolChoice: openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "forecast"}),
	}
	resp, err := c.Chat.Completions.New(bg, req)
	require.NoError(t, err)
	v, err := jsonschema.NewValidator([]byte(params))
	require.NoError(t, err)
	for _, ch := range resp.Choices {
		require.Len(t, ch.Message.ToolCalls, 1, "%+v", ch.Message)
		call := ch.Message.ToolCalls[0]
		assert.True(t, strings.HasPrefix(call.ID, "call_"))
		assert.Equal(t, "forecast", call.Function.Name)
		assert.NoError(t, v.Validate([]byte(call.Function.Arguments)), call.Function.Arguments)
		assert.Equal(t, "tool_calls", ch.FinishReason)
	}

	// Streamed (the tiny model is fast, so the stream interval may join
	// the pieces; TestChatStreamToolCalls sees them one by one), the
	// call's deltas join into the same call (greedy).
	acc, chunks := streamChat(t, c, req)
	argDeltas := 0
	for _, chunk := range chunks {
		for _, ch := range chunk.Choices {
			for _, tc := range ch.Delta.ToolCalls {
				if tc.Function.Arguments != "" {
					argDeltas++
				}
			}
		}
	}
	require.Len(t, acc.Choices, 2)
	assert.GreaterOrEqual(t, argDeltas, 2, "each choice's arguments")
	for i, ch := range acc.Choices {
		require.Len(t, ch.Message.ToolCalls, 1, "%+v", ch.Message)
		call := ch.Message.ToolCalls[0]
		assert.True(t, strings.HasPrefix(call.ID, "call_"))
		want := resp.Choices[i].Message.ToolCalls[0].Function
		assert.Equal(t, want.Name, call.Function.Name)
		assert.Equal(t, want.Arguments, call.Function.Arguments)
		assert.Equal(t, "tool_calls", ch.FinishReason)
	}
}

func TestE2ECompletions(t *testing.T) {
	c := tinyClient(t)
	resp, err := c.Completions.New(bg, openai.CompletionNewParams{
		Model:     "tinyllama",
		Prompt:    openai.CompletionNewParamsPromptUnion{OfArrayOfStrings: []string{"Once upon a time", "The end"}},
		N:         openai.Int(2),
		MaxTokens: openai.Int(8),
		Seed:      openai.Int(3),
	})
	require.NoError(t, err)
	require.Len(t, resp.Choices, 4)
	for i, ch := range resp.Choices {
		assert.Equal(t, int64(i), ch.Index)
		assert.Contains(t, []string{"stop", "length"}, string(ch.FinishReason))
	}
	assert.Positive(t, resp.Usage.CompletionTokens)

	stream := c.Completions.NewStreaming(bg, openai.CompletionNewParams{
		Model: "tinyllama", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
		MaxTokens: openai.Int(8), Temperature: openai.Float(0), N: openai.Int(2),
	})
	texts := map[int64]string{}
	for stream.Next() {
		for _, ch := range stream.Current().Choices {
			texts[ch.Index] += ch.Text
		}
	}
	require.NoError(t, stream.Err())
	assert.Len(t, texts, 2)
	assert.Equal(t, texts[0], texts[1], "greedy generations agree")
}

func TestE2EEmbeddings(t *testing.T) {
	c := tinyClient(t)
	in := openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a cat", "a dog sat"}}
	resp, err := c.Embeddings.New(bg, openai.EmbeddingNewParams{Model: "tinyllama", Input: in})
	require.NoError(t, err)
	require.Len(t, resp.Data, 2)
	assert.Len(t, resp.Data[0].Embedding, 64, "the tiny llama's hidden size")
	norm := 0.0
	for _, x := range resp.Data[0].Embedding {
		norm += x * x
	}
	assert.InDelta(t, 1, math.Sqrt(norm), 1e-5, "normalised")
	assert.Positive(t, resp.Usage.PromptTokens)

	b64, err := c.Embeddings.New(bg, openai.EmbeddingNewParams{Model: "tinyllama", Input: in, EncodingFormat: openai.EmbeddingNewParamsEncodingFormatBase64})
	require.NoError(t, err)
	assert.InDeltaSlice(t, resp.Data[1].Embedding, b64.Data[1].Embedding, 1e-6)

	layer, err := c.Embeddings.New(bg, openai.EmbeddingNewParams{Model: "tinyllama", Input: in},
		option.WithJSONSet("layer", 1), option.WithJSONSet("pooling", "last"), option.WithJSONSet("normalize", false))
	require.NoError(t, err)
	assert.NotEqual(t, resp.Data[0].Embedding, layer.Data[0].Embedding)

	// The same vector the library gives.
	hs, err := tiny.l.HiddenStates(bg, []llm.Input{llm.Prompt("a cat")}, []int{1})
	require.NoError(t, err)
	r, _ := hs[0].States[0].Dims()
	for k, x := range layer.Data[0].Embedding {
		assert.InDelta(t, hs[0].States[0].At(r-1, k), x, 1e-5)
	}
}

// TestE2EEmbeddingModel: a BERT's own pooled embedding.
func TestE2EEmbeddingModel(t *testing.T) {
	vocab := filepath.Join(sharedDir, "vocab", "ggml-vocab-bert-bge.gguf")
	if _, err := os.Stat(vocab); err != nil {
		t.Skipf("vocab %s not found (the shared test data sits beside the checkout)", vocab)
	}
	path := filepath.Join(t.TempDir(), "bert.gguf")
	require.NoError(t, tinyllama.WriteBERT(path, tinyllama.BERTConfig{Vocab: vocab}))
	l, err := llamacpp.Open(bg, llamacpp.Options{ModelPath: path, Context: llamacpp.ContextOptions{Threads: 1}})
	require.NoError(t, err)
	defer l.Close()
	s, err := server.New(l, server.Options{EmbedFallback: llamacpp.ErrNoPooling})
	require.NoError(t, err)
	s.MarkReady()
	ts := httptest.NewServer(s)
	defer ts.Close()
	c := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("x"), option.WithMaxRetries(0))
	resp, err := c.Embeddings.New(bg, openai.EmbeddingNewParams{Model: openai.EmbeddingModel(l.ModelName()),
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello world")}, EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat})
	require.NoError(t, err)
	own, err := l.Embed(bg, []llm.Input{llm.Prompt("hello world")})
	require.NoError(t, err)
	norm := 0.0
	for _, x := range own[0] {
		norm += float64(x) * float64(x)
	}
	for k, x := range resp.Data[0].Embedding {
		assert.InDelta(t, float64(own[0][k])/math.Sqrt(norm), x, 1e-5)
	}
}

func TestE2EError(t *testing.T) {
	c := tinyClient(t)
	_, err := c.Chat.Completions.New(bg, openai.ChatCompletionNewParams{
		Model: "tinyllama", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
		Temperature: openai.Float(7),
	})
	var apiErr *openai.Error
	require.True(t, errors.As(err, &apiErr), "%v", err)
	assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
	assert.Equal(t, "temperature", apiErr.Param)
	assert.Equal(t, "invalid_request_error", apiErr.Type)
	assert.NotEmpty(t, apiErr.Message)

	_, err = c.Chat.Completions.New(bg, openai.ChatCompletionNewParams{
		Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}})
	require.True(t, errors.As(err, &apiErr))
	assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
	assert.Equal(t, "model_not_found", apiErr.Code)

	bad := openai.NewClient(option.WithBaseURL(tinyServer(t).URL+"/v1/"), option.WithAPIKey("wrong"), option.WithMaxRetries(0))
	_, err = bad.Models.List(bg)
	require.True(t, errors.As(err, &apiErr))
	assert.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)

	// A prompt longer than the context is the client's fault.
	_, err = c.Completions.New(bg, openai.CompletionNewParams{Model: "tinyllama",
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(strings.Repeat("word ", 9000))}, MaxTokens: openai.Int(4)})
	require.True(t, errors.As(err, &apiErr), "%v", err)
	assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
	assert.Equal(t, "context_length_exceeded", apiErr.Code)
}

// TestE2EConcurrent: 32 clients at once, under the race detector in make
// test.
func TestE2EConcurrent(t *testing.T) {
	c := tinyClient(t)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			switch i % 4 {
			case 0:
				_, err = c.Chat.Completions.New(bg, openai.ChatCompletionNewParams{Model: "tinyllama",
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprint("q", i))}, MaxTokens: openai.Int(8), N: openai.Int(2)})
			case 1:
				stream := c.Chat.Completions.NewStreaming(bg, openai.ChatCompletionNewParams{Model: "tinyllama",
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprint("q", i))}, MaxTokens: openai.Int(8)})
				for stream.Next() {
				}
				err = stream.Err()
			case 2:
				_, err = c.Completions.New(bg, openai.CompletionNewParams{Model: "tinyllama",
					Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(fmt.Sprint("p", i))}, MaxTokens: openai.Int(8)})
			case 3:
				_, err = c.Embeddings.New(bg, openai.EmbeddingNewParams{Model: "tinyllama",
					Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String(fmt.Sprint("e", i))}})
			}
			if err != nil {
				errs <- fmt.Errorf("request %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

// TestE2EClientBodies: the exact bodies of distilabel's and instructor's
// requests, on the real model.
func TestE2EClientBodies(t *testing.T) {
	ts := tinyServer(t)
	for name, c := range clientBodies {
		t.Run(name, func(t *testing.T) {
			body := strings.ReplaceAll(c.body, "MODEL", "tinyllama")
			status, v, _ := post(t, tiny.ts, c.path, body, "Authorization", "Bearer test-key")
			require.Equal(t, http.StatusOK, status, "%v", v)
			if name == "distilabel OpenAILLM logprobs" && len(asList(at(v, "choices", 0, "logprobs", "content"))) == 0 {
				t.Skip("the engine does not fill llm.Output.Logprobs yet")
			}
			checkClientAnswer(t, name, v)
		})
	}
	_ = ts
}

// TestE2EDisconnect: a client that goes away frees its sequences: the
// server's running generations drop to zero, and the model still serves.
func TestE2EDisconnect(t *testing.T) {
	c := tinyClient(t)
	cctx, cancel := context.WithCancel(bg)
	stream := c.Chat.Completions.NewStreaming(cctx, openai.ChatCompletionNewParams{Model: "tinyllama",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Go on forever.")}, MaxTokens: openai.Int(4000), N: openai.Int(4)},
		option.WithJSONSet("ignore_eos", true))
	require.True(t, stream.Next(), "%v", stream.Err())
	cancel()
	for stream.Next() {
	}
	stream.Close()
	waitFor(t, "the generations to be cancelled", func() bool {
		_, body := get(t, tiny.ts, "/metrics", "Authorization", "Bearer test-key")
		return strings.Contains(body, "locallm_running_generations 0") && strings.Contains(body, "locallm_active_sequences 0")
	})
	assert.Zero(t, tiny.l.ActiveSequences(), "the engine decodes nothing for the client that left")
	resp, err := c.Chat.Completions.New(bg, openai.ChatCompletionNewParams{Model: "tinyllama",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Still there?")}, MaxTokens: openai.Int(4)})
	require.NoError(t, err)
	assert.Len(t, resp.Choices, 1)
}
