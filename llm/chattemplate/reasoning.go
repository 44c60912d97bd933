package chattemplate

import "strings"

// Reasoning says how a model writes its reasoning, as far as its template
// and a prompt rendered with it tell.
type Reasoning struct {
	// Start and End are the markers around the reasoning block, such as
	// "<think>" and "</think>"; both "" when the template shows no
	// reasoning block.
	Start, End string
	// Opened reports that the prompt ends inside an opened block (after
	// Start, with only whitespace since): the model's output begins with
	// reasoning and ends it with End. DeepSeek-R1's and QwQ's templates
	// end their generation prompt with "<think>\n".
	Opened bool
	// Closed reports that the prompt ends just after a block that it
	// opened and closed itself, empty or not (Qwen3 with enable_thinking
	// false ends it with "<think>\n\n</think>\n\n"): the model answers at
	// once.
	Closed bool
}

// reasoningMarkers are the reasoning blocks of known families, the more
// specific first.
var reasoningMarkers = [][2]string{
	{"<seed:think>", "</seed:think>"},          // ByteDance Seed-OSS
	{"<|START_THINKING|>", "<|END_THINKING|>"}, // Command A / R7B reasoning
	{"[THINK]", "[/THINK]"},                    // Magistral, Ministral reasoning
	{"◁think▷", "◁/think▷"},                    // Kimi-VL thinking
	{"<think>", "</think>"},                    // DeepSeek-R1, QwQ, Qwen3, GLM, Granite, Nemotron, ...
}

// DetectReasoning tells, for a template and a prompt rendered with it,
// whether the model reasons in a block before answering, with which
// markers, and whether the prompt already opened (or opened and closed)
// the block. A template reasons when its source holds both markers of a
// known pair; the pairs are those of the families listed in
// reasoningMarkers. Models whose reasoning is not a marked block of text
// (gpt-oss's analysis channel) are reported as not reasoning.
func DetectReasoning(t *Template, prompt string) Reasoning {
	var r Reasoning
	for _, m := range reasoningMarkers {
		if strings.Contains(t.source, m[0]) && strings.Contains(t.source, m[1]) {
			r.Start, r.End = m[0], m[1]
			break
		}
	}
	if r.Start == "" {
		return r
	}
	tail := strings.TrimRightFunc(prompt, isPySpace)
	start := strings.LastIndex(tail, r.Start)
	end := strings.LastIndex(tail, r.End)
	switch {
	case start >= 0 && start+len(r.Start) == len(tail) && end < start:
		r.Opened = true
	case end >= 0 && end+len(r.End) == len(tail) && start >= 0 && start < end:
		r.Closed = true
	}
	return r
}
