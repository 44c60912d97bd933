package server

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"

	"gonum.org/v1/gonum/mat"

	"github.com/locallm/locallm/hiddenstates"
	"github.com/locallm/locallm/llm"
)

// embeddingRequest is a decoded /v1/embeddings request.
type embeddingRequest struct {
	inputs     []llm.Input
	base64     bool
	dimensions int // 0: the model's
	// Extensions: layer and pooling select pooled hidden states (given
	// either, an embedding model's own embedding is not used); normalize
	// scales vectors to unit length (default true, as OpenAI's are).
	layer     int
	pooling   hiddenstates.Pooling
	hidden    bool
	normalize bool
}

// Defaults of the hidden-state embeddings of a model without an embedding
// of its own: the mean of the last layer's (final normed) states.
const (
	defaultLayer   = -1
	defaultPooling = hiddenstates.Mean
)

func (s *Server) decodeEmbedding(f fields) (*embeddingRequest, error) {
	req := &embeddingRequest{layer: defaultLayer, pooling: defaultPooling}
	model, err := f.str("model")
	if err != nil {
		return nil, err
	}
	if err := s.checkModel(model); err != nil {
		return nil, err
	}
	texts, given, tokens, err := f.stringOrList("input")
	switch {
	case err != nil:
		return nil, err
	case tokens:
		return nil, badParam("input", "input as token IDs is not served: send text")
	case !given || len(texts) == 0:
		return nil, badParam("input", "input is required: a string or an array of strings")
	case len(texts) > maxEmbeddingInputs:
		return nil, badParam("input", "input has %d strings, want at most %d", len(texts), maxEmbeddingInputs)
	}
	for i, t := range texts {
		if t == "" {
			return nil, badParam("input", "input[%d] is empty", i)
		}
		req.inputs = append(req.inputs, llm.Prompt(t))
	}
	format, err := f.str("encoding_format")
	if err != nil {
		return nil, err
	}
	switch format {
	case "", "float":
	case "base64":
		req.base64 = true
	default:
		return nil, badParam("encoding_format", `encoding_format must be "float" or "base64"`)
	}
	if req.dimensions, err = f.integer("dimensions", 1, math.MaxInt32, 0); err != nil {
		return nil, err
	}
	if f.present("layer") {
		req.hidden = true
		if req.layer, err = f.integer("layer", math.MinInt32, math.MaxInt32, defaultLayer); err != nil {
			return nil, err
		}
	}
	if f.present("pooling") {
		req.hidden = true
		name, err := f.str("pooling")
		if err != nil {
			return nil, err
		}
		if req.pooling, err = hiddenstates.ParsePooling(name); err != nil || req.pooling == hiddenstates.None {
			return nil, badParam("pooling", "pooling %q: want mean, first (or cls), last or max", name)
		}
	}
	if req.normalize, err = f.boolean("normalize", true); err != nil {
		return nil, err
	}
	return req, nil
}

// maxEmbeddingInputs bounds the strings of one request, as OpenAI does.
const maxEmbeddingInputs = 2048

type embedding struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float32, or base64 of little-endian float32s
}

func (s *Server) handleEmbeddings(w http.ResponseWriter, r *http.Request) {
	f, err := readBody(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		writeError(w, err)
		return
	}
	req, err := s.decodeEmbedding(f)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	release, err := s.admit.acquire(ctx)
	if err != nil {
		writeError(w, err)
		return
	}
	vecs, tokens, err := s.embed(ctx, req)
	release()
	if err != nil && ctx.Err() != nil {
		err = s.cancelled(ctx)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	_, dim := vecs.Dims()
	if req.dimensions > dim {
		writeError(w, badParam("dimensions", "dimensions = %d, but the model's embeddings have %d", req.dimensions, dim))
		return
	}
	if req.dimensions > 0 && req.dimensions < dim {
		// Matryoshka-style: the first dimensions, normalised again.
		vecs = mat.DenseCopyOf(vecs.Slice(0, len(req.inputs), 0, req.dimensions))
	}
	if req.normalize {
		hiddenstates.Normalize(vecs)
	}
	s.metrics.promptTokens.Add(float64(tokens))
	data := make([]embedding, len(req.inputs))
	for i := range data {
		data[i] = embedding{Object: "embedding", Index: i, Embedding: encodeVector(vecs.RawRowView(i), req.base64)}
	}
	s.writeJSON(w, map[string]any{
		"object": "list", "data": data, "model": s.modelID(),
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	})
}

// embed computes the request's vectors, one row per input, and counts the
// tokens when it can (the model's own embedding does not say).
func (s *Server) embed(ctx context.Context, req *embeddingRequest) (*mat.Dense, int, error) {
	hs, canHidden := s.llm.(llm.HiddenStater)
	if e, ok := s.llm.(llm.Embedder); ok && !req.hidden {
		vecs, err := e.Embed(ctx, req.inputs)
		switch {
		case err == nil:
			return float32Rows(vecs)
		case !canHidden || s.opts.EmbedFallback == nil || !errors.Is(err, s.opts.EmbedFallback):
			return nil, 0, embedError(err)
		}
	}
	if !canHidden {
		return nil, 0, badParam("model", "the model %s serves no embeddings", s.modelID())
	}
	states, err := hs.HiddenStates(ctx, req.inputs, []int{req.layer})
	if err != nil {
		return nil, 0, embedError(err)
	}
	tokens := 0
	var ms []*mat.Dense
	for i, h := range states {
		if h.Err != nil {
			return nil, 0, generationError(h.Err, fmt.Sprintf("input[%d]", i))
		}
		if len(h.States) != 1 || h.States[0] == nil {
			return nil, 0, generationError(fmt.Errorf("server: the LLM returned %d layers for 1", len(h.States)), "")
		}
		if r, _ := h.States[0].Dims(); r == 0 {
			return nil, 0, badParam("input", "input[%d] has no tokens", i)
		}
		tokens += len(h.Tokens)
		ms = append(ms, h.States[0])
	}
	return hiddenstates.PoolBatch(ms, nil, req.pooling), tokens, nil
}

// embedError maps an embedding error; a bad layer is the layer's.
func embedError(err error) error {
	if errors.Is(err, llm.ErrBadParameter) {
		return badParam("layer", "%v", err)
	}
	return generationError(err, "input")
}

// float32Rows makes a matrix of Embed's vectors.
func float32Rows(vecs [][]float32) (*mat.Dense, int, error) {
	if len(vecs) == 0 || len(vecs[0]) == 0 {
		return nil, 0, generationError(errors.New("server: the LLM returned no embedding"), "")
	}
	dim := len(vecs[0])
	m := mat.NewDense(len(vecs), dim, nil)
	for i, v := range vecs {
		if len(v) != dim {
			return nil, 0, generationError(fmt.Errorf("server: embeddings of %d and %d dimensions", dim, len(v)), "")
		}
		row := m.RawRowView(i)
		for k, x := range v {
			row[k] = float64(x)
		}
	}
	return m, 0, nil
}

// encodeVector gives a vector as float32 numbers, or as base64 of their
// little-endian bytes (what OpenAI's clients decode).
func encodeVector(v []float64, b64 bool) any {
	if !b64 {
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out
	}
	buf := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(float32(x)))
	}
	return base64.StdEncoding.EncodeToString(buf)
}
