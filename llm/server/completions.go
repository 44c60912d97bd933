package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/locallm/locallm/llm"
)

// completionRequest is a decoded /v1/completions request.
type completionRequest struct {
	genRequest
	prompts  []string
	echo     bool
	logprobs bool
}

// maxCompletionLogprobs bounds the legacy API's integer logprobs (OpenAI
// allows 5; the library gives up to llm.MaxTopLogprobs).
const maxCompletionLogprobs = llm.MaxTopLogprobs

func (s *Server) decodeCompletion(f fields) (*completionRequest, error) {
	g, err := s.decodeGeneration(f, s.opts.CompletionMaxTokens)
	if err != nil {
		return nil, err
	}
	req := &completionRequest{genRequest: g}
	prompts, given, tokens, err := f.stringOrList("prompt")
	switch {
	case err != nil:
		return nil, err
	case tokens:
		return nil, badParam("prompt", "prompt as token IDs is not served: send text")
	case !given || len(prompts) == 0:
		return nil, badParam("prompt", "prompt is required: a string or an array of strings")
	}
	for i, p := range prompts {
		if p == "" {
			return nil, badParam("prompt", "prompt[%d] is empty", i)
		}
	}
	req.prompts = prompts
	if req.echo, err = f.boolean("echo", false); err != nil {
		return nil, err
	}
	top, err := f.integer("logprobs", 0, maxCompletionLogprobs, -1)
	if err != nil {
		return nil, err
	}
	req.logprobs = top >= 0
	req.params.Logprobs, req.params.TopLogprobs = req.logprobs, max(top, 0)
	if suffix, err := f.str("suffix"); err != nil {
		return nil, err
	} else if suffix != "" {
		return nil, badParam("suffix", "suffix (insertion) is not served")
	}
	if best, err := f.integer("best_of", 1, s.opts.MaxN, req.n); err != nil {
		return nil, err
	} else if best != req.n {
		return nil, badParam("best_of", "best_of must equal n (%d): choosing the best of several generations is not served", req.n)
	}
	if err := req.params.Validate(); err != nil {
		return nil, generationError(err, "")
	}
	return req, nil
}

type (
	completionChoice struct {
		Text         string              `json:"text"`
		Index        int                 `json:"index"`
		Logprobs     *completionLogprobs `json:"logprobs"`
		FinishReason *string             `json:"finish_reason"`
	}
	completionResponse struct {
		ID      string             `json:"id"`
		Object  string             `json:"object"`
		Created int64              `json:"created"`
		Model   string             `json:"model"`
		Choices []completionChoice `json:"choices"`
		Usage   *usage             `json:"usage,omitempty"`
	}
)

func (s *Server) handleCompletions(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	f, err := readBody(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		writeError(w, err)
		return
	}
	req, err := s.decodeCompletion(f)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	j := job{n: req.n, params: req.params, inputParam: "prompt"}
	for _, p := range req.prompts {
		in := llm.Prompt(p)
		in.Structured = req.structured
		j.inputs = append(j.inputs, in)
	}
	if req.stream {
		s.streamCompletion(ctx, w, req, j, start, cancel)
		return
	}
	outs, err := s.generate(ctx, start, j, nil)
	if err != nil {
		writeError(w, err)
		return
	}
	resp := completionResponse{ID: newID("cmpl-"), Object: "text_completion", Created: start.Unix(), Model: s.modelID(), Usage: usageOf(outs)}
	for i, o := range outs {
		for g, text := range o.Generations {
			finish := finishReason(o.FinishReasons[g])
			c := completionChoice{Index: i*req.n + g, Text: text, FinishReason: &finish}
			offset := 0
			if req.echo {
				c.Text = req.prompts[i] + text
				offset = len(req.prompts[i])
			}
			if req.logprobs {
				c.Logprobs = toCompletionLogprobs(logprobsOf(o, g), offset)
			}
			resp.Choices = append(resp.Choices, c)
		}
	}
	s.writeJSON(w, resp)
}

// streamCompletion streams a text completion: choice i*n+g is generation
// g of prompt i. With logprobs, each choice's last chunk waits for the
// outputs, which carry them.
func (s *Server) streamCompletion(ctx context.Context, w http.ResponseWriter, req *completionRequest, j job, start time.Time, cancel func()) {
	out := newSSE(w, s.opts.WriteTimeout, cancel)
	id, created, model := newID("cmpl-"), start.Unix(), s.modelID()
	total := len(req.prompts) * req.n
	started := make([]bool, total)
	pending := make([]strings.Builder, total) // a batch's pieces go out as one chunk
	finished := make([]bool, total)
	waiting := make([]*llm.FinishReason, total)
	send := func(c completionChoice) {
		b, _ := json.Marshal(completionResponse{ID: id, Object: "text_completion", Created: created, Model: model, Choices: []completionChoice{c}})
		out.event(b)
	}
	text := func(k int, t string) {
		if !started[k] {
			started[k] = true
			if req.echo {
				t = req.prompts[k/req.n] + t
			}
		}
		pending[k].WriteString(t)
	}
	release := func(k int) {
		if pending[k].Len() > 0 {
			send(completionChoice{Index: k, Text: pending[k].String()})
			pending[k].Reset()
		}
	}
	end := func(k int, reason llm.FinishReason, o *llm.Output) {
		release(k)
		if o == nil && req.logprobs {
			waiting[k] = &reason
			return
		}
		finish := finishReason(reason)
		c := completionChoice{Index: k, FinishReason: &finish}
		if o != nil && req.logprobs {
			offset := 0
			if req.echo {
				offset = len(req.prompts[k/req.n])
			}
			c.Logprobs = toCompletionLogprobs(logprobsOf(*o, k%req.n), offset)
		}
		send(c)
		finished[k] = true
	}
	outs, err := s.streamJob(ctx, start, j, func(chunks []llm.Chunk) {
		for _, c := range chunks {
			if c.Input < 0 || c.Input >= len(req.prompts) || c.Generation < 0 || c.Generation >= req.n {
				continue
			}
			k := c.Input*req.n + c.Generation
			text(k, c.Text)
			if c.Done {
				end(k, c.FinishReason, nil)
			}
		}
		for k := range pending {
			release(k)
		}
		out.flush()
	})
	if err != nil {
		out.fail(err)
		return
	}
	for k := range total {
		o := &outs[k/req.n]
		switch {
		case finished[k]:
			continue
		case waiting[k] != nil:
			end(k, *waiting[k], o)
			continue
		case !started[k]:
			text(k, o.Generations[k%req.n])
		}
		end(k, o.FinishReasons[k%req.n], o)
	}
	if req.includeUsage {
		b, _ := json.Marshal(completionResponse{ID: id, Object: "text_completion", Created: created, Model: model, Choices: []completionChoice{}, Usage: usageOf(outs)})
		out.event(b)
	}
	out.done()
}
