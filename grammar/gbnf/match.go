package gbnf

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// The matcher is a generalised recogniser in the style of GLL parsing. The
// grammar is compiled to slots (positions inside alternatives) and
// nonterminals (rules, groups and repetitions). The parse stacks of all
// derivations are kept as one graph-structured stack: a node stands for
// one nonterminal called at one input position, with edges back to where
// each caller continues. Calls at the same position share a node, so the
// work per code point stays polynomial whatever the ambiguity, left
// recursion could not loop (Parse rejects it anyway), and a call in tail
// position reuses its caller's return edges, so right recursion runs in
// constant space as it does in llama.cpp. Repetitions keep a counter
// instead of being expanded, so x{0,2000} costs one nonterminal, not 2000.
//
// Between code points the state is the set of descriptors waiting at a
// character class. Stack nodes from earlier positions are never modified,
// so matchers may share them: Clone copies a few words.

// ErrMatchBudget is returned (wrapped in a *MatchError) by Feed when one
// code point would take more than MaxMatchWork steps of the matcher, which
// only extremely ambiguous grammars need.
var ErrMatchBudget = errors.New("gbnf: match work budget exceeded")

// MaxMatchWork bounds the work the matcher does for one code point: some
// tens of milliseconds.
const MaxMatchWork = 1 << 20

var gMatchWork = MaxMatchWork // lowered by tests

// gInitWork bounds the work of computing the state before any input, done
// once per grammar.
const gInitWork = 1 << 26

// MatchError reports bytes the grammar does not accept. Offset counts the
// bytes accepted before the offending one, from the matcher's start.
type MatchError struct {
	Offset int64
	Byte   byte
	Msg    string
	Err    error // ErrMatchBudget, or nil
}

func (e *MatchError) Error() string {
	return fmt.Sprintf("gbnf: byte 0x%02x at offset %d: %s", e.Byte, e.Offset, e.Msg)
}

// Unwrap returns the sentinel error behind e, if any.
func (e *MatchError) Unwrap() error { return e.Err }

const (
	gOpAccept uint8 = iota // the root rule has matched
	gOpTerm                // match one code point of class arg
	gOpStar                // match class arg from min to max times, counting in the descriptor
	gOpCall                // call nonterminal arg
	gOpEnd                 // end of an alternative: return
	gOpLoop                // end of a repetition's body
)

type gSlot struct {
	op       uint8
	arg      int32
	min, max int32 // gOpStar; max < 0 for no maximum
}

type gNT struct {
	alts     []int32 // first slot of each alternative, or of each alternative of a repetition's body
	rep      bool
	min, max int32 // repetitions; max < 0 for no maximum
	prod     bool  // productive: derives some string the matcher can match
}

type gProg struct {
	slots   []gSlot
	nts     []gNT
	classes []*gClass
	root    int32
	init    gState
	initErr error // the state before any input was too costly to compute
	scratch sync.Pool
}

// gNode is a node of the graph-structured stack: nonterminal nt called in
// the step stamped step. Its edges say where to continue when it returns.
// Only the step that creates a node changes it.
type gNode struct {
	nt     int32
	seq    uint32 // numbers the nodes of one step, for hashing
	popped bool   // returned during its creation step
	adds   uint32 // edges added after creation
	step   uint64
	edges  []gEdge
	first  [1]gEdge // the usual single edge, without a second allocation
}

type gEdge struct {
	slot, count int32
	parent      *gNode // nil for the accept edge
}

// gDesc is a descriptor: continue at slot, with the count of the current
// repetition frame, in the frame of node.
type gDesc struct {
	slot, count int32
	node        *gNode
}

type gState struct {
	pending []gDesc // descriptors at a class, waiting for a code point; never modified
	accept  bool    // the root rule matched all the input so far
	part    [3]byte // an incomplete UTF-8 sequence
	npart   uint8
	off     int64
}

// gStamps numbers matcher steps across all matchers, so that a node's step
// tells which step created it, even between clones.
var gStamps atomic.Uint64

func (g *Grammar) program() *gProg {
	g.progOnce.Do(func() { g.prog = gCompile(g) })
	return g.prog
}

// NewMatcher returns a matcher at the start of the input.
func (g *Grammar) NewMatcher() *Matcher {
	p := g.program()
	return &Matcher{prog: p, st: p.init}
}

// Accepts reports whether s, as a whole, matches the root rule.
func (g *Grammar) Accepts(s string) bool {
	m := g.NewMatcher()
	sc := m.prog.getScratch()
	// m is private here: its descriptors may live in sc's buffers.
	m.st.pending = append(sc.spare[:0], m.st.pending...)
	ok := true
	for i := 0; i < len(s) && ok; i++ {
		ok = m.feedByte(sc, s[i], true) == nil
	}
	ok = ok && m.Accepting()
	sc.spare = m.st.pending[:0]
	m.prog.scratch.Put(sc)
	return ok
}

// Matcher matches bytes fed to it against a grammar's root rule. The zero
// value is not usable; get one from Grammar.NewMatcher. A Matcher must not
// be used by more than one goroutine at a time; Clone gives independent
// copies.
type Matcher struct {
	prog *gProg
	st   gState
}

// Feed advances the matcher over b. If some byte of b cannot be part of a
// match, whatever follows, Feed returns a *MatchError for it and leaves the
// matcher as it was before the call. Bytes must be valid UTF-8 (a code
// point may be split across calls); NUL is never accepted.
func (m *Matcher) Feed(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	sc := m.prog.getScratch()
	defer m.prog.scratch.Put(sc)
	saved := m.st
	for _, c := range b {
		if err := m.feedByte(sc, c, false); err != nil {
			m.st = saved
			return err
		}
	}
	return nil
}

// Accepting reports whether the bytes fed so far form a complete match.
func (m *Matcher) Accepting() bool { return m.st.accept && m.st.npart == 0 }

// Dead reports whether no byte may follow (NextBytes is empty). A dead
// matcher may still be Accepting.
func (m *Matcher) Dead() bool { return len(m.st.pending) == 0 }

// Offset returns the number of bytes accepted so far.
func (m *Matcher) Offset() int64 { return m.st.off }

// Clone returns an independent copy of m.
func (m *Matcher) Clone() *Matcher {
	c := *m
	return &c
}

// NextBytes returns, in increasing order, the bytes that may come next:
// each one begins or continues the UTF-8 encoding of a code point that some
// continuation of the match allows. It is empty when none may.
func (m *Matcher) NextBytes() []byte {
	var classes []*gClass
	for _, d := range m.st.pending {
		c := m.prog.classes[m.prog.slots[d.slot].arg]
		if !slices.Contains(classes, c) {
			classes = append(classes, c)
		}
	}
	out := []byte{}
	if len(classes) == 0 {
		return out
	}
	var buf [4]byte
	n := copy(buf[:], m.st.part[:m.st.npart])
	first, last := 0x01, 0xf4
	if n > 0 {
		first, last = 0x80, 0xbf
	}
	for b := first; b <= last; b++ {
		buf[n] = byte(b)
		lo, hi, _, ok := gUTF8Prefix(buf[:n+1])
		if !ok {
			continue
		}
		for _, c := range classes {
			if c.intersects(lo, hi) {
				out = append(out, byte(b))
				break
			}
		}
	}
	return out
}

// AllowsByte reports whether c may come next: whether it is one of
// NextBytes, without building that list. It is the cheap test of a walk
// over many candidate continuations (a tokenizer's vocabulary as a byte
// trie), which then feeds only the bytes it allows.
func (m *Matcher) AllowsByte(c byte) bool {
	var buf [4]byte
	n := copy(buf[:], m.st.part[:m.st.npart])
	if n > 0 && (c < 0x80 || c > 0xbf) || n == 0 && (c < 0x01 || c > 0xf4) {
		return false
	}
	buf[n] = c
	lo, hi, _, ok := gUTF8Prefix(buf[:n+1])
	if !ok {
		return false
	}
	for _, d := range m.st.pending {
		if m.prog.classes[m.prog.slots[d.slot].arg].intersects(lo, hi) {
			return true
		}
	}
	return false
}

func (m *Matcher) errorf(c byte, kind error, format string, args ...any) *MatchError {
	return &MatchError{Offset: m.st.off, Byte: c, Msg: fmt.Sprintf(format, args...), Err: kind}
}

// feedByte feeds one byte. With own set, m is private to the caller and
// its pending descriptors may live in sc's buffers instead of a copy.
func (m *Matcher) feedByte(sc *gScratch, c byte, own bool) error {
	st := &m.st
	if err := m.prog.initErr; err != nil {
		return m.errorf(c, err, "%v", err)
	}
	var buf [4]byte
	n := copy(buf[:], st.part[:st.npart])
	buf[n] = c
	n++
	lo, hi, need, ok := gUTF8Prefix(buf[:n])
	if !ok {
		return m.errorf(c, nil, "invalid UTF-8")
	}
	if n < need {
		for _, d := range st.pending {
			if m.prog.classes[m.prog.slots[d.slot].arg].intersects(lo, hi) {
				copy(st.part[:], buf[:n])
				st.npart = uint8(n)
				st.off++
				return nil
			}
		}
		return m.errorf(c, nil, "no continuation of the match allows it")
	}
	if err := m.step(sc, lo); err != nil {
		return m.errorf(c, err, "%v", err)
	}
	if !sc.accept && len(sc.pending) == 0 {
		if lo == 0 {
			return m.errorf(c, nil, "NUL is never accepted")
		}
		return m.errorf(c, nil, "no continuation of the match allows U+%04X", lo)
	}
	if own {
		st.pending, sc.pending = sc.pending, st.pending[:0]
	} else {
		st.pending = append([]gDesc(nil), sc.pending...)
	}
	st.accept = sc.accept
	st.npart = 0
	st.off++
	return nil
}

// step matches code point x against the pending descriptors, leaving the
// result in sc.
func (m *Matcher) step(sc *gScratch, x uint32) error {
	p := m.prog
	sc.begin()
	for _, d := range m.st.pending {
		sl := &p.slots[d.slot]
		if !p.classes[sl.arg].has(x) {
			continue
		}
		if sl.op == gOpStar {
			c := d.count + 1
			if sl.max < 0 && c > sl.min {
				c = sl.min
			}
			sc.push(gDesc{d.slot, c, d.node})
		} else {
			sc.push(gDesc{d.slot + 1, d.count, d.node})
		}
	}
	return sc.run(p)
}

// gScratch is the working memory of one step, reused between steps and,
// through a pool, between matchers.
type gScratch struct {
	stamp   uint64
	seq     uint32
	work    []gDesc
	pending []gDesc
	spare   []gDesc // a second buffer of descriptors for Accepts
	accept  bool
	budget  int
	seen    gDescSet // descriptors pushed, and nodes of earlier steps popped, in this step

	ntNode  []*gNode // node created this step for each nonterminal,
	ntStamp []uint64 // valid where ntStamp matches stamp

	edgeMap map[gEdgeKey]struct{} // edges of nodes with many of them
}

type gEdgeKey struct {
	node *gNode
	edge gEdge
}

const gSmallSet = 16

func (p *gProg) getScratch() *gScratch {
	if sc, ok := p.scratch.Get().(*gScratch); ok {
		return sc
	}
	return &gScratch{ntNode: make([]*gNode, len(p.nts)), ntStamp: make([]uint64, len(p.nts))}
}

func (sc *gScratch) begin() {
	sc.stamp = gStamps.Add(1)
	sc.seq = 0
	sc.work = sc.work[:0]
	sc.pending = sc.pending[:0]
	sc.accept = false
	sc.budget = gMatchWork
	sc.seen.reset()
	if len(sc.edgeMap) > 0 {
		sc.edgeMap = nil
	}
}

func (sc *gScratch) push(d gDesc) {
	if sc.seen.add(d) {
		sc.work = append(sc.work, d)
	}
}

var errBudget = fmt.Errorf("matching one code point needs more than %d steps: %w", MaxMatchWork, ErrMatchBudget)

func (sc *gScratch) run(p *gProg) error {
	for len(sc.work) > 0 {
		if sc.budget--; sc.budget < 0 {
			return errBudget
		}
		d := sc.work[len(sc.work)-1]
		sc.work = sc.work[:len(sc.work)-1]
		s := &p.slots[d.slot]
		switch s.op {
		case gOpTerm:
			sc.pending = append(sc.pending, d)
		case gOpStar:
			if d.count >= s.min {
				sc.push(gDesc{d.slot + 1, 0, d.node})
			}
			if s.max < 0 || d.count < s.max {
				sc.pending = append(sc.pending, d)
			}
		case gOpAccept:
			sc.accept = true
		case gOpEnd:
			sc.pop(d.node)
		case gOpLoop:
			sc.repeat(p, d.node, d.count+1)
		case gOpCall:
			sc.call(p, d, s.arg)
		}
	}
	return nil
}

func (sc *gScratch) call(p *gProg, d gDesc, x int32) {
	ret := gEdge{d.slot + 1, d.count, d.node}
	// A call whose return would only return from d.node again can return
	// straight to d.node's callers, once d.node's edges are final: that
	// is, once d.node belongs to an earlier step.
	tail := false
	if d.node.step != sc.stamp {
		switch next := &p.slots[d.slot+1]; next.op {
		case gOpEnd:
			tail = true
		case gOpLoop:
			nt := &p.nts[d.node.nt]
			c := d.count + 1
			tail = nt.max >= 0 && c >= nt.max && c >= nt.min
		}
	}
	if sc.ntStamp[x] != sc.stamp {
		v := &gNode{nt: x, step: sc.stamp, seq: sc.seq}
		sc.seq++
		if !tail {
			v.first[0] = ret
			v.edges = v.first[:1:1]
		} else {
			// Shared, never written: an older node's edges are final, and
			// the full slice expression makes append copy them first.
			v.edges = d.node.edges[:len(d.node.edges):len(d.node.edges)]
		}
		sc.ntNode[x], sc.ntStamp[x] = v, sc.stamp
		sc.start(p, v)
		return
	}
	v := sc.ntNode[x]
	switch {
	case !tail:
		sc.addEdge(v, ret)
	case len(v.edges) <= 2 && len(d.node.edges) > gSmallSet:
		// Many edges joining few: copy them in bulk, then keep those of
		// v's own that are not among them.
		old := v.edges
		v.edges = append(make([]gEdge, 0, len(d.node.edges)+len(old)), d.node.edges...)
		var known []gEdge
		for _, e := range old {
			if slices.Contains(d.node.edges, e) {
				known = append(known, e)
			} else {
				v.edges = append(v.edges, e)
			}
		}
		sc.budget -= len(d.node.edges)
		if v.popped {
			for _, e := range d.node.edges {
				if !slices.Contains(known, e) {
					sc.follow(e)
				}
			}
		}
	default:
		for _, e := range d.node.edges {
			sc.addEdge(v, e)
		}
	}
}

func (sc *gScratch) addEdge(v *gNode, e gEdge) {
	sc.budget--
	// Scan the edges while few or seldom added to; index them in a map
	// only for a node that keeps getting edges.
	if v.adds++; len(v.edges) <= gSmallSet || v.adds <= gSmallSet {
		sc.budget -= len(v.edges) / 64
		if slices.Contains(v.edges, e) {
			return
		}
	} else {
		if sc.edgeMap == nil {
			sc.edgeMap = map[gEdgeKey]struct{}{}
		}
		if _, indexed := sc.edgeMap[gEdgeKey{v, v.edges[0]}]; !indexed {
			for _, x := range v.edges {
				sc.edgeMap[gEdgeKey{v, x}] = struct{}{}
			}
		}
		k := gEdgeKey{v, e}
		if _, ok := sc.edgeMap[k]; ok {
			return
		}
		sc.edgeMap[k] = struct{}{}
	}
	v.edges = append(v.edges, e)
	if v.popped {
		sc.follow(e)
	}
}

func (sc *gScratch) follow(e gEdge) { sc.push(gDesc{e.slot, e.count, e.parent}) }

func (sc *gScratch) start(p *gProg, v *gNode) {
	nt := &p.nts[v.nt]
	if nt.rep {
		sc.repeat(p, v, 0)
		return
	}
	for _, a := range nt.alts {
		sc.push(gDesc{a, 0, v})
	}
}

// repeat continues repetition node u after c iterations of its body.
func (sc *gScratch) repeat(p *gProg, u *gNode, c int32) {
	nt := &p.nts[u.nt]
	if nt.max < 0 && c > nt.min {
		c = nt.min // beyond the minimum, counts of an open repetition are alike
	}
	if c >= nt.min {
		sc.pop(u)
	}
	if nt.max < 0 || c < nt.max {
		for _, a := range nt.alts {
			sc.push(gDesc{a, c, u})
		}
	}
}

// pop returns from u. A node is popped at most once per step: young nodes
// remember it themselves, older ones (which must not change) in sc.seen.
func (sc *gScratch) pop(u *gNode) {
	if u.step == sc.stamp {
		if u.popped {
			return
		}
		u.popped = true
	} else if !sc.seen.add(gDesc{-1, -1, u}) {
		return
	}
	for _, e := range u.edges {
		sc.follow(e)
	}
}

// gDescSet is a hash set of descriptors, emptied in constant time by
// bumping a generation number.
type gDescSet struct {
	keys []gDesc
	gens []uint32
	gen  uint32
	n    int
}

func (s *gDescSet) reset() {
	s.gen++
	s.n = 0
	if s.gen == 0 {
		clear(s.gens)
		s.gen = 1
	}
	if len(s.keys) > 1<<16 {
		s.keys, s.gens = nil, nil // let one huge step's memory go
	}
	if s.keys == nil {
		s.keys = make([]gDesc, 64)
		s.gens = make([]uint32, 64)
	}
}

func gHash(d gDesc) uint64 {
	h := uint64(uint32(d.slot))*0x9e3779b97f4a7c15 ^ uint64(uint32(d.count))*0xc2b2ae3d27d4eb4f
	if d.node != nil {
		h ^= d.node.step*0x165667b19e3779f9 ^ uint64(d.node.seq)*0x27d4eb2f165667c5
	}
	return h ^ h>>29
}

// add inserts d and reports whether it was new.
func (s *gDescSet) add(d gDesc) bool {
	if 2*(s.n+1) > len(s.keys) {
		s.grow()
	}
	mask := uint64(len(s.keys) - 1)
	for i := gHash(d) & mask; ; i = (i + 1) & mask {
		if s.gens[i] != s.gen {
			s.gens[i], s.keys[i] = s.gen, d
			s.n++
			return true
		}
		if s.keys[i] == d {
			return false
		}
	}
}

func (s *gDescSet) grow() {
	old, oldGens, gen := s.keys, s.gens, s.gen
	s.keys = make([]gDesc, 2*len(old))
	s.gens = make([]uint32, 2*len(old))
	s.n = 0
	for i, d := range old {
		if oldGens[i] == gen {
			s.add(d)
		}
	}
}

// gCompile lowers g's rules in force to slots and nonterminals, prunes
// what can never match, and computes the state before any input.
func gCompile(g *Grammar) *gProg {
	c := &gCompiler{p: &gProg{}, g: g, ntOf: map[string]int32{}, classKey: map[string]int32{}, inline: map[string]int{}}
	p := c.p
	p.slots = append(p.slots, gSlot{op: gOpAccept})
	c.class(nil, false) // class 0: empty, for token references
	var defs []*Rule
	for _, r := range g.rules {
		if g.byName[r.Name] == r {
			defs = append(defs, r)
		}
	}
	for _, r := range defs {
		if c.inlineSize(r.Name) < 0 || r.Name == "root" {
			c.ntOf[r.Name] = c.newNT()
		}
	}
	for _, r := range defs {
		if id, ok := c.ntOf[r.Name]; ok {
			c.alts(id, r.Expr.(*AltNode).Alts, false)
		}
	}
	for len(c.queue) > 0 {
		f := c.queue[0]
		c.queue = c.queue[1:]
		f()
	}
	p.root = c.ntOf["root"]
	c.prune()

	sc := p.getScratch()
	sc.begin()
	if p.nts[p.root].prod {
		root := &gNode{nt: p.root, step: sc.stamp}
		root.edges = root.first[:1:1] // the accept edge
		sc.ntNode[p.root], sc.ntStamp[p.root] = root, sc.stamp
		sc.start(p, root)
		// Parse's limits keep this first closure far below the budget,
		// which is only a last line of defence.
		sc.budget = gInitWork
		if err := sc.run(p); err != nil {
			p.initErr = err
			sc.pending, sc.accept = sc.pending[:0], false
		}
	}
	p.init = gState{pending: append([]gDesc(nil), sc.pending...), accept: sc.accept}
	p.scratch.Put(sc)
	return p
}

type gCompiler struct {
	p        *gProg
	g        *Grammar
	ntOf     map[string]int32
	classKey map[string]int32
	queue    []func()
	inline   map[string]int // rule -> slots when compiled in place of a call, or -1
}

// deferred queues f, which compiles a group or repetition: its slots must
// not interleave with those of the alternative that calls it.
func (c *gCompiler) deferred(f func()) { c.queue = append(c.queue, f) }

// gInlineMax is the most slots a rule may take to be compiled into its
// callers instead of called, which saves a stack node per call.
const gInlineMax = 16

// inlineSize returns how many slots rule name takes when compiled in place
// of a call to it, or -1 if it is not: only small rules of one alternative
// without groups, recursion or repetitions of more than one character are.
func (c *gCompiler) inlineSize(name string) int {
	const busy = -2 // being computed: a reference to it is recursion
	if n, ok := c.inline[name]; ok {
		return n
	}
	c.inline[name] = busy
	size := 0
	if alts := c.g.byName[name].Expr.(*AltNode).Alts; len(alts) == 1 {
		for _, it := range alts[0].Items {
			switch it := it.(type) {
			case *LiteralNode:
				size += len(it.Value)
			case *ClassNode, *AnyNode, *TokenNode:
				size++
			case *RefNode:
				switch n := c.inlineSize(it.Name); n {
				case busy:
					size = gInlineMax + 1
				case -1:
					size++
				default:
					size += n
				}
			case *RepeatNode:
				if !gSingleChar(it.Expr) {
					size = gInlineMax + 1
				}
				size++
			default:
				size = gInlineMax + 1
			}
		}
	} else {
		size = gInlineMax + 1
	}
	if size > gInlineMax {
		size = -1
	}
	c.inline[name] = size
	return size
}

// gSingleChar reports whether n matches exactly one character.
func gSingleChar(n Node) bool {
	switch n := n.(type) {
	case *LiteralNode:
		return len(n.Value) == 1
	case *ClassNode:
		return len(n.Ranges) > 0
	case *AnyNode:
		return true
	}
	return false
}

// prune marks the productive nonterminals, those that derive some string
// of code points the matcher can see, and drops the alternatives that are
// not, so that every state the matcher reaches can still complete a match
// and NextBytes offers no byte that leads nowhere. Token references and
// empty classes are unproductive.
func (c *gCompiler) prune() {
	p := c.p
	type body struct {
		nt      int32
		start   int32
		missing int // calls to nonterminals not yet known productive; -1: never
	}
	var bodies []body
	users := make([][]int32, len(p.nts)) // nt -> bodies calling it
	var queue []int32
	mark := func(id int32) {
		if !p.nts[id].prod {
			p.nts[id].prod = true
			queue = append(queue, id)
		}
	}
	for id := range p.nts {
		nt := &p.nts[id]
		if nt.rep && nt.min == 0 {
			mark(int32(id))
		}
		for _, a := range nt.alts {
			b := body{nt: int32(id), start: a}
			bi := int32(len(bodies))
		slots:
			for s := a; ; s++ {
				switch sl := p.slots[s]; sl.op {
				case gOpTerm:
					if p.classes[sl.arg].empty() {
						b.missing = -1
						break slots
					}
				case gOpStar:
				case gOpCall:
					users[sl.arg] = append(users[sl.arg], bi)
					b.missing++
				default:
					break slots
				}
			}
			bodies = append(bodies, b)
			if b.missing == 0 {
				mark(int32(id))
			}
		}
	}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, bi := range users[id] {
			b := &bodies[bi]
			if b.missing > 0 {
				if b.missing--; b.missing == 0 {
					mark(b.nt)
				}
			}
		}
	}
	bi := 0
	for id := range p.nts {
		nt := &p.nts[id]
		var keep []int32
		for range nt.alts {
			if bodies[bi].missing == 0 {
				keep = append(keep, bodies[bi].start)
			}
			bi++
		}
		nt.alts = keep
	}
}

func (c *gCompiler) newNT() int32 {
	c.p.nts = append(c.p.nts, gNT{})
	return int32(len(c.p.nts) - 1)
}

func (c *gCompiler) class(rs []CharRange, negated bool) int32 {
	cl := gNewClass(rs, negated)
	var k strings.Builder
	for _, r := range cl.ranges {
		fmt.Fprintf(&k, "%x-%x,", r.Lo, r.Hi)
	}
	if id, ok := c.classKey[k.String()]; ok {
		return id
	}
	id := int32(len(c.p.classes))
	c.p.classes = append(c.p.classes, cl)
	c.classKey[k.String()] = id
	return id
}

func (c *gCompiler) emit(op uint8, arg int32) {
	c.p.slots = append(c.p.slots, gSlot{op: op, arg: arg})
}

// alts compiles alternatives of nonterminal id, each ending in a return
// or, for a repetition's body, a loop.
func (c *gCompiler) alts(id int32, alts []*SeqNode, rep bool) {
	var starts []int32
	for _, s := range alts {
		starts = append(starts, int32(len(c.p.slots)))
		for _, it := range s.Items {
			c.item(it, rep)
		}
		if rep {
			c.emit(gOpLoop, 0)
		} else {
			c.emit(gOpEnd, 0)
		}
	}
	c.p.nts[id].alts = starts
}

var gAnyRange = []CharRange{{0, 0xffffffff}}

// charClass returns the class of a node for which gSingleChar holds.
func (c *gCompiler) charClass(n Node) int32 {
	switch n := n.(type) {
	case *LiteralNode:
		return c.class([]CharRange{{n.Value[0], n.Value[0]}}, false)
	case *ClassNode:
		return c.class(n.Ranges, n.Negated)
	}
	return c.class(gAnyRange, false)
}

// item appends the slots that match n. In a repetition's body (inRep) the
// descriptor's count belongs to the repetition, so gOpStar is not used.
func (c *gCompiler) item(n Node, inRep bool) {
	switch n := n.(type) {
	case *LiteralNode:
		for _, x := range n.Value {
			c.emit(gOpTerm, c.class([]CharRange{{x, x}}, false))
		}
	case *ClassNode:
		if len(n.Ranges) > 0 { // [] and [^] match the empty string
			c.emit(gOpTerm, c.charClass(n))
		}
	case *AnyNode:
		c.emit(gOpTerm, c.charClass(n))
	case *TokenNode:
		c.emit(gOpTerm, 0)
	case *RefNode:
		if id, ok := c.ntOf[n.Name]; ok {
			c.emit(gOpCall, id)
			return
		}
		for _, it := range c.g.byName[n.Name].Expr.(*AltNode).Alts[0].Items {
			c.item(it, inRep)
		}
	case *GroupNode:
		if len(n.Body.Alts) == 1 {
			for _, it := range n.Body.Alts[0].Items {
				c.item(it, inRep)
			}
			return
		}
		id := c.newNT()
		c.emit(gOpCall, id)
		c.deferred(func() { c.alts(id, n.Body.Alts, false) })
	case *RepeatNode:
		switch {
		case n.Max == 0:
		case n.Min == 1 && n.Max == 1:
			c.item(n.Expr, inRep)
		case !inRep && gSingleChar(n.Expr):
			cl := c.charClass(n.Expr)
			switch {
			case !c.p.classes[cl].empty():
				c.p.slots = append(c.p.slots, gSlot{op: gOpStar, arg: cl, min: int32(n.Min), max: int32(n.Max)})
			case n.Min > 0:
				c.emit(gOpTerm, 0) // can never match
			}
		default:
			id := c.newNT()
			nt := &c.p.nts[id]
			nt.rep, nt.min, nt.max = true, int32(n.Min), int32(n.Max)
			c.emit(gOpCall, id)
			c.deferred(func() {
				// x* where x is (a | b) loops over a and b: no node per
				// iteration for the group.
				if g, ok := n.Expr.(*GroupNode); ok {
					c.alts(id, g.Body.Alts, true)
				} else {
					c.alts(id, []*SeqNode{{Items: []Node{n.Expr}}}, true)
				}
			})
		}
	}
}
