package engine

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"time"

	"github.com/locallm/locallm/llm"
)

// The scheduler. One goroutine owns the context and runs this loop: it
// takes submitted jobs, admits them in order while sequence IDs and KV
// cells last, builds one batch per step from every running job (a token
// from each generating sequence first, then prompt and input tokens in
// admission order), decodes it, and hands each job what the decode gave
// it: sampled tokens, captured hidden states, pooled embeddings.
//
// KV cells are reserved at admission (a generation's prompt plus
// MaxNewTokens per sequence; an input's tokens), so a running sequence
// never finds the cache full. The context is made at the size the first
// work needs and is made again, larger, when waiting work does not fit: at
// once if nothing runs, else after what runs has drained (a context cannot
// grow under running sequences). Its size doubles each time, up to
// Config.MaxContext, so growth happens a few times at most.

// run is an admitted job.
type run struct {
	job       *job
	ids       []int32 // sequence IDs
	prefilled int     // tokens submitted to decodes
	outIdx    int     // generation: batch index of the prompt's last token in this step, or -1
	reserved  int     // KV cells
	start     time.Time
	firstTok  time.Time
	skipped   int // steps it had to wait for room as a whole (embeddings, encoder inputs)
	// this step's part of a capture: tokens [pos0, pos0+n) at batch index
	// batch0, and output index out0 (when they are outputs)
	pos0, n, batch0, out0 int
	inStep                bool
	err                   error
}

type scheduler struct {
	e        *Engine
	b        Backend
	cfg      Config
	v        *vocab
	ctx      Context // nil until the first job
	batch    Batch
	free     []int32
	reserved int
	waiting  []*job
	running  []*run
	wantGrow bool // waiting work needs more cells than the context has free
	relayout bool // waiting work needs the other KV layout
	split    bool // the context gives each sequence its own stream
	stream   int  // cells per stream when split
	// sawInputs: hidden-state or embedding work has come, or prompts that
	// share a prefix; contexts stay unified from then on, so that a mixed
	// workload does not flip between layouts.
	sawInputs bool
	ents      []splitEntry

	captureOn bool
	embedOn   bool
	nOut      int // outputs in the batch being built
	one       []int32
	cands     []int32
	logits    []float32
	open      map[string][]int32 // tokens whose text is a reasoning open marker
}

func (e *Engine) loop() {
	// llama.cpp's compute runs on the calling thread and its workers; one
	// OS thread for every call keeps that thread's caches warm.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s := &scheduler{e: e, b: e.b, cfg: e.cfg, v: newVocab(e.b), one: make([]int32, 1)}
	defer close(e.done)
	defer s.shutdown()
	stalled := false // nothing runs, and what waits could not be admitted
	for {
		if len(s.running) == 0 && (len(s.waiting) == 0 || stalled) {
			// Nothing to decode: wait for work (waiting jobs that could
			// not be admitted wait for new ones or for cancellation).
			select {
			case j := <-e.submit:
				s.waiting = append(s.waiting, j)
			case <-e.stop:
				return
			case <-s.cancelled():
			}
		}
	drain:
		for {
			select {
			case j := <-e.submit:
				s.waiting = append(s.waiting, j)
			case <-e.stop:
				return
			default:
				break drain
			}
		}
		s.reap()
		s.admit()
		stalled = len(s.running) == 0 && len(s.waiting) > 0
		if len(s.running) > 0 {
			s.step()
		}
		s.publish()
	}
}

// cancelled returns a channel closed when the first waiting job is
// cancelled (nil, blocking forever, when none waits), so that an idle
// scheduler still notices.
func (s *scheduler) cancelled() <-chan struct{} {
	if len(s.waiting) == 0 {
		return nil
	}
	return s.waiting[0].ctx.Done()
}

func (s *scheduler) publish() {
	seqs := 0
	for _, r := range s.running {
		seqs += len(r.ids)
	}
	s.e.waiting.Store(int64(len(s.waiting)))
	s.e.running.Store(int64(len(s.running)))
	s.e.sequences.Store(int64(seqs))
	if s.ctx != nil {
		s.e.ctxSize.Store(int64(s.ctx.Size()))
	}
}

// shutdown fails every job with ErrClosed and frees the context.
func (s *scheduler) shutdown() {
	for _, r := range s.running {
		s.endRun(r, ErrClosed, llm.FinishError)
	}
	s.running = nil
	for _, j := range s.waiting {
		s.failWaiting(j, ErrClosed)
	}
	s.waiting = nil
	for {
		select {
		case j := <-s.e.submit:
			s.failWaiting(j, ErrClosed)
			continue
		default:
		}
		break
	}
	s.closeContext()
	s.publish()
}

func (s *scheduler) failWaiting(j *job, err error) {
	reason := llm.FinishError
	if errors.Is(err, j.ctx.Err()) && j.ctx.Err() != nil {
		reason = llm.FinishCancelled
	}
	j.abandon(err, reason)
	close(j.done)
}

func (s *scheduler) closeContext() {
	if s.batch != nil {
		s.batch.Close()
		s.batch = nil
	}
	if s.ctx != nil {
		s.e.curMu.Lock()
		s.e.cur = nil
		s.e.curMu.Unlock()
		s.ctx.Close()
		s.ctx = nil
	}
	s.free, s.reserved, s.captureOn, s.embedOn = nil, 0, false, false
	s.split, s.stream = false, 0
}

// makeContext (re)makes the context with at least cells cells, rounded up
// to a power of two within [MinContext, MaxContext], unified or split.
func (s *scheduler) makeContext(cells int, split bool) error {
	size := s.cfg.MaxContext
	if !s.cfg.Preallocate {
		size = max(s.cfg.MinContext, cells)
		if size&(size-1) != 0 {
			size = 1 << bits.Len(uint(size))
		}
		size = min(size, s.cfg.MaxContext)
	}
	s.closeContext()
	c, err := s.b.NewContext(size, split)
	if err != nil {
		return err
	}
	b, err := c.NewBatch()
	if err != nil {
		c.Close()
		return err
	}
	s.ctx, s.batch, s.split, s.stream = c, b, split, 0
	if split {
		s.stream = c.Size() / c.Sequences()
	}
	s.e.curMu.Lock()
	s.e.cur = c
	s.e.curMu.Unlock()
	select {
	case <-s.e.stop:
		c.Abort() // Close came while the context was being made
	default:
	}
	for i := c.Sequences() - 1; i >= 0; i-- {
		s.free = append(s.free, int32(i))
	}
	s.e.ctxSize.Store(int64(c.Size()))
	s.e.split.Store(split)
	return nil
}

// layout chooses the next context's layout and size from the waiting work
// (see KVLayout).
func (s *scheduler) layout() (split bool, cells int) {
	switch s.cfg.KVLayout {
	case KVSplit:
		split = true
	case KVUnified:
	default:
		split = !s.sawInputs && s.splittable()
		if !split && s.sharing() {
			s.sawInputs = true
		}
	}
	if split {
		stream := max(s.cfg.MinContext, s.streamNeed())
		if s.ctx != nil && s.split {
			stream = max(stream, 2*s.stream)
		}
		if stream&(stream-1) != 0 {
			stream = 1 << bits.Len(uint(stream))
		}
		cells = stream * s.cfg.Sequences
		if cells <= s.cfg.MaxContext || s.cfg.KVLayout == KVSplit {
			return true, min(cells, s.cfg.MaxContext)
		}
	}
	cells = s.demand()
	if s.ctx != nil && !s.split {
		cells = max(cells, 2*s.ctx.Size())
	}
	return false, cells
}

// splittable reports whether the waiting work (as many jobs as sequence IDs
// allow) is all generations whose prompts share no reusable prefix, fills at
// least half of the sequence IDs, and fits streams of MaxContext/Sequences
// cells.
func (s *scheduler) splittable() bool {
	var prompts [][]int32
	seqs := 0
	for _, j := range s.admissible() {
		seqs += j.nseq
		if j.kind != genJob {
			return false
		}
		for _, p := range prompts {
			if sharedLen(p, j.tokens) >= s.cfg.MinSharedPrefix {
				return false // prefix reuse needs a unified cache
			}
		}
		prompts = append(prompts, j.tokens)
	}
	// A split context has a stream for every sequence ID, used or not: worth
	// it only when the waiting work fills at least half of them (a single
	// prompt gets a unified context sized to it).
	return seqs >= 2 && 2*seqs >= s.cfg.Sequences && s.streamNeed()*s.cfg.Sequences <= s.cfg.MaxContext
}

// sharing reports whether two prompts among the running and waiting
// generations share a prefix worth reusing, which a split cache cannot.
func (s *scheduler) sharing() bool {
	var prompts [][]int32
	for _, r := range s.running {
		if r.job.kind == genJob {
			prompts = append(prompts, r.job.tokens)
		}
	}
	for _, j := range s.waiting {
		if j.kind == genJob {
			prompts = append(prompts, j.tokens)
		}
	}
	for i, p := range prompts {
		for _, q := range prompts[:i] {
			if sharedLen(p, q) >= s.cfg.MinSharedPrefix {
				return true
			}
		}
	}
	return false
}

// sharedLen is the length of the common prefix of a and b, leaving at
// least one token of each to evaluate.
func sharedLen(a, b []int32) int {
	n := 0
	for n < min(len(a), len(b))-1 && a[n] == b[n] {
		n++
	}
	return n
}

// streamNeed is the most cells one sequence of the waiting work needs.
func (s *scheduler) streamNeed() int {
	n := 0
	for _, j := range s.admissible() {
		n = max(n, s.perSeq(j))
	}
	return n
}

// admissible is the waiting jobs, in order, whose sequences the sequence
// IDs hold at once: what the next context is sized for.
func (s *scheduler) admissible() []*job {
	seqs := 0
	for i, j := range s.waiting {
		if seqs+j.nseq > s.cfg.Sequences {
			return s.waiting[:i]
		}
		seqs += j.nseq
	}
	return s.waiting
}

// perSeq is the cells one sequence of a generation needs: its prompt and
// its budget.
func (s *scheduler) perSeq(j *job) int {
	if j.kind == genJob {
		return len(j.tokens) + j.gen.params.MaxNewTokens
	}
	return len(j.tokens)
}

// takeID takes the lowest free sequence ID: llama.cpp evaluates split
// streams in runs of consecutive IDs, so low, dense IDs make fewer pieces.
func (s *scheduler) takeID() int32 {
	k := 0
	for i, id := range s.free {
		if id < s.free[k] {
			k = i
		}
	}
	id := s.free[k]
	s.free[k] = s.free[len(s.free)-1]
	s.free = s.free[:len(s.free)-1]
	return id
}

// need is the KV cells a job reserves.
func (s *scheduler) need(j *job) int {
	switch {
	case j.kind == genJob:
		return len(j.tokens) + j.nseq*j.gen.params.MaxNewTokens
	case s.ctx != nil && !s.ctx.HasMemory():
		return 0
	}
	return len(j.tokens)
}

// wholeLimit is the most tokens a job evaluated in one piece may have: an
// embedding (pooled per ubatch) or any input of an encoder.
func (s *scheduler) wholeLimit() int { return min(s.ctx.BatchSize(), s.ctx.UBatchSize()) }

// demand is the cells the waiting jobs need, as many as sequence IDs allow.
func (s *scheduler) demand() int {
	cells := 0
	for _, j := range s.admissible() {
		cells += s.need(j)
	}
	return cells
}

// reap ends the jobs whose context is done.
func (s *scheduler) reap() {
	s.waiting = slices.DeleteFunc(s.waiting, func(j *job) bool {
		if err := j.ctx.Err(); err != nil {
			s.failWaiting(j, err)
			return true
		}
		return false
	})
	for _, r := range s.running {
		if err := r.job.ctx.Err(); err != nil {
			s.endRun(r, err, llm.FinishCancelled)
		}
	}
	s.compact()
}

// admit starts waiting jobs, in order, while sequence IDs and KV cells last.
func (s *scheduler) admit() {
	for len(s.waiting) > 0 {
		j := s.waiting[0]
		grow := s.ctx != nil && (s.wantGrow || !s.split && s.need(j) > s.ctx.Size()) && s.ctx.Size() < s.cfg.MaxContext
		if s.ctx == nil || s.relayout || grow {
			if len(s.running) > 0 {
				return // a context cannot change under running sequences: drain first
			}
			if s.ctx == nil && !s.cfg.Preallocate {
				s.gather()
			}
			split, cells := s.layout()
			s.wantGrow, s.relayout = false, false
			if err := s.makeContext(cells, split); err != nil {
				// The work that asked for it cannot run; later work may
				// ask for less.
				s.waiting = s.waiting[1:]
				s.failWaiting(j, err)
				continue
			}
		}
		if j.kind != genJob {
			s.sawInputs = true
		}
		if s.split && s.cfg.KVLayout == KVAuto && j.kind == genJob && s.sharing() {
			// Prefixes worth reusing: a unified cache, for good.
			s.sawInputs, s.relayout = true, true
			if len(s.running) == 0 {
				continue
			}
			return
		}
		if s.split {
			if ok, err := s.fitsStream(j); err != nil {
				s.waiting = s.waiting[1:]
				s.failWaiting(j, err)
				continue
			} else if !ok {
				if len(s.running) == 0 {
					continue // remade at the top of the loop
				}
				return
			}
		}
		if err := s.check(j); err != nil {
			s.waiting = s.waiting[1:]
			s.failWaiting(j, err)
			continue
		}
		need := s.need(j)
		if s.split {
			need = 0 // each sequence has its own stream
		}
		if j.nseq > len(s.free) || s.reserved+need > s.ctx.Size() {
			if s.reserved+need > s.ctx.Size() && s.ctx.Size() < s.cfg.MaxContext {
				s.wantGrow = true
			}
			return
		}
		var src int32 = -1
		shared := 0
		if j.kind == genJob && !s.split {
			var wait bool
			src, shared, wait = s.sharedPrefix(j.tokens)
			if wait {
				return // a running prompt is still evaluating the prefix this one shares
			}
		}
		s.waiting = s.waiting[1:]
		r := &run{job: j, outIdx: -1, reserved: need}
		s.reserved += need
		for range j.nseq {
			id := s.takeID()
			r.ids = append(r.ids, id)
			// Cells may still hold a finished sequence's positions if a
			// removal failed; start clean.
			_ = s.ctx.RemoveSequence(id)
		}
		if j.kind == genJob {
			for k, q := range j.gen.seqs {
				q.id = r.ids[k]
			}
			if shared > 0 {
				// The prefix's KV cells become this job's too: only the
				// rest of its prompt is evaluated. Its reservation still
				// counts the whole prompt, since the cells outlive the
				// sequence they came from.
				for _, id := range r.ids {
					_ = s.ctx.CopySequence(src, id, shared)
				}
				r.prefilled, j.gen.cached = shared, shared
				r.start = time.Now()
			}
		}
		s.running = append(s.running, r)
	}
}

// fitsStream says whether a job can run in the split context. When it
// cannot yet, it asks for a larger stream or a unified context (ok false);
// when it never can (the layout is forced), it says why (err).
func (s *scheduler) fitsStream(j *job) (ok bool, err error) {
	if j.kind != genJob {
		if s.cfg.KVLayout == KVSplit {
			return false, fmt.Errorf("%w: the KV cache is split into a stream per sequence (KV layout split), which cannot give %ss; use the unified or auto layout", llm.ErrBadInput, j.kind)
		}
		s.relayout = true
		return false, nil
	}
	if n := s.perSeq(j); n > s.stream {
		switch {
		case 2*s.stream*s.cfg.Sequences <= s.cfg.MaxContext:
			s.wantGrow, s.relayout = true, true
		case s.cfg.KVLayout == KVSplit:
			return false, fmt.Errorf("%w: %d cells needed by each sequence > %d, a stream of the split KV cache (context size %d / %d sequences)",
				llm.ErrContextTooLong, n, s.cfg.MaxContext/s.cfg.Sequences, s.cfg.MaxContext, s.cfg.Sequences)
		default:
			s.relayout = true // a unified cache holds it
		}
		return false, nil
	}
	return true, nil
}

// gather collects the jobs submitted within Config.GatherWindow, or until
// they would fill every sequence.
func (s *scheduler) gather() {
	if s.cfg.GatherWindow < 0 {
		return
	}
	t := time.NewTimer(s.cfg.GatherWindow)
	defer t.Stop()
	for {
		seqs := 0
		for _, j := range s.waiting {
			seqs += j.nseq
		}
		if seqs >= s.cfg.Sequences {
			return
		}
		select {
		case j := <-s.e.submit:
			s.waiting = append(s.waiting, j)
		case <-s.e.stop:
			return
		case <-t.C:
			return
		}
	}
}

// check reports why a job cannot run in the current context at all.
func (s *scheduler) check(j *job) error {
	c := s.ctx
	switch j.kind {
	case genJob:
		if !c.HasMemory() {
			return fmt.Errorf("%w: the model is an encoder (no KV cache): it cannot generate", llm.ErrBadInput)
		}
	case embedJob:
		switch p := c.Pooling(); p {
		case "none", "":
			return ErrNoPooling
		case "rank":
			return fmt.Errorf("%w: the model is a reranker (pooling rank): its pooled output is a relevance score, not an embedding", llm.ErrBadInput)
		}
		if n := len(j.tokens); n > s.wholeLimit() {
			return fmt.Errorf("%w: %d tokens > %d, the most one ubatch takes (a pooled input is evaluated in one ubatch; raise ubatch_size)", llm.ErrContextTooLong, n, s.wholeLimit())
		}
	case captureJob:
		if n := len(j.tokens); !c.HasMemory() && n > s.wholeLimit() {
			return fmt.Errorf("%w: %d tokens > %d, the most an encoder takes in one batch (ubatch_size)", llm.ErrContextTooLong, n, s.wholeLimit())
		}
	}
	if n := s.need(j); n > c.Size() {
		return fmt.Errorf("%w: %d KV cells needed > context size %d", llm.ErrContextTooLong, n, c.Size())
	}
	return nil
}

// sharedPrefix finds the running generation whose prompt shares the
// longest prefix with toks, at least MinSharedPrefix tokens and leaving at
// least the last token of toks to evaluate. wait reports that a running
// prompt shares a longer prefix than is evaluated yet: admitting after its
// next chunk saves that work.
func (s *scheduler) sharedPrefix(toks []int32) (src int32, n int, wait bool) {
	src = -1
	limit := len(toks) - 1
	for _, r := range s.running {
		if r.job.kind != genJob {
			continue
		}
		live := int32(-1)
		for _, q := range r.job.gen.seqs {
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
		if common < s.cfg.MinSharedPrefix {
			continue
		}
		if r.prefilled < common {
			wait = true // evaluated by the end of this step (prefill goes a batch at a time)
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

// whole reports whether a run's tokens must all go into one decode.
func (s *scheduler) whole(r *run) bool {
	return r.job.kind == embedJob || !s.ctx.HasMemory()
}

// splitEntry is a token of a split context's batch, before the batch is
// put in sequence order.
type splitEntry struct {
	tok  int32
	pos  int
	seq  int32
	out  bool
	q    *sequence // a generating sequence's token, or nil for a prompt's
	r    *run
	last bool // the prompt's last token
}

// stepSplit is step for a split context, which holds generations only:
// one token from each generating sequence and prompt chunks, each prompt
// in its job's first sequence (its siblings get a copy of the stream once
// it is evaluated), the batch in sequence order.
func (s *scheduler) stepSplit() {
	b := s.batch
	b.Clear()
	limit := b.Cap()
	ents := s.ents[:0]
	for _, r := range s.running {
		r.outIdx, r.inStep = -1, false
		for _, q := range r.job.gen.seqs {
			q.idx = -1
			if !q.done && r.prefilled == len(r.job.tokens) && len(ents) < limit {
				ents = append(ents, splitEntry{tok: q.last, pos: q.pos, seq: q.id, out: true, q: q, r: r})
			}
		}
	}
	now := time.Now()
	for _, r := range s.running {
		toks := r.job.tokens
		if r.prefilled == len(toks) || len(ents) >= limit {
			continue
		}
		if r.prefilled == 0 || r.start.IsZero() {
			r.start = now
		}
		n := min(len(toks)-r.prefilled, limit-len(ents))
		for i := r.prefilled; i < r.prefilled+n; i++ {
			last := i == len(toks)-1
			ents = append(ents, splitEntry{tok: toks[i], pos: i, seq: r.ids[0], out: last, r: r, last: last})
		}
		r.prefilled += n
		r.inStep = true
	}
	s.ents = ents
	if len(ents) == 0 {
		return
	}
	slices.SortStableFunc(ents, func(a, b splitEntry) int { return int(a.seq) - int(b.seq) })
	for _, e := range ents {
		s.one[0] = e.seq
		idx, _ := b.Add(e.tok, e.pos, s.one, e.out)
		switch {
		case e.q != nil:
			e.q.idx = idx
			e.q.pos++
		case e.last:
			e.r.outIdx = idx
		}
	}
	if s.captureOn {
		if err := s.ctx.SetCapture(nil, false); err != nil {
			s.failStep(err)
			return
		}
		s.captureOn = false
	}
	if !s.decode(b) {
		return
	}
	s.sampleGenerations()
	s.compact()
}

// decode decodes b, counting it; on failure (ErrClosed where Close aborted
// it) the step's runs fail and it returns false.
func (s *scheduler) decode(b Batch) bool {
	err := s.ctx.Decode(b)
	s.e.decodes.Add(1)
	s.e.decodedTokens.Add(int64(b.Len()))
	if err != nil {
		select {
		case <-s.e.stop:
			err = ErrClosed // Close aborted the decode
		default:
		}
		s.failStep(err)
		return false
	}
	return true
}

// sampleGenerations samples the next token of every generation that had an
// output in the step just decoded: all of a job's sequences from its
// prompt's last token, or each sequence from its own.
func (s *scheduler) sampleGenerations() {
outer:
	for _, r := range s.running {
		if r.job.kind != genJob {
			continue
		}
		if r.outIdx >= 0 {
			r.firstTok = time.Now()
			if s.split {
				// The prompt is in the first sequence's stream: its
				// siblings get a copy before their first token (the next
				// decode applies it).
				for _, id := range r.ids[1:] {
					if err := s.ctx.CopySequence(r.ids[0], id, -1); err != nil {
						s.endRun(r, err, llm.FinishError)
						continue outer
					}
				}
			}
			for _, q := range r.job.gen.seqs {
				if !q.done {
					q.pos = len(r.job.tokens)
					s.sample(r, q, r.outIdx)
				}
			}
			continue
		}
		for _, q := range r.job.gen.seqs {
			if q.idx >= 0 && !q.done {
				s.sample(r, q, q.idx)
			}
		}
	}
}

// step builds one batch, decodes it, and hands out the results.
func (s *scheduler) step() {
	if s.split {
		s.stepSplit()
		return
	}
	b := s.batch
	b.Clear()
	limit := b.Cap()
	if !s.ctx.HasMemory() {
		limit = s.wholeLimit()
	}
	s.nOut = 0
	add := func(tok int32, pos int, seqs []int32, out bool) int {
		idx, _ := b.Add(tok, pos, seqs, out)
		if out {
			s.nOut++
		}
		return idx
	}
	hasGen, hasEmbed := false, false
	var layers []int
	now := time.Now()

	// addWhole puts a whole-input run in the batch if it fits.
	addWhole := func(r *run) bool {
		n := len(r.job.tokens)
		wl := s.wholeLimit()
		if b.Len()+n > min(limit, wl) {
			return false
		}
		s.addInput(r, add, 0, n)
		if r.job.kind == embedJob {
			hasEmbed = true
			limit = min(limit, wl) // the whole decode must stay one ubatch
		} else {
			layers = unionLayers(layers, r.job.layers)
		}
		return true
	}

	for _, r := range s.running {
		r.outIdx, r.inStep = -1, false
		if r.job.kind == genJob {
			for _, q := range r.job.gen.seqs {
				q.idx = -1
			}
		}
	}
	// An input that waited for room as a whole goes first, before the
	// generating sequences' tokens, so that it cannot starve.
	for _, r := range s.running {
		if r.skipped > 0 && !r.inStep && r.prefilled == 0 && s.whole(r) {
			if addWhole(r) {
				r.skipped = 0
			}
			break
		}
	}
	for _, r := range s.running {
		if r.job.kind != genJob || r.prefilled < len(r.job.tokens) {
			continue
		}
		for _, q := range r.job.gen.seqs {
			if q.done || b.Len() >= limit {
				continue
			}
			s.one[0] = q.id
			q.idx = add(q.last, q.pos, s.one, true)
			q.pos++
			hasGen = true
		}
	}
	for _, r := range s.running {
		toks := r.job.tokens
		if r.inStep || r.prefilled == len(toks) || b.Len() >= limit {
			continue
		}
		if s.whole(r) {
			if !addWhole(r) {
				r.skipped++
			}
			continue
		}
		n := min(len(toks)-r.prefilled, limit-b.Len())
		switch r.job.kind {
		case genJob:
			if r.prefilled == 0 || r.start.IsZero() {
				r.start = now
			}
			for i := r.prefilled; i < r.prefilled+n; i++ {
				idx := add(toks[i], i, r.ids, i == len(toks)-1)
				if i == len(toks)-1 {
					r.outIdx = idx
				}
			}
			r.prefilled += n
			r.inStep = true
			hasGen = true
		case captureJob:
			s.addInput(r, add, r.prefilled, n)
			layers = unionLayers(layers, r.job.layers)
		}
	}
	if b.Len() == 0 {
		return
	}

	if hasEmbed {
		// Pooling reads every token of the batch as an output row, so all
		// are outputs; a capture's final-layer rows are then at its batch
		// indices.
		for i := 0; i < b.Len(); i++ {
			b.SetOutput(i, true)
		}
		for _, r := range s.running {
			if r.inStep && r.job.kind == captureJob {
				r.out0 = r.batch0
			}
		}
	}
	stopEarly := !hasGen && !hasEmbed
	if len(layers) > 0 || s.captureOn {
		if err := s.ctx.SetCapture(layers, stopEarly); err != nil {
			s.failStep(err)
			return
		}
		s.captureOn = len(layers) > 0
	}
	if hasEmbed != s.embedOn {
		s.ctx.SetEmbeddings(hasEmbed)
		s.embedOn = hasEmbed
	}
	if !s.decode(b) {
		return
	}
	for _, r := range s.running {
		if !r.inStep {
			continue
		}
		switch r.job.kind {
		case captureJob:
			s.captured(r, layers)
		case embedJob:
			v, err := s.ctx.SequenceEmbedding(r.ids[0])
			r.job.embedding = v
			s.endRun(r, err, "")
		}
	}
	s.sampleGenerations()
	s.compact()
}

// addInput adds tokens [from, from+n) of a capture or embedding run.
// Outputs: every token of an embedding (pooling reads all of them), every
// token of a capture that asks for the final layer (the final norm is
// computed for output rows only).
func (s *scheduler) addInput(r *run, add func(int32, int, []int32, bool) int, from, n int) {
	out := r.job.kind == embedJob || slices.Contains(r.job.layers, s.b.NLayer())
	r.pos0, r.n, r.batch0, r.out0 = from, n, s.batch.Len(), s.nOut
	for i := from; i < from+n; i++ {
		s.one[0] = r.ids[0]
		add(r.job.tokens[i], i, s.one, out)
	}
	r.prefilled = from + n
	r.inStep = true
}

// captured copies a capture run's rows of this step, and ends it when its
// input is complete.
func (s *scheduler) captured(r *run, layers []int) {
	nEmbd := s.b.NEmbd()
	nl := s.b.NLayer()
	for li, l := range layers {
		jl := slices.Index(r.job.layers, l)
		if jl < 0 {
			continue
		}
		row0 := r.batch0
		if l == nl && s.ctx.HasMemory() {
			row0 = r.out0
		}
		dst := r.job.rows[jl][r.pos0*nEmbd : (r.pos0+r.n)*nEmbd]
		if err := s.ctx.CopyCaptured(li, row0, r.n, dst); err != nil {
			s.endRun(r, err, "")
			return
		}
	}
	if r.prefilled == len(r.job.tokens) {
		s.endRun(r, nil, "")
	}
}

func unionLayers(a, b []int) []int {
	for _, l := range b {
		if !slices.Contains(a, l) {
			a = append(a, l)
		}
	}
	return a
}

// failStep ends every run that had tokens in a failed decode: their KV
// cells are in an unknown state.
func (s *scheduler) failStep(err error) {
	for _, r := range s.running {
		involved := r.inStep || r.outIdx >= 0
		if r.job.kind == genJob {
			for _, q := range r.job.gen.seqs {
				if q.idx >= 0 {
					involved = true
				}
			}
		}
		if involved {
			s.endRun(r, err, llm.FinishError)
		}
	}
	s.compact()
}

// endRun ends every unfinished sequence of a run with reason and the run
// itself with err.
func (s *scheduler) endRun(r *run, err error, reason llm.FinishReason) {
	if err != nil && r.err == nil {
		r.err = err
	}
	if r.job.kind == genJob {
		for _, q := range r.job.gen.seqs {
			if !q.done {
				s.finish(r, q, reason)
			}
		}
		return
	}
	s.release(r)
}

// release frees a run's sequence IDs and cells and completes its job.
func (s *scheduler) release(r *run) {
	for _, id := range r.ids {
		_ = s.ctx.RemoveSequence(id)
		s.free = append(s.free, id)
	}
	r.ids = nil
	s.reserved -= r.reserved
	r.reserved = 0
	if r.job.kind == genJob {
		g := r.job.gen
		if !r.firstTok.IsZero() {
			g.promptTime = r.firstTok.Sub(r.start)
			g.genTime = time.Since(r.firstTok)
		}
	}
	r.job.finish(r.err)
}

// compact drops finished runs.
func (s *scheduler) compact() {
	s.running = slices.DeleteFunc(s.running, func(r *run) bool { return r.ids == nil })
}
