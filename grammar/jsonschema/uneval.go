package jsonschema

import (
	"sort"
	"strconv"
)

// unevaluatedProperties and unevaluatedItems depend on which subschemas
// succeeded, which a grammar cannot observe. The compiler splits the
// schema into cells, each a set of instances for which the same in-place
// subschemas succeed (anyOf branch 1 and not branch 2, the if-branch and
// not the else, ...). Within a cell the evaluated properties and items are
// fixed, so the constraint on the others is an ordinary one, and the
// schema is the union of the constrained cells.

type evalInfo struct {
	allProps bool
	names    []string
	pats     []*strSet
	allItems bool
	prefix   int
	contains []*snode
}

func (a evalInfo) union(b evalInfo) evalInfo {
	out := evalInfo{allProps: a.allProps || b.allProps, allItems: a.allItems || b.allItems, prefix: max(a.prefix, b.prefix)}
	out.names = append(append([]string(nil), a.names...), b.names...)
	out.pats = append(append([]*strSet(nil), a.pats...), b.pats...)
	out.contains = append(append([]*snode(nil), a.contains...), b.contains...)
	return out
}

type cell struct {
	n  *snode
	ev evalInfo
}

const maxCells = 64

func (c *compiler) crossCells(xs, ys []cell) ([]cell, error) {
	var out []cell
	for _, x := range xs {
		for _, y := range ys {
			n, err := c.and(x.n, y.n)
			if err != nil {
				return nil, err
			}
			if n == c.noneN {
				continue
			}
			out = append(out, cell{n: n, ev: x.ev.union(y.ev)})
			if len(out) > maxCells {
				return nil, ErrTooComplex
			}
		}
	}
	return out, nil
}

// unevaluated compiles a schema object that has unevaluatedProperties or
// unevaluatedItems.
func (c *compiler) unevaluated(k *kwCtx, _ *vset) (*vset, error) {
	cells, err := c.cellsOf(k.loc, k.n.under, k.n.scope, 0)
	if err != nil {
		return nil, err
	}
	ns := make([]*snode, len(cells))
	for i, cl := range cells {
		ns[i] = cl.n
	}
	n, err := c.or(ns...)
	if err != nil {
		return nil, err
	}
	return c.force(n)
}

func (c *compiler) cellsOf(loc *sloc, under bool, scope *dynScope, depth int) ([]cell, error) {
	if depth > 64 {
		return nil, &SchemaError{Pointer: loc.ptr, Msg: "in-place references nested too deeply", Err: ErrTooComplex}
	}
	o, ok := loc.val.(*jobj)
	if !ok {
		if b, _ := loc.val.(bool); b {
			return []cell{{n: c.anyN}}, nil
		}
		return nil, nil
	}
	own, err := c.schemaNodeOwn(loc, under, scope, true)
	if err != nil {
		return nil, err
	}
	inner := own.scope
	k := &kwCtx{c: c, n: own, loc: loc, o: o}
	sub := func(kw string, more ...string) ([]cell, error) {
		s, err := k.sub(kw, more...)
		if err != nil {
			return nil, err
		}
		return c.cellsOf(s, under, inner, depth+1)
	}
	ref := func(kw, r string, dynamic bool) ([]cell, error) {
		t, err := c.resolve(k, kw, r, dynamic)
		if err != nil {
			return nil, err
		}
		return c.cellsOf(t.loc, under, inner, depth+1)
	}
	if r, ok := o.vals["$ref"].(string); ok && loc.draft <= draft7 {
		return ref("$ref", r, false)
	}
	ev := evalInfo{}
	if m, ok := o.vals["properties"].(*jobj); ok {
		ev.names = append(ev.names, m.keys...)
	}
	if m, ok := o.vals["patternProperties"].(*jobj); ok {
		for _, p := range m.keys {
			atom, err := c.patternAtom(k, "patternProperties", p)
			if err != nil {
				return nil, err
			}
			if atom != nil {
				ev.pats = append(ev.pats, &strSet{maxLen: -1, atoms: []*strAtom{atom}})
			}
		}
	}
	ev.allProps = isSchemaValue(o.vals["additionalProperties"])
	if arr, ok := o.vals["prefixItems"].([]any); ok && loc.draft >= draft2020 {
		ev.prefix = len(arr)
		ev.allItems = isSchemaValue(o.vals["items"])
	} else if arr, ok := o.vals["items"].([]any); ok {
		ev.prefix = len(arr)
		ev.allItems = isSchemaValue(o.vals["additionalItems"])
	} else {
		ev.allItems = isSchemaValue(o.vals["items"])
	}
	if isSchemaValue(o.vals["contains"]) {
		cn, err := k.node("contains")
		if err != nil {
			return nil, err
		}
		ev.contains = append(ev.contains, cn)
	}
	cells := []cell{{n: own, ev: ev}}
	cross := func(ys []cell, err error) error {
		if err != nil {
			return err
		}
		cells, err = c.crossCells(cells, ys)
		return err
	}
	if r, ok := o.vals["$ref"].(string); ok {
		if err := cross(ref("$ref", r, false)); err != nil {
			return nil, err
		}
	}
	if r, ok := o.vals["$dynamicRef"].(string); ok {
		if err := cross(ref("$dynamicRef", r, true)); err != nil {
			return nil, err
		}
	}
	if arr, ok := o.vals["allOf"].([]any); ok {
		for i := range arr {
			if err := cross(sub("allOf", strconv.Itoa(i))); err != nil {
				return nil, err
			}
		}
	}
	branches := func(kw string) ([][]cell, []*snode, error) {
		arr, _ := o.vals[kw].([]any)
		var cs [][]cell
		var opp []*snode
		for i := range arr {
			bc, err := sub(kw, strconv.Itoa(i))
			if err != nil {
				return nil, nil, err
			}
			cs = append(cs, bc)
			on, err := k.nodeOpp(kw, strconv.Itoa(i))
			if err != nil {
				return nil, nil, err
			}
			nn, err := c.not(on, loc, kw)
			if err != nil {
				return nil, nil, err
			}
			opp = append(opp, nn)
		}
		return cs, opp, nil
	}
	if _, ok := o.vals["anyOf"].([]any); ok {
		bcs, opp, err := branches("anyOf")
		if err != nil {
			return nil, err
		}
		if len(bcs) > 6 {
			return nil, &SchemaError{Pointer: loc.ptr, Keyword: "anyOf", Msg: "too many anyOf branches under unevaluatedProperties/unevaluatedItems", Err: ErrTooComplex}
		}
		var alts []cell
		for mask := 1; mask < 1<<len(bcs); mask++ {
			part := []cell{{n: c.anyN}}
			for i := range bcs {
				if mask&(1<<i) != 0 {
					if part, err = c.crossCells(part, bcs[i]); err != nil {
						return nil, err
					}
				} else if part, err = c.crossCells(part, []cell{{n: opp[i]}}); err != nil {
					return nil, err
				}
			}
			alts = append(alts, part...)
		}
		if err := cross(alts, nil); err != nil {
			return nil, err
		}
	}
	if _, ok := o.vals["oneOf"].([]any); ok {
		bcs, opp, err := branches("oneOf")
		if err != nil {
			return nil, err
		}
		var alts []cell
		for i := range bcs {
			part := bcs[i]
			for j := range bcs {
				if j != i {
					if part, err = c.crossCells(part, []cell{{n: opp[j]}}); err != nil {
						return nil, err
					}
				}
			}
			alts = append(alts, part...)
		}
		if err := cross(alts, nil); err != nil {
			return nil, err
		}
	}
	if isSchemaValue(o.vals["not"]) {
		on, err := k.nodeOpp("not")
		if err != nil {
			return nil, err
		}
		nn, err := c.not(on, loc, "not")
		if err != nil {
			return nil, err
		}
		if err := cross([]cell{{n: nn}}, nil); err != nil {
			return nil, err
		}
	}
	if isSchemaValue(o.vals["if"]) && loc.draft >= draft7 {
		ifc, err := sub("if")
		if err != nil {
			return nil, err
		}
		thenc, elsec := []cell{{n: c.anyN}}, []cell{{n: c.anyN}}
		if isSchemaValue(o.vals["then"]) {
			if thenc, err = sub("then"); err != nil {
				return nil, err
			}
		}
		if isSchemaValue(o.vals["else"]) {
			if elsec, err = sub("else"); err != nil {
				return nil, err
			}
		}
		on, err := k.nodeOpp("if")
		if err != nil {
			return nil, err
		}
		notIf, err := c.not(on, loc, "if")
		if err != nil {
			return nil, err
		}
		a, err := c.crossCells(ifc, thenc)
		if err != nil {
			return nil, err
		}
		b, err := c.crossCells([]cell{{n: notIf}}, elsec)
		if err != nil {
			return nil, err
		}
		if err := cross(append(a, b...), nil); err != nil {
			return nil, err
		}
	}
	for _, kw := range []string{"dependentSchemas", "dependencies"} {
		m, ok := o.vals[kw].(*jobj)
		if !ok {
			continue
		}
		for _, trig := range m.keys {
			if !isSchemaValue(m.vals[trig]) {
				continue
			}
			dc, err := sub(kw, trig)
			if err != nil {
				return nil, err
			}
			absent := c.fixed(c.objectsOnly(&objAlt{maxP: -1, props: []objProp{{name: trig, n: c.noneN}}}), "absent")
			present := c.fixed(c.objectsOnly(&objAlt{maxP: -1, props: []objProp{{name: trig, n: c.anyN, required: true}}}), "present")
			pc, err := c.crossCells([]cell{{n: present}}, dc)
			if err != nil {
				return nil, err
			}
			if err := cross(append([]cell{{n: absent}}, pc...), nil); err != nil {
				return nil, err
			}
		}
	}
	// This schema's own unevaluated keywords constrain what its cells left
	// unevaluated, then count everything as evaluated for the parents.
	hasUP, hasUI := isSchemaValue(o.vals["unevaluatedProperties"]), isSchemaValue(o.vals["unevaluatedItems"])
	if hasUP || hasUI {
		var up, ui *snode
		if hasUP {
			if up, err = k.node("unevaluatedProperties"); err != nil {
				return nil, err
			}
		}
		if hasUI {
			if ui, err = k.node("unevaluatedItems"); err != nil {
				return nil, err
			}
		}
		for i := range cells {
			var parts []*snode
			if hasUP && !cells[i].ev.allProps {
				pn, err := c.unevalProps(cells[i].ev, up)
				if err != nil {
					return nil, err
				}
				parts = append(parts, pn)
			}
			if hasUI && !cells[i].ev.allItems {
				in, err := c.unevalItems(cells[i].ev, ui)
				if err != nil {
					return nil, err
				}
				parts = append(parts, in)
			}
			n, err := c.and(append(parts, cells[i].n)...)
			if err != nil {
				return nil, err
			}
			cells[i].n = n
			cells[i].ev.allProps = cells[i].ev.allProps || hasUP
			cells[i].ev.allItems = cells[i].ev.allItems || hasUI
		}
	}
	return cells, nil
}

func (c *compiler) unevalProps(ev evalInfo, u *snode) (*snode, error) {
	keys := strAll()
	for _, p := range ev.pats {
		np, err := strNot(p)
		if err != nil {
			return nil, err
		}
		if keys, err = strAnd(keys, np); err != nil {
			return nil, err
		}
	}
	names := append([]string(nil), ev.names...)
	sort.Strings(names)
	ob := &objAlt{maxP: -1}
	seen := map[string]bool{}
	for _, nm := range names {
		if !seen[nm] {
			seen[nm] = true
			ob.props = append(ob.props, objProp{name: nm, n: c.anyN})
		}
	}
	if keys != nil {
		ob.rules = []keyRule{{keys: keys, n: u}}
	}
	return c.fixed(c.objectsOnly(ob), "unevaluated"), nil
}

func (c *compiler) unevalItems(ev evalInfo, u *snode) (*snode, error) {
	rest, err := c.or(append([]*snode{u}, ev.contains...)...)
	if err != nil {
		return nil, err
	}
	a := &arrAlt{rest: rest, max: -1}
	for i := 0; i < ev.prefix; i++ {
		a.prefix = append(a.prefix, c.anyN)
	}
	v := c.vAnyFull()
	v.arrs = []*arrAlt{a.normalize(c)}
	if v.arrs[0] == nil {
		v.arrs = nil
	}
	return c.fixed(v, "unevaluated"), nil
}
