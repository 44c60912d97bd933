package llamacpp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/locallm/locallm/grammar"
	"github.com/locallm/locallm/llm"
)

// The scheduler owns one Context and serves every Generate call: the
// sequences of all callers share each decode step (continuous batching),
// joining and leaving between steps. A job is one prompt with up to
// Sequences generations: the prompt is evaluated once, its KV cells shared
// by all of the job's sequences, and each sequence samples with its own
// sampler and seed.
//
// KV cache cells are reserved when a job is admitted (prompt plus
// MaxNewTokens per generation), so a running sequence never finds the cache
// full; a job waits until its reservation fits.

// job is one prompt and its generations, submitted to the scheduler.
type job struct {
	ctx      context.Context
	tokens   []int32
	params   llm.GenerationParams // with defaults applied
	samplers []*Sampler           // one per generation; the scheduler closes them
	guide    *grammar.Grammar     // the constraint's grammar, or nil
	stream   func(gen int, c llm.Chunk)
	result   chan jobResult // buffered, receives exactly once
}

type jobResult struct {
	texts      []string
	reasons    []llm.FinishReason
	outTokens  []int
	promptTime time.Duration
	genTime    time.Duration
	cached     int // prompt tokens reused from another sequence's cells
	err        error
}

// seqState is one generating sequence.
type seqState struct {
	id      int32
	sampler *Sampler
	pos     int   // position of the next token fed
	last    int32 // the token to feed at pos
	idx     int   // batch index of its output in the current step, or -1
	text    []byte
	emitted int // bytes of text already streamed
	nOut    int
	done    bool
	reason  llm.FinishReason
	guide   *grammar.Matcher // follows the output through the grammar; nil when unconstrained
}

// run is an admitted job.
type run struct {
	job       *job
	seqs      []*seqState
	ids       []int32
	prefilled int // prompt tokens submitted
	outIdx    int // batch index of the prompt's last token in this step, or -1
	reserved  int // KV cells reserved
	cached    int // prompt tokens reused from another sequence
	start     time.Time
	firstTok  time.Time
	err       error
}

type scheduler struct {
	c        *Context
	model    *Model
	batch    *Batch
	submit   chan *job
	stop     chan struct{}
	done     chan struct{}
	free     []int32
	reserved int
	waiting  []*job
	running  []*run
	pieceBuf []byte
	cands    []int32
}

func newScheduler(c *Context) (*scheduler, error) {
	b, err := NewBatch(c.BatchSize(), c.Sequences())
	if err != nil {
		return nil, err
	}
	s := &scheduler{
		c: c, model: c.model, batch: b,
		submit:   make(chan *job),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		pieceBuf: make([]byte, 256),
	}
	for i := c.Sequences() - 1; i >= 0; i-- {
		s.free = append(s.free, int32(i))
	}
	go s.loop()
	return s, nil
}

// close stops the loop, failing waiting and running jobs with ErrClosed,
// aborting a decode in progress, and frees the batch. The context is the
// caller's to close afterwards.
func (s *scheduler) close() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.c.Abort()
	<-s.done
	s.c.ResetAbort()
	s.batch.Close()
}

// maxPerJob is how many generations of a prompt of n tokens fit in one job.
func (s *scheduler) maxPerJob(nPrompt, maxNew int) int {
	room := s.c.Size() - nPrompt
	if room < maxNew {
		return 0
	}
	k := room / maxNew
	if k > s.c.Sequences() {
		k = s.c.Sequences()
	}
	return k
}

// enqueue hands a job to the loop, or fails it when the scheduler stopped.
func (s *scheduler) enqueue(j *job) {
	select {
	case s.submit <- j:
	case <-s.stop:
		closeSamplers(j.samplers)
		j.result <- jobResult{err: ErrClosed}
	case <-j.ctx.Done():
		closeSamplers(j.samplers)
		j.result <- jobResult{err: j.ctx.Err()}
	}
}

func closeSamplers(ss []*Sampler) {
	for _, s := range ss {
		s.Close()
	}
}

func (s *scheduler) loop() {
	// llama.cpp's compute runs on the calling thread and its workers; one
	// OS thread for every call keeps that thread's caches warm.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(s.done)
	defer s.failAll(ErrClosed)
	for {
		if len(s.running) == 0 && len(s.waiting) == 0 {
			select {
			case j := <-s.submit:
				s.waiting = append(s.waiting, j)
			case <-s.stop:
				return
			}
		}
	drain:
		for {
			select {
			case j := <-s.submit:
				s.waiting = append(s.waiting, j)
			case <-s.stop:
				return
			default:
				break drain
			}
		}
		s.reap()
		s.admit()
		if len(s.running) > 0 {
			s.step()
		}
	}
}

// failAll ends every job with err.
func (s *scheduler) failAll(err error) {
	for _, r := range s.running {
		r.err = err
		for _, q := range r.seqs {
			if !q.done {
				s.finish(r, q, llm.FinishError)
			}
		}
	}
	s.running = nil
	for _, j := range s.waiting {
		closeSamplers(j.samplers)
		j.result <- jobResult{err: err}
	}
	s.waiting = nil
}

// reap ends the jobs whose context is done.
func (s *scheduler) reap() {
	kept := s.waiting[:0]
	for _, j := range s.waiting {
		if err := j.ctx.Err(); err != nil {
			closeSamplers(j.samplers)
			j.result <- jobResult{err: err}
			continue
		}
		kept = append(kept, j)
	}
	s.waiting = kept
	for _, r := range s.running {
		if err := r.job.ctx.Err(); err != nil {
			r.err = err
			for _, q := range r.seqs {
				if !q.done {
					s.finish(r, q, llm.FinishCancelled)
				}
			}
		}
	}
	s.compact()
}

// admit starts waiting jobs, in order, while sequences and KV cells last.
func (s *scheduler) admit() {
	for len(s.waiting) > 0 {
		j := s.waiting[0]
		n := len(j.samplers)
		need := len(j.tokens) + n*j.params.MaxNewTokens
		if n > len(s.free) || s.reserved+need > s.c.Size() {
			return
		}
		src, shared, wait := s.sharedPrefix(j.tokens)
		if wait {
			return // a running prompt is still evaluating the prefix this one shares
		}
		s.waiting = s.waiting[1:]
		r := &run{job: j, outIdx: -1, reserved: need}
		s.reserved += need
		for g := 0; g < n; g++ {
			id := s.free[len(s.free)-1]
			s.free = s.free[:len(s.free)-1]
			r.ids = append(r.ids, id)
			q := &seqState{id: id, sampler: j.samplers[g], idx: -1}
			if j.guide != nil {
				q.guide = j.guide.NewMatcher()
			}
			r.seqs = append(r.seqs, q)
		}
		// Cells may still hold a finished sequence's positions if a removal
		// was skipped; start clean.
		for _, id := range r.ids {
			_ = s.c.RemoveSequence(id, -1, -1)
		}
		if shared > 0 {
			// The prefix's KV cells become this job's too: only the rest
			// of its prompt is evaluated. Its reservation still counts the
			// whole prompt, since the cells outlive the sequence they came
			// from.
			for _, id := range r.ids {
				_ = s.c.CopySequence(src, id, 0, shared)
			}
			r.prefilled, r.cached = shared, shared
			r.start = time.Now()
		}
		s.running = append(s.running, r)
	}
}

// minSharedPrefix is the shortest common prompt prefix worth reusing.
const minSharedPrefix = 16

// sharedPrefix finds the running sequence whose prompt shares the longest
// prefix with toks, at least minSharedPrefix tokens and leaving at least
// the last token of toks to evaluate. wait reports that a running prompt
// shares a longer prefix than is evaluated yet: admitting after its next
// chunk saves that work.
func (s *scheduler) sharedPrefix(toks []int32) (src int32, n int, wait bool) {
	src = -1
	limit := len(toks) - 1
	for _, r := range s.running {
		live := int32(-1)
		for _, q := range r.seqs {
			if !q.done {
				live = q.id
				break
			}
		}
		if live < 0 {
			continue
		}
		common := 0
		for common < min(limit, len(r.job.tokens)) && r.job.tokens[common] == toks[common] {
			common++
		}
		if common < minSharedPrefix {
			continue
		}
		if r.prefilled < common {
			// Evaluated by the end of this step (prefill goes a batch at a time).
			wait = true
			continue
		}
		if common > n {
			src, n = live, common
		}
	}
	if n > 0 {
		wait = false
	}
	return src, n, wait
}

// step builds one batch (a token from every generating sequence, then
// prompt chunks), decodes it, and samples.
func (s *scheduler) step() {
	b := s.batch
	b.Clear()
	one := make([]int32, 1)
	for _, r := range s.running {
		r.outIdx = -1
		for _, q := range r.seqs {
			q.idx = -1
			if q.done || r.prefilled < len(r.job.tokens) {
				continue
			}
			if b.Len() == b.Cap() {
				break
			}
			one[0] = q.id
			q.idx, _ = b.Add(q.last, q.pos, one, true)
			q.pos++
		}
	}
	now := time.Now()
	for _, r := range s.running {
		toks := r.job.tokens
		if r.prefilled == len(toks) {
			continue
		}
		if r.prefilled == 0 {
			r.start = now
		}
		for r.prefilled < len(toks) && b.Len() < b.Cap() {
			i := r.prefilled
			idx, _ := b.Add(toks[i], i, r.ids, i == len(toks)-1)
			if i == len(toks)-1 {
				r.outIdx = idx
			}
			r.prefilled++
		}
	}
	if b.Len() == 0 {
		return
	}
	if err := s.c.Decode(context.Background(), b); err != nil {
		s.failBatch(err)
		return
	}
	for _, r := range s.running {
		if r.outIdx >= 0 {
			for _, q := range r.seqs {
				q.pos = len(r.job.tokens)
				s.sample(r, q, r.outIdx)
			}
			r.firstTok = time.Now()
			continue
		}
		for _, q := range r.seqs {
			if q.idx >= 0 && !q.done {
				s.sample(r, q, q.idx)
			}
		}
	}
	s.compact()
}

// failBatch ends every job that had tokens in a failed decode: their KV
// cells are in an unknown state.
func (s *scheduler) failBatch(err error) {
	for _, r := range s.running {
		involved := r.outIdx >= 0 || (r.prefilled > 0 && r.firstTok.IsZero())
		for _, q := range r.seqs {
			if q.idx >= 0 {
				involved = true
			}
		}
		if !involved {
			continue
		}
		r.err = err
		for _, q := range r.seqs {
			if !q.done {
				s.finish(r, q, llm.FinishError)
			}
		}
	}
	s.compact()
}

// sample picks q's next token from batch output idx and applies it.
func (s *scheduler) sample(r *run, q *seqState, idx int) {
	tok, err := s.choose(q, idx)
	if err != nil {
		if errors.Is(err, ErrGrammar) {
			// The grammar is complete and end-of-generation is banned
			// (IgnoreEOS), or it reached a dead end: the text stands as is
			// and validation judges it.
			s.finish(r, q, llm.FinishStop)
			return
		}
		r.err = err
		s.finish(r, q, llm.FinishError)
		return
	}
	if s.model.IsEOG(tok) {
		s.finish(r, q, llm.FinishEOS)
		return
	}
	if err := q.sampler.Accept(tok); err != nil {
		r.err = err
		s.finish(r, q, llm.FinishError)
		return
	}
	q.nOut++
	before := len(q.text)
	// A constrained output is the text llama.cpp's grammar matched, which
	// renders special tokens; otherwise they are left out.
	q.text = append(q.text, s.model.piece(s.pieceBuf, tok, q.guide != nil)...)
	if q.guide != nil && s.complete(r, q) {
		return
	}
	if cut, ok := findStop(q.text, before, r.job.params.Stop); ok {
		q.text = q.text[:cut]
		s.finish(r, q, llm.FinishStop)
		return
	}
	if q.nOut >= r.job.params.MaxNewTokens || q.pos+1 >= s.c.Size() {
		s.finish(r, q, llm.FinishLength)
		return
	}
	q.last = tok
	s.emit(r, q, false)
}

// choose samples q's next token. For a constrained sequence it also feeds
// the token's text to the Go matcher that follows the output, and where
// the grammar allows few next bytes it masks only the tokens that start
// with one of them, not the whole vocabulary. llama.cpp's grammar accepts
// some invalid UTF-8 that the Go matcher refuses; such a token is drawn
// again among the others, so that the output stays valid UTF-8 and the
// matcher in step.
func (s *scheduler) choose(q *seqState, idx int) (int32, error) {
	if q.guide == nil {
		return q.sampler.Sample(s.c, idx)
	}
	index := s.model.tokensByFirstByte()
	var tok int32
	var err error
	var cands []int32
	var ok bool
	if s.cands, ok = index.candidates(s.cands, q.guide.NextBytes(), s.model.nVocab/8); ok {
		tok, err = q.sampler.SampleFrom(s.c, idx, s.cands)
	} else {
		tok, err = q.sampler.Sample(s.c, idx)
	}
	for try := 0; err == nil && !s.model.IsEOG(tok); try++ {
		if q.guide.Feed([]byte(s.model.piece(s.pieceBuf, tok, true))) == nil {
			return tok, nil
		}
		if try == 3 {
			// The matcher keeps refusing what llama.cpp allows: go on
			// with llama.cpp's grammar alone.
			q.guide = nil
			return tok, nil
		}
		if cands == nil {
			cands, _ = index.candidates(nil, q.guide.NextBytes(), s.model.nVocab)
		}
		cands = slices.DeleteFunc(cands, func(t int32) bool { return t == tok })
		tok, err = q.sampler.SampleFrom(s.c, idx, cands)
	}
	return tok, err
}

// complete, when the token budget is about to run out mid-structure,
// appends the grammar's completion and ends the sequence. It reports
// whether it ended it.
func (s *scheduler) complete(r *run, q *seqState) bool {
	remaining := r.job.params.MaxNewTokens - q.nOut
	if remaining > completionWindow {
		return false
	}
	if q.guide.Accepting() {
		if remaining <= completionSlack {
			s.finish(r, q, llm.FinishLength) // complete already: stop while it is
			return true
		}
		return false
	}
	comp, ok := q.guide.ShortestCompletion(4 * completionWindow)
	if !ok {
		return false
	}
	toks, err := s.model.Tokenize(string(comp), false, false)
	if err != nil || len(toks)+completionSlack < remaining {
		return false
	}
	q.text = append(q.text, comp...)
	q.nOut += len(toks)
	s.finish(r, q, llm.FinishLength)
	return true
}

// emit streams the part of q's text that is final: complete UTF-8, and not
// a possible start of a stop sequence.
func (s *scheduler) emit(r *run, q *seqState, final bool) {
	fn := r.job.stream
	if fn == nil {
		return
	}
	end := len(q.text)
	if !final {
		end -= heldBack(q.text, r.job.params.Stop)
		end -= incompleteUTF8(q.text[:end])
	}
	if end < q.emitted {
		end = q.emitted
	}
	if end > q.emitted || final {
		c := llm.Chunk{Text: string(q.text[q.emitted:end]), Tokens: q.nOut, Done: final}
		if final {
			c.FinishReason = q.reason
		}
		fn(indexOf(r.seqs, q), c)
		q.emitted = end
	}
}

func indexOf(seqs []*seqState, q *seqState) int {
	for i, x := range seqs {
		if x == q {
			return i
		}
	}
	return -1
}

// finish ends a sequence: frees its KV cells, sampler and sequence ID, and
// completes the job when it was the last one.
func (s *scheduler) finish(r *run, q *seqState, reason llm.FinishReason) {
	q.done = true
	q.reason = reason
	s.emit(r, q, true)
	_ = s.c.RemoveSequence(q.id, -1, -1)
	q.sampler.Close()
	s.free = append(s.free, q.id)
	for _, x := range r.seqs {
		if !x.done {
			return
		}
	}
	s.reserved -= r.reserved
	end := time.Now()
	res := jobResult{err: r.err, cached: r.cached}
	if !r.firstTok.IsZero() {
		res.promptTime = r.firstTok.Sub(r.start)
		res.genTime = end.Sub(r.firstTok)
	}
	for _, x := range r.seqs {
		res.texts = append(res.texts, string(x.text))
		res.reasons = append(res.reasons, x.reason)
		res.outTokens = append(res.outTokens, x.nOut)
	}
	r.job.result <- res
}

// compact drops finished runs.
func (s *scheduler) compact() {
	kept := s.running[:0]
	for _, r := range s.running {
		for _, q := range r.seqs {
			if !q.done {
				kept = append(kept, r)
				break
			}
		}
	}
	for i := len(kept); i < len(s.running); i++ {
		s.running[i] = nil
	}
	s.running = kept
}

// findStop returns where the first stop sequence starts in text, looking
// only at matches that end after the first `old` bytes (earlier ones were
// looked for before), so that a generation costs linear time.
func findStop(text []byte, old int, stops []string) (int, bool) {
	best := -1
	for _, st := range stops {
		from := max(0, old-len(st)+1)
		if i := bytes.Index(text[from:], []byte(st)); i >= 0 && (best < 0 || from+i < best) {
			best = from + i
		}
	}
	return best, best >= 0
}

// incompleteUTF8 is the length of a UTF-8 sequence cut short at the end of
// b (a token can end inside a character); such bytes are streamed with the
// next token.
func incompleteUTF8(b []byte) int {
	for n := 1; n < utf8.UTFMax && n <= len(b); n++ {
		c := b[len(b)-n]
		if c < 0x80 {
			return 0 // ASCII: complete
		}
		if c >= 0xC0 { // a leading byte: how long should its sequence be?
			want := 2
			if c >= 0xF0 {
				want = 4
			} else if c >= 0xE0 {
				want = 3
			}
			if want > n {
				return n
			}
			return 0
		}
	}
	return 0
}

// heldBack is the length of the longest suffix of text that is a proper
// prefix of a stop sequence: text that must not be streamed yet.
func heldBack(text []byte, stops []string) int {
	held := 0
	for _, st := range stops {
		for n := min(len(st)-1, len(text)); n > held; n-- {
			if strings.HasPrefix(st, string(text[len(text)-n:])) {
				held = n
				break
			}
		}
	}
	return held
}

func (r jobResult) String() string { return fmt.Sprintf("%d texts, err %v", len(r.texts), r.err) }
