package engine

import (
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/locallm/locallm/llm"
)

// fake is a Backend for the engine's tests: a model whose logits, hidden
// states and pooled embeddings are functions of a sequence's actual token
// history, kept in a cell-level KV cache that checks every decode the way
// llama.cpp would (positions follow on per sequence, sequence IDs and batch
// sizes in range, the cache never overfull, pooled inputs within one
// ubatch). A scheduling bug therefore changes an output or fails a decode.
type fake struct {
	texts   []string // token texts; "" for control tokens
	eog     int32
	nLayer  int
	nEmbd   int
	seqs    int
	batch   int
	ubatch  int
	noKV    bool   // an encoder: no KV cache
	pooling string // "none", "mean", ...
	// forced, when set, names the token a sequence's logits favour after
	// its history (or -1 for none): a scripted model.
	forced func(history []int32) int32

	mu       sync.Mutex
	made     []int  // sizes of the contexts made
	splits   []bool // whether each was split
	decodes  int
	maxBatch int
	live     atomic.Int64 // open contexts, batches and samplers
}

// fakeVocab: tokens 0..2 are control tokens (BOS, EOS, PAD), then single
// characters, then a few words and markers.
func newFake() *fake {
	texts := []string{"", "", ""}
	for c := byte(' '); c <= '~'; c++ {
		texts = append(texts, string(c))
	}
	texts = append(texts, "\n", "the", " the", "ing", "<think>", "</think>", "{\"", "\":", "é", "\xc3", "\xa9", "\n\n", "ab", "abc")
	return &fake{texts: texts, eog: 1, nLayer: 4, nEmbd: 3, seqs: 8, batch: 32, ubatch: 32, pooling: "mean"}
}

func (f *fake) tok(text string) int32 {
	i := slices.Index(f.texts, text)
	if i < 0 {
		panic("no token " + text)
	}
	return int32(i)
}

func (f *fake) tokens(s string) []int32 {
	var out []int32
	for i := 0; i < len(s); i++ {
		out = append(out, f.tok(s[i:i+1]))
	}
	return out
}

func (f *fake) VocabSize() int             { return len(f.texts) }
func (f *fake) EOG() []int32               { return []int32{f.eog} }
func (f *fake) TokenText(tok int32) string { return f.texts[tok] }
func (f *fake) NLayer() int                { return f.nLayer }
func (f *fake) NEmbd() int                 { return f.nEmbd }

func (f *fake) Tokenize(text string) ([]int32, error) {
	var out []int32
	for i := 0; i < len(text); {
		best := -1
		for t, s := range f.texts {
			if s != "" && len(s) > 0 && len(text)-i >= len(s) && text[i:i+len(s)] == s && (best < 0 || len(s) > len(f.texts[best])) {
				best = t
			}
		}
		if best < 0 {
			return nil, fmt.Errorf("fake: cannot tokenise %q", text[i:])
		}
		out = append(out, int32(best))
		i += len(f.texts[best])
	}
	return out, nil
}

func (f *fake) NewContext(cells int, split bool) (Context, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	size := (cells + 255) / 256 * 256
	if split {
		stream := (cells/f.seqs + 255) / 256 * 256
		size = stream * f.seqs
	}
	f.made = append(f.made, size)
	f.splits = append(f.splits, split)
	f.live.Add(1)
	return &fakeContext{f: f, size: size, split: split, batch: min(f.batch, size), cells: map[int]*fakeCell{}, seqPos: map[int32]int{}}, nil
}

func (f *fake) layouts() []bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.splits)
}

func (f *fake) NewSampler(p llm.GenerationParams, seed uint32) (Sampler, error) {
	f.live.Add(1)
	return &fakeSampler{f: f, p: p, rng: rand.New(rand.NewPCG(uint64(seed), 7))}, nil
}

func (f *fake) contexts() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.made)
}

// hidden is the fake's hidden state k of a token with history hash h at
// layer l.
func hidden(h uint64, l, k int) float32 {
	x := h ^ uint64(l*131+k*7919)
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return float32(x%2000)/1000 - 1
}

type fakeCell struct {
	pos  int
	seqs map[int32]bool
	hash uint64 // hash of the sequence's tokens up to and including this one
	hist []int32
}

type fakeContext struct {
	f      *fake
	size   int
	split  bool // a stream of size/seqs cells per sequence
	batch  int
	cells  map[int]*fakeCell // cell index → cell
	seqPos map[int32]int     // next position per sequence
	// results of the last decode
	logits  map[int][]float32
	hiddenR [][]float32 // per captured layer, rows of nEmbd
	capture []int
	stop    bool
	embOn   bool
	embd    map[int32][]float32
	aborted atomic.Bool
	closed  bool
}

func (c *fakeContext) Size() int {
	if c.f.noKV {
		return c.size
	}
	return c.size
}
func (c *fakeContext) BatchSize() int  { return c.batch }
func (c *fakeContext) UBatchSize() int { return min(c.f.ubatch, c.batch) }
func (c *fakeContext) Sequences() int  { return c.f.seqs }
func (c *fakeContext) HasMemory() bool { return !c.f.noKV }
func (c *fakeContext) Abort()          { c.aborted.Store(true) }
func (c *fakeContext) ResetAbort()     { c.aborted.Store(false) }
func (c *fakeContext) Pooling() string { return c.f.pooling }
func (c *fakeContext) SetEmbeddings(on bool) {
	c.embOn = on
}

func (c *fakeContext) Close() error {
	if !c.closed {
		c.closed = true
		c.f.live.Add(-1)
	}
	return nil
}

func (c *fakeContext) NewBatch() (Batch, error) {
	c.f.live.Add(1)
	return &fakeBatch{f: c.f, cap: c.batch}, nil
}

// cellOf finds the cell holding position pos of seq.
func (c *fakeContext) cellOf(seq int32, pos int) *fakeCell {
	for _, cl := range c.cells {
		if cl.pos == pos && cl.seqs[seq] {
			return cl
		}
	}
	return nil
}

func (c *fakeContext) RemoveSequence(seq int32) error {
	for i, cl := range c.cells {
		delete(cl.seqs, seq)
		if len(cl.seqs) == 0 {
			delete(c.cells, i)
		}
	}
	delete(c.seqPos, seq)
	return nil
}

func (c *fakeContext) CopySequence(src, dst int32, n int) error {
	if c.f.noKV {
		return errors.New("fake: no KV cache to share")
	}
	if c.split != (n < 0) {
		return fmt.Errorf("fake: copy of %d positions in a context split=%v (split streams copy whole streams only, unified shares a prefix)", n, c.split)
	}
	if n < 0 {
		c.RemoveSequence(dst)
		for _, cl := range c.cells {
			if cl.seqs[src] {
				cp := *cl
				cp.seqs = map[int32]bool{dst: true}
				for k := 0; ; k++ {
					if _, used := c.cells[k]; !used {
						c.cells[k] = &cp
						break
					}
				}
			}
		}
		c.seqPos[dst] = c.seqPos[src]
		return nil
	}
	for p := 0; p < n; p++ {
		cl := c.cellOf(src, p)
		if cl == nil {
			return fmt.Errorf("fake: copy of sequence %d position %d, which it does not hold", src, p)
		}
		cl.seqs[dst] = true
	}
	c.seqPos[dst] = n
	return nil
}

func (c *fakeContext) Decode(bi Batch) error {
	b := bi.(*fakeBatch)
	if c.aborted.Load() {
		return errors.New("fake: aborted")
	}
	if b.n == 0 || b.n > c.batch {
		return fmt.Errorf("fake: batch of %d tokens, context batch %d", b.n, c.batch)
	}
	if (c.f.noKV || c.embOn) && b.n > c.UBatchSize() {
		return fmt.Errorf("fake: batch of %d tokens in one ubatch of %d (encoder or pooled)", b.n, c.UBatchSize())
	}
	if c.embOn && c.f.pooling != "none" && slices.Contains(b.out, false) {
		return errors.New("fake: with pooled embeddings on, every token must be an output (llama.cpp would assert)")
	}
	c.f.mu.Lock()
	c.f.decodes++
	c.f.maxBatch = max(c.f.maxBatch, b.n)
	c.f.mu.Unlock()
	if c.f.noKV {
		c.cells, c.seqPos = map[int]*fakeCell{}, map[int32]int{}
	}
	c.logits = map[int][]float32{}
	c.hiddenR = make([][]float32, len(c.capture))
	c.embd = map[int32][]float32{}
	pooled := map[int32][]float32{}
	counts := map[int32]int{}
	nl := c.f.nLayer
	for i := 0; i < b.n; i++ {
		tk := b.toks[i]
		if tk < 0 || int(tk) >= len(c.f.texts) {
			return fmt.Errorf("fake: token %d", tk)
		}
		seqs := b.seqs[i]
		pos := b.pos[i]
		var prev *fakeCell
		for _, s := range seqs {
			if s < 0 || int(s) >= c.f.seqs {
				return fmt.Errorf("fake: sequence %d", s)
			}
			if c.seqPos[s] != pos {
				return fmt.Errorf("fake: sequence %d at position %d, want %d", s, pos, c.seqPos[s])
			}
			if pos > 0 {
				p := c.cellOf(s, pos-1)
				if p == nil {
					return fmt.Errorf("fake: sequence %d has no position %d", s, pos-1)
				}
				if prev != nil && prev.hash != p.hash {
					return fmt.Errorf("fake: a token shared by sequences with different histories")
				}
				prev = p
			}
		}
		if c.split {
			if len(seqs) != 1 {
				return fmt.Errorf("fake: a token in %d sequences of a split cache", len(seqs))
			}
			if i > 0 && b.seqs[i-1][0] > seqs[0] {
				return fmt.Errorf("fake: split batch not in sequence order at %d", i)
			}
			used := 0
			for _, cl := range c.cells {
				if cl.seqs[seqs[0]] {
					used++
				}
			}
			if used >= c.size/c.f.seqs {
				return fmt.Errorf("fake: stream of sequence %d full (%d cells)", seqs[0], c.size/c.f.seqs)
			}
		} else if !c.f.noKV && len(c.cells) >= c.size {
			return fmt.Errorf("fake: KV cache full (%d cells)", c.size)
		}
		h := fnv.New64a()
		var hist []int32
		if prev != nil {
			fmt.Fprint(h, prev.hash)
			hist = slices.Clone(prev.hist)
		}
		fmt.Fprint(h, "/", tk)
		hist = append(hist, tk)
		cl := &fakeCell{pos: pos, seqs: map[int32]bool{}, hash: h.Sum64(), hist: hist}
		for _, s := range seqs {
			cl.seqs[s] = true
			c.seqPos[s] = pos + 1
		}
		for k := 0; ; k++ {
			if _, used := c.cells[k]; !used {
				c.cells[k] = cl
				break
			}
		}
		for li, l := range c.capture {
			if l == nl && !c.f.noKV && !b.out[i] {
				continue // the final norm is computed for outputs only
			}
			for k := 0; k < c.f.nEmbd; k++ {
				c.hiddenR[li] = append(c.hiddenR[li], hidden(cl.hash, l, k))
			}
		}
		if b.out[i] && c.embOn {
			s := seqs[0]
			if pooled[s] == nil {
				pooled[s] = make([]float32, c.f.nEmbd)
			}
			for k := range pooled[s] {
				pooled[s][k] += hidden(cl.hash, nl, k)
			}
			counts[s]++
		}
		if b.out[i] && !c.stop {
			c.logits[i] = c.f.logitsFor(cl)
		}
	}
	for s, v := range pooled {
		for k := range v {
			v[k] /= float32(counts[s])
		}
		c.embd[s] = v
	}
	return nil
}

// logitsFor: a hash of the history per token, with the scripted token
// (if any) far ahead.
func (f *fake) logitsFor(cl *fakeCell) []float32 {
	out := make([]float32, len(f.texts))
	for t := range out {
		out[t] = hidden(cl.hash, 1000+t, 0) * 4
	}
	if f.forced != nil {
		if t := f.forced(cl.hist); t >= 0 {
			out[t] = 50
		}
	}
	return out
}

func (c *fakeContext) Logits(idx int, dst []float32) error {
	l, ok := c.logits[idx]
	if !ok {
		return fmt.Errorf("fake: no logits at %d", idx)
	}
	copy(dst, l)
	return nil
}

func (c *fakeContext) Sample(s Sampler, idx int) (int32, error) {
	return c.SampleFrom(s, idx, nil)
}

func (c *fakeContext) SampleFrom(si Sampler, idx int, ids []int32) (int32, error) {
	s := si.(*fakeSampler)
	l, ok := c.logits[idx]
	if !ok {
		return 0, fmt.Errorf("fake: no logits at %d", idx)
	}
	if ids == nil {
		for t := range l {
			ids = append(ids, int32(t))
		}
	}
	var cands []int32
	for _, t := range ids {
		if s.p.IgnoreEOS && t == c.f.eog {
			continue
		}
		if b, ok := s.p.LogitBias[t]; ok && math.IsInf(b, -1) {
			continue
		}
		cands = append(cands, t)
	}
	if len(cands) == 0 {
		return 0, ErrNoToken
	}
	if s.p.Temperature == 0 {
		best := cands[0]
		for _, t := range cands {
			if l[t] > l[best] {
				best = t
			}
		}
		return best, nil
	}
	ws := make([]float64, len(cands))
	sum := 0.0
	for i, t := range cands {
		ws[i] = math.Exp(float64(l[t]) / s.p.Temperature)
		sum += ws[i]
	}
	r := s.rng.Float64() * sum
	for i, w := range ws {
		if r -= w; r <= 0 {
			return cands[i], nil
		}
	}
	return cands[len(cands)-1], nil
}

func (c *fakeContext) SequenceEmbedding(seq int32) ([]float32, error) {
	v, ok := c.embd[seq]
	if !ok {
		return nil, fmt.Errorf("fake: no embedding for sequence %d", seq)
	}
	return v, nil
}

func (c *fakeContext) SetCapture(layers []int, stopEarly bool) error {
	c.capture, c.stop = slices.Clone(layers), stopEarly && len(layers) > 0
	return nil
}

func (c *fakeContext) CopyCaptured(i, row0, n int, dst []float32) error {
	ne := c.f.nEmbd
	if i >= len(c.hiddenR) || (row0+n)*ne > len(c.hiddenR[i]) {
		return fmt.Errorf("fake: rows [%d, %d) of captured layer %d: have %d", row0, row0+n, i, len(c.hiddenR[i])/ne)
	}
	copy(dst, c.hiddenR[i][row0*ne:(row0+n)*ne])
	return nil
}

type fakeBatch struct {
	f    *fake
	cap  int
	n    int
	toks []int32
	pos  []int
	seqs [][]int32
	out  []bool
}

func (b *fakeBatch) Clear()   { b.n, b.toks, b.pos, b.seqs, b.out = 0, nil, nil, nil, nil }
func (b *fakeBatch) Len() int { return b.n }
func (b *fakeBatch) Cap() int { return b.cap }
func (b *fakeBatch) Close() error {
	b.f.live.Add(-1)
	return nil
}

func (b *fakeBatch) SetOutput(i int, out bool) { b.out[i] = out }

func (b *fakeBatch) Add(tok int32, pos int, seqs []int32, out bool) (int, error) {
	if b.n >= b.cap {
		return 0, errors.New("fake: batch full")
	}
	b.toks, b.pos, b.seqs, b.out = append(b.toks, tok), append(b.pos, pos), append(b.seqs, slices.Clone(seqs)), append(b.out, out)
	b.n++
	return b.n - 1, nil
}

type fakeSampler struct {
	f   *fake
	p   llm.GenerationParams
	rng *rand.Rand
}

func (s *fakeSampler) Accept(int32) error { return nil }
func (s *fakeSampler) Close() error {
	s.f.live.Add(-1)
	return nil
}

func newHash() hash.Hash64 { return fnv.New64a() }
