package server

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/locallm/locallm/llm"
)

// genRequest is what chat and text completion requests share, decoded and
// checked.
type genRequest struct {
	model        string
	n            int
	params       llm.GenerationParams
	stream       bool
	includeUsage bool
	// structured is the response_format's constraint; nil for text.
	structured *llm.StructuredOutput
}

// OpenAI's sampling defaults, which differ from the library's zero value
// (greedy): a request that sets nothing samples at temperature 1 with a
// random seed, as OpenAI's API does.
const (
	defaultTemperature = 1.0
	// minTopP stands for top_p = 0, which OpenAI's API takes as "only the
	// most likely token" and the library's zero value as "disabled".
	minTopP = 1e-9
)

// decodeGeneration reads the sampling fields chat and completions share.
// defMax is max_tokens when the request gives none.
func (s *Server) decodeGeneration(f fields, defMax int) (genRequest, error) {
	var g genRequest
	var err error
	p := &g.params
	if g.model, err = f.str("model"); err != nil {
		return g, err
	}
	if err := s.checkModel(g.model); err != nil {
		return g, err
	}
	if p.MaxNewTokens, err = f.integer("max_tokens", 1, llm.MaxNewTokensLimit, defMax); err != nil {
		return g, err
	}
	if p.MaxNewTokens, err = f.integer("max_completion_tokens", 1, llm.MaxNewTokensLimit, p.MaxNewTokens); err != nil {
		return g, err
	}
	if g.n, err = f.integer("n", 1, s.opts.MaxN, 1); err != nil {
		return g, err
	}
	if p.Temperature, err = f.number("temperature", 0, 2, defaultTemperature); err != nil {
		return g, err
	}
	if p.TopP, err = f.number("top_p", 0, 1, 1); err != nil {
		return g, err
	}
	if p.TopP == 0 {
		p.TopP = minTopP
	}
	if p.TopK, err = f.integer("top_k", 0, math.MaxInt32, 0); err != nil {
		return g, err
	}
	if p.MinP, err = f.number("min_p", 0, 1, 0); err != nil {
		return g, err
	}
	if p.TypicalP, err = f.number("typical_p", 0, 1, 0); err != nil {
		return g, err
	}
	if p.RepeatPenalty, err = f.number("repeat_penalty", 0, 100, 0); err != nil {
		return g, err
	}
	if p.FrequencyPenalty, err = f.number("frequency_penalty", -2, 2, 0); err != nil {
		return g, err
	}
	if p.PresencePenalty, err = f.number("presence_penalty", -2, 2, 0); err != nil {
		return g, err
	}
	if p.IgnoreEOS, err = f.boolean("ignore_eos", false); err != nil {
		return g, err
	}
	p.Seed = -1 // a random seed, unless the request sets one
	if seed, ok, err := f.number64("seed", "an integer"); err != nil {
		return g, err
	} else if ok {
		if p.Seed, err = strconv.ParseInt(seed.String(), 10, 64); err != nil {
			return g, badParam("seed", "seed must be a 64-bit integer, got %s", seed)
		}
	}
	stop, _, tokens, err := f.stringOrList("stop")
	if err != nil || tokens {
		return g, badParam("stop", "stop must be a string or an array of strings")
	}
	if len(stop) > llm.MaxStopSequences {
		return g, badParam("stop", "stop has %d sequences, want at most %d", len(stop), llm.MaxStopSequences)
	}
	for i, s := range stop {
		if s == "" || len(s) > llm.MaxStopLength {
			return g, badParam("stop", "stop[%d] must be a non-empty string of at most %d bytes", i, llm.MaxStopLength)
		}
	}
	p.Stop = stop
	if p.LogitBias, err = logitBias(f); err != nil {
		return g, err
	}
	if g.stream, err = f.boolean("stream", false); err != nil {
		return g, err
	}
	so, err := f.object("stream_options")
	if err != nil {
		return g, err
	}
	if g.includeUsage, err = so.boolean("include_usage", false); err != nil {
		return g, prefixed("stream_options.", err)
	}
	if g.structured, err = s.responseFormat(f); err != nil {
		return g, err
	}
	return g, nil
}

// logitBias reads OpenAI's logit_bias: token IDs as strings, biases from
// -100 to 100.
func logitBias(f fields) (map[int32]float64, error) {
	var raw map[string]json.RawMessage
	ok, err := f.decode("logit_bias", &raw, "an object mapping token IDs to numbers")
	if err != nil || !ok || len(raw) == 0 {
		return nil, err
	}
	m := make(map[int32]float64, len(raw))
	for k, v := range raw {
		id, err := strconv.ParseInt(k, 10, 32)
		if err != nil || id < 0 {
			return nil, badParam("logit_bias", "logit_bias key %q is not a token ID", k)
		}
		var b float64
		if err := json.Unmarshal(v, &b); err != nil || b < -100 || b > 100 {
			return nil, badParam("logit_bias", "logit_bias[%s] must be a number from -100 to 100", k)
		}
		m[int32(id)] = b
	}
	return m, nil
}

// checkModel accepts "" (the model served), the model's ID and its aliases.
func (s *Server) checkModel(name string) error {
	if name == "" {
		return nil
	}
	for _, id := range s.modelIDs() {
		if name == id {
			return nil
		}
	}
	return &APIError{Status: http.StatusNotFound, Type: typeInvalidRequest, Param: "model", Code: "model_not_found",
		Message: fmt.Sprintf("the model %q does not exist; this server serves %q", name, s.modelID())}
}
