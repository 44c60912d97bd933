package engine

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/locallm/locallm/llm"
)

type jobKind uint8

const (
	genJob     jobKind = iota // a prompt and its generations
	captureJob                // hidden states of an input
	embedJob                  // the model's pooled embedding of an input
)

// job is one unit of work submitted to the scheduler. The submitting
// goroutine waits on done; the scheduler fills the results, sets err and
// closes done, exactly once.
type job struct {
	kind   jobKind
	ctx    context.Context
	tokens []int32
	nseq   int // sequence IDs it needs
	done   chan struct{}
	err    error

	gen *genSpec

	layers []int       // capture: the layers, as asked for
	rows   [][]float32 // capture: per layer, len(tokens) rows of NEmbd

	embedding []float32 // embed
}

// finish ends the job with err (nil for success).
func (j *job) finish(err error) {
	j.err = err
	j.release()
	close(j.done)
}

// abandon ends a job the scheduler never took.
func (j *job) abandon(err error, reason llm.FinishReason) {
	j.err = err
	if j.gen != nil {
		for _, q := range j.gen.seqs {
			q.done, q.reason = true, reason
		}
	}
	j.release()
}

// release frees what the job holds before it runs: its samplers.
func (j *job) release() {
	if j.gen == nil {
		return
	}
	for _, q := range j.gen.seqs {
		if q.sampler != nil {
			q.sampler.Close()
			q.sampler = nil
		}
	}
}

// genSpec is a generation job's request and its sequences' results.
type genSpec struct {
	req    *GenerateRequest
	params llm.GenerationParams // defaults applied
	seqs   []*sequence
	first  int // index of its first generation in the request

	promptTime, genTime time.Duration
	cached              int
}

// reasoning phases of a sequence
const (
	noReasoning = iota // the output is all answer
	undecided          // the output may yet open a reasoning block
	reasoning          // inside the block
	answering          // after the block
)

// sequence is one generation of a job.
type sequence struct {
	id      int32 // sequence ID while admitted
	sampler Sampler
	pos     int   // position of the next token fed
	last    int32 // the token to feed at pos
	idx     int   // batch index of its output in the current step, or -1
	text    []byte
	nOut    int // sampled tokens
	closing int // tokens appended to close a cut structure
	done    bool
	reason  llm.FinishReason
	guide   *guide // nil while unconstrained
	logp    []llm.TokenLogprob

	// Reasoning: the phase; the block is text[rStart:rEnd]; the answer
	// text[answer:]. While answer is leading white space it moves past it.
	phase          int
	rStart, rEnd   int
	answer         int
	lead           bool // still skipping white space at the answer's start
	emittedR, emit int  // offsets streamed so far, of the block and of the answer
}

// newGenJob makes the job for generations [first, last) of req, with a
// sampler each.
func (e *Engine) newGenJob(req *GenerateRequest, params llm.GenerationParams, first, last int) (*job, error) {
	g := &genSpec{req: req, params: params, first: first}
	j := &job{kind: genJob, tokens: req.Tokens, nseq: last - first, gen: g}
	for i := first; i < last; i++ {
		smp, err := e.b.NewSampler(params, req.Seeds[i])
		if err != nil {
			j.release()
			return nil, err
		}
		q := &sequence{sampler: smp, idx: -1}
		switch {
		case req.Reasoning == nil:
			q.phase = noReasoning
		case req.Reasoning.Opened:
			q.phase = reasoning
		default:
			q.phase = undecided
		}
		if req.Grammar != nil && q.phase != reasoning {
			q.guide = newGuide(req.Grammar)
		}
		g.seqs = append(g.seqs, q)
	}
	return j, nil
}

// split returns the sequence's reasoning and answer.
func (q *sequence) split() (thought, answer string) {
	switch q.phase {
	case reasoning:
		return string(bytes.TrimSpace(q.text[q.rStart:])), ""
	case answering:
		return string(bytes.TrimSpace(q.text[q.rStart:q.rEnd])), string(q.text[q.answer:])
	}
	return "", string(q.text)
}

// collect copies the job's results into res.
func (g *genSpec) collect(res *GenerateResult) {
	for k, q := range g.seqs {
		i := g.first + k
		r, a := q.split()
		res.Texts[i] = a
		if res.Reasoning != nil {
			res.Reasoning[i] = r
		}
		res.FinishReasons[i] = q.reason
		res.OutputTokens[i] = q.nOut
		res.ClosingTokens[i] = q.closing
		if res.Logprobs != nil {
			res.Logprobs[i] = q.logp
		}
	}
	res.PromptTime += g.promptTime
	res.GenerationTime += g.genTime
	res.CachedTokens = max(res.CachedTokens, g.cached)
}

func (k jobKind) String() string {
	switch k {
	case genJob:
		return "generation"
	case captureJob:
		return "hidden-state capture"
	case embedJob:
		return "embedding"
	}
	return fmt.Sprintf("job kind %d", k)
}
