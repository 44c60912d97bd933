package jsonschema

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The compiler's middle layer. A schema becomes a graph of nodes; each node
// denotes a set of JSON values and, once forced, holds a vset: the set split
// by JSON type. Scalars are exact regular languages (numSet, strSet);
// arrays and objects are unions of alternatives whose members refer to
// other nodes, so recursion through $ref is a cycle in the graph and each
// subschema is compiled once. Nodes are built for schema locations and for
// the boolean combinations of other nodes (and, or, not), memoized by their
// operands, so intersecting or complementing recursive schemas terminates.

type nodeKind uint8

const (
	nkSchema nodeKind = iota // the schema at loc
	nkAnd
	nkOr
	nkNot
	nkFixed // v given at creation
)

type snode struct {
	id    int
	kind  nodeKind
	loc   *sloc
	scope *dynScope // dynamic scope, for $dynamicRef
	args  []*snode
	under bool // lenient mode: approximate from below (inside "not")
	own   bool // only the schema's own keywords, not its in-place applicators
	v     *vset
	state uint8 // 0 new, 1 computing, 2 done
	err   error
	hint  string // rule name hint
	// origin names the keyword that created a not-node, for errors.
	origin *sloc
	kw     string
	// productivity: 0 unknown, 1 has members, 2 empty.
	prod int8
	// started orders the nodes by when their compilation began.
	started int
}

// vset is a set of JSON values split by type. nil pointers and empty
// slices are the empty set for that type.
type vset struct {
	null  bool
	bools uint8 // bit 0: false, bit 1: true
	num   *numSet
	str   *strSet
	arrs  []*arrAlt
	objs  []*objAlt
}

// arrAlt is a set of arrays: item i must be in prefix[i] (or rest beyond
// the prefix), the length is between min and max (max < 0: unbounded), and
// for each count constraint the number of items (from index from on) in
// the node is between its min and max.
type arrAlt struct {
	prefix   []*snode
	rest     *snode
	min, max int
	contains []countC
	unique   bool
	uniqueAt *sloc
}

type countC struct {
	n        *snode
	min, max int
	from     int
}

// objAlt is a set of objects. Each named property, when present, has a
// value in its node (a none node forbids the name); required ones must be
// present. A key that is not named must have a value in every rule whose
// key set holds it, and must be in names when names is set.
type objAlt struct {
	props      []objProp
	rules      []keyRule
	names      *strSet // propertyNames; nil: any name
	minP, maxP int
	// exists: for each, some member (named or not) has a key in keys and
	// a value in n. These come from complements ("some property breaks
	// additionalProperties").
	exists []keyRule
}

type objProp struct {
	name     string
	n        *snode
	required bool
}

type keyRule struct {
	keys *strSet
	n    *snode
}

// Limits on the work one compilation may do.
const (
	maxExists    = 4
	maxNodes     = 20000
	maxAlts      = 256
	maxRuleCount = 100000
)

type compiler struct {
	opts    Options
	reg     *registry
	nodes   []*snode
	memo    map[string]*snode
	anyN    *snode
	noneN   *snode
	lenient bool
	layouts map[any]any
	others  map[string]*strSet // keys not among a set of names (otherKeys)
	steps   int
	// speculative holds, per emptiness question in progress, the
	// sequence number of the last node started before it was asked.
	speculative []int
	seq         int
}

func newCompiler(opts Options, reg *registry) *compiler {
	c := &compiler{opts: opts, reg: reg, memo: map[string]*snode{}, lenient: opts.Lenient, layouts: map[any]any{}}
	v := vAny()
	c.anyN = c.fixed(v, "value")
	v.arrs[0].rest = c.anyN
	c.noneN = c.fixed(&vset{}, "none")
	return c
}

// vAnyFull is every value, its arrays' items any value.
func (c *compiler) vAnyFull() *vset {
	v := vAny()
	v.arrs[0].rest = c.anyN
	return v
}

// vAny is every value; its array alternative's rest must be set to the
// compiler's any node (see vAnyFull).
func vAny() *vset {
	return &vset{null: true, bools: 3, num: numAll(), str: strAll(), arrs: []*arrAlt{anyArrAlt(nil)}, objs: []*objAlt{{maxP: -1}}}
}

func anyArrAlt(rest *snode) *arrAlt { return &arrAlt{rest: rest, max: -1} }

func (c *compiler) newNode(n *snode) (*snode, error) {
	if len(c.nodes) >= maxNodes {
		return nil, ErrTooComplex
	}
	n.id = len(c.nodes)
	c.nodes = append(c.nodes, n)
	return n, nil
}

func (c *compiler) fixed(v *vset, hint string) *snode {
	n := &snode{kind: nkFixed, v: v, state: 2, hint: hint}
	n.id = len(c.nodes)
	c.nodes = append(c.nodes, n)
	return n
}

// schemaNode is the node of the schema at loc (memoized).
func (c *compiler) schemaNode(loc *sloc, under bool, scope *dynScope) (*snode, error) {
	return c.schemaNodeOwn(loc, under, scope, false)
}

// schemaNodeOwn with own set is the schema's own keywords only, without
// its in-place applicators (for unevaluatedProperties and unevaluatedItems).
func (c *compiler) schemaNodeOwn(loc *sloc, under bool, scope *dynScope, own bool) (*snode, error) {
	if b, ok := loc.val.(bool); ok {
		if b {
			return c.anyN, nil
		}
		return c.noneN, nil
	}
	if !c.lenient {
		under = false
	}
	inner := scope.enter(c.reg, loc)
	key := "s:" + loc.doc.uri + "#" + loc.ptr + "|" + strconv.FormatBool(under) + "|" + inner.key()
	if own {
		key = "own:" + key
	}
	if n, ok := c.memo[key]; ok {
		return n, nil
	}
	n, err := c.newNode(&snode{kind: nkSchema, loc: loc, under: under, scope: inner, own: own, hint: hintOf(loc)})
	if err != nil {
		return nil, err
	}
	c.memo[key] = n
	return n, nil
}

func hintOf(loc *sloc) string {
	p := loc.ptr
	if p == "" {
		return "root"
	}
	toks := strings.Split(p, "/")
	// Keep the last two meaningful tokens: "properties/name" -> "name".
	var keep []string
	for i := len(toks) - 1; i >= 1 && len(keep) < 2; i-- {
		t := toks[i]
		if _, err := strconv.ParseUint(t, 10, 64); err == nil && i > 1 {
			// An array index names nothing alone: "oneOf/1" -> "oneof1".
			i--
			keep = append([]string{strings.ToLower(toks[i]) + t}, keep...)
			continue
		}
		switch t {
		case "properties", "$defs", "definitions", "items", "prefixItems", "allOf", "anyOf", "oneOf",
			"patternProperties", "additionalProperties", "dependentSchemas":
			if len(keep) > 0 {
				continue
			}
		}
		keep = append([]string{t}, keep...)
	}
	return strings.Join(keep, "-")
}

func nodeIDs(ns []*snode) string {
	var b strings.Builder
	for _, n := range ns {
		b.WriteString(strconv.Itoa(n.id))
		b.WriteByte(',')
	}
	return b.String()
}

// and is the intersection of nodes, flattened, deduplicated and memoized.
func (c *compiler) and(ns ...*snode) (*snode, error) {
	return c.combine(nkAnd, "and:", c.noneN, c.anyN, ns)
}

// or is the union of nodes, flattened, deduplicated and memoized.
func (c *compiler) or(ns ...*snode) (*snode, error) {
	return c.combine(nkOr, "or:", c.anyN, c.noneN, ns)
}

// combine builds an and or an or node: absorbing (none for and, any for
// or) decides it alone, identity drops out, nested nodes of the same kind
// are flattened, and each distinct set of arguments is made once.
func (c *compiler) combine(kind nodeKind, prefix string, absorbing, identity *snode, ns []*snode) (*snode, error) {
	var flat []*snode
	for _, n := range ns {
		switch {
		case n == absorbing:
			return absorbing, nil
		case n == identity:
			continue
		case n.kind == kind:
			flat = append(flat, n.args...)
		default:
			flat = append(flat, n)
		}
	}
	slices.SortFunc(flat, func(a, b *snode) int { return a.id - b.id })
	flat = slices.Compact(flat)
	switch len(flat) {
	case 0:
		return identity, nil
	case 1:
		return flat[0], nil
	}
	key := prefix + nodeIDs(flat)
	if n, ok := c.memo[key]; ok {
		return n, nil
	}
	n, err := c.newNode(&snode{kind: kind, args: flat, under: flat[0].under, hint: flat[0].hint})
	if err != nil {
		return nil, err
	}
	c.memo[key] = n
	return n, nil
}

// not is the complement of n. origin and kw name the keyword responsible,
// for errors when the complement cannot be expressed.
func (c *compiler) not(n *snode, origin *sloc, kw string) (*snode, error) {
	switch {
	case n == c.anyN:
		return c.noneN, nil
	case n == c.noneN:
		return c.anyN, nil
	case n.kind == nkNot:
		return n.args[0], nil
	}
	key := "not:" + strconv.Itoa(n.id)
	if m, ok := c.memo[key]; ok {
		return m, nil
	}
	m, err := c.newNode(&snode{kind: nkNot, args: []*snode{n}, under: c.lenient && !n.under, hint: "not-" + n.hint, origin: origin, kw: kw})
	if err != nil {
		return nil, err
	}
	c.memo[key] = m
	return m, nil
}

// force computes the vset of n.
func (c *compiler) force(n *snode) (*vset, error) {
	switch n.state {
	case 2:
		return n.v, n.err
	case 1:
		if k := len(c.speculative); k > 0 && n.started <= c.speculative[k-1] {
			// An emptiness question reached a definition that was in
			// progress before it was asked: no answer yet. (A node
			// started within the question is a true in-place cycle.)
			return nil, errEmptyUnknown
		}
		if c.lenient {
			// Lenient: the cycle adds nothing the rest of the schema does
			// not say; from below, it admits nothing.
			if n.under {
				return &vset{}, nil
			}
			return c.vAnyFull(), nil
		}
		loc := n.loc
		if loc == nil {
			loc = n.origin
		}
		ptr := ""
		if loc != nil {
			ptr = loc.ptr
		}
		return nil, &SchemaError{Pointer: ptr, Keyword: "$ref", Msg: "reference cycle that never descends into an array or object: the schema is infinitely recursive"}
	}
	c.steps++
	if c.steps > 4*maxNodes {
		return nil, &SchemaError{Msg: "schema too complex", Err: ErrTooComplex}
	}
	n.state = 1
	c.seq++
	n.started = c.seq
	var v *vset
	var err error
	switch n.kind {
	case nkSchema:
		v, err = c.compileSchema(n)
	case nkAnd:
		v, err = c.fold(n, c.vAnd)
	case nkOr:
		v, err = c.fold(n, c.vOr)
	case nkNot:
		var w *vset
		if w, err = c.force(n.args[0]); err == nil {
			v, err = c.vNot(w, n)
		}
	}
	if err == nil && v != nil {
		if v.arrs, err = limitAlts(c, v.arrs, n.under, c.hullArrs); err == nil {
			v.objs, err = limitAlts(c, v.objs, n.under, c.hullObjs)
		}
	}
	if err == errEmptyUnknown {
		n.state = 0 // not settled: compile it again when asked outside
		return nil, err
	}
	if err != nil {
		err = c.locate(err, n)
	}
	n.v, n.err, n.state = v, err, 2
	return v, err
}

// locate gives a bare error the location of the node that failed.
func (c *compiler) locate(err error, n *snode) error {
	if _, ok := err.(*SchemaError); ok || err == errEmptyUnknown {
		return err
	}
	loc, kw := n.loc, ""
	if loc == nil {
		loc, kw = n.origin, n.kw
	}
	se := &SchemaError{Msg: err.Error(), Err: err, Keyword: kw}
	if err == ErrTooComplex {
		se.Msg = "schema too complex to compile within the limits"
	}
	if loc != nil {
		se.Pointer = loc.ptr
	}
	return se
}

// vAnd intersects two sets; under says which way lenient mode
// approximates unions of alternatives past the limits (see approx.go).
// fold forces n's arguments in order and combines them left to right with
// op (vAnd or vOr), stopping at the first error.
func (c *compiler) fold(n *snode, op func(a, b *vset, under bool) (*vset, error)) (*vset, error) {
	v, err := c.force(n.args[0])
	for _, a := range n.args[1:] {
		if err != nil {
			return nil, err
		}
		var w *vset
		if w, err = c.force(a); err == nil {
			v, err = op(v, w, n.under)
		}
	}
	return v, err
}

func (c *compiler) vAnd(a, b *vset, under bool) (*vset, error) {
	if c.isAnyVset(a) {
		return b, nil
	}
	if c.isAnyVset(b) {
		return a, nil
	}
	out := &vset{null: a.null && b.null, bools: a.bools & b.bools}
	var err error
	if out.num, err = numAnd(a.num, b.num); err != nil {
		return nil, err
	}
	if out.str, err = strAnd(a.str, b.str); err != nil {
		if out.str, err = c.strTooComplex(err, under, a.str, nil); err != nil {
			return nil, err
		}
	}
	if out.arrs, err = crossAnd(c, a.arrs, b.arrs, under, c.hullArrs, func(x, y *arrAlt) (*arrAlt, bool, error) {
		z, err := c.arrAnd(x, y)
		return z, z != nil, err
	}); err != nil {
		return nil, err
	}
	if out.objs, err = crossAnd(c, a.objs, b.objs, under, c.hullObjs, func(x, y *objAlt) (*objAlt, bool, error) {
		z, err := c.objAnd(x, y, under)
		return z, z != nil, err
	}); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *compiler) vOr(a, b *vset, under bool) (*vset, error) {
	out := &vset{null: a.null || b.null, bools: a.bools | b.bools}
	var err error
	if out.num, err = numOr(a.num, b.num); err != nil {
		return nil, err
	}
	if out.str, err = strOr(a.str, b.str); err != nil {
		if out.str, err = c.strTooComplex(err, under, strAll(), a.str); err != nil {
			return nil, err
		}
	}
	if out.arrs, err = limitAlts(c, c.unionArrs(a.arrs, b.arrs), under, c.hullArrs); err != nil {
		return nil, err
	}
	if out.objs, err = limitAlts(c, c.unionObjs(a.objs, b.objs), under, c.hullObjs); err != nil {
		return nil, err
	}
	return out, nil
}

// isAnyVset reports whether v is syntactically every value.
func (c *compiler) isAnyVset(v *vset) bool {
	return v.null && v.bools == 3 && v.num != nil && v.num.all && v.str.isAll() &&
		len(v.arrs) == 1 && c.isAllArrays(v.arrs[0]) && len(v.objs) == 1 && c.isAllObjects(v.objs[0])
}

// isAllArrays reports whether alt is syntactically every array.
func (c *compiler) isAllArrays(a *arrAlt) bool {
	return len(a.prefix) == 0 && a.rest == c.anyN && a.min == 0 && a.max < 0 && len(a.contains) == 0 && !a.unique
}

func (c *compiler) isAllObjects(o *objAlt) bool {
	return len(o.props) == 0 && len(o.rules) == 0 && o.names == nil && o.minP == 0 && o.maxP < 0 && len(o.exists) == 0
}

func (c *compiler) unionArrs(a, b []*arrAlt) []*arrAlt {
	for _, x := range append(slices.Clone(a), b...) {
		if c.isAllArrays(x) {
			return []*arrAlt{x}
		}
	}
	return append(slices.Clone(a), b...)
}

func (c *compiler) unionObjs(a, b []*objAlt) []*objAlt {
	for _, x := range append(slices.Clone(a), b...) {
		if c.isAllObjects(x) {
			return []*objAlt{x}
		}
	}
	return append(slices.Clone(a), b...)
}

func (a *arrAlt) item(i int) *snode {
	if i < len(a.prefix) {
		return a.prefix[i]
	}
	return a.rest
}

func minBound(a, b int) int { // for maxima where < 0 is unbounded
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	}
	return min(a, b)
}

func (c *compiler) arrAnd(a, b *arrAlt) (*arrAlt, error) {
	out := &arrAlt{min: max(a.min, b.min), max: minBound(a.max, b.max), unique: a.unique || b.unique}
	out.uniqueAt = a.uniqueAt
	if out.uniqueAt == nil {
		out.uniqueAt = b.uniqueAt
	}
	p := max(len(a.prefix), len(b.prefix))
	for i := 0; i < p; i++ {
		n, err := c.and(a.item(i), b.item(i))
		if err != nil {
			return nil, err
		}
		out.prefix = append(out.prefix, n)
	}
	rest, err := c.and(a.rest, b.rest)
	if err != nil {
		return nil, err
	}
	out.rest = rest
	out.contains = append(slices.Clone(a.contains), b.contains...)
	return out.normalize(c), nil
}

// normalize applies what is syntactically evident: a none item caps the
// length, and the prefix never runs past the maximum.
func (a *arrAlt) normalize(c *compiler) *arrAlt {
	for i, n := range a.prefix {
		if n == c.noneN {
			a.max = minBound(a.max, i)
			a.prefix = a.prefix[:i]
			a.rest = c.noneN
			break
		}
	}
	if a.rest == c.noneN {
		a.max = minBound(a.max, len(a.prefix))
	}
	if a.max >= 0 && len(a.prefix) > a.max {
		a.prefix = a.prefix[:a.max]
	}
	if a.max >= 0 && a.min > a.max {
		return nil
	}
	for _, cc := range a.contains {
		if cc.max >= 0 && cc.min > cc.max {
			return nil
		}
	}
	return a
}

// val is the node a key's value must be in, under o.
func (c *compiler) val(o *objAlt, name string) (*snode, bool, error) {
	for _, p := range o.props {
		if p.name == name {
			return p.n, p.required, nil
		}
	}
	if o.names != nil {
		ok, err := o.names.accepts(name)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			return c.noneN, false, nil
		}
	}
	var ns []*snode
	for _, r := range o.rules {
		ok, err := r.keys.accepts(name)
		if err != nil {
			return nil, false, err
		}
		if ok {
			ns = append(ns, r.n)
		}
	}
	n, err := c.and(ns...)
	return n, false, err
}

func (c *compiler) objAnd(a, b *objAlt, under bool) (*objAlt, error) {
	out := &objAlt{minP: max(a.minP, b.minP), maxP: minBound(a.maxP, b.maxP)}
	seen := map[string]bool{}
	for _, src := range [][]objProp{a.props, b.props} {
		for _, p := range src {
			if seen[p.name] {
				continue
			}
			seen[p.name] = true
			na, ra, err := c.val(a, p.name)
			if err != nil {
				return nil, err
			}
			nb, rb, err := c.val(b, p.name)
			if err != nil {
				return nil, err
			}
			n, err := c.and(na, nb)
			if err != nil {
				return nil, err
			}
			if n == c.noneN && (ra || rb) {
				return nil, nil
			}
			out.props = append(out.props, objProp{name: p.name, n: n, required: ra || rb})
		}
	}
	if len(a.props) > 0 && len(b.props) > 0 && c.reg != nil {
		// Merged from two schemas: order by first mention in the document.
		rank := func(name string) int {
			if r, ok := c.reg.rank[name]; ok {
				return r
			}
			return len(c.reg.rank)
		}
		sort.SliceStable(out.props, func(i, j int) bool { return rank(out.props[i].name) < rank(out.props[j].name) })
	}
	rules, err := c.mergeRules(append(slices.Clone(a.rules), b.rules...))
	if err != nil {
		return nil, err
	}
	out.rules = rules
	out.exists = slices.Clone(a.exists)
	for _, x := range b.exists {
		if !slices.Contains(out.exists, x) {
			out.exists = append(out.exists, x)
		}
	}
	if len(out.exists) > maxExists {
		// Lenient: fewer "some member" constraints is a larger set, or,
		// from below, none at all.
		switch {
		case !c.lenient:
			return nil, ErrTooComplex
		case under:
			return nil, nil
		}
		out.exists = out.exists[:maxExists]
	}
	switch {
	case a.names == nil:
		out.names = b.names
	case b.names == nil:
		out.names = a.names
	default:
		ns, err := strAnd(a.names, b.names)
		if err != nil {
			return nil, err
		}
		if ns == nil {
			ns = strWords() // no name at all
		}
		out.names = ns
	}
	if out.maxP >= 0 && out.minP > out.maxP {
		return nil, nil
	}
	return out, nil
}

// mergeRules drops rules that constrain nothing and joins rules over the
// same key set, so that intersections do not pile up rules.
func (c *compiler) mergeRules(rules []keyRule) ([]keyRule, error) {
	var out []keyRule
	for _, r := range rules {
		if r.n == c.anyN {
			continue
		}
		merged := false
		for i := range out {
			if out[i].keys == r.keys {
				n, err := c.and(out[i].n, r.n)
				if err != nil {
					return nil, err
				}
				out[i].n = n
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, r)
		}
	}
	return out, nil
}

// approx handles a construct a grammar cannot express: an error in strict
// mode; in lenient mode nil, and the caller approximates (from above
// unless under).
func (c *compiler) approx(loc *sloc, kw, msg string) error {
	if c.lenient {
		return nil
	}
	ptr := ""
	if loc != nil {
		ptr = loc.ptr
	}
	return &SchemaError{Pointer: ptr, Keyword: kw, Msg: msg, Err: ErrUnsupported}
}

// strTooComplex handles a string set whose automaton is past the limits
// (formats such as "regex" or "uri" intersected, joined or complemented):
// strict mode fails; lenient mode approximates, from above by a superset
// of the exact set, from below (under) by a subset, and leaves the rest to
// validation.
func (c *compiler) strTooComplex(err error, under bool, above, below *strSet) (*strSet, error) {
	if !c.lenient || !errors.Is(err, ErrTooComplex) {
		return nil, err
	}
	if under {
		return below, nil
	}
	return above, nil
}

func (c *compiler) vNot(v *vset, n *snode) (*vset, error) {
	out := &vset{null: !v.null, bools: 3 &^ v.bools}
	var err error
	if out.num, err = numNot(v.num); err != nil {
		return nil, err
	}
	if out.str, err = strNot(v.str); err != nil {
		if out.str, err = c.strTooComplex(err, n.under, strAll(), nil); err != nil {
			return nil, err
		}
	}
	if out.arrs, err = c.arrsNot(v.arrs, n); err != nil {
		return nil, err
	}
	if out.objs, err = c.objsNot(v.objs, n); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *compiler) arrsNot(alts []*arrAlt, n *snode) ([]*arrAlt, error) {
	result := []*arrAlt{anyArrAlt(c.anyN)}
	for _, a := range alts {
		terms, err := c.arrAltNot(a, n)
		if err != nil {
			return nil, err
		}
		result, err = crossAnd(c, result, terms, n.under, c.hullArrs, func(x, y *arrAlt) (*arrAlt, bool, error) {
			z, err := c.arrAnd(x, y)
			return z, z != nil, err
		})
		if err != nil {
			return nil, err
		}
		if len(result) == 0 {
			break
		}
	}
	return result, nil
}

func (c *compiler) arrAltNot(a *arrAlt, n *snode) ([]*arrAlt, error) {
	if a.unique {
		if err := c.approx(n.origin, n.kw, "the complement of uniqueItems (an array with duplicates) cannot be expressed"); err != nil {
			return nil, err
		}
		if !n.under {
			return []*arrAlt{anyArrAlt(c.anyN)}, nil
		}
		// From below: complement the alternative without uniqueItems, a
		// subset of the true complement.
	}
	var terms []*arrAlt
	anyPrefix := func(k int) []*snode {
		p := make([]*snode, k)
		for i := range p {
			p[i] = c.anyN
		}
		return p
	}
	for i, p := range a.prefix {
		if p == c.anyN {
			continue
		}
		np, err := c.not(p, n.origin, n.kw)
		if err != nil {
			return nil, err
		}
		terms = append(terms, &arrAlt{prefix: append(anyPrefix(i), np), rest: c.anyN, min: i + 1, max: -1})
	}
	switch {
	case a.rest == c.anyN:
	case a.rest == c.noneN:
		terms = append(terms, &arrAlt{rest: c.anyN, min: len(a.prefix) + 1, max: -1})
	default:
		nr, err := c.not(a.rest, n.origin, n.kw)
		if err != nil {
			return nil, err
		}
		terms = append(terms, &arrAlt{rest: c.anyN, max: -1, contains: []countC{{n: nr, min: 1, max: -1, from: len(a.prefix)}}})
	}
	if a.min > 0 {
		terms = append(terms, &arrAlt{rest: c.anyN, max: a.min - 1})
	}
	if a.max >= 0 {
		terms = append(terms, &arrAlt{rest: c.anyN, min: a.max + 1, max: -1})
	}
	for _, cc := range a.contains {
		if cc.min > 0 {
			terms = append(terms, &arrAlt{rest: c.anyN, max: -1, contains: []countC{{n: cc.n, min: 0, max: cc.min - 1, from: cc.from}}})
		}
		if cc.max >= 0 {
			terms = append(terms, &arrAlt{rest: c.anyN, max: -1, contains: []countC{{n: cc.n, min: cc.max + 1, max: -1, from: cc.from}}})
		}
	}
	return terms, nil
}

func (c *compiler) objsNot(alts []*objAlt, n *snode) ([]*objAlt, error) {
	result := []*objAlt{{maxP: -1}}
	for _, a := range alts {
		terms, err := c.objAltNot(a, n)
		if err != nil {
			return nil, err
		}
		result, err = crossAnd(c, result, terms, n.under, c.hullObjs, func(x, y *objAlt) (*objAlt, bool, error) {
			z, err := c.objAnd(x, y, n.under)
			return z, z != nil, err
		})
		if err != nil {
			return nil, err
		}
		result = c.pruneObjAlts(result)
		if len(result) == 0 {
			break
		}
	}
	return result, nil
}

// pruneObjAlts drops alternatives that another one contains, which keeps
// complements (products of unions) from growing exponentially.
func (c *compiler) pruneObjAlts(alts []*objAlt) []*objAlt {
	if len(alts) < 2 {
		return alts
	}
	keep := make([]bool, len(alts))
	for i := range keep {
		keep[i] = true
	}
	for i, x := range alts {
		for j, y := range alts {
			if i == j || !keep[j] {
				continue
			}
			// Drop x when it is within y; of two equal ones keep the first.
			if c.objWithin(x, y) && (!c.objWithin(y, x) || j < i) {
				keep[i] = false
				break
			}
		}
	}
	var out []*objAlt
	for i, x := range alts {
		if keep[i] {
			out = append(out, x)
		}
	}
	return out
}

// objWithin reports whether every object of x is in y, judged by
// syntax: each constraint of y appears, as strong or stronger, in x.
func (c *compiler) objWithin(x, y *objAlt) bool {
	if x.minP < y.minP || (y.maxP >= 0 && (x.maxP < 0 || x.maxP > y.maxP)) {
		return false
	}
	for _, e := range y.exists {
		if !slices.Contains(x.exists, e) {
			return false
		}
	}
	if y.names != nil && x.names != y.names {
		return false
	}
	for _, r := range y.rules {
		found := false
		for _, q := range x.rules {
			if q.keys == r.keys && q.n == r.n {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if len(y.rules) > 0 || y.names != nil {
		// y's rules bind keys y does not name; x exempts the keys it names
		// from its own rules, so those must be named by y too.
		for _, q := range x.props {
			named := false
			for _, p := range y.props {
				if p.name == q.name {
					named = true
					break
				}
			}
			if !named && q.n != c.noneN {
				return false
			}
		}
	}
	for _, p := range y.props {
		found := false
		for _, q := range x.props {
			if q.name != p.name {
				continue
			}
			if (q.n == p.n || q.n == c.noneN) && (q.required || !p.required) && !(q.n == c.noneN && p.required) {
				found = true
			}
			break
		}
		if !found && (p.required || p.n != c.anyN) {
			return false
		}
	}
	return true
}

func (c *compiler) objAltNot(a *objAlt, n *snode) ([]*objAlt, error) {
	var terms []*objAlt
	for _, p := range a.props {
		if p.required {
			terms = append(terms, &objAlt{props: []objProp{{name: p.name, n: c.noneN}}, maxP: -1})
		}
		if p.n != c.anyN {
			np, err := c.not(p.n, n.origin, n.kw)
			if err != nil {
				return nil, err
			}
			if np != c.noneN {
				terms = append(terms, &objAlt{props: []objProp{{name: p.name, n: np, required: true}}, maxP: -1})
			}
		}
	}
	// A rule binds the keys a does not name: its complement is some such
	// key with a value outside the rule's node.
	var named *strSet
	if len(a.props) > 0 {
		names := make([]string, len(a.props))
		for i, p := range a.props {
			names[i] = p.name
		}
		nn, err := strNot(strWords(names...))
		if err != nil {
			return nil, err
		}
		named = nn
	}
	for _, r := range a.rules {
		if r.n == c.anyN {
			continue
		}
		keys := r.keys
		if named != nil {
			var err error
			if keys, err = strAnd(keys, named); err != nil {
				return nil, err
			}
		}
		if keys == nil {
			continue
		}
		nv, err := c.not(r.n, n.origin, n.kw)
		if err != nil {
			return nil, err
		}
		if nv != c.noneN {
			terms = append(terms, &objAlt{maxP: -1, exists: []keyRule{{keys: keys, n: nv}}})
		}
	}
	if a.names != nil {
		out, err := strNot(a.names)
		if err != nil {
			return nil, err
		}
		if out != nil {
			terms = append(terms, &objAlt{maxP: -1, exists: []keyRule{{keys: out, n: c.anyN}}})
		}
	}
	// Some member in keys with a value in n, complemented: every member
	// in keys has a value outside n. The alternative names no property,
	// so the rule holds for every key.
	for _, x := range a.exists {
		nx, err := c.not(x.n, n.origin, n.kw)
		if err != nil {
			return nil, err
		}
		terms = append(terms, &objAlt{maxP: -1, rules: []keyRule{{keys: x.keys, n: nx}}})
	}
	if a.minP > 0 {
		terms = append(terms, &objAlt{maxP: a.minP - 1})
	}
	if a.maxP >= 0 {
		terms = append(terms, &objAlt{minP: a.maxP + 1, maxP: -1})
	}
	return terms, nil
}

// String describes a vset, for tests and debugging.
func (v *vset) String() string {
	var parts []string
	if v.null {
		parts = append(parts, "null")
	}
	if v.bools&1 != 0 {
		parts = append(parts, "false")
	}
	if v.bools&2 != 0 {
		parts = append(parts, "true")
	}
	if v.num != nil {
		parts = append(parts, "number")
	}
	if v.str != nil {
		parts = append(parts, "string")
	}
	if len(v.arrs) > 0 {
		parts = append(parts, fmt.Sprintf("array×%d", len(v.arrs)))
	}
	if len(v.objs) > 0 {
		parts = append(parts, fmt.Sprintf("object×%d", len(v.objs)))
	}
	return "{" + strings.Join(parts, " ") + "}"
}
