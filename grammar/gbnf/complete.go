package gbnf

import (
	"runtime"
	"sync"
	"unicode/utf8"
	"weak"
)

// Shortest completions. Everything here reads the matcher's state and
// never changes it.
//
// Per program, computed once: the fewest bytes each nonterminal derives
// (Knuth's generalisation of Dijkstra's algorithm to grammars, so that the
// alternative recorded for each nonterminal only calls nonterminals
// finished before it and expanding the records terminates), and for each
// slot the fewest bytes from it to the end of its alternative. A
// character class costs the UTF-8 length of its smallest member; a
// repetition costs its minimum times its cheapest body.
//
// Per call: each pending descriptor costs one code point of its class
// (finishing the partial UTF-8 sequence, if any) plus the rest of its
// frame; each stack edge costs the rest of the caller's frame from the
// edge's slot and count (the iterations a repetition still needs
// included); the accept edge costs nothing. The cheapest way to accept is
// then a shortest path from the pending descriptors through the
// graph-structured stack to an accept edge, which Dijkstra's algorithm
// finds, stopping as soon as no cheaper path can remain or paths grow
// longer than maxLen. The string is rebuilt along that path by expanding
// the recorded cheapest derivations.
//
// Why no string is shorter: a string that makes the matcher accept
// follows a derivation that leaves the current position through one
// pending descriptor, finishes that frame, and returns through a chain of
// stack edges to the accept edge, finishing each caller's frame; each part
// is at least as long as its cost, so the string is at least as long as
// that path.
//
// Why the string is accepted: every pending descriptor, stack node and
// edge stands for derivations the matcher is following (tail calls only
// skip frames with nothing left to match), and the transition of the
// matcher on a code point depends only on which classes hold it, so the
// string follows one derivation to the root's accept and the matcher,
// which follows all of them, accepts it. The string is fed to a copy of
// the matcher before it is returned all the same; it could fail there
// only on ErrMatchBudget (pathologically ambiguous grammars), and then
// ShortestCompletion reports none.

// gCInf is the cost of what derives no string, and the value at which
// costs saturate.
const gCInf = int64(1) << 62

func gCAdd(a, b int64) int64 {
	if a >= gCInf-b {
		return gCInf
	}
	return a + b
}

func gCMul(n, a int64) int64 {
	switch {
	case n <= 0:
		return 0
	case a >= gCInf/n:
		return gCInf
	}
	return n * a
}

// gCompl holds a program's tables for completions.
type gCompl struct {
	minLen  []int64  // per nonterminal: the fewest bytes it derives
	best    []int32  // per nonterminal: first slot of the alternative (or repetition body) of a shortest derivation, -1 if none is needed or exists
	bodyLen []int64  // per repetition: the cost of one iteration of best
	suf     []int64  // per slot: the fewest bytes from the slot to the end of its alternative
	clsLen  []int64  // per class: UTF-8 length of its smallest member
	clsRep  []rune   // per class: the code point written for it
	exp     [][]byte // per nonterminal: its shortest expansion, when at most gCExpMax bytes
}

const gCExpMax = 64

var gComplCache sync.Map // weak.Pointer[gProg] -> *gComplEntry

type gComplEntry struct {
	once sync.Once
	t    *gCompl
}

// completion returns p's tables, computing them on first use. They are
// kept beside the program, and dropped when it is collected.
func (p *gProg) completion() *gCompl {
	k := weak.Make(p)
	v, ok := gComplCache.Load(k)
	if !ok {
		var loaded bool
		v, loaded = gComplCache.LoadOrStore(k, &gComplEntry{})
		if !loaded {
			runtime.AddCleanup(p, func(k weak.Pointer[gProg]) { gComplCache.Delete(k) }, k)
		}
	}
	e := v.(*gComplEntry)
	e.once.Do(func() { e.t = gComplTables(p) })
	return e.t
}

// gClassRep returns the code point written for class c: one of its members
// of the shortest UTF-8 length, preferably a lowercase letter, a digit, an
// uppercase letter, other printable ASCII, a space, a newline, in that
// order, else the smallest member from U+00A0 up, else the smallest. It
// returns -1 for an empty class.
func gClassRep(c *gClass) rune {
	if c.empty() {
		return -1
	}
	first := rune(c.ranges[0].Lo)
	n := utf8.RuneLen(first)
	for _, r := range [][2]rune{{'a', 'z'}, {'0', '9'}, {'A', 'Z'}, {0x21, 0x7e}, {' ', ' '}, {'\n', '\n'}, {0xa0, gMaxCodePoint}} {
		if x := gClassMin(c, uint32(r[0]), uint32(r[1])); x >= 0 && utf8.RuneLen(x) == n {
			return x
		}
	}
	return first
}

// gClassMin returns the smallest member of c in [lo, hi], or -1.
func gClassMin(c *gClass, lo, hi uint32) rune {
	for _, r := range c.ranges {
		if r.Hi < lo {
			continue
		}
		if r.Lo > hi {
			break
		}
		return rune(max(r.Lo, lo))
	}
	return -1
}

func gComplTables(p *gProg) *gCompl {
	t := &gCompl{
		minLen:  make([]int64, len(p.nts)),
		best:    make([]int32, len(p.nts)),
		bodyLen: make([]int64, len(p.nts)),
		suf:     make([]int64, len(p.slots)),
		clsLen:  make([]int64, len(p.classes)),
		clsRep:  make([]rune, len(p.classes)),
		exp:     make([][]byte, len(p.nts)),
	}
	for i, c := range p.classes {
		t.clsRep[i] = gClassRep(c)
		t.clsLen[i] = gCInf
		if t.clsRep[i] >= 0 {
			t.clsLen[i] = int64(utf8.RuneLen(rune(c.ranges[0].Lo)))
		}
	}
	slotCost := func(s *gSlot) int64 {
		switch s.op {
		case gOpTerm:
			return t.clsLen[s.arg]
		case gOpStar:
			return gCMul(int64(s.min), t.clsLen[s.arg])
		}
		return 0
	}

	// Knuth's algorithm. A body is one alternative (or repetition body);
	// its cost is known once every nonterminal it calls is done.
	type body struct {
		nt      int32
		start   int32
		cost    int64 // terminals, plus the calls done so far
		missing int   // calls not done yet
	}
	var bodies []body
	users := make([][]int32, len(p.nts))
	done := make([]bool, len(p.nts))
	for i := range t.minLen {
		t.minLen[i], t.best[i] = gCInf, -1
	}
	var h gCHeap
	offer := func(nt int32, cost int64, alt int32) {
		if done[nt] || cost >= gCInf {
			return
		}
		if x := &p.nts[nt]; x.rep {
			cost = gCMul(int64(x.min), cost)
		}
		if cost < t.minLen[nt] {
			t.minLen[nt], t.best[nt] = cost, alt
			h.push(gCItem{cost, nt})
		}
	}
	for id := range p.nts {
		nt := &p.nts[id]
		if nt.rep && nt.min == 0 {
			t.minLen[id] = 0
			h.push(gCItem{0, int32(id)})
		}
		for _, a := range nt.alts {
			b := body{nt: int32(id), start: a}
			bi := int32(len(bodies))
			for s := a; ; s++ {
				sl := &p.slots[s]
				if sl.op == gOpCall {
					users[sl.arg] = append(users[sl.arg], bi)
					b.missing++
				} else if sl.op != gOpTerm && sl.op != gOpStar {
					break
				}
				b.cost = gCAdd(b.cost, slotCost(sl))
			}
			bodies = append(bodies, b)
		}
	}
	for bi := range bodies {
		if b := &bodies[bi]; b.missing == 0 {
			offer(b.nt, b.cost, b.start)
		}
	}
	var order []int32 // nonterminals in the order they are done
	for len(h) > 0 {
		it := h.pop()
		if done[it.nt] || it.cost != t.minLen[it.nt] {
			continue
		}
		done[it.nt] = true
		order = append(order, it.nt)
		for _, bi := range users[it.nt] {
			b := &bodies[bi]
			b.cost = gCAdd(b.cost, it.cost)
			if b.missing--; b.missing == 0 {
				offer(b.nt, b.cost, b.start)
			}
		}
	}
	for id := range p.nts {
		if !done[id] {
			t.minLen[id], t.best[id] = gCInf, -1
		}
		if nt := &p.nts[id]; nt.rep && nt.min == 0 {
			t.best[id] = -1 // no iteration is needed
		}
	}
	for id, a := range t.best {
		// The cost of one iteration of the recorded body, for frames of
		// a repetition part way through its minimum.
		t.bodyLen[id] = gCInf
		if a >= 0 && p.nts[id].rep {
			t.bodyLen[id] = t.seqCost(p, a, slotCost)
		}
	}
	for s := len(p.slots) - 1; s >= 0; s-- {
		switch sl := &p.slots[s]; sl.op {
		case gOpTerm, gOpStar:
			t.suf[s] = gCAdd(slotCost(sl), t.suf[s+1])
		case gOpCall:
			t.suf[s] = gCAdd(t.minLen[sl.arg], t.suf[s+1])
		}
	}
	for _, id := range order {
		if l := t.minLen[id]; l > 0 && l <= gCExpMax {
			t.exp[id] = t.appendNT(make([]byte, 0, l), p, id)
		}
	}
	return t
}

// seqCost returns the cost of the alternative starting at slot s, from
// the nonterminals' final costs.
func (t *gCompl) seqCost(p *gProg, s int32, slotCost func(*gSlot) int64) int64 {
	c := int64(0)
	for ; ; s++ {
		switch sl := &p.slots[s]; sl.op {
		case gOpTerm, gOpStar:
			c = gCAdd(c, slotCost(sl))
		case gOpCall:
			c = gCAdd(c, t.minLen[sl.arg])
		default:
			return c
		}
	}
}

// rest returns the cost of finishing the frame of nonterminal nt from
// slot s with count: the rest of the alternative and, in a repetition,
// the iterations its minimum still needs after this one.
func (t *gCompl) rest(p *gProg, s, count, nt int32) int64 {
	x := &p.nts[nt]
	if x.rep {
		return gCAdd(t.suf[s], gCMul(int64(x.min-count-1), t.bodyLen[nt]))
	}
	if sl := &p.slots[s]; sl.op == gOpStar {
		return gCAdd(gCMul(int64(sl.min-count), t.clsLen[sl.arg]), t.suf[s+1])
	}
	return t.suf[s]
}

func (t *gCompl) appendRest(out []byte, p *gProg, s, count, nt int32) []byte {
	x := &p.nts[nt]
	if sl := &p.slots[s]; !x.rep && sl.op == gOpStar {
		for range sl.min - count {
			out = utf8.AppendRune(out, t.clsRep[sl.arg])
		}
		s++
	}
	out = t.appendSeq(out, p, s)
	if x.rep {
		for range x.min - count - 1 {
			out = t.appendSeq(out, p, t.best[nt])
		}
	}
	return out
}

// appendSeq appends the shortest expansion of the alternative from slot s.
func (t *gCompl) appendSeq(out []byte, p *gProg, s int32) []byte {
	for ; t.suf[s] > 0; s++ {
		switch sl := &p.slots[s]; sl.op {
		case gOpTerm:
			out = utf8.AppendRune(out, t.clsRep[sl.arg])
		case gOpStar:
			for range sl.min {
				out = utf8.AppendRune(out, t.clsRep[sl.arg])
			}
		case gOpCall:
			out = t.appendNT(out, p, sl.arg)
		}
	}
	return out
}

func (t *gCompl) appendNT(out []byte, p *gProg, id int32) []byte {
	if t.minLen[id] == 0 {
		return out
	}
	if e := t.exp[id]; e != nil {
		return append(out, e...)
	}
	n := int32(1)
	if x := &p.nts[id]; x.rep {
		n = x.min
	}
	for range n {
		out = t.appendSeq(out, p, t.best[id])
	}
	return out
}

type gCItem struct {
	cost int64
	nt   int32 // a nonterminal, or at query time a record
}

// gCHeap is a binary min-heap on cost.
type gCHeap []gCItem

func (h *gCHeap) push(x gCItem) {
	*h = append(*h, x)
	a := *h
	for i := len(a) - 1; i > 0; {
		j := (i - 1) / 2
		if a[j].cost <= a[i].cost {
			break
		}
		a[i], a[j] = a[j], a[i]
		i = j
	}
}

func (h *gCHeap) pop() gCItem {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	for i := 0; ; {
		j := 2*i + 1
		if j >= n {
			break
		}
		if j+1 < n && a[j+1].cost < a[j].cost {
			j++
		}
		if a[i].cost <= a[j].cost {
			break
		}
		a[i], a[j] = a[j], a[i]
		i = j
	}
	*h = a
	return top
}

// gCRec is a stack node reached by the search.
type gCRec struct {
	node *gNode
	dist int64 // fewest bytes from the pending descriptors to the node's return
	done bool
	from int32 // the record whose edge led here, or -1 - the pending descriptor's index
	edge int32 // that edge's index
}

type gCScratch struct {
	index map[*gNode]int32
	recs  []gCRec
	heap  gCHeap
}

var gCScratchPool = sync.Pool{New: func() any { return &gCScratch{index: map[*gNode]int32{}} }}

// gCSmall is how many records the search finds by scanning before it
// indexes them in a map.
const gCSmall = 32

func (sc *gCScratch) find(u *gNode) int32 {
	if len(sc.recs) <= gCSmall {
		for i := range sc.recs {
			if sc.recs[i].node == u {
				return int32(i)
			}
		}
		return -1
	}
	if len(sc.index) == 0 {
		for i := range sc.recs {
			sc.index[sc.recs[i].node] = int32(i)
		}
	}
	if i, ok := sc.index[u]; ok {
		return i
	}
	return -1
}

func (sc *gCScratch) relax(u *gNode, dist int64, from, edge int32) {
	i := sc.find(u)
	if i < 0 {
		i = int32(len(sc.recs))
		sc.recs = append(sc.recs, gCRec{node: u, dist: gCInf})
		if len(sc.index) > 0 {
			sc.index[u] = i
		}
	}
	if r := &sc.recs[i]; dist < r.dist {
		r.dist, r.from, r.edge = dist, from, edge
		sc.heap.push(gCItem{dist, i})
	}
}

func (sc *gCScratch) release() {
	if len(sc.recs) > 1<<12 {
		*sc = gCScratch{index: map[*gNode]int32{}} // let one huge search's memory go
	}
	clear(sc.recs)
	sc.recs = sc.recs[:0]
	sc.heap = sc.heap[:0]
	clear(sc.index)
	gCScratchPool.Put(sc)
}

// ShortestCompletion returns a shortest string of bytes that, fed to m,
// makes it Accepting, and true; or false when no such string of at most
// maxLen bytes exists: when m is Dead and not Accepting, when the shortest
// is longer, or when maxLen is negative. When m is Accepting the answer is
// the empty string, even if m is Dead. m is not modified.
//
// Length is measured in bytes; each character class is written as one of
// its members of the shortest UTF-8 length (a lowercase letter, digit,
// uppercase letter or other printable ASCII character where it has one).
// If m holds part of a UTF-8 sequence, the completion begins with the
// bytes that finish it.
//
// The answer is exact, and the work polynomial whatever the repetition
// counts, sharing or ambiguity: tables computed once per grammar (in time
// O(S log S) for a program of S slots, and kept until the grammar is
// collected), then a shortest-path search over the part of m's stack
// graph that is cheaper than the answer (O((P+E) log E) for P pending
// descriptors and E stack edges, at most those of the whole graph), then
// writing the answer (O(L) for L bytes, but for nonterminals of more than
// 64 bytes whose expansion is rebuilt each time), then feeding it to a
// copy of m to check it, which costs what feeding it to m will (the check
// cannot fail but on ErrMatchBudget, and then there is no answer). For JSON
// schema grammars a call takes microseconds (see
// BenchmarkShortestCompletion).
func (m *Matcher) ShortestCompletion(maxLen int) ([]byte, bool) {
	if maxLen < 0 {
		return nil, false
	}
	if m.Accepting() {
		return []byte{}, true
	}
	if m.Dead() {
		return nil, false
	}
	p := m.prog
	t := p.completion()
	limit := int64(maxLen)

	// A partial UTF-8 sequence restricts the first code point to [lo, hi]
	// and costs the bytes still missing.
	var lo, hi uint32
	first := int64(0)
	if m.st.npart > 0 {
		var need int
		lo, hi, need, _ = gUTF8Prefix(m.st.part[:m.st.npart])
		first = int64(need - int(m.st.npart))
	}
	local := func(d gDesc) int64 {
		sl := &p.slots[d.slot]
		one := t.clsLen[sl.arg]
		if m.st.npart > 0 {
			if !p.classes[sl.arg].intersects(lo, hi) {
				return gCInf
			}
			one = first
		}
		if sl.op == gOpStar {
			// This descriptor takes one more code point; stopping here is
			// another descriptor's business.
			more := gCMul(int64(max(sl.min-d.count-1, 0)), t.clsLen[sl.arg])
			return gCAdd(gCAdd(one, more), t.suf[d.slot+1])
		}
		return gCAdd(one, t.rest(p, d.slot+1, d.count, d.node.nt))
	}

	sc := gCScratchPool.Get().(*gCScratch)
	defer sc.release()
	for i, d := range m.st.pending {
		c := local(d)
		if c >= gCInf {
			continue
		}
		// Among equally short ways, prefer earlier alternatives.
		if j := sc.find(d.node); j >= 0 {
			if r := &sc.recs[j]; c == r.dist && d.slot < m.st.pending[-1-r.from].slot {
				r.from = -1 - int32(i)
			}
		}
		sc.relax(d.node, c, -1-int32(i), 0)
	}
	best, bestRec, bestEdge := gCInf, int32(-1), int32(-1)
	for len(sc.heap) > 0 {
		it := sc.heap.pop()
		if it.cost >= best || it.cost > limit {
			break
		}
		r := &sc.recs[it.nt]
		if r.done || it.cost != r.dist {
			continue
		}
		r.done = true
		u := r.node
		for ei, e := range u.edges {
			if e.parent == nil { // the root's accept
				if it.cost < best {
					best, bestRec, bestEdge = it.cost, it.nt, int32(ei)
				}
				continue
			}
			if c := gCAdd(it.cost, t.rest(p, e.slot, e.count, e.parent.nt)); c < best && c < gCInf {
				sc.relax(e.parent, c, it.nt, int32(ei))
			}
		}
	}
	if bestRec < 0 || best > limit {
		return nil, false
	}

	// The path, from the accept edge back to a pending descriptor.
	var path []gEdge
	i, ei := bestRec, bestEdge
	for {
		r := &sc.recs[i]
		path = append(path, r.node.edges[ei])
		if r.from < 0 {
			break
		}
		i, ei = r.from, r.edge
	}
	d := m.st.pending[-1-sc.recs[i].from]
	out := make([]byte, 0, best)
	sl := &p.slots[d.slot]
	if m.st.npart > 0 {
		var buf [4]byte
		n := utf8.EncodeRune(buf[:], gClassMin(p.classes[sl.arg], lo, hi))
		out = append(out, buf[m.st.npart:n]...)
	} else {
		out = utf8.AppendRune(out, t.clsRep[sl.arg])
	}
	if sl.op == gOpStar {
		for range sl.min - d.count - 1 {
			out = utf8.AppendRune(out, t.clsRep[sl.arg])
		}
		out = t.appendSeq(out, p, d.slot+1)
	} else {
		out = t.appendRest(out, p, d.slot+1, d.count, d.node.nt)
	}
	for j := len(path) - 1; j >= 0; j-- {
		if e := path[j]; e.parent != nil {
			out = t.appendRest(out, p, e.slot, e.count, e.parent.nt)
		}
	}
	if int64(len(out)) != best {
		return nil, false // cannot happen: the tables and the expansion agree
	}
	c := m.Clone()
	if c.Feed(out) != nil || !c.Accepting() {
		return nil, false // only on ErrMatchBudget
	}
	return out, true
}
