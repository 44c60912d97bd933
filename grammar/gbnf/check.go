package gbnf

import (
	"fmt"
	"strings"
)

// Checks that run after a successful parse, in llama.cpp's order: undefined
// rules (llama_grammar_parser::parse), the root rule and left recursion
// (llama_grammar_init_impl); then this package's own limits.

func (p *gParser) check(g *Grammar) error {
	p.x = gNewIdx(g, p.aux)
	if err := p.checkUndefined(g); err != nil {
		return err
	}
	if g.byName["root"] == nil {
		return p.errAt(0, ErrNoRoot, "grammar has no rule named root")
	}
	p.reach = gReachable(g)
	if err := p.checkSize(g); err != nil {
		return err
	}
	if err := p.checkLeftRecursion(g); err != nil {
		return err
	}
	return p.checkPaths(g)
}

// checkUndefined mirrors which undefined names llama.cpp notices. It keeps
// one rule per symbol id and fails if a rule below the highest defined id
// is missing, or if a rule references a missing one. So a reference counts
// only where llama.cpp keeps it: a rule defined twice is replaced by its
// last definition, but the rules generated for the groups and repetitions
// of the earlier one stay, and x{0} leaves no trace of x in its rule (but
// the rules generated inside x stay).
func (p *gParser) checkUndefined(g *Grammar) error {
	type site struct {
		name    string
		pos     Pos
		present bool
	}
	var sites []site
	// present: n's elements are in a rule llama.cpp keeps.
	var walk func(n Node, present bool)
	walk = func(n Node, present bool) {
		switch n := n.(type) {
		case *AltNode:
			for _, s := range n.Alts {
				walk(s, present)
			}
		case *SeqNode:
			for _, it := range n.Items {
				walk(it, present)
			}
		case *RefNode:
			if g.byName[n.Name] == nil {
				sites = append(sites, site{n.Name, n.Pos, present})
			}
		case *GroupNode:
			walk(n.Body, true)
		case *RepeatNode:
			// Copied into this rule Min times, and into generated rules
			// if there are optional copies.
			walk(n.Expr, present && n.Min > 0 || n.Max == Unbounded || n.Max > n.Min)
		}
	}
	for _, r := range g.rules {
		walk(r.Expr, g.byName[r.Name] == r)
	}
	for _, s := range sites {
		if s.present || p.symIDs[s.name] <= p.maxAdded {
			return &SyntaxError{Name: p.name, Line: s.pos.Line, Col: s.pos.Col, Offset: s.pos.Offset,
				Msg: fmt.Sprintf("undefined rule %s", s.name), Err: ErrUndefinedRule}
		}
	}
	return nil
}

// gSat is a saturating count, so that stacked repetitions cannot overflow.
type gSat int64

const gSatMax = gSat(1) << 60

func (a gSat) add(b gSat) gSat { return min(a+b, gSatMax) }
func (a gSat) mul(b int) gSat {
	if b == 0 || a == 0 {
		return 0
	}
	if a > gSatMax/gSat(b) {
		return gSatMax
	}
	return a * gSat(b)
}

// checkSize counts the elements llama.cpp would build (llama_grammar_element
// values, END and ALT included) and fails beyond MaxElements.
func (p *gParser) checkSize(g *Grammar) error {
	var total gSat
	// elems returns the elements n adds to the rule it is in; the rules n
	// generates are added to total.
	var elems func(n Node) gSat
	alts := func(a *AltNode) gSat {
		s := gSat(len(a.Alts)) // the ALTs and the END
		for _, seq := range a.Alts {
			s = s.add(elems(seq))
		}
		return s
	}
	elems = func(n Node) gSat {
		switch n := n.(type) {
		case *SeqNode:
			var s gSat
			for _, it := range n.Items {
				s = s.add(elems(it))
			}
			return s
		case *LiteralNode:
			return gSat(len(n.Value))
		case *ClassNode:
			var s gSat
			for _, r := range n.Ranges {
				s++
				if r.Lo != r.Hi {
					s++
				}
			}
			return s
		case *GroupNode:
			total = total.add(alts(n.Body))
			return 1
		case *RepeatNode:
			e := elems(n.Expr)
			if n.Max == Unbounded {
				total = total.add(e + 3) // S' ::= S S' |
				return e.mul(n.Min).add(1)
			}
			k := n.Max - n.Min
			if k > 0 {
				total = total.add((e + 3).mul(k))
				return e.mul(n.Min).add(1)
			}
			return e.mul(n.Min)
		}
		return 1
	}
	for _, r := range g.rules {
		total = total.add(alts(r.Expr.(*AltNode)))
		if total > MaxElements {
			return &SyntaxError{Name: p.name, Line: r.Pos.Line, Col: r.Pos.Col, Offset: r.Pos.Offset,
				Msg: fmt.Sprintf("llama.cpp would expand the grammar to more than %d elements by rule %s", MaxElements, r.Name), Err: ErrLimit}
		}
	}
	return nil
}

// gIdx numbers what the checks track, to index slices rather than maps:
// the rules in force first, in source order, then every group and
// repetition, numbered by the parser.
type gIdx struct {
	def  map[string]int
	defs []*Rule
	n    int
}

func gNewIdx(g *Grammar, aux int32) *gIdx {
	x := &gIdx{def: map[string]int{}}
	for _, r := range g.rules {
		if g.byName[r.Name] == r {
			x.def[r.Name] = len(x.defs)
			x.defs = append(x.defs, r)
		}
	}
	x.n = len(x.defs) + int(aux)
	return x
}

// of returns the number of a group, a repetition, or the rule a
// reference names (which must be defined).
func (x *gIdx) of(n Node) int {
	switch n := n.(type) {
	case *GroupNode:
		return len(x.defs) + int(n.idx)
	case *RepeatNode:
		return len(x.defs) + int(n.idx)
	case *RefNode:
		return x.def[n.Name]
	}
	return -1
}

// gLRGraph is the graph of left calls among the rules llama.cpp builds: one
// node per rule in force, per group and per repetition (standing for the
// rules llama.cpp generates for it; collapsing the chain S'(k) -> S'(k-1)
// of a bounded repetition into one node keeps every cycle and adds none).
type gLRGraph struct {
	x     *gIdx
	nodes []Node // a rule's body *AltNode, *GroupNode or *RepeatNode; nil if unused
	pos   []Pos
	edges [2][][]int32 // [llama.cpp's check, true nullability]
}

// checkLeftRecursion rejects what llama.cpp's
// llama_grammar_detect_left_recursion rejects: a cycle of calls, each at
// the start of an alternative or after rules that have an empty
// alternative. llama.cpp judges "may be empty" by an alternative with no
// elements, not by real nullability, so it misses cycles through rules
// that can match the empty string in other ways, as in root ::= ("a"?)*;
// on those its matcher recurses without end and overflows the stack. They
// are rejected here too.
func (p *gParser) checkLeftRecursion(g *Grammar) error {
	x := p.x
	lr := &gLRGraph{x: x, nodes: make([]Node, x.n), pos: make([]Pos, x.n)}
	// live: llama.cpp can reach the node from the root.
	live := make([]bool, x.n)
	add := func(i int, n Node, pos Pos, reached bool) {
		lr.nodes[i], lr.pos[i], live[i] = n, pos, reached
	}
	var collect func(n Node, reached bool)
	collect = func(n Node, reached bool) {
		switch n := n.(type) {
		case *AltNode:
			for _, s := range n.Alts {
				collect(s, reached)
			}
		case *SeqNode:
			for _, it := range n.Items {
				collect(it, reached)
			}
		case *GroupNode:
			add(x.of(n), n, n.Pos, reached)
			collect(n.Body, reached)
		case *RepeatNode:
			// Even under x{0}: llama.cpp keeps (and checks) the rules
			// generated inside it, though it never reaches them.
			add(x.of(n), n, n.OpPos, reached)
			collect(n.Expr, reached && n.Max != 0)
		}
	}
	reach := p.reach
	for i, r := range x.defs {
		add(i, r.Expr, r.Pos, reach[r.Name])
	}
	for _, r := range x.defs {
		collect(r.Expr, reach[r.Name])
	}
	nullable := p.nullable(g, lr)
	for m := range lr.edges {
		lr.edges[m] = make([][]int32, len(lr.nodes))
	}

	target := x.of
	// Undefined rules are referenced only where llama.cpp drops the
	// reference (see checkUndefined): no edge.
	defined := func(n *RefNode) bool { return g.byName[n.Name] != nil }
	// hasEmptyAlt is llama.cpp's rules_may_be_empty: an alternative that
	// emits no element.
	hasEmptyAlt := func(a *AltNode) bool {
	alts:
		for _, s := range a.Alts {
			for _, it := range s.Items {
				if !gZeroWidth(it) {
					continue alts
				}
			}
			return true
		}
		return false
	}
	// walk adds the edges from node src for item n, reached at the start of
	// an alternative, and reports whether the walk goes on past n.
	var walk func(mode, src int, n Node) bool
	walk = func(mode, src int, n Node) bool {
		edge := func(dst int) {
			lr.edges[mode][src] = append(lr.edges[mode][src], int32(dst))
		}
		switch n := n.(type) {
		case *SeqNode:
			for _, it := range n.Items {
				if !walk(mode, src, it) {
					return false
				}
			}
			return true
		case *LiteralNode, *ClassNode:
			return gZeroWidth(n)
		case *RefNode:
			if !defined(n) {
				return false
			}
			t := target(n)
			edge(t)
			if mode == 0 {
				return hasEmptyAlt(lr.nodes[t].(*AltNode))
			}
			return nullable[t]
		case *GroupNode:
			t := target(n)
			edge(t)
			if mode == 0 {
				return hasEmptyAlt(n.Body)
			}
			return nullable[t]
		case *RepeatNode:
			if n.Max == 0 {
				return true
			}
			cont := true
			if n.Min > 0 {
				cont = walk(mode, src, n.Expr) // the inline copies
			}
			if cont && (n.Max == Unbounded || n.Max > n.Min) {
				edge(target(n)) // the first S' rule, which may be empty
				return true
			}
			return cont
		}
		return false // ., tokens
	}
	for mode := 0; mode < 2; mode++ {
		for id, n := range lr.nodes {
			if mode == 1 && !live[id] {
				continue // harmless where llama.cpp never goes
			}
			switch n := n.(type) {
			case *AltNode:
				for _, s := range n.Alts {
					walk(mode, id, s)
				}
			case *GroupNode:
				for _, s := range n.Body.Alts {
					walk(mode, id, s)
				}
			case *RepeatNode:
				if n.Max == Unbounded || n.Max > n.Min {
					// S' ::= S S' | : S, then itself if S let the walk through.
					if walk(mode, id, n.Expr) && n.Max == Unbounded {
						lr.edges[mode][id] = append(lr.edges[mode][id], int32(id))
					}
				}
			}
		}
		if cycle := lr.findCycle(mode); cycle != nil {
			names := make([]string, len(cycle))
			for i, c := range cycle {
				switch n := lr.nodes[c].(type) {
				case *GroupNode:
					names[i] = "group at " + n.Pos.String()
				case *RepeatNode:
					names[i] = "repetition at " + n.OpPos.String()
				default:
					names[i] = x.defs[c].Name
				}
			}
			pos := lr.pos[cycle[0]]
			msg := "left recursion: " + strings.Join(names, " -> ")
			if mode == 1 {
				msg += " (through items that can match the empty string; llama.cpp does not detect it and recurses without end)"
			}
			return &SyntaxError{Name: p.name, Line: pos.Line, Col: pos.Col, Offset: pos.Offset, Msg: msg, Err: ErrLeftRecursion}
		}
	}
	return nil
}

// findCycle returns the nodes of a cycle in the given edges, the first one
// repeated at the end, or nil. The search is iterative: a long chain of
// rules must not exhaust the stack.
func (lr *gLRGraph) findCycle(mode int) []int {
	edges := lr.edges[mode]
	const (
		white = iota
		grey
		black
	)
	color := make([]uint8, len(edges))
	type frame struct{ node, next int }
	var stack []frame
	for start := range edges {
		if color[start] != white {
			continue
		}
		stack = append(stack[:0], frame{start, 0})
		color[start] = grey
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.next == len(edges[f.node]) {
				color[f.node] = black
				stack = stack[:len(stack)-1]
				continue
			}
			d := int(edges[f.node][f.next])
			f.next++
			switch color[d] {
			case grey:
				var cycle []int
				for i := range stack {
					if stack[i].node == d {
						for _, fr := range stack[i:] {
							cycle = append(cycle, fr.node)
						}
						break
					}
				}
				return append(cycle, d)
			case white:
				color[d] = grey
				stack = append(stack, frame{d, 0})
			}
		}
	}
	return nil
}

// nullable computes which nodes of lr can match the empty string, as a
// least fixed point by counting, for each alternative, the items not yet
// known to be nullable.
func (p *gParser) nullable(g *Grammar, lr *gLRGraph) []bool {
	type occ struct{ node, alt int }
	null := make([]bool, len(lr.nodes))
	var altNode []int                     // alternative -> node
	var pending []int                     // alternative -> items not yet nullable
	users := make([][]occ, len(lr.nodes)) // node -> alternatives that contain it
	var queue []int
	setNull := func(id int) {
		if !null[id] {
			null[id] = true
			queue = append(queue, id)
		}
	}
	addAlt := func(id int, items []Node) {
		alt := len(altNode)
		altNode = append(altNode, id)
		count := 0
		for _, it := range items {
			switch it := it.(type) {
			case *LiteralNode, *ClassNode:
				if !gZeroWidth(it) {
					count = -1
				}
			case *AnyNode, *TokenNode:
				count = -1
			case *RefNode:
				r := g.byName[it.Name]
				if r == nil {
					// Undefined, so only where llama.cpp drops it: x{0}.
					count = -1
					break
				}
				t := lr.x.def[r.Name]
				users[t] = append(users[t], occ{id, alt})
				count++
			default:
				t := lr.x.of(it)
				users[t] = append(users[t], occ{id, alt})
				count++
			}
			if count < 0 {
				break
			}
		}
		pending = append(pending, count)
		if count == 0 {
			setNull(id)
		}
	}
	for id, n := range lr.nodes {
		switch n := n.(type) {
		case *AltNode:
			for _, s := range n.Alts {
				addAlt(id, s.Items)
			}
		case *GroupNode:
			for _, s := range n.Body.Alts {
				addAlt(id, s.Items)
			}
		case *RepeatNode:
			if n.Min == 0 {
				addAlt(id, nil)
			} else {
				addAlt(id, []Node{n.Expr})
			}
		}
	}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, o := range users[id] {
			if pending[o.alt] > 0 {
				pending[o.alt]--
				if pending[o.alt] == 0 {
					setNull(o.node)
				}
			}
		}
	}
	return null
}

// gTE counts the paths llama.cpp's llama_grammar_advance_stack follows
// through an item, each to a terminal (t) or to the item's end (e): it
// expands every alternative and every way of matching the empty string
// separately, and only then removes duplicate stacks. Both saturate.
type gTE struct{ t, e gSat }

func (a gSat) mulSat(b gSat) gSat {
	if a == 0 || b == 0 {
		return 0
	}
	if a > gSatMax/b {
		return gSatMax
	}
	return a * b
}

// then is the paths through a followed by b.
func (a gTE) then(b gTE) gTE {
	return gTE{a.t.add(a.e.mulSat(b.t)), a.e.mulSat(b.e)}
}

func (a gTE) or(b gTE) gTE { return gTE{a.t.add(b.t), a.e.add(b.e)} }

// checkPaths bounds the paths llama.cpp follows from any position of any
// rule. Their number multiplies along sequences of items that can match
// the empty string in more than one way, as in (("a"?)?){30}, and
// llama.cpp takes time exponential in the nesting to load such a grammar.
func (p *gParser) checkPaths(g *Grammar) error {
	x := p.x
	memo := make([]gTE, x.n)
	done := make([]bool, x.n) // memo holds the value, or 0 while computing
	var te func(n Node) gTE
	seq := func(items []Node) gTE {
		acc := gTE{0, 1}
		for _, it := range items {
			if acc.e == 0 {
				break // what follows is not reached without input
			}
			acc = acc.then(te(it))
		}
		return acc
	}
	alts := func(a *AltNode) gTE {
		var sum gTE
		for _, s := range a.Alts {
			sum = sum.or(seq(s.Items))
		}
		return sum
	}
	// chain returns the paths through the rules llama.cpp generates for
	// the optional copies of a repetition: S'(k) ::= S S'(k-1) | .
	chainK := func(s gTE, k int, unbounded bool) gTE {
		if unbounded {
			return gTE{s.t, 1} // s.e is 0: nullable S here is rejected as left recursion
		}
		r := gTE{0, 0}
		for j := 1; j <= k; j++ {
			if j == 1 {
				r = s.or(gTE{0, 1})
			} else {
				r = s.then(r).or(gTE{0, 1})
			}
		}
		return r
	}
	chain := func(n *RepeatNode, s gTE) gTE {
		return chainK(s, n.Max-n.Min, n.Max == Unbounded)
	}
	te = func(n Node) gTE {
		switch n := n.(type) {
		case *LiteralNode, *ClassNode:
			if gZeroWidth(n) {
				return gTE{0, 1}
			}
			return gTE{1, 0}
		case *RefNode, *GroupNode, *RepeatNode:
			i := x.of(n)
			if done[i] {
				return memo[i]
			}
			done[i] = true // in progress: cannot recur without left recursion
			var v gTE
			switch n := n.(type) {
			case *RefNode:
				v = alts(g.byName[n.Name].Expr.(*AltNode))
			case *GroupNode:
				v = alts(n.Body)
			case *RepeatNode:
				if n.Max == 0 {
					v = gTE{0, 1}
					break
				}
				s := te(n.Expr)
				v = gTE{0, 1}
				for i := 0; i < n.Min && v.e > 0; i++ {
					v = v.then(s)
				}
				if n.Max == Unbounded || n.Max > n.Min {
					v = v.then(chain(n, s))
				}
			}
			memo[i] = v
			return v
		}
		return gTE{1, 0} // ., tokens
	}
	// Every suffix of every alternative is a position llama.cpp's stacks
	// can hold.
	var bad Node
	var worst gSat
	check := func(items []Node) {
		acc := gTE{0, 1}
		for i := len(items) - 1; i >= 0 && bad == nil; i-- {
			it := items[i]
			if r, ok := it.(*RepeatNode); ok && r.Max != 0 {
				s := te(r.Expr)
				if r.Max == Unbounded || r.Max > r.Min {
					acc = chain(r, s).then(acc)
				}
				for j := 0; j < r.Min && bad == nil; j++ {
					acc = s.then(acc)
					if acc.t.add(acc.e) > MaxPaths {
						bad, worst = it, acc.t.add(acc.e)
					}
				}
			} else {
				acc = te(it).then(acc)
			}
			if bad == nil && acc.t.add(acc.e) > MaxPaths {
				bad, worst = it, acc.t.add(acc.e)
			}
		}
	}
	var walk func(n Node)
	walk = func(n Node) {
		switch n := n.(type) {
		case *AltNode:
			for _, s := range n.Alts {
				check(s.Items)
				for _, it := range s.Items {
					walk(it)
				}
			}
		case *GroupNode:
			walk(n.Body)
		case *RepeatNode:
			if n.Max == 0 {
				return
			}
			if n.Max == Unbounded || n.Max > n.Min {
				s := te(n.Expr)
				if v := chain(n, s); v.t.add(v.e) > MaxPaths && bad == nil {
					bad, worst = n, v.t.add(v.e)
				}
			}
			walk(n.Expr)
		}
	}
	// Only what llama.cpp can reach from the root costs it anything.
	reach := p.reach
	for _, r := range g.rules {
		if g.byName[r.Name] == r && reach[r.Name] && bad == nil {
			walk(r.Expr)
		}
	}
	if bad == nil {
		return p.checkNestedPaths(g, te, chainK)
	}
	{
		pos := bad.Position()
		how := "more than 2^60"
		if worst < gSatMax {
			how = fmt.Sprint(worst)
		}
		return &SyntaxError{Name: p.name, Line: pos.Line, Col: pos.Col, Offset: pos.Offset,
			Msg: fmt.Sprintf("llama.cpp would expand %s paths from here, more than %d: alternatives and ways to match the empty string multiply", how, MaxPaths), Err: ErrLimit}
	}
}

// checkNestedPaths rejects recursion after which the rest of the rule can
// match the empty string in more than one way, on a cycle of calls each
// followed by a rest that can match the empty string. Returning through
// such calls, llama.cpp's stack follows every way separately, frame after
// frame, so its work grows exponentially with how deeply the input nests:
// with x ::= "a" x y | "" and y ::= | "", it follows 2^n paths after n a's.
func (p *gParser) checkNestedPaths(g *Grammar, te func(Node) gTE, chainK func(gTE, int, bool) gTE) error {
	// Nodes: llama.cpp's rules: the rules in force, groups, and the
	// rules of repetitions with optional copies (one node for the chain).
	x := p.x
	nodes := make([]Node, x.n) // nil where unused
	add := func(i int, n Node) { nodes[i] = n }
	var collect func(n Node)
	collect = func(n Node) {
		switch n := n.(type) {
		case *AltNode:
			for _, s := range n.Alts {
				for _, it := range s.Items {
					collect(it)
				}
			}
		case *GroupNode:
			add(x.of(n), n)
			collect(n.Body)
		case *RepeatNode:
			if n.Max == 0 {
				return
			}
			if n.Max == Unbounded || n.Max > n.Min {
				add(x.of(n), n)
			}
			collect(n.Expr)
		}
	}
	reach := p.reach
	for i, r := range x.defs {
		if reach[r.Name] {
			add(i, r.Expr)
			collect(r.Expr)
		}
	}
	// A call site: a reference to rule to, from rule from, after which
	// the rest of from matches the empty string in ways ways.
	type site struct {
		from, to int
		ways     gSat
		at       Node
	}
	var sites []site
	var item func(from int, it Node, ways gSat)
	item = func(from int, it Node, ways gSat) {
		switch it := it.(type) {
		case *RefNode:
			sites = append(sites, site{from, x.of(it), ways, it})
		case *GroupNode:
			sites = append(sites, site{from, x.of(it), ways, it})
		case *RepeatNode:
			if it.Max == 0 {
				return
			}
			s := te(it.Expr)
			rest := gSat(1)
			if it.Max == Unbounded || it.Max > it.Min {
				rest = chainK(s, it.Max-it.Min, it.Max == Unbounded).e
				sites = append(sites, site{from, x.of(it), ways, it})
			}
			if it.Min > 0 {
				// The first of the inline copies has the most after it.
				f := gSat(1)
				for i := 1; i < it.Min && s.e > 1 && f < gSatMax; i++ {
					f = f.mulSat(s.e)
				}
				item(from, it.Expr, f.mulSat(rest).mulSat(ways))
			}
		}
	}
	seq := func(from int, items []Node) {
		ways := gSat(1)
		for i := len(items) - 1; i >= 0; i-- {
			item(from, items[i], ways)
			ways = te(items[i]).e.mulSat(ways)
		}
	}
	for id, n := range nodes {
		switch n := n.(type) {
		case *AltNode:
			for _, s := range n.Alts {
				seq(id, s.Items)
			}
		case *GroupNode:
			for _, s := range n.Body.Alts {
				seq(id, s.Items)
			}
		case *RepeatNode:
			// S'(k) ::= S S'(k-1) | : S has S'(k-1) after it.
			s := te(n.Expr)
			after := gSat(1)
			if n.Max != Unbounded {
				after = chainK(s, n.Max-n.Min-1, false).e
			}
			item(id, n.Expr, after)
			if n.Max == Unbounded {
				sites = append(sites, site{id, id, 1, n})
			}
		}
	}
	// Returning through a frame goes on to the frame below only if the
	// rest of the frame can match the empty string: the cycles that
	// multiply are those of such calls.
	edges := make([][]int32, len(nodes))
	for _, s := range sites {
		if s.ways > 0 {
			edges[s.from] = append(edges[s.from], int32(s.to))
		}
	}
	comp := gSCC(edges)
	for _, s := range sites {
		if s.ways > 1 && comp[s.from] == comp[s.to] {
			pos := s.at.Position()
			how := fmt.Sprint(s.ways)
			if s.ways >= gSatMax {
				how = "more than 2^60"
			}
			return &SyntaxError{Name: p.name, Line: pos.Line, Col: pos.Col, Offset: pos.Offset,
				Msg: fmt.Sprintf("after this recursive call the rest of the rule can match the empty string in %s ways: llama.cpp's work would multiply by that with each level the input nests", how), Err: ErrLimit}
		}
	}
	return nil
}

// gReachable returns the rules in force that root uses, itself included.
func gReachable(g *Grammar) map[string]bool {
	reach := map[string]bool{"root": true}
	queue := []string{"root"}
	var walk func(n Node)
	walk = func(n Node) {
		switch n := n.(type) {
		case *AltNode:
			for _, s := range n.Alts {
				for _, it := range s.Items {
					walk(it)
				}
			}
		case *RefNode:
			if !reach[n.Name] {
				reach[n.Name] = true
				queue = append(queue, n.Name)
			}
		case *GroupNode:
			walk(n.Body)
		case *RepeatNode:
			if n.Max > 0 {
				walk(n.Expr)
			}
		}
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		walk(g.byName[name].Expr)
	}
	return reach
}

// gSCC returns the strongly connected component of each node, by an
// iterative Tarjan's algorithm; a node on no cycle is alone in its
// component unless it has an edge to itself, which callers see as
// comp[a] == comp[a] for that edge anyway.
func gSCC(edges [][]int32) []int {
	n := len(edges)
	index := make([]int, n)
	low := make([]int, n)
	comp := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	next, ncomp := 0, 0
	type frame struct{ v, e int }
	var call []frame
	for root := 0; root < n; root++ {
		if index[root] >= 0 {
			continue
		}
		call = append(call[:0], frame{root, 0})
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.e < len(edges[f.v]) {
				w := int(edges[f.v][f.e])
				f.e++
				if index[w] < 0 {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, 0})
				} else if onStack[w] {
					low[f.v] = min(low[f.v], index[w])
				}
				continue
			}
			v := f.v
			call = call[:len(call)-1]
			if len(call) > 0 {
				u := call[len(call)-1].v
				low[u] = min(low[u], low[v])
			}
			if low[v] == index[v] {
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = ncomp
					if w == v {
						break
					}
				}
				ncomp++
			}
		}
	}
	return comp
}
