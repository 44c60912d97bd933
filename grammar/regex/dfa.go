package regex

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

// ErrTooComplex is returned when a pattern, or an operation on automata,
// would need more states or work than the limits allow. The JSON Schema
// compiler returns it too (wrapped) for grammars above its size limits.
var ErrTooComplex = errors.New("regex: too complex to compile")

// Automaton size limits. They bound compile time and grammar size on
// adversarial input; real schemas stay far below them.
const (
	maxNFAStates = 200000
	maxDFAStates = 20000
)

func hasLook(n *Node) bool {
	if n.Op == OpLook {
		return true
	}
	for _, s := range n.Subs {
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
func compileLookaheads(n *Node, search bool) (*DFA, error) {
	branches := []*Node{n}
	if n.Op == OpAlt {
		branches = n.Subs
	}
	var out *DFA
	for _, br := range branches {
		items := []*Node{br}
		if br.Op == OpConcat {
			items = br.Subs
		}
		var pos, neg []*Node
		core := []*Node{}
		for i, it := range items {
			if it.Op == OpLook && i > 0 {
				if it.Min == 1 {
					pos = append(pos, it.Subs[0])
				} else {
					neg = append(neg, it.Subs[0])
				}
				continue
			}
			core = append(core, it)
		}
		d, err := NewDFA(Cat(core...), search)
		if err != nil {
			return nil, err
		}
		prefixed := func(x *Node) (*DFA, error) {
			return NewDFA(Cat(&Node{Op: OpBegin}, x), true)
		}
		for _, x := range pos {
			dx, err := prefixed(x)
			if err == nil {
				d, err = And(d, dx)
			}
			if err != nil {
				return nil, err
			}
		}
		for _, x := range neg {
			dx, err := prefixed(x)
			if err == nil {
				d, err = AndNot(d, dx)
			}
			if err != nil {
				return nil, err
			}
		}
		if out == nil {
			out = d
		} else if out, err = Or(out, d); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// maxRegexNFA bounds the automaton built for one regex; larger ones (big
// counted repetitions) are written as grammar from the syntax tree.
const maxRegexNFA = 20000

// NFASize estimates the NFA states a tree expands to, saturating.
func NFASize(n *Node) int {
	switch n.Op {
	case OpConcat, OpAlt:
		t := 1
		for _, s := range n.Subs {
			t += NFASize(s)
			if t > 1<<30 {
				return 1 << 30
			}
		}
		return t
	case OpRepeat:
		// As wire builds it: min copies, then one loop or max-min more.
		k := n.Max
		if k < 0 {
			k = n.Min + 1
		}
		sub := NFASize(n.Subs[0])
		if k > 0 && sub > (1<<30)/k {
			return 1 << 30
		}
		return sub*k + 3
	}
	return 2
}

// NFAKind is what an NFAEdge consumes.
type NFAKind uint8

const (
	NFAEps   NFAKind = iota // nothing
	NFABegin                // nothing, before the first character only (^)
	NFAEnd                  // nothing, after the last character only ($)
	NFAChars                // one code point of Set
)

// NFAEdge is a transition of an NFA to state To.
type NFAEdge struct {
	Kind NFAKind
	Set  CharSet
	To   int32
}

// NFA is a nondeterministic automaton under construction, for languages
// easier to build state by state than to write as a regex (the JSON
// Schema compiler's number languages). Its zero value is empty; it is for
// one goroutine.
type NFA struct {
	edges [][]NFAEdge
}

// NewState adds a state and returns its number, or ErrTooComplex past the
// limit on states.
func (a *NFA) NewState() (int32, error) {
	if len(a.edges) >= maxNFAStates {
		return 0, ErrTooComplex
	}
	a.edges = append(a.edges, nil)
	return int32(len(a.edges) - 1), nil
}

// Add adds the edge e leaving state from.
func (a *NFA) Add(from int32, e NFAEdge) { a.edges[from] = append(a.edges[from], e) }

// build adds n between two new states and returns them.
func (a *NFA) build(n *Node) (int32, int32, error) {
	s, err := a.NewState()
	if err != nil {
		return 0, 0, err
	}
	e, err := a.NewState()
	if err != nil {
		return 0, 0, err
	}
	if err := a.wire(n, s, e); err != nil {
		return 0, 0, err
	}
	return s, e, nil
}

// then wires a copy of n from s to a new state and returns that state.
func (a *NFA) then(n *Node, s int32) (int32, error) {
	next, err := a.NewState()
	if err != nil {
		return 0, err
	}
	return next, a.wire(n, s, next)
}

// wire adds n between existing states s and e.
func (a *NFA) wire(n *Node, s, e int32) error {
	switch n.Op {
	case OpNone:
	case OpEmpty:
		a.Add(s, NFAEdge{Kind: NFAEps, To: e})
	case OpChars:
		a.Add(s, NFAEdge{Kind: NFAChars, Set: n.Set, To: e})
	case OpBegin:
		a.Add(s, NFAEdge{Kind: NFABegin, To: e})
	case OpEnd:
		a.Add(s, NFAEdge{Kind: NFAEnd, To: e})
	case OpLook:
		return ErrTooComplex // lifted by compileLookaheads before building
	case OpConcat:
		cur := s
		for i, sub := range n.Subs {
			next := e
			if i < len(n.Subs)-1 {
				var err error
				if next, err = a.NewState(); err != nil {
					return err
				}
			}
			if err := a.wire(sub, cur, next); err != nil {
				return err
			}
			cur = next
		}
	case OpAlt:
		for _, sub := range n.Subs {
			if err := a.wire(sub, s, e); err != nil {
				return err
			}
		}
	case OpRepeat:
		sub := n.Subs[0]
		if n.Min > maxNFAStates || n.Max > maxNFAStates {
			return ErrTooComplex
		}
		cur := s
		for i := 0; i < n.Min; i++ {
			next, err := a.then(sub, cur)
			if err != nil {
				return err
			}
			cur = next
		}
		if n.Max < 0 {
			// A fresh hub for the loop: looping back to cur itself would
			// let the loop leave through cur's other edges (an enclosing
			// "?" skipping what follows the star).
			hub, err := a.NewState()
			if err != nil {
				return err
			}
			ls, le, err := a.build(sub)
			if err != nil {
				return err
			}
			a.Add(cur, NFAEdge{Kind: NFAEps, To: hub})
			a.Add(hub, NFAEdge{Kind: NFAEps, To: ls})
			a.Add(le, NFAEdge{Kind: NFAEps, To: hub})
			a.Add(hub, NFAEdge{Kind: NFAEps, To: e})
			return nil
		}
		for i := n.Min; i < n.Max; i++ {
			a.Add(cur, NFAEdge{Kind: NFAEps, To: e})
			next, err := a.then(sub, cur)
			if err != nil {
				return err
			}
			cur = next
		}
		a.Add(cur, NFAEdge{Kind: NFAEps, To: e})
	}
	return nil
}

// Edge is a DFA transition on the code points Lo to Hi.
type Edge struct {
	Lo, Hi rune
	To     int32
}

// State is a DFA state: accepting when Final.
type State struct {
	Final bool
	Edges []Edge // sorted by Lo, disjoint
}

// DFA is a deterministic automaton over code points. State 0 is the start.
// Missing transitions go to an implicit dead state. A DFA may be built
// by hand, state by state; once handed to any function or method here it
// must not change, and those never change it, so a DFA may be shared by
// any number of goroutines.
type DFA struct {
	States  []State
	trimmed bool // no unreachable or dead states (set by trim and minimize)
}

// emptyDFA accepts nothing.
func emptyDFA() *DFA { return &DFA{States: []State{{}}} }

// StarDFA accepts any string over cs.
func StarDFA(cs CharSet) *DFA {
	d := &DFA{States: []State{{Final: true}}}
	for _, r := range cs {
		d.States[0].Edges = append(d.States[0].Edges, Edge{r.Lo, r.Hi, 0})
	}
	return d
}

// NewDFA builds the automaton of a regex. With search, a string is
// accepted when the pattern matches somewhere in it (JSON Schema "pattern");
// otherwise the whole string must match.
func NewDFA(n *Node, search bool) (*DFA, error) {
	if NFASize(n) > maxRegexNFA {
		return nil, ErrTooComplex
	}
	if hasLook(n) {
		return compileLookaheads(n, search)
	}
	a := &NFA{}
	s, e, err := a.build(n)
	if err != nil {
		return nil, err
	}
	if search {
		pre, err := a.NewState()
		if err != nil {
			return nil, err
		}
		post, err := a.NewState()
		if err != nil {
			return nil, err
		}
		a.Add(pre, NFAEdge{Kind: NFAChars, Set: AnyChar, To: pre})
		a.Add(pre, NFAEdge{Kind: NFAEps, To: s})
		a.Add(e, NFAEdge{Kind: NFAEps, To: post})
		a.Add(post, NFAEdge{Kind: NFAChars, Set: AnyChar, To: post})
		s, e = pre, post
	}
	d, err := a.Determinize(s, e)
	if err != nil {
		return nil, err
	}
	return d.Minimize(), nil
}

// closer computes epsilon closures with a reusable stamp array.
type closer struct {
	a     *NFA
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
			ok := e.Kind == NFAEps || (e.Kind == NFABegin && begin) || (e.Kind == NFAEnd && end)
			if ok && c.stamp[e.To] != c.gen {
				c.stamp[e.To] = c.gen
				c.stack = append(c.stack, e.To)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (a *NFA) closure(set []int32, begin, end bool) []int32 {
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

// Determinize is the subset construction, from state start to state final. The ^ edges may be taken only
// before the first character and the $ edges only after the last, so the
// start state's closure takes ^ edges and acceptance looks through $ edges.
func (a *NFA) Determinize(start, final int32) (*DFA, error) {
	d := &DFA{}
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
		d.States = append(d.States, State{})
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
		d.States[i].Final = slices.Contains(acc, final)
		if first {
			// Acceptance may also pass ^ then $ (the empty string for "^$").
			d.States[i].Final = d.States[i].Final || slices.Contains(cl.closure([]int32{start}, true, true), final)
		}
		var spans []span
		for _, s := range set {
			for _, e := range a.edges[s] {
				if e.Kind != NFAChars {
					continue
				}
				for _, r := range e.Set {
					spans = append(spans, span{r.Lo, r.Hi, e.To})
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
		var edges []Edge
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
			if n := len(edges); n > 0 && edges[n-1].To == to && edges[n-1].Hi+1 == lo {
				edges[n-1].Hi = hi
				continue
			}
			edges = append(edges, Edge{lo, hi, to})
		}
		d.States[i].Edges = edges
	}
	return d, nil
}

// Step returns the state reached from s on r, or -1.
func (d *DFA) Step(s int32, r rune) int32 {
	es := d.States[s].Edges
	i := sort.Search(len(es), func(i int) bool { return es[i].Hi >= r })
	if i < len(es) && es[i].Lo <= r {
		return es[i].To
	}
	return -1
}

// Accepts reports whether d accepts the whole of s.
func (d *DFA) Accepts(s string) bool {
	st := int32(0)
	for _, r := range s {
		if st = d.Step(st, r); st < 0 {
			return false
		}
	}
	return d.States[st].Final
}

// Trim drops states that are unreachable or cannot reach a final state.
func (d *DFA) Trim() *DFA {
	if d.trimmed {
		return d
	}
	n := len(d.States)
	reach := make([]bool, n)
	reach[0] = true
	stack := []int32{0}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range d.States[s].Edges {
			if !reach[e.To] {
				reach[e.To] = true
				stack = append(stack, e.To)
			}
		}
	}
	// Co-reachability by fixpoint over reversed edges.
	rev := make([][]int32, n)
	for s := range d.States {
		for _, e := range d.States[s].Edges {
			rev[e.To] = append(rev[e.To], int32(s))
		}
	}
	live := make([]bool, n)
	for s := range d.States {
		if d.States[s].Final && reach[s] {
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
	out := &DFA{trimmed: true}
	for s := range d.States {
		remap[s] = -1
		if live[s] {
			remap[s] = int32(len(out.States))
			out.States = append(out.States, State{Final: d.States[s].Final})
		}
	}
	for s := range d.States {
		if !live[s] {
			continue
		}
		var edges []Edge
		for _, e := range d.States[s].Edges {
			if to := remap[e.To]; to >= 0 {
				edges = append(edges, Edge{e.Lo, e.Hi, to})
			}
		}
		out.States[remap[s]].Edges = edges
	}
	return out
}

// Minimize trims d and merges equivalent states: Hopcroft's algorithm
// over the elementary intervals of the edges, or Moore's refinement when
// the inverse transition table would be too large.
func (d *DFA) Minimize() *DFA {
	d = d.Trim()
	if class, count, ok := d.hopcroft(); ok {
		return d.quotient(class, count)
	}
	return d.moore()
}

// hopcroft returns the equivalence class of each state.
func (d *DFA) hopcroft() (class []int32, count int, ok bool) {
	n := len(d.States)
	if n <= 1 {
		return make([]int32, n), n, true
	}
	// Elementary intervals.
	var bounds []rune
	for _, st := range d.States {
		for _, e := range st.Edges {
			bounds = append(bounds, e.Lo, e.Hi+1)
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
	for s, st := range d.States {
		j := 0
		for _, e := range st.Edges {
			for ; bounds[j] < e.Lo; j++ {
				inv[j] = append(inv[j], pair{dead, int32(s)})
			}
			for ; j < k && bounds[j] <= e.Hi; j++ {
				inv[j] = append(inv[j], pair{e.To, int32(s)})
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
		if s < n && d.States[s].Final {
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

func (d *DFA) splitFinal(class []int32) ([]int32, int, bool) {
	for s := range d.States {
		if d.States[s].Final {
			class[s] = 1
		}
	}
	return class, 2, true
}

// moore is Moore's refinement, quadratic on long chains.
func (d *DFA) moore() *DFA {
	n := len(d.States)
	class := make([]int32, n)
	for s := range d.States {
		if d.States[s].Final {
			class[s] = 1
		}
	}
	count := 0
	for {
		sigs := map[string]int32{}
		next := make([]int32, n)
		var b strings.Builder
		for s := range d.States {
			b.Reset()
			b.WriteString(strconv.Itoa(int(class[s])))
			var last Edge
			have := false
			flush := func() {
				if have {
					b.WriteString("|" + strconv.Itoa(int(last.Lo)) + "-" + strconv.Itoa(int(last.Hi)) + ">" + strconv.Itoa(int(last.To)))
				}
			}
			for _, e := range d.States[s].Edges {
				c := class[e.To]
				if have && last.To == c && last.Hi+1 == e.Lo {
					last.Hi = e.Hi
					continue
				}
				flush()
				last, have = Edge{e.Lo, e.Hi, c}, true
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
func (d *DFA) quotient(class []int32, count int) *DFA {
	n := len(d.States)
	order := make([]int32, count)
	for i := range order {
		order[i] = -1
	}
	out := &DFA{States: make([]State, count)}
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
		for _, e := range d.States[s].Edges {
			c := class[e.To]
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
		st := &out.States[order[c]]
		st.Final = d.States[s].Final
		for _, e := range d.States[s].Edges {
			to := order[class[e.To]]
			if k := len(st.Edges); k > 0 && st.Edges[k-1].To == to && st.Edges[k-1].Hi+1 == e.Lo {
				st.Edges[k-1].Hi = e.Hi
				continue
			}
			st.Edges = append(st.Edges, Edge{e.Lo, e.Hi, to})
		}
	}
	out.States = out.States[:nextID]
	out.trimmed = true
	return out
}

// IsEmpty reports whether d accepts no string at all.
func (d *DFA) IsEmpty() bool {
	t := d.Trim()
	return !t.States[0].Final && len(t.States[0].Edges) == 0
}

// Equal reports whether two minimal automata accept the same language.
func (d *DFA) Equal(o *DFA) bool {
	x, err := dfaProduct(d, o, func(a, b bool) bool { return a != b })
	return err == nil && x.IsEmpty()
}

// dfaProduct runs both automata in step and accepts where keep says so;
// keep(false, false) must be false. The result is minimal.
func dfaProduct(a, b *DFA, keep func(inA, inB bool) bool) (*DFA, error) {
	type pair struct{ x, y int32 }
	index := map[pair]int32{{0, 0}: 0}
	queue := []pair{{0, 0}}
	out := &DFA{States: []State{{}}}
	both := !keep(true, false) && !keep(false, true) // intersection: dead on either side kills
	for i := 0; i < len(queue); i++ {
		p := queue[i]
		var ea, eb []Edge
		fa, fb := false, false
		if p.x >= 0 {
			ea, fa = a.States[p.x].Edges, a.States[p.x].Final
		}
		if p.y >= 0 {
			eb, fb = b.States[p.y].Edges, b.States[p.y].Final
		}
		out.States[i].Final = keep(fa, fb)
		var edges []Edge
		emit := func(lo, hi rune, x, y int32) error {
			if (x < 0 && y < 0) || (both && (x < 0 || y < 0)) {
				return nil
			}
			q := pair{x, y}
			to, ok := index[q]
			if !ok {
				if len(out.States) >= maxDFAStates {
					return ErrTooComplex
				}
				to = int32(len(out.States))
				index[q] = to
				queue = append(queue, q)
				out.States = append(out.States, State{})
			}
			if k := len(edges); k > 0 && edges[k-1].To == to && edges[k-1].Hi+1 == lo {
				edges[k-1].Hi = hi
				return nil
			}
			edges = append(edges, Edge{lo, hi, to})
			return nil
		}
		// Sweep both sorted edge lists.
		ia, ib := 0, 0
		pos := rune(0)
		for pos <= MaxCodePoint {
			for ia < len(ea) && ea[ia].Hi < pos {
				ia++
			}
			for ib < len(eb) && eb[ib].Hi < pos {
				ib++
			}
			if ia >= len(ea) && ib >= len(eb) {
				break
			}
			x, y := int32(-1), int32(-1)
			end := rune(MaxCodePoint)
			if ia < len(ea) {
				if ea[ia].Lo <= pos {
					x = ea[ia].To
					end = min(end, ea[ia].Hi)
				} else {
					end = min(end, ea[ia].Lo-1)
				}
			}
			if ib < len(eb) {
				if eb[ib].Lo <= pos {
					y = eb[ib].To
					end = min(end, eb[ib].Hi)
				} else {
					end = min(end, eb[ib].Lo-1)
				}
			}
			if err := emit(pos, end, x, y); err != nil {
				return nil, err
			}
			pos = end + 1
		}
		out.States[i].Edges = edges
	}
	return out.Minimize(), nil
}

// And accepts the strings both a and b accept; the result is minimal.
func And(a, b *DFA) (*DFA, error) {
	return dfaProduct(a, b, func(x, y bool) bool { return x && y })
}

// Or accepts the strings a or b accepts; the result is minimal.
func Or(a, b *DFA) (*DFA, error) {
	return dfaProduct(a, b, func(x, y bool) bool { return x || y })
}

// AndNot accepts the strings a accepts and b does not; the result is
// minimal.
func AndNot(a, b *DFA) (*DFA, error) {
	return dfaProduct(a, b, func(x, y bool) bool { return x && !y })
}

// Not is the complement within all strings of code points.
func Not(a *DFA) (*DFA, error) { return AndNot(StarDFA(AnyChar), a) }

// WordsDFA accepts exactly the given strings.
func WordsDFA(words []string) *DFA {
	d := &DFA{States: []State{{}}}
	for _, w := range words {
		s := int32(0)
		for _, r := range w {
			next := d.Step(s, r)
			if next < 0 {
				next = int32(len(d.States))
				d.States = append(d.States, State{})
				es := append(d.States[s].Edges, Edge{r, r, next})
				sort.Slice(es, func(i, j int) bool { return es[i].Lo < es[j].Lo })
				d.States[s].Edges = es
			}
			s = next
		}
		d.States[s].Final = true
	}
	return d.Minimize()
}

// LengthDFA accepts strings of min to max code points (max < 0: no bound).
func LengthDFA(minLen, maxLen int) (*DFA, error) {
	top := minLen
	if maxLen >= 0 {
		top = maxLen
	}
	if top >= maxDFAStates {
		return nil, ErrTooComplex
	}
	d := &DFA{States: make([]State, top+1)}
	for i := 0; i <= top; i++ {
		d.States[i].Final = i >= minLen
		to := int32(i + 1)
		if i == top {
			if maxLen >= 0 {
				continue
			}
			to = int32(i)
		}
		for _, r := range AnyChar {
			d.States[i].Edges = append(d.States[i].Edges, Edge{r.Lo, r.Hi, to})
		}
	}
	return d.Minimize(), nil
}

// FiniteWords lists the language when it is finite and has at most limit
// words, shortest first; ok is false otherwise.
func (d *DFA) FiniteWords(limit int) (words []string, ok bool) {
	d = d.Trim()
	// Count the words from each state over the (acyclic) automaton,
	// saturating past limit; a cycle means infinitely many.
	const (
		unseen = iota
		active
		done
	)
	mark := make([]uint8, len(d.States))
	count := make([]int, len(d.States))
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
		if d.States[s].Final {
			n = 1
		}
		for _, e := range d.States[s].Edges {
			if !visit(e.To) {
				return false
			}
			n += int(e.Hi-e.Lo+1) * count[e.To]
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
		if d.States[it.s].Final {
			words = append(words, string(it.word))
		}
		for _, e := range d.States[it.s].Edges {
			for r := e.Lo; r <= e.Hi; r++ {
				w := append(append(make([]rune, 0, len(it.word)+1), it.word...), r)
				queue = append(queue, item{e.To, w})
			}
		}
	}
	return words, true
}
