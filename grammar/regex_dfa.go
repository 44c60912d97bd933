package grammar

import (
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// This file turns regex syntax trees into deterministic automata over code
// points, and gives the automata the operations a schema needs: intersection
// (allOf, a pattern together with a format), union (enum, anyOf), complement
// (not, oneOf) and emptiness. Automata are the exact form of every string
// and number language the compiler handles; the emitter turns them into
// right-linear grammar rules.

// ErrTooComplex is returned (wrapped in a *SchemaError) when a schema would
// need an automaton or grammar larger than the limits allow.
var ErrTooComplex = errors.New("grammar: schema too complex to compile")

// Automaton size limits. They bound compile time and grammar size on
// adversarial input; real schemas stay far below them.
const (
	maxNFAStates = 200000
	maxDFAStates = 20000
)

func hasLook(n *reNode) bool {
	if n.op == reLook {
		return true
	}
	for _, s := range n.subs {
		if hasLook(s) {
			return true
		}
	}
	return false
}

// compileLookaheads compiles a pattern whose top-level alternatives may
// start with ^ and lookaheads (the parser allows them nowhere else): each
// alternative is the rest of it, intersected with the strings that start
// with a match of each (?=X) and without those that start with a match of
// each (?!X).
func compileLookaheads(n *reNode, search bool) (*dfa, error) {
	branches := []*reNode{n}
	if n.op == reAlt {
		branches = n.subs
	}
	var out *dfa
	for _, br := range branches {
		items := []*reNode{br}
		if br.op == reConcat {
			items = br.subs
		}
		var pos, neg []*reNode
		core := []*reNode{}
		for i, it := range items {
			if it.op == reLook && i > 0 {
				if it.min == 1 {
					pos = append(pos, it.subs[0])
				} else {
					neg = append(neg, it.subs[0])
				}
				continue
			}
			core = append(core, it)
		}
		d, err := compileRegexDFA(reCat(core...), search)
		if err != nil {
			return nil, err
		}
		prefixed := func(x *reNode) (*dfa, error) {
			return compileRegexDFA(reCat(&reNode{op: reBegin}, x), true)
		}
		for _, x := range pos {
			dx, err := prefixed(x)
			if err == nil {
				d, err = dfaAnd(d, dx)
			}
			if err != nil {
				return nil, err
			}
		}
		for _, x := range neg {
			dx, err := prefixed(x)
			if err == nil {
				d, err = dfaMinus(d, dx)
			}
			if err != nil {
				return nil, err
			}
		}
		if out == nil {
			out = d
		} else if out, err = dfaOr(out, d); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// maxRegexNFA bounds the automaton built for one regex; larger ones (big
// counted repetitions) are written as grammar from the syntax tree.
const maxRegexNFA = 20000

// reSize estimates the NFA states a tree expands to, saturating.
func reSize(n *reNode) int {
	switch n.op {
	case reConcat, reAlt:
		t := 1
		for _, s := range n.subs {
			t += reSize(s)
			if t > 1<<30 {
				return 1 << 30
			}
		}
		return t
	case reRepeat:
		// As wire builds it: min copies, then one loop or max-min more.
		k := n.max
		if k < 0 {
			k = n.min + 1
		}
		sub := reSize(n.subs[0])
		if k > 0 && sub > (1<<30)/k {
			return 1 << 30
		}
		return sub*k + 3
	}
	return 2
}

type nfaKind uint8

const (
	nfaEps nfaKind = iota
	nfaBegin
	nfaEnd
	nfaChars
)

type nfaEdge struct {
	kind nfaKind
	cs   charSet
	to   int32
}

type nfa struct {
	edges [][]nfaEdge
}

func (a *nfa) newState() (int32, error) {
	if len(a.edges) >= maxNFAStates {
		return 0, ErrTooComplex
	}
	a.edges = append(a.edges, nil)
	return int32(len(a.edges) - 1), nil
}

func (a *nfa) add(from int32, e nfaEdge) { a.edges[from] = append(a.edges[from], e) }

// build adds n between two new states and returns them.
func (a *nfa) build(n *reNode) (int32, int32, error) {
	s, err := a.newState()
	if err != nil {
		return 0, 0, err
	}
	e, err := a.newState()
	if err != nil {
		return 0, 0, err
	}
	if err := a.wire(n, s, e); err != nil {
		return 0, 0, err
	}
	return s, e, nil
}

// wire adds n between existing states s and e.
func (a *nfa) wire(n *reNode, s, e int32) error {
	switch n.op {
	case reNone:
	case reEmpty:
		a.add(s, nfaEdge{kind: nfaEps, to: e})
	case reChars:
		a.add(s, nfaEdge{kind: nfaChars, cs: n.cs, to: e})
	case reBegin:
		a.add(s, nfaEdge{kind: nfaBegin, to: e})
	case reEnd:
		a.add(s, nfaEdge{kind: nfaEnd, to: e})
	case reLook:
		return ErrTooComplex // lifted by compileLookaheads before building
	case reConcat:
		cur := s
		for i, sub := range n.subs {
			next := e
			if i < len(n.subs)-1 {
				var err error
				if next, err = a.newState(); err != nil {
					return err
				}
			}
			if err := a.wire(sub, cur, next); err != nil {
				return err
			}
			cur = next
		}
	case reAlt:
		for _, sub := range n.subs {
			if err := a.wire(sub, s, e); err != nil {
				return err
			}
		}
	case reRepeat:
		sub := n.subs[0]
		if n.min > maxNFAStates || n.max > maxNFAStates {
			return ErrTooComplex
		}
		cur := s
		for i := 0; i < n.min; i++ {
			next, err := a.newState()
			if err != nil {
				return err
			}
			if err := a.wire(sub, cur, next); err != nil {
				return err
			}
			cur = next
		}
		if n.max < 0 {
			// A fresh hub for the loop: looping back to cur itself would
			// let the loop leave through cur's other edges (an enclosing
			// "?" skipping what follows the star).
			hub, err := a.newState()
			if err != nil {
				return err
			}
			ls, le, err := a.build(sub)
			if err != nil {
				return err
			}
			a.add(cur, nfaEdge{kind: nfaEps, to: hub})
			a.add(hub, nfaEdge{kind: nfaEps, to: ls})
			a.add(le, nfaEdge{kind: nfaEps, to: hub})
			a.add(hub, nfaEdge{kind: nfaEps, to: e})
			return nil
		}
		for i := n.min; i < n.max; i++ {
			a.add(cur, nfaEdge{kind: nfaEps, to: e})
			next, err := a.newState()
			if err != nil {
				return err
			}
			if err := a.wire(sub, cur, next); err != nil {
				return err
			}
			cur = next
		}
		a.add(cur, nfaEdge{kind: nfaEps, to: e})
	}
	return nil
}

type dfaEdge struct {
	lo, hi rune
	to     int32
}

type dfaState struct {
	final bool
	edges []dfaEdge // sorted by lo, disjoint
}

// dfa is a deterministic automaton over code points. State 0 is the start.
// Missing transitions go to an implicit dead state. A dfa is immutable once
// built.
type dfa struct {
	states  []dfaState
	trimmed bool // no unreachable or dead states (set by trim and minimize)
}

// emptyDFA accepts nothing.
func emptyDFA() *dfa { return &dfa{states: []dfaState{{}}} }

// starDFA accepts any string over cs.
func starDFA(cs charSet) *dfa {
	d := &dfa{states: []dfaState{{final: true}}}
	for _, r := range cs {
		d.states[0].edges = append(d.states[0].edges, dfaEdge{r.lo, r.hi, 0})
	}
	return d
}

// compileRegexDFA builds the automaton of a regex. With search, a string is
// accepted when the pattern matches somewhere in it (JSON Schema "pattern");
// otherwise the whole string must match.
func compileRegexDFA(n *reNode, search bool) (*dfa, error) {
	if reSize(n) > maxRegexNFA {
		return nil, ErrTooComplex
	}
	if hasLook(n) {
		return compileLookaheads(n, search)
	}
	a := &nfa{}
	s, e, err := a.build(n)
	if err != nil {
		return nil, err
	}
	if search {
		pre, err := a.newState()
		if err != nil {
			return nil, err
		}
		post, err := a.newState()
		if err != nil {
			return nil, err
		}
		a.add(pre, nfaEdge{kind: nfaChars, cs: anyChar, to: pre})
		a.add(pre, nfaEdge{kind: nfaEps, to: s})
		a.add(e, nfaEdge{kind: nfaEps, to: post})
		a.add(post, nfaEdge{kind: nfaChars, cs: anyChar, to: post})
		s, e = pre, post
	}
	d, err := a.determinize(s, e)
	if err != nil {
		return nil, err
	}
	return d.minimize(), nil
}

// closer computes epsilon closures with a reusable stamp array.
type closer struct {
	a     *nfa
	stamp []uint32
	gen   uint32
	stack []int32
}

func (c *closer) closure(set []int32, begin, end bool) []int32 {
	if c.stamp == nil {
		c.stamp = make([]uint32, len(c.a.edges))
	}
	c.gen++
	out := make([]int32, 0, len(set))
	c.stack = append(c.stack[:0], set...)
	for _, s := range set {
		c.stamp[s] = c.gen
	}
	for len(c.stack) > 0 {
		s := c.stack[len(c.stack)-1]
		c.stack = c.stack[:len(c.stack)-1]
		out = append(out, s)
		for _, e := range c.a.edges[s] {
			ok := e.kind == nfaEps || (e.kind == nfaBegin && begin) || (e.kind == nfaEnd && end)
			if ok && c.stamp[e.to] != c.gen {
				c.stamp[e.to] = c.gen
				c.stack = append(c.stack, e.to)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (a *nfa) closure(set []int32, begin, end bool) []int32 {
	c := &closer{a: a}
	return c.closure(set, begin, end)
}

func setKey(set []int32) string {
	b := make([]byte, 4*len(set))
	for i, s := range set {
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(s), byte(s>>8), byte(s>>16), byte(s>>24)
	}
	return string(b)
}

// maxSubsetWork bounds the total size of the state sets the subset
// construction builds, which bounds its time.
const maxSubsetWork = 1 << 20

// determinize is the subset construction. The ^ edges may be taken only
// before the first character and the $ edges only after the last, so the
// start state's closure takes ^ edges and acceptance looks through $ edges.
func (a *nfa) determinize(start, final int32) (*dfa, error) {
	d := &dfa{}
	index := map[string]int32{}
	var sets [][]int32
	cl := &closer{a: a}
	work := 0
	add := func(set []int32) (int32, error) {
		k := setKey(set)
		if id, ok := index[k]; ok {
			return id, nil
		}
		if work += len(set); len(sets) >= maxDFAStates || work > maxSubsetWork {
			return 0, ErrTooComplex
		}
		id := int32(len(sets))
		index[k] = id
		sets = append(sets, set)
		d.states = append(d.states, dfaState{})
		return id, nil
	}
	if _, err := add(cl.closure([]int32{start}, true, false)); err != nil {
		return nil, err
	}
	type span struct {
		lo, hi rune
		to     int32
	}
	for i := 0; i < len(sets); i++ {
		first := i == 0
		set := sets[i]
		acc := cl.closure(set, first, true)
		d.states[i].final = slices.Contains(acc, final)
		if first {
			// Acceptance may also pass ^ then $ (the empty string for "^$").
			d.states[i].final = d.states[i].final || slices.Contains(cl.closure([]int32{start}, true, true), final)
		}
		var spans []span
		for _, s := range set {
			for _, e := range a.edges[s] {
				if e.kind != nfaChars {
					continue
				}
				for _, r := range e.cs {
					spans = append(spans, span{r.lo, r.hi, e.to})
				}
			}
		}
		if len(spans) == 0 {
			continue
		}
		// Elementary intervals between all span boundaries.
		bounds := make([]rune, 0, 2*len(spans))
		for _, sp := range spans {
			bounds = append(bounds, sp.lo, sp.hi+1)
		}
		slices.Sort(bounds)
		bounds = slices.Compact(bounds)
		sort.Slice(spans, func(x, y int) bool { return spans[x].lo < spans[y].lo })
		var edges []dfaEdge
		var active []span
		next := 0
		for bi := 0; bi+1 < len(bounds); bi++ {
			lo, hi := bounds[bi], bounds[bi+1]-1
			// Drop spans that ended, add spans that start here.
			keep := active[:0]
			for _, sp := range active {
				if sp.hi >= lo {
					keep = append(keep, sp)
				}
			}
			active = keep
			for next < len(spans) && spans[next].lo <= lo {
				if spans[next].hi >= lo {
					active = append(active, spans[next])
				}
				next++
			}
			if len(active) == 0 {
				continue
			}
			targets := make([]int32, 0, len(active))
			for _, sp := range active {
				targets = append(targets, sp.to)
			}
			slices.Sort(targets)
			targets = slices.Compact(targets)
			to, err := add(cl.closure(targets, false, false))
			if err != nil {
				return nil, err
			}
			if n := len(edges); n > 0 && edges[n-1].to == to && edges[n-1].hi+1 == lo {
				edges[n-1].hi = hi
				continue
			}
			edges = append(edges, dfaEdge{lo, hi, to})
		}
		d.states[i].edges = edges
	}
	return d, nil
}

// step returns the state reached from s on r, or -1.
func (d *dfa) step(s int32, r rune) int32 {
	es := d.states[s].edges
	i := sort.Search(len(es), func(i int) bool { return es[i].hi >= r })
	if i < len(es) && es[i].lo <= r {
		return es[i].to
	}
	return -1
}

func (d *dfa) accepts(s string) bool {
	st := int32(0)
	for _, r := range s {
		if st = d.step(st, r); st < 0 {
			return false
		}
	}
	return d.states[st].final
}

// trim drops states that are unreachable or cannot reach a final state.
func (d *dfa) trim() *dfa {
	if d.trimmed {
		return d
	}
	n := len(d.states)
	reach := make([]bool, n)
	reach[0] = true
	stack := []int32{0}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range d.states[s].edges {
			if !reach[e.to] {
				reach[e.to] = true
				stack = append(stack, e.to)
			}
		}
	}
	// Co-reachability by fixpoint over reversed edges.
	rev := make([][]int32, n)
	for s := range d.states {
		for _, e := range d.states[s].edges {
			rev[e.to] = append(rev[e.to], int32(s))
		}
	}
	live := make([]bool, n)
	for s := range d.states {
		if d.states[s].final && reach[s] {
			live[s] = true
			stack = append(stack, int32(s))
		}
	}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, p := range rev[s] {
			if reach[p] && !live[p] {
				live[p] = true
				stack = append(stack, p)
			}
		}
	}
	if !live[0] {
		e := emptyDFA()
		e.trimmed = true
		return e
	}
	remap := make([]int32, n)
	out := &dfa{trimmed: true}
	for s := range d.states {
		remap[s] = -1
		if live[s] {
			remap[s] = int32(len(out.states))
			out.states = append(out.states, dfaState{final: d.states[s].final})
		}
	}
	for s := range d.states {
		if !live[s] {
			continue
		}
		var edges []dfaEdge
		for _, e := range d.states[s].edges {
			if to := remap[e.to]; to >= 0 {
				edges = append(edges, dfaEdge{e.lo, e.hi, to})
			}
		}
		out.states[remap[s]].edges = edges
	}
	return out
}

// minimize trims d and merges equivalent states: Hopcroft's algorithm
// over the elementary intervals of the edges, or Moore's refinement when
// the inverse transition table would be too large.
func (d *dfa) minimize() *dfa {
	d = d.trim()
	if class, count, ok := d.hopcroft(); ok {
		return d.quotient(class, count)
	}
	return d.moore()
}

// hopcroft returns the equivalence class of each state.
func (d *dfa) hopcroft() (class []int32, count int, ok bool) {
	n := len(d.states)
	if n <= 1 {
		return make([]int32, n), n, true
	}
	// Elementary intervals.
	var bounds []rune
	for _, st := range d.states {
		for _, e := range st.edges {
			bounds = append(bounds, e.lo, e.hi+1)
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	k := len(bounds) - 1
	if k <= 0 {
		// No edges at all: final and non-final states.
		class = make([]int32, n)
		return d.splitFinal(class)
	}
	dead := int32(n)
	total := n + 1
	if int64(total)*int64(k) > 4<<20 {
		return nil, 0, false
	}
	// inv[a] lists, per target, the sources on symbol a, as CSR arrays.
	type pair struct{ to, from int32 }
	inv := make([][]pair, k)
	for s, st := range d.states {
		j := 0
		for _, e := range st.edges {
			for ; bounds[j] < e.lo; j++ {
				inv[j] = append(inv[j], pair{dead, int32(s)})
			}
			for ; j < k && bounds[j] <= e.hi; j++ {
				inv[j] = append(inv[j], pair{e.to, int32(s)})
			}
		}
		for ; j < k; j++ {
			inv[j] = append(inv[j], pair{dead, int32(s)})
		}
	}
	for j := 0; j < k; j++ {
		inv[j] = append(inv[j], pair{dead, dead})
	}
	// Per symbol, sources grouped by target.
	start := make([][]int32, k)
	srcs := make([][]int32, k)
	for j := 0; j < k; j++ {
		cnt := make([]int32, total+1)
		for _, p := range inv[j] {
			cnt[p.to+1]++
		}
		for i := 1; i <= total; i++ {
			cnt[i] += cnt[i-1]
		}
		start[j] = append([]int32(nil), cnt...)
		out := make([]int32, len(inv[j]))
		for _, p := range inv[j] {
			out[cnt[p.to]] = p.from
			cnt[p.to]++
		}
		srcs[j] = out
		inv[j] = nil
	}
	// Partition refinement structure.
	elems := make([]int32, total)
	pos := make([]int32, total)
	block := make([]int32, total)
	var bStart, bEnd []int32
	fin, non := []int32{}, []int32{}
	for s := 0; s < total; s++ {
		if s < n && d.states[s].final {
			fin = append(fin, int32(s))
		} else {
			non = append(non, int32(s))
		}
	}
	i := 0
	for _, grp := range [][]int32{fin, non} {
		if len(grp) == 0 {
			continue
		}
		b := int32(len(bStart))
		bStart = append(bStart, int32(i))
		for _, s := range grp {
			elems[i], pos[s], block[s] = s, int32(i), b
			i++
		}
		bEnd = append(bEnd, int32(i))
	}
	inW := make([]bool, len(bStart), 2*total)
	var work []int32
	for b := range bStart {
		work = append(work, int32(b))
		inW[b] = true
	}
	markCnt := make([]int32, 0, total) // marked states per block
	for len(work) > 0 {
		b := work[len(work)-1]
		work = work[:len(work)-1]
		inW[b] = false
		members := append([]int32(nil), elems[bStart[b]:bEnd[b]]...)
		for a := 0; a < k; a++ {
			var touched []int32
			for _, t := range members {
				for _, s := range srcs[a][start[a][t]:start[a][t+1]] {
					y := block[s]
					for int(y) >= len(markCnt) {
						markCnt = append(markCnt, 0)
					}
					// Move s to the front part of its block (marked region).
					m := bStart[y] + markCnt[y]
					if pos[s] < m {
						continue // already marked
					}
					other := elems[m]
					elems[m], elems[pos[s]] = s, other
					pos[other], pos[s] = pos[s], m
					if markCnt[y] == 0 {
						touched = append(touched, y)
					}
					markCnt[y]++
				}
			}
			for _, y := range touched {
				mc := markCnt[y]
				markCnt[y] = 0
				size := bEnd[y] - bStart[y]
				if mc == size {
					continue
				}
				// Split: the marked part [start, start+mc) becomes a new block.
				nb := int32(len(bStart))
				bStart = append(bStart, bStart[y])
				bEnd = append(bEnd, bStart[y]+mc)
				bStart[y] += mc
				for p := bStart[nb]; p < bEnd[nb]; p++ {
					block[elems[p]] = nb
				}
				inW = append(inW, false)
				if inW[y] {
					work = append(work, nb)
					inW[nb] = true
				} else if mc <= size-mc {
					work = append(work, nb)
					inW[nb] = true
				} else {
					work = append(work, y)
					inW[y] = true
				}
			}
		}
	}
	class = make([]int32, n)
	for s := 0; s < n; s++ {
		class[s] = block[s]
	}
	return class, len(bStart), true
}

func (d *dfa) splitFinal(class []int32) ([]int32, int, bool) {
	for s := range d.states {
		if d.states[s].final {
			class[s] = 1
		}
	}
	return class, 2, true
}

// moore is Moore's refinement, quadratic on long chains.
func (d *dfa) moore() *dfa {
	n := len(d.states)
	class := make([]int32, n)
	for s := range d.states {
		if d.states[s].final {
			class[s] = 1
		}
	}
	count := 0
	for {
		sigs := map[string]int32{}
		next := make([]int32, n)
		var b strings.Builder
		for s := range d.states {
			b.Reset()
			b.WriteString(strconv.Itoa(int(class[s])))
			var last dfaEdge
			have := false
			flush := func() {
				if have {
					b.WriteString("|" + strconv.Itoa(int(last.lo)) + "-" + strconv.Itoa(int(last.hi)) + ">" + strconv.Itoa(int(last.to)))
				}
			}
			for _, e := range d.states[s].edges {
				c := class[e.to]
				if have && last.to == c && last.hi+1 == e.lo {
					last.hi = e.hi
					continue
				}
				flush()
				last, have = dfaEdge{e.lo, e.hi, c}, true
			}
			flush()
			k := b.String()
			id, ok := sigs[k]
			if !ok {
				id = int32(len(sigs))
				sigs[k] = id
			}
			next[s] = id
		}
		class = next
		if len(sigs) == count {
			break
		}
		count = len(sigs)
	}
	return d.quotient(class, count)
}

// quotient merges the states of each class, numbering the classes in BFS
// order from the start.
func (d *dfa) quotient(class []int32, count int) *dfa {
	n := len(d.states)
	order := make([]int32, count)
	for i := range order {
		order[i] = -1
	}
	out := &dfa{states: make([]dfaState, count)}
	order[class[0]] = 0
	queue := []int32{0}
	rep := make([]int32, count) // a representative state per class
	for s := n - 1; s >= 0; s-- {
		rep[class[s]] = int32(s)
	}
	nextID := int32(1)
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, e := range d.states[s].edges {
			c := class[e.to]
			if order[c] < 0 {
				order[c] = nextID
				nextID++
				queue = append(queue, rep[c])
			}
		}
	}
	for c := 0; c < count; c++ {
		if order[c] < 0 {
			continue
		}
		s := rep[c]
		st := &out.states[order[c]]
		st.final = d.states[s].final
		for _, e := range d.states[s].edges {
			to := order[class[e.to]]
			if k := len(st.edges); k > 0 && st.edges[k-1].to == to && st.edges[k-1].hi+1 == e.lo {
				st.edges[k-1].hi = e.hi
				continue
			}
			st.edges = append(st.edges, dfaEdge{e.lo, e.hi, to})
		}
	}
	out.states = out.states[:nextID]
	out.trimmed = true
	return out
}

func (d *dfa) isEmpty() bool {
	t := d.trim()
	return !t.states[0].final && len(t.states[0].edges) == 0
}

// equal reports whether two minimal automata accept the same language.
func (d *dfa) equal(o *dfa) bool {
	x, err := dfaProduct(d, o, func(a, b bool) bool { return a != b })
	return err == nil && x.isEmpty()
}

// dfaProduct runs both automata in step and accepts where keep says so;
// keep(false, false) must be false. The result is minimal.
func dfaProduct(a, b *dfa, keep func(inA, inB bool) bool) (*dfa, error) {
	type pair struct{ x, y int32 }
	index := map[pair]int32{{0, 0}: 0}
	queue := []pair{{0, 0}}
	out := &dfa{states: []dfaState{{}}}
	both := !keep(true, false) && !keep(false, true) // intersection: dead on either side kills
	for i := 0; i < len(queue); i++ {
		p := queue[i]
		var ea, eb []dfaEdge
		fa, fb := false, false
		if p.x >= 0 {
			ea, fa = a.states[p.x].edges, a.states[p.x].final
		}
		if p.y >= 0 {
			eb, fb = b.states[p.y].edges, b.states[p.y].final
		}
		out.states[i].final = keep(fa, fb)
		var edges []dfaEdge
		emit := func(lo, hi rune, x, y int32) error {
			if (x < 0 && y < 0) || (both && (x < 0 || y < 0)) {
				return nil
			}
			q := pair{x, y}
			to, ok := index[q]
			if !ok {
				if len(out.states) >= maxDFAStates {
					return ErrTooComplex
				}
				to = int32(len(out.states))
				index[q] = to
				queue = append(queue, q)
				out.states = append(out.states, dfaState{})
			}
			if k := len(edges); k > 0 && edges[k-1].to == to && edges[k-1].hi+1 == lo {
				edges[k-1].hi = hi
				return nil
			}
			edges = append(edges, dfaEdge{lo, hi, to})
			return nil
		}
		// Sweep both sorted edge lists.
		ia, ib := 0, 0
		pos := rune(0)
		for pos <= maxCodePoint {
			for ia < len(ea) && ea[ia].hi < pos {
				ia++
			}
			for ib < len(eb) && eb[ib].hi < pos {
				ib++
			}
			if ia >= len(ea) && ib >= len(eb) {
				break
			}
			x, y := int32(-1), int32(-1)
			end := rune(maxCodePoint)
			if ia < len(ea) {
				if ea[ia].lo <= pos {
					x = ea[ia].to
					end = min(end, ea[ia].hi)
				} else {
					end = min(end, ea[ia].lo-1)
				}
			}
			if ib < len(eb) {
				if eb[ib].lo <= pos {
					y = eb[ib].to
					end = min(end, eb[ib].hi)
				} else {
					end = min(end, eb[ib].lo-1)
				}
			}
			if err := emit(pos, end, x, y); err != nil {
				return nil, err
			}
			pos = end + 1
		}
		out.states[i].edges = edges
	}
	return out.minimize(), nil
}

func dfaAnd(a, b *dfa) (*dfa, error) {
	return dfaProduct(a, b, func(x, y bool) bool { return x && y })
}

func dfaOr(a, b *dfa) (*dfa, error) {
	return dfaProduct(a, b, func(x, y bool) bool { return x || y })
}

func dfaMinus(a, b *dfa) (*dfa, error) {
	return dfaProduct(a, b, func(x, y bool) bool { return x && !y })
}

// dfaNot is the complement within all strings of code points.
func dfaNot(a *dfa) (*dfa, error) { return dfaMinus(starDFA(anyChar), a) }

// literalsDFA accepts exactly the given strings.
func literalsDFA(words []string) *dfa {
	d := &dfa{states: []dfaState{{}}}
	for _, w := range words {
		s := int32(0)
		for _, r := range w {
			next := d.step(s, r)
			if next < 0 {
				next = int32(len(d.states))
				d.states = append(d.states, dfaState{})
				es := append(d.states[s].edges, dfaEdge{r, r, next})
				sort.Slice(es, func(i, j int) bool { return es[i].lo < es[j].lo })
				d.states[s].edges = es
			}
			s = next
		}
		d.states[s].final = true
	}
	return d.minimize()
}

// lengthDFA accepts strings of min to max code points (max < 0: no bound).
func lengthDFA(minLen, maxLen int) (*dfa, error) {
	top := minLen
	if maxLen >= 0 {
		top = maxLen
	}
	if top >= maxDFAStates {
		return nil, ErrTooComplex
	}
	d := &dfa{states: make([]dfaState, top+1)}
	for i := 0; i <= top; i++ {
		d.states[i].final = i >= minLen
		to := int32(i + 1)
		if i == top {
			if maxLen >= 0 {
				continue
			}
			to = int32(i)
		}
		for _, r := range anyChar {
			d.states[i].edges = append(d.states[i].edges, dfaEdge{r.lo, r.hi, to})
		}
	}
	return d.minimize(), nil
}

// finiteWords lists the language when it is finite and has at most limit
// words, shortest first; ok is false otherwise.
func (d *dfa) finiteWords(limit int) (words []string, ok bool) {
	d = d.trim()
	// Count the words from each state over the (acyclic) automaton,
	// saturating past limit; a cycle means infinitely many.
	const (
		unseen = iota
		active
		done
	)
	mark := make([]uint8, len(d.states))
	count := make([]int, len(d.states))
	var visit func(s int32) bool
	visit = func(s int32) bool {
		switch mark[s] {
		case active:
			return false
		case done:
			return true
		}
		mark[s] = active
		n := 0
		if d.states[s].final {
			n = 1
		}
		for _, e := range d.states[s].edges {
			if !visit(e.to) {
				return false
			}
			n += int(e.hi-e.lo+1) * count[e.to]
			if n > limit {
				n = limit + 1
			}
		}
		count[s], mark[s] = n, done
		return true
	}
	if !visit(0) || count[0] > limit {
		return nil, false
	}
	type item struct {
		s    int32
		word []rune
	}
	queue := []item{{0, nil}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if d.states[it.s].final {
			words = append(words, string(it.word))
		}
		for _, e := range d.states[it.s].edges {
			for r := e.lo; r <= e.hi; r++ {
				w := append(append(make([]rune, 0, len(it.word)+1), it.word...), r)
				queue = append(queue, item{e.to, w})
			}
		}
	}
	return words, true
}
