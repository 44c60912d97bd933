//go:build cgo

package server_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/grammar/jsonschema"
)

// jsDir holds the JS client's script and its node_modules (git-ignored;
// `npm ci` there installs it, as .ci/run does).
const jsDir = "testdata/js"

const toolParams = `{"type":"object","properties":{"city":{"type":"string","maxLength":20},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"]}`

// TestJSClient drives the server with OpenAI's official JS client.
func TestJSClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the JS client test needs Node.js")
	}
	if _, err := os.Stat(filepath.Join(jsDir, "node_modules", "openai", "package.json")); err != nil {
		t.Skipf("the openai npm package is not installed: run `npm ci` in server/%s", jsDir)
	}
	ts := tinyServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "e2e.mjs", ts.URL+"/v1", "test-key", "tinyllama", personSchema, toolParams)
	cmd.Dir = jsDir
	cmd.Stderr = &testWriter{t}
	out, err := cmd.Output()
	require.NoError(t, err, "node e2e.mjs")

	var r struct {
		Models []string
		Chat   struct {
			N       int
			Indices []int
			Usage   map[string]any
		}
		Schema []string
		Object []string
		Stream struct {
			Chunks int
			Text   string
			Usage  map[string]any
			Whole  string
		}
		Logprobs struct {
			Content []struct {
				Token       string
				Logprob     float64
				TopLogprobs []struct{ Token string } `json:"top_logprobs"`
			}
			Text string
		}
		Tool struct {
			Finish string
			Calls  []struct {
				ID       string
				Type     string
				Function struct{ Name, Arguments string }
			}
		}
		Completion struct {
			N       int
			Indices []int
		}
		Embeddings      []int
		EmbeddingBase64 string
		Error           *struct {
			Status      int
			Param, Type string
		}
		Concurrent []int
	}
	require.NoError(t, json.Unmarshal(out, &r), string(out))

	assert.Equal(t, []string{"tinyllama"}, r.Models)
	assert.Equal(t, 3, r.Chat.N)
	assert.Equal(t, []int{0, 1, 2}, r.Chat.Indices)
	assert.Contains(t, r.Chat.Usage, "prompt_tokens")

	v, err := jsonschema.NewValidator([]byte(personSchema))
	require.NoError(t, err)
	require.Len(t, r.Schema, 4)
	for _, s := range r.Schema {
		assert.NoError(t, v.Validate([]byte(s)), s)
	}
	for _, s := range r.Object {
		var obj map[string]any
		assert.NoError(t, json.Unmarshal([]byte(s), &obj), s)
	}
	assert.Greater(t, r.Stream.Chunks, 2)
	assert.Equal(t, r.Stream.Whole, r.Stream.Text)
	assert.Contains(t, r.Stream.Usage, "completion_tokens")
	if len(r.Logprobs.Content) == 0 {
		t.Log("logprobs: the engine does not fill llm.Output.Logprobs yet")
	} else {
		text := ""
		for _, c := range r.Logprobs.Content {
			text += c.Token
			assert.Len(t, c.TopLogprobs, 2)
		}
		assert.Equal(t, r.Logprobs.Text, text)
	}
	assert.Equal(t, "tool_calls", r.Tool.Finish)
	require.Len(t, r.Tool.Calls, 1)
	assert.Equal(t, "forecast", r.Tool.Calls[0].Function.Name)
	pv, err := jsonschema.NewValidator([]byte(toolParams))
	require.NoError(t, err)
	assert.NoError(t, pv.Validate([]byte(r.Tool.Calls[0].Function.Arguments)))
	assert.Equal(t, 4, r.Completion.N)
	assert.Equal(t, []int{0, 1, 2, 3}, r.Completion.Indices)
	assert.Equal(t, []int{64, 64}, r.Embeddings)
	assert.Equal(t, "string", r.EmbeddingBase64)
	require.NotNil(t, r.Error)
	assert.Equal(t, 400, r.Error.Status)
	assert.Equal(t, "temperature", r.Error.Param)
	assert.Equal(t, "invalid_request_error", r.Error.Type)
	assert.Equal(t, []int{1, 1, 1, 1, 1, 1, 1, 1}, r.Concurrent)
}

// testWriter sends a command's stderr to the test log.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
