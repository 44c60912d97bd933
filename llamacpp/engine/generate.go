package engine

import (
	"bytes"
	"errors"
	"math"
	"sort"

	"github.com/locallm/locallm/llm"
)

// errDeadEnd: a grammar allows no token (it cannot be completed from
// here); the output stands as it is and validation judges it.
var errDeadEnd = errors.New("engine: the grammar allows no token")

// sample picks q's next token from batch output idx and applies it.
func (s *scheduler) sample(r *run, q *sequence, idx int) {
	g := r.job.gen
	tok, err := s.choose(r, q, idx)
	if err != nil {
		if q.guide != nil && (errors.Is(err, errDeadEnd) || errors.Is(err, ErrNoToken)) {
			// The grammar is complete and end-of-generation is banned
			// (IgnoreEOS), or it has no way forward.
			s.finish(r, q, llm.FinishStop)
			return
		}
		if errors.Is(err, ErrNoToken) {
			s.finish(r, q, llm.FinishStop)
			return
		}
		r.err = err
		s.finish(r, q, llm.FinishError)
		return
	}
	if s.v.isEOG[tok] {
		s.finish(r, q, llm.FinishEOS)
		return
	}
	if err := q.sampler.Accept(tok); err != nil {
		r.err = err
		s.finish(r, q, llm.FinishError)
		return
	}
	if g.params.Logprobs {
		s.logprob(q, idx, tok, g.params.TopLogprobs)
	}
	q.nOut++
	before := len(q.text)
	q.text = append(q.text, s.v.tokenText(tok)...)
	if q.guide != nil && (q.phase == noReasoning || q.phase == answering || q.phase == undecided && !s.opens(g.req.Reasoning, tok)) {
		if err := q.guide.accept(s.v, tok); err != nil {
			// choose checked it: the guide and its own check disagree.
			r.err = err
			s.finish(r, q, llm.FinishError)
			return
		}
	}
	s.reason(r, q, before)
	if q.phase == noReasoning || q.phase == answering {
		if cut, ok := findStop(q.text, q.answer, before, g.params.Stop); ok {
			q.text = q.text[:cut]
			s.finish(r, q, llm.FinishStop)
			return
		}
	}
	if q.nOut >= g.params.MaxNewTokens || q.pos+1 >= s.ctx.Size() {
		s.close(r, q)
		s.finish(r, q, llm.FinishLength)
		return
	}
	q.last = tok
	s.emit(r, q, false)
}

// choose draws q's next token. Unconstrained, it is the sampler's draw
// over the whole vocabulary. Constrained, the draw is kept when the
// grammar allows it; otherwise the guide lists every allowed token and the
// sampler draws again among them only (as llama.cpp's own grammar
// sampling does: sample, check, and mask only on rejection).
//
// Before the output has said whether it reasons, a token that opens the
// reasoning block is allowed too: the grammar constrains the answer.
func (s *scheduler) choose(r *run, q *sequence, idx int) (int32, error) {
	tok, err := s.ctx.Sample(q.sampler, idx)
	if q.guide == nil || q.phase == reasoning {
		return tok, err
	}
	rs := r.job.gen.req.Reasoning
	open := q.phase == undecided && len(q.text) == 0
	if err == nil && (q.guide.allows(s.v, tok) || open && s.opens(rs, tok)) {
		return tok, nil
	}
	if err != nil && !errors.Is(err, ErrNoToken) {
		return 0, err
	}
	s.cands = q.guide.allowed(s.v, s.cands[:0])
	if open {
		s.cands = append(s.cands, s.openTokens(rs)...)
	}
	if len(s.cands) == 0 {
		return 0, errDeadEnd
	}
	return s.ctx.SampleFrom(q.sampler, idx, s.cands)
}

// opens reports whether tok's text is the reasoning block's open marker.
func (s *scheduler) opens(rs *Reasoning, tok int32) bool {
	return rs != nil && string(s.v.tokenText(tok)) == rs.Open
}

// openTokens lists the tokens whose text is the open marker.
func (s *scheduler) openTokens(rs *Reasoning) []int32 {
	if s.open == nil {
		s.open = map[string][]int32{}
	}
	toks, ok := s.open[rs.Open]
	if !ok {
		for t := range s.v.text {
			if s.opens(rs, int32(t)) {
				toks = append(toks, int32(t))
			}
		}
		s.open[rs.Open] = toks
	}
	return toks
}

// reason follows the reasoning block: it finds where the output opens and
// closes it, starts the grammar after it, and keeps white space between
// the block and the answer out of the answer.
func (s *scheduler) reason(r *run, q *sequence, before int) {
	if q.phase == noReasoning {
		return
	}
	rs := r.job.gen.req.Reasoning
	if q.phase == undecided {
		i := 0
		for i < len(q.text) && isSpace(q.text[i]) {
			i++
		}
		t := q.text[i:]
		switch {
		case bytes.HasPrefix(t, []byte(rs.Open)):
			q.phase, q.rStart = reasoning, i+len(rs.Open)
			q.guide = nil // the grammar constrains the answer, after the block
			before = q.rStart
		case len(t) < len(rs.Open) && bytes.HasPrefix([]byte(rs.Open), t) && q.guide == nil:
			return // may still open it (with a grammar, only a token of the whole marker opens it)
		default:
			q.phase = noReasoning
		}
	}
	if q.phase == reasoning {
		from := max(q.rStart, before-len(rs.Close)+1)
		k := bytes.Index(q.text[from:], []byte(rs.Close))
		if k < 0 {
			return
		}
		q.rEnd = from + k
		q.answer = q.rEnd + len(rs.Close)
		q.phase, q.lead = answering, true
		if g := r.job.gen.req.Grammar; g != nil {
			q.guide = newGuide(g)
		}
	}
	if q.phase == answering && q.lead {
		for q.answer < len(q.text) && isSpace(q.text[q.answer]) {
			q.answer++
		}
		if q.answer < len(q.text) {
			q.lead = false
			if q.guide != nil && q.guide.m.Offset() == 0 {
				// Text after the block in the same token as its close:
				// the grammar takes as much of it as it allows.
				rest := q.text[q.answer:]
				for i := range rest {
					if q.guide.m.Feed(rest[i:i+1]) != nil {
						q.text = q.text[:q.answer+i]
						break
					}
				}
			}
		}
	}
}

// close appends, to a constrained output cut by the token budget, the
// grammar's shortest completion, when it takes at most ClosingTokens
// tokens.
func (s *scheduler) close(r *run, q *sequence) {
	n := r.job.gen.req.ClosingTokens
	if n <= 0 || q.guide == nil || q.phase == reasoning || q.guide.m.Accepting() {
		return
	}
	comp, ok := q.guide.m.ShortestCompletion(16*n + 16)
	if !ok || len(comp) == 0 {
		return
	}
	toks, err := s.b.Tokenize(string(comp))
	if err != nil || len(toks) > n {
		return
	}
	if q.guide.m.Feed(comp) != nil {
		return
	}
	q.text = append(q.text, comp...)
	q.closing = len(toks)
}

// logprob records the sampled token's log-probability under the model's
// raw logits at idx, and the top alternatives.
func (s *scheduler) logprob(q *sequence, idx int, tok int32, top int) {
	if len(s.logits) != s.b.VocabSize() {
		s.logits = make([]float32, s.b.VocabSize())
	}
	if err := s.ctx.Logits(idx, s.logits); err != nil {
		return
	}
	lse := logSumExp(s.logits)
	lp := llm.TokenLogprob{Token: tok, Text: string(s.v.tokenText(tok)), Logprob: float64(s.logits[tok]) - lse}
	if top > 0 {
		for _, t := range topK(s.logits, top) {
			lp.Top = append(lp.Top, llm.TopLogprob{Token: t, Text: string(s.v.tokenText(t)), Logprob: float64(s.logits[t]) - lse})
		}
	}
	q.logp = append(q.logp, lp)
}

// logSumExp is log(sum(exp(x))), computed stably in float64.
func logSumExp(x []float32) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	if math.IsInf(m, -1) {
		return m
	}
	sum := 0.0
	for _, v := range x {
		sum += math.Exp(float64(v) - m)
	}
	return m + math.Log(sum)
}

// topK returns the k largest entries' indices, largest first (ties by
// index).
func topK(x []float32, k int) []int32 {
	k = min(k, len(x))
	best := make([]int32, 0, k+1)
	for i, v := range x {
		if len(best) == k && v <= x[best[k-1]] {
			continue
		}
		j := sort.Search(len(best), func(j int) bool { return x[best[j]] < v })
		best = append(best, 0)
		copy(best[j+1:], best[j:])
		best[j] = int32(i)
		if len(best) > k {
			best = best[:k]
		}
	}
	return best
}

// emit streams q's new final text: reasoning as it grows (short of a
// possible start of its close marker), the answer when it is complete
// UTF-8 and cannot be the start of a stop sequence.
func (s *scheduler) emit(r *run, q *sequence, final bool) {
	g := r.job.gen
	fn := g.req.Stream
	if fn == nil {
		return
	}
	var c llm.Chunk
	switch q.phase {
	case reasoning, answering:
		end := q.rEnd
		if q.phase == reasoning {
			end = len(q.text)
			if !final {
				end -= heldBack(q.text[q.rStart:], []string{g.req.Reasoning.Close})
				end -= incompleteUTF8(q.text[q.rStart:end])
			}
		}
		start := max(q.rStart, q.emittedR)
		if q.emittedR == 0 {
			// Leading white space inside the block is not streamed.
			for start < end && isSpace(q.text[start]) {
				start++
			}
		}
		if end > start {
			c.Reasoning = string(q.text[start:end])
			q.emittedR = end
		}
	}
	if q.phase == noReasoning || q.phase == answering && (!q.lead || final) {
		end := len(q.text)
		if !final {
			end -= heldBack(q.text[q.answer:], g.params.Stop)
			end -= incompleteUTF8(q.text[q.answer:end])
		}
		start := max(q.answer, q.emit)
		if end > start {
			c.Text = string(q.text[start:end])
			q.emit = end
		}
	}
	if c.Text == "" && c.Reasoning == "" && !final {
		return
	}
	c.Tokens = q.nOut
	if final {
		c.Done, c.FinishReason = true, q.reason
	}
	fn(g.first+indexOf(g.seqs, q), c)
}

func indexOf(seqs []*sequence, q *sequence) int {
	for i, x := range seqs {
		if x == q {
			return i
		}
	}
	return -1
}

// finish ends a sequence: frees its KV cells, sampler and sequence ID, and
// completes the job when it was the last one.
func (s *scheduler) finish(r *run, q *sequence, reason llm.FinishReason) {
	q.done = true
	q.reason = reason
	if q.phase == undecided {
		q.phase = noReasoning
	}
	s.emit(r, q, true)
	_ = s.ctx.RemoveSequence(q.id)
	if q.sampler != nil {
		q.sampler.Close()
		q.sampler = nil
	}
	for _, x := range r.job.gen.seqs {
		if !x.done {
			return
		}
	}
	s.release(r)
}
