package server_test

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llm/server"
)

func vector(t *testing.T, v map[string]any, i int) []float64 {
	t.Helper()
	var out []float64
	switch e := at(v, "data", i, "embedding").(type) {
	case []any:
		for _, x := range e {
			out = append(out, x.(float64))
		}
	case string:
		b, err := base64.StdEncoding.DecodeString(e)
		require.NoError(t, err)
		for k := 0; k+4 <= len(b); k += 4 {
			out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(b[k:]))))
		}
	default:
		t.Fatalf("embedding %d: %v", i, e)
	}
	return out
}

// TestEmbeddingsOwn: an embedding model's own vectors, normalised.
func TestEmbeddingsOwn(t *testing.T) {
	f := &fake{}
	_, ts := newServer(t, f, server.Options{})
	status, v, _ := post(t, ts, "/v1/embeddings", `{"input":["abc","de"],"model":"fake-model"}`)
	require.Equal(t, http.StatusOK, status, "%v", v)
	assert.Equal(t, "list", v["object"])
	assert.Equal(t, "fake-model", v["model"])
	require.Len(t, v["data"], 2)
	assert.Equal(t, "embedding", at(v, "data", 1, "object"))
	assert.Equal(t, 1.0, at(v, "data", 1, "index"))
	assert.Equal(t, []float64{1, 0, 0, 0}, vector(t, v, 0), "normalised by default")
	assert.Empty(t, f.layers, "no hidden states were read")

	status, v, _ = post(t, ts, "/v1/embeddings", `{"input":"abc","normalize":false,"encoding_format":"base64"}`)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []float64{3, 0, 0, 0}, vector(t, v, 0))
}

// TestEmbeddingsHidden: a decoder without an embedding of its own gives
// pooled hidden states; layer and pooling choose them.
func TestEmbeddingsHidden(t *testing.T) {
	f := &fake{embedErr: errNoPooling}
	_, ts := newServer(t, f, server.Options{EmbedFallback: errNoPooling})
	status, v, _ := post(t, ts, "/v1/embeddings", `{"input":"abcd","normalize":false}`)
	require.Equal(t, http.StatusOK, status, "%v", v)
	assert.Equal(t, []float64{2.5, -1, 0, 0}, vector(t, v, 0), "the mean of the last layer")
	assert.Equal(t, 4.0, num(at(v, "usage", "prompt_tokens")))
	assert.Equal(t, 4.0, num(at(v, "usage", "total_tokens")))

	for _, tc := range []struct {
		body string
		want []float64
	}{
		{`{"input":"abcd","normalize":false,"layer":1,"pooling":"last"}`, []float64{4, 1, 0, 0}},
		{`{"input":"abcd","normalize":false,"layer":0,"pooling":"first"}`, []float64{1, 0, 0, 0}},
		{`{"input":"abcd","normalize":false,"pooling":"cls"}`, []float64{1, -1, 0, 0}},
		{`{"input":"abcd","normalize":false,"pooling":"max","layer":-2}`, []float64{4, -2, 0, 0}},
		{`{"input":"abcd","pooling":"last","layer":0}`, []float64{1, 0, 0, 0}},
		{`{"input":"abcd","normalize":false,"pooling":"last","layer":2,"dimensions":2}`, []float64{4, 2}},
	} {
		status, v, _ := post(t, ts, "/v1/embeddings", tc.body)
		require.Equal(t, http.StatusOK, status, "%s: %v", tc.body, v)
		assert.Equal(t, tc.want, vector(t, v, 0), tc.body)
	}

	// With layer or pooling, an embedding model's hidden states too.
	f2 := &fake{}
	_, ts2 := newServer(t, f2, server.Options{})
	status, v, _ = post(t, ts2, "/v1/embeddings", `{"input":"abc","pooling":"last","normalize":false}`)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []float64{3, -1, 0, 0}, vector(t, v, 0))
}

func TestEmbeddingsError(t *testing.T) {
	f := &fake{embedErr: errNoPooling}
	_, ts := newServer(t, f, server.Options{}) // no fallback declared
	status, v, _ := post(t, ts, "/v1/embeddings", `{"input":"abc"}`)
	assert.Equal(t, http.StatusInternalServerError, status, "%v", v)
	assert.Equal(t, "server_error", at(v, "error", "type"))
}
