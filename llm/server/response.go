package server

import (
	"crypto/rand"
	"encoding/base32"
	"strings"

	"github.com/locallm/locallm/llm"
)

// usage is OpenAI's usage object.
type usage struct {
	PromptTokens        int           `json:"prompt_tokens"`
	CompletionTokens    int           `json:"completion_tokens"`
	TotalTokens         int           `json:"total_tokens"`
	PromptTokensDetails *tokenDetails `json:"prompt_tokens_details,omitempty"`
}

type tokenDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// completionTokens counts a generation request's output tokens: those
// sampled and those appended to close structures.
func completionTokens(o llm.Output) int {
	n := 0
	for _, k := range o.Statistics.OutputTokens {
		n += k
	}
	for _, k := range o.Statistics.ClosingTokens {
		n += k
	}
	return n
}

// usageOf sums the usage of a request's outputs: each input's prompt once,
// however many generations it has (the prompt is evaluated once).
func usageOf(outs []llm.Output) *usage {
	u := &usage{PromptTokensDetails: &tokenDetails{}}
	for _, o := range outs {
		u.PromptTokens += o.Statistics.InputTokens
		u.CompletionTokens += completionTokens(o)
		u.PromptTokensDetails.CachedTokens += o.Statistics.CachedTokens
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// finishReason maps the library's finish reasons to OpenAI's.
func finishReason(r llm.FinishReason) string {
	if r == llm.FinishLength {
		return "length"
	}
	return "stop" // stop sequence, end of generation, completed grammar
}

// newID returns a response ID: prefix and 24 random characters.
func newID(prefix string) string {
	var b [15]byte
	rand.Read(b[:])
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// chatLogprob is an entry of a chat choice's logprobs.content.
type chatLogprob struct {
	Token       string       `json:"token"`
	Logprob     float64      `json:"logprob"`
	Bytes       []int        `json:"bytes"`
	TopLogprobs []topLogprob `json:"top_logprobs"`
}

type topLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

// chatLogprobs holds a choice's logprobs: {"content": [...]}.
type chatLogprobs struct {
	Content []chatLogprob `json:"content"`
}

// tokenBytes is a token's text as byte values: a token may end inside a
// UTF-8 character, which "token" (a JSON string) cannot hold.
func tokenBytes(s string) []int {
	b := make([]int, len(s))
	for i := 0; i < len(s); i++ {
		b[i] = int(s[i])
	}
	return b
}

// toChatLogprobs converts a generation's token log-probabilities.
func toChatLogprobs(lps []llm.TokenLogprob) *chatLogprobs {
	out := &chatLogprobs{Content: make([]chatLogprob, len(lps))}
	for i, lp := range lps {
		top := make([]topLogprob, len(lp.Top))
		for k, t := range lp.Top {
			top[k] = topLogprob{Token: t.Text, Logprob: t.Logprob, Bytes: tokenBytes(t.Text)}
		}
		out.Content[i] = chatLogprob{Token: lp.Text, Logprob: lp.Logprob, Bytes: tokenBytes(lp.Text), TopLogprobs: top}
	}
	return out
}

// completionLogprobs is a text completion choice's logprobs, in the
// legacy API's parallel arrays.
type completionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float64            `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

// toCompletionLogprobs converts a generation's token log-probabilities;
// offset is where the generated text starts in the choice's text (the
// prompt's length with echo).
func toCompletionLogprobs(lps []llm.TokenLogprob, offset int) *completionLogprobs {
	out := &completionLogprobs{
		Tokens: make([]string, len(lps)), TokenLogprobs: make([]float64, len(lps)),
		TopLogprobs: make([]map[string]float64, len(lps)), TextOffset: make([]int, len(lps)),
	}
	for i, lp := range lps {
		out.Tokens[i], out.TokenLogprobs[i], out.TextOffset[i] = lp.Text, lp.Logprob, offset
		offset += len(lp.Text)
		top := make(map[string]float64, len(lp.Top))
		for _, t := range lp.Top {
			if _, dup := top[t.Text]; !dup { // the most likely of tokens that print alike
				top[t.Text] = t.Logprob
			}
		}
		out.TopLogprobs[i] = top
	}
	return out
}

// logprobsOf returns generation g's log-probabilities, or nil when the
// LLM gave none.
func logprobsOf(o llm.Output, g int) []llm.TokenLogprob {
	if g < len(o.Logprobs) {
		return o.Logprobs[g]
	}
	return nil
}
