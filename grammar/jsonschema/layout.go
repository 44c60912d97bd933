package jsonschema

import (
	"errors"
	"slices"
	"sort"
	"strings"
)

// Layouts are the shapes the emitter writes for array and object
// alternatives: which node each item or member must match, split so that
// counting (contains, min/maxProperties) is a finite automaton over those
// nodes. The same layouts decide which nodes are empty, so the emitter
// never writes an alternative that cannot be completed: a grammar with a
// dead end would let a model start a value it can never finish.

// arrLayout: positions 0..len(items)-1 use items[i], later ones rest.
// With counters, each position offers categories: the item node narrowed
// to in or out of each counted node.
type arrLayout struct {
	items    []*snode
	rest     *snode
	min, max int // max < 0: unbounded
	counters []countC
	cats     [][]arrCat // per position class: 0..len(items)-1, then len(items) for rest
	unique   bool
	uniqueAt *sloc
}

type arrCat struct {
	n   *snode
	inc []bool // which counters this item adds to
}

// maxCountStates bounds the counting automata of arrays and objects;
// maxCounters, the count constraints ("contains") of one array.
const (
	maxCountStates = 4096
	maxCounters    = 6
)

func (c *compiler) arrLayoutOf(a *arrAlt) (*arrLayout, error) {
	if l, ok := c.layouts[a]; ok {
		return l.(*arrLayout), nil
	}
	l := &arrLayout{items: a.prefix, rest: a.rest, min: a.min, max: a.max, counters: a.contains, unique: a.unique, uniqueAt: a.uniqueAt}
	if len(l.counters) > 0 {
		// Extend the prefix with rest up to the largest "from", so that
		// every counter applies uniformly beyond the prefix.
		p := len(l.items)
		for _, cc := range l.counters {
			p = max(p, cc.from)
		}
		if l.max >= 0 {
			p = min(p, l.max)
		}
		for len(l.items) < p {
			l.items = append(l.items, l.rest)
		}
		if len(l.counters) > maxCounters {
			// Lenient: fewer counts is a larger set.
			if !c.lenient {
				return nil, ErrTooComplex
			}
			l.counters = l.counters[:maxCounters]
		}
		for i := 0; i <= len(l.items); i++ {
			item := l.rest
			if i < len(l.items) {
				item = l.items[i]
			}
			var cats []arrCat
			var applies []int
			for j, cc := range l.counters {
				if i >= cc.from {
					applies = append(applies, j)
				}
			}
			for mask := 0; mask < 1<<len(applies); mask++ {
				parts := []*snode{item}
				inc := make([]bool, len(l.counters))
				for b, j := range applies {
					if mask&(1<<b) != 0 {
						parts = append(parts, l.counters[j].n)
						inc[j] = true
						continue
					}
					nn, err := c.not(l.counters[j].n, nil, "contains")
					if err != nil {
						return nil, err
					}
					parts = append(parts, nn)
				}
				n, err := c.and(parts...)
				if err != nil {
					return nil, err
				}
				if n != c.noneN {
					cats = append(cats, arrCat{n: n, inc: inc})
				}
			}
			l.cats = append(l.cats, cats)
		}
	}
	c.layouts[a] = l
	return l, nil
}

// countState is a state of an array's counting automaton.
type countState struct {
	i      int   // position, saturated
	counts []int // per counter, saturated
}

// top is the largest position the counting automaton tells apart; past it
// positions are equivalent.
func (l *arrLayout) top() int {
	if l.max >= 0 {
		return l.max
	}
	// At least 1, so that the first item (no comma before it) is told
	// apart from the others.
	return max(len(l.items), l.min, 1)
}

func (l *arrLayout) caps() []int {
	caps := make([]int, len(l.counters))
	for j, cc := range l.counters {
		if cc.max >= 0 {
			caps[j] = cc.max
		} else {
			caps[j] = cc.min
		}
	}
	return caps
}

func (l *arrLayout) accepting(s countState) bool {
	if s.i < l.min {
		return false
	}
	for j, cc := range l.counters {
		if s.counts[j] < cc.min {
			return false
		}
	}
	return true
}

func (l *arrLayout) catsAt(i int) []arrCat {
	if i < len(l.items) {
		return l.cats[i]
	}
	return l.cats[len(l.items)]
}

func (l *arrLayout) stateKey(s countState) int {
	k := s.i
	caps := l.caps()
	for j, v := range s.counts {
		k = k*(caps[j]+1) + v
	}
	return k
}

// step returns the successor of s after an item of category cat, or false.
func (l *arrLayout) step(s countState, cat arrCat) (countState, bool) {
	if l.max >= 0 && s.i >= l.max {
		return countState{}, false
	}
	caps := l.caps()
	next := countState{i: s.i + 1, counts: make([]int, len(s.counts))}
	if next.i > l.top() {
		next.i = l.top()
	}
	for j, v := range s.counts {
		if cat.inc[j] {
			v++
			if v > caps[j] {
				if l.counters[j].max >= 0 {
					return countState{}, false
				}
				v = caps[j]
			}
		}
		next.counts[j] = v
	}
	return next, true
}

func (l *arrLayout) numStates() int {
	n := l.top() + 1
	for _, cp := range l.caps() {
		n *= cp + 1
		if n > maxCountStates {
			return n
		}
	}
	return n
}

// liveStates returns, for the counting automaton restricted to categories
// whose node passes ok, the set of states from which acceptance is
// reachable (keyed by stateKey), and whether the start state is live.
func (l *arrLayout) liveStates(ok func(*snode) bool) (map[int]bool, []countState, bool) {
	start := countState{counts: make([]int, len(l.counters))}
	seen := map[int]bool{l.stateKey(start): true}
	order := []countState{start}
	succ := map[int][]int{}
	for q := 0; q < len(order); q++ {
		s := order[q]
		ks := l.stateKey(s)
		for _, cat := range l.catsAt(s.i) {
			if !ok(cat.n) {
				continue
			}
			t, good := l.step(s, cat)
			if !good {
				continue
			}
			kt := l.stateKey(t)
			succ[ks] = append(succ[ks], kt)
			if !seen[kt] {
				seen[kt] = true
				order = append(order, t)
			}
		}
	}
	live := map[int]bool{}
	for _, s := range order {
		if l.accepting(s) {
			live[l.stateKey(s)] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, s := range order {
			ks := l.stateKey(s)
			if live[ks] {
				continue
			}
			for _, kt := range succ[ks] {
				if live[kt] {
					live[ks] = true
					changed = true
					break
				}
			}
		}
	}
	return live, order, live[l.stateKey(start)]
}

// productive reports whether some array fits the layout, given which
// nodes are known non-empty.
func (l *arrLayout) productive(ok func(*snode) bool) bool {
	if len(l.counters) == 0 {
		// The longest usable length is cut by the first empty item.
		limit := -1 // unbounded
		for i, n := range l.items {
			if !ok(n) {
				limit = i
				break
			}
		}
		if limit < 0 && !ok(l.rest) {
			limit = len(l.items)
		}
		return l.min <= minBound(limit, l.max) || (limit < 0 && l.max < 0)
	}
	if l.numStates() > maxCountStates {
		return true // emission will report the size
	}
	_, _, live := l.liveStates(ok)
	return live
}

// objLayout: the named members in order, then regions of other keys.
type objLayout struct {
	props      []objProp // required or optional named members; forbidden ones dropped
	regions    []objRegion
	minP, maxP int
	dead       bool // a required member is forbidden
	// With existentials (exists > 0), members are split by which of them
	// they satisfy, and the object is a counting automaton over that.
	exists   int
	propCats [][]objCat    // per named member
	addGroup []objAddGroup // other members, grouped by what they satisfy
}

// objCat is a member value set and the existentials its members satisfy.
type objCat struct {
	n   *snode
	add uint32
}

type objAddGroup struct {
	add     uint32
	members []objRegion
}

type objRegion struct {
	keys *strSet
	n    *snode
}

// otherKeys is the set of keys not among names, once per set of names:
// the alternatives of an object (and a hull of them) name the same
// properties over and over, and the complement of a large set of words is
// a costly automaton.
func (c *compiler) otherKeys(names []string) (*strSet, error) {
	key := strings.Join(slices.Sorted(slices.Values(names)), "\x00")
	if s, ok := c.others[key]; ok {
		return s, nil
	}
	s, err := strNot(strWords(names...))
	if err != nil {
		return nil, err
	}
	if c.others == nil {
		c.others = map[string]*strSet{}
	}
	c.others[key] = s
	return s, nil
}

// maxRules bounds the rules of one object (the regions are subsets of them).
const maxRules = 8

func (c *compiler) objLayoutOf(o *objAlt) (*objLayout, error) {
	if l, ok := c.layouts[o]; ok {
		return l.(*objLayout), nil
	}
	l := &objLayout{minP: o.minP, maxP: o.maxP}
	var named []string
	for _, p := range o.props {
		named = append(named, p.name)
		if p.n == c.noneN {
			if p.required {
				l.dead = true
			}
			continue
		}
		if o.names != nil {
			ok, err := o.names.accepts(p.name)
			if err != nil {
				return nil, err
			}
			if !ok {
				if p.required {
					l.dead = true
				}
				continue
			}
		}
		l.props = append(l.props, p)
	}
	switch c.opts.PropertyOrder {
	case PropertyOrderRequiredFirst:
		sort.SliceStable(l.props, func(i, j int) bool { return l.props[i].required && !l.props[j].required })
	case PropertyOrderSorted:
		sort.SliceStable(l.props, func(i, j int) bool { return l.props[i].name < l.props[j].name })
	}
	// Keys not named: split by which rules hold them.
	others := strAll()
	if len(named) > 0 {
		nx, err := c.otherKeys(named)
		if err != nil {
			return nil, err
		}
		others = nx
	}
	if o.names != nil {
		var err error
		if others, err = strAnd(others, o.names); err != nil {
			return nil, err
		}
	}
	rules := o.rules
	if len(rules) > maxRules {
		// Lenient: fewer rules on the keys not named is a larger set.
		if !c.lenient {
			return nil, ErrTooComplex
		}
		rules = rules[:maxRules]
	}
	// Each subset of the rules (a mask, bit i for rules[i]) holds the keys
	// that match exactly those rules. The walk decides the rules from the
	// last to the first, so that a partial intersection is shared by every
	// mask that extends it, an empty one prunes all of them, and the
	// regions come out in increasing mask order.
	var extra []objProp
	negs := make([]*strSet, len(rules)) // complements of the rules' keys, made once
	negDone := make([]bool, len(rules))
	region := func(mask int, keys *strSet) error {
		var ns []*snode
		for i, r := range rules {
			if mask&(1<<i) != 0 {
				ns = append(ns, r.n)
			}
		}
		n, err := c.and(ns...)
		if err != nil {
			return err
		}
		if n == c.noneN {
			return nil
		}
		if empty, known := keys.empty(); empty && known {
			return nil
		}
		// A small finite key set becomes optional named members: exact
		// counting, and no key can repeat.
		if keys.d != nil || len(keys.atoms) > 0 {
			if d, err := keys.toDFA(); err == nil {
				if words, fin := d.FiniteWords(32); fin {
					sort.Strings(words)
					for _, w := range words {
						extra = append(extra, objProp{name: w, n: n})
					}
					return nil
				}
			}
		}
		l.regions = append(l.regions, objRegion{keys: keys, n: n})
		return nil
	}
	var walk func(i, mask int, keys *strSet) error
	walk = func(i, mask int, keys *strSet) error {
		if keys == nil {
			return nil
		}
		if i < 0 {
			return region(mask, keys)
		}
		r := rules[i]
		if !negDone[i] {
			nk, err := strNot(r.keys)
			if err != nil {
				return err
			}
			negs[i], negDone[i] = nk, true
		}
		out, err := strAnd(keys, negs[i]) // nil when negs[i] is (no string)
		if err != nil {
			return err
		}
		if err := walk(i-1, mask, out); err != nil {
			return err
		}
		in, err := strAnd(keys, r.keys)
		if err != nil {
			return err
		}
		return walk(i-1, mask|1<<i, in)
	}
	if err := walk(len(rules)-1, 0, others); err != nil {
		return nil, err
	}
	l.props = append(l.props, extra...)
	if len(o.exists) > 0 {
		if err := c.splitExists(o, l); err != nil {
			return nil, err
		}
	}
	c.layouts[o] = l
	return l, nil
}

// splitExists splits the members of l by the existentials of o they
// satisfy.
func (c *compiler) splitExists(o *objAlt, l *objLayout) error {
	k := len(o.exists)
	l.exists = k
	// cats narrows n to each subset of the existentials in applies.
	cats := func(n *snode, applies []int) ([]objCat, error) {
		var out []objCat
		for mask := 0; mask < 1<<len(applies); mask++ {
			parts := []*snode{n}
			var add uint32
			for b, j := range applies {
				if mask&(1<<b) != 0 {
					parts = append(parts, o.exists[j].n)
					add |= 1 << j
					continue
				}
				nn, err := c.not(o.exists[j].n, nil, "not")
				if err != nil {
					return nil, err
				}
				parts = append(parts, nn)
			}
			x, err := c.and(parts...)
			if err != nil {
				return nil, err
			}
			if x != c.noneN {
				out = append(out, objCat{n: x, add: add})
			}
		}
		return out, nil
	}
	for _, p := range l.props {
		var applies []int
		for j, x := range o.exists {
			ok, err := x.keys.accepts(p.name)
			if err != nil {
				return err
			}
			if ok {
				applies = append(applies, j)
			}
		}
		pc, err := cats(p.n, applies)
		if err != nil {
			return err
		}
		l.propCats = append(l.propCats, pc)
	}
	groups := map[uint32]int{}
	for _, r := range l.regions {
		for t := 0; t < 1<<k; t++ {
			keys := r.keys
			var applies []int
			for j, x := range o.exists {
				var err error
				if t&(1<<j) != 0 {
					keys, err = strAnd(keys, x.keys)
					applies = append(applies, j)
				} else {
					var nk *strSet
					if nk, err = strNot(x.keys); err == nil {
						keys, err = strAnd(keys, nk)
					}
				}
				if err != nil {
					return err
				}
				if keys == nil {
					break
				}
			}
			if keys == nil {
				continue
			}
			if empty, known := keys.empty(); empty && known {
				continue
			}
			rc, err := cats(r.n, applies)
			if err != nil {
				return err
			}
			for _, cat := range rc {
				g, ok := groups[cat.add]
				if !ok {
					g = len(l.addGroup)
					groups[cat.add] = g
					l.addGroup = append(l.addGroup, objAddGroup{add: cat.add})
				}
				l.addGroup[g].members = append(l.addGroup[g].members, objRegion{keys: keys, n: cat.n})
			}
		}
	}
	return nil
}

// objState is a state of an object's counting automaton: the next named
// member, the members so far (saturated) and the existentials satisfied.
type objState struct {
	i, cnt int
	mask   uint32
}

// objTop is the count past which counts are equivalent.
func (l *objLayout) objTop() int {
	if l.maxP >= 0 {
		return l.maxP
	}
	return max(l.minP, 1)
}

func (l *objLayout) nextCount(cnt int) (int, bool) {
	if l.maxP >= 0 && cnt >= l.maxP {
		return 0, false
	}
	return min(cnt+1, l.objTop()), true
}

// objEdge is a transition: a member of category cat (named member i, or
// an additional member of group g when i < 0).
type objEdge struct {
	to  objState
	cat objCat
	i   int
	g   int
}

// existStates explores the automaton of a layout with existentials,
// using only member nodes that pass ok. It returns the states in
// discovery order, their edges, and which states can reach acceptance.
func (l *objLayout) existStates(ok func(*snode) bool) ([]objState, map[objState][]objEdge, map[objState]bool, error) {
	n := len(l.props)
	full := uint32(1)<<l.exists - 1
	if (n+1)*(l.objTop()+1)<<l.exists > maxCountStates {
		return nil, nil, nil, ErrTooComplex
	}
	start := objState{}
	seen := map[objState]bool{start: true}
	order := []objState{start}
	edges := map[objState][]objEdge{}
	add := func(from objState, e objEdge) {
		edges[from] = append(edges[from], e)
		if !seen[e.to] {
			seen[e.to] = true
			order = append(order, e.to)
		}
	}
	for q := 0; q < len(order); q++ {
		s := order[q]
		nc, canAdd := l.nextCount(s.cnt)
		if s.i < n {
			if canAdd {
				for _, cat := range l.propCats[s.i] {
					if ok(cat.n) {
						add(s, objEdge{to: objState{s.i + 1, nc, s.mask | cat.add}, cat: cat, i: s.i, g: -1})
					}
				}
			}
			if !l.props[s.i].required {
				add(s, objEdge{to: objState{s.i + 1, s.cnt, s.mask}, i: -1, g: -1})
			}
			continue
		}
		if !canAdd {
			continue
		}
		for g, grp := range l.addGroup {
			for _, m := range grp.members {
				if ok(m.n) {
					add(s, objEdge{to: objState{n, nc, s.mask | grp.add}, i: -1, g: g})
					break
				}
			}
		}
	}
	live := map[objState]bool{}
	for _, s := range order {
		if s.i == n && s.cnt >= l.minP && s.mask == full {
			live[s] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, s := range order {
			if live[s] {
				continue
			}
			for _, e := range edges[s] {
				if live[e.to] {
					live[s] = true
					changed = true
					break
				}
			}
		}
	}
	return order, edges, live, nil
}

func (l *objLayout) productive(ok func(*snode) bool) bool {
	if l.dead {
		return false
	}
	if l.exists > 0 {
		_, _, live, err := l.existStates(ok)
		return err != nil || live[objState{}] // too large: emission reports it
	}
	req, opt := 0, 0
	for _, p := range l.props {
		switch {
		case p.required && !ok(p.n):
			return false
		case p.required:
			req++
		case ok(p.n):
			opt++
		}
	}
	unbounded := false
	for _, r := range l.regions {
		if ok(r.n) {
			unbounded = true
		}
	}
	if l.maxP >= 0 && req > l.maxP {
		return false
	}
	return unbounded || req+opt >= l.minP
}

// children lists the nodes a vset refers to, through its layouts.
func (c *compiler) children(v *vset) ([]*snode, error) {
	var out []*snode
	for _, a := range v.arrs {
		l, err := c.arrLayoutOf(a)
		if err != nil {
			return nil, err
		}
		if len(l.counters) > 0 {
			for _, cats := range l.cats {
				for _, cat := range cats {
					out = append(out, cat.n)
				}
			}
			continue
		}
		out = append(out, l.items...)
		out = append(out, l.rest)
	}
	for _, o := range v.objs {
		l, err := c.objLayoutOf(o)
		if err != nil {
			return nil, err
		}
		if l.exists > 0 {
			for _, pc := range l.propCats {
				for _, cat := range pc {
					out = append(out, cat.n)
				}
			}
			for _, g := range l.addGroup {
				for _, m := range g.members {
					out = append(out, m.n)
				}
			}
			continue
		}
		for _, p := range l.props {
			out = append(out, p.n)
		}
		for _, r := range l.regions {
			out = append(out, r.n)
		}
	}
	return out, nil
}

func (c *compiler) vsetProductive(v *vset, ok func(*snode) bool) (bool, error) {
	if v.null || v.bools != 0 || v.num != nil {
		return true, nil
	}
	if v.str != nil {
		if empty, known := v.str.empty(); !empty || !known {
			return true, nil
		}
	}
	for _, a := range v.arrs {
		l, err := c.arrLayoutOf(a)
		if err != nil {
			return false, err
		}
		if l.productive(ok) {
			return true, nil
		}
	}
	for _, o := range v.objs {
		l, err := c.objLayoutOf(o)
		if err != nil {
			return false, err
		}
		if l.productive(ok) {
			return true, nil
		}
	}
	return false, nil
}

// errEmptyUnknown: isEmpty was asked about a node whose definition is
// still being compiled; nothing is cached.
var errEmptyUnknown = errors.New("jsonschema: emptiness not known yet")

// isEmpty reports whether n denotes no value. It settles every node
// reachable from n at once (a least fixpoint: a node has members only if
// it can be built from members of its children).
func (c *compiler) isEmpty(n *snode) (bool, error) {
	if n.prod != 0 {
		return n.prod == 2, nil
	}
	c.speculative = append(c.speculative, c.seq)
	defer func() { c.speculative = c.speculative[:len(c.speculative)-1] }()
	var list []*snode
	// Definitions still in progress (the question comes from inside one,
	// as oneOf asks) are assumed to have members. Assuming more members
	// only adds members, so what comes out empty is empty; what comes
	// out with members is not known.
	assumed := map[*snode]bool{}
	seen := map[*snode]bool{n: true}
	stack := []*snode{n}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x.state == 1 {
			assumed[x] = true
			continue
		}
		v, err := c.force(x)
		if err == errEmptyUnknown {
			assumed[x] = true
			continue
		}
		if err != nil {
			return false, err
		}
		list = append(list, x)
		kids, err := c.children(v)
		if err != nil {
			return false, c.locate(err, x)
		}
		for _, k := range kids {
			if k.prod == 0 && !seen[k] {
				seen[k] = true
				stack = append(stack, k)
			}
		}
	}
	prod := map[*snode]bool{}
	ok := func(x *snode) bool { return x.prod == 1 || prod[x] || assumed[x] }
	for changed := true; changed; {
		changed = false
		for _, x := range list {
			if prod[x] {
				continue
			}
			p, err := c.vsetProductive(x.v, ok)
			if err != nil {
				return false, c.locate(err, x)
			}
			if p {
				prod[x] = true
				changed = true
			}
		}
	}
	for _, x := range list {
		switch {
		case !prod[x]:
			x.prod = 2
		case len(assumed) == 0:
			x.prod = 1
		}
	}
	if assumed[n] || (n.prod == 0 && len(assumed) > 0) {
		return false, errEmptyUnknown
	}
	return n.prod == 2, nil
}
