package jsonschema

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/locallm/locallm/grammar/regex"
)

// This file is the compile layer: one schema object's keywords to a vset.

// dynScope is the part of the dynamic scope that $dynamicRef can observe:
// the resources entered so far that declare a $dynamicAnchor, outermost
// first, each once. Keeping only those keeps the number of distinct scopes,
// and so of compiled nodes, finite.
type dynScope struct {
	uris []string
}

func (s *dynScope) enter(r *registry, loc *sloc) *dynScope {
	top := loc.resTop
	if top == nil || !r.resDyn[top.base] {
		return s
	}
	if s != nil {
		for _, u := range s.uris {
			if u == top.base {
				return s
			}
		}
	}
	out := &dynScope{}
	if s != nil {
		out.uris = append(out.uris, s.uris...)
	}
	out.uris = append(out.uris, top.base)
	return out
}

func (s *dynScope) key() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.uris, " ")
}

// kwCtx reads the keywords of one schema object.
type kwCtx struct {
	c   *compiler
	n   *snode
	loc *sloc
	o   *jobj
}

func (k *kwCtx) errf(kw, format string, args ...any) error {
	return &SchemaError{Pointer: k.loc.ptr, Keyword: kw, Msg: fmt.Sprintf(format, args...)}
}

// sub returns the subschema at the keyword path (kw, then more tokens).
func (k *kwCtx) sub(kw string, more ...string) (*sloc, error) {
	p := k.loc.ptr + "/" + escapePointerToken(kw)
	for _, t := range more {
		p += "/" + escapePointerToken(t)
	}
	s, ok := k.loc.doc.byPtr[p]
	if !ok {
		return nil, k.errf(kw, "not a schema")
	}
	return s, nil
}

func (k *kwCtx) node(kw string, more ...string) (*snode, error) {
	s, err := k.sub(kw, more...)
	if err != nil {
		return nil, err
	}
	return k.c.schemaNode(s, k.n.under, k.n.scope)
}

// nodeOpp is the node of a subschema that will be complemented, so it is
// approximated the other way.
func (k *kwCtx) nodeOpp(kw string, more ...string) (*snode, error) {
	s, err := k.sub(kw, more...)
	if err != nil {
		return nil, err
	}
	return k.c.schemaNode(s, k.c.lenient && !k.n.under, k.n.scope)
}

func (k *kwCtx) has(kw string) bool { _, ok := k.o.vals[kw]; return ok }

// count reads a non-negative integer keyword; big values saturate.
func (k *kwCtx) count(kw string) (int, bool, error) {
	v, ok := k.o.vals[kw]
	if !ok {
		return 0, false, nil
	}
	num, isNum := v.(json.Number)
	if !isNum {
		return 0, false, k.errf(kw, "must be a non-negative integer")
	}
	r, ok := ratOf(num)
	if !ok || !r.IsInt() || r.Sign() < 0 {
		return 0, false, k.errf(kw, "must be a non-negative integer")
	}
	if !r.Num().IsInt64() || r.Num().Int64() > 1<<40 {
		return 1 << 40, true, nil
	}
	return int(r.Num().Int64()), true, nil
}

func (k *kwCtx) number(kw string) (*big.Rat, bool, error) {
	v, ok := k.o.vals[kw]
	if !ok {
		return nil, false, nil
	}
	num, isNum := v.(json.Number)
	if !isNum {
		return nil, false, k.errf(kw, "must be a number")
	}
	r, ok := ratOf(num)
	if !ok {
		return nil, false, k.errf(kw, "number %s is out of the supported range", num)
	}
	return r, true, nil
}

func (k *kwCtx) schemaArray(kw string) ([]*snode, error) {
	arr, ok := k.o.vals[kw].([]any)
	if !ok {
		return nil, k.errf(kw, "must be an array of schemas")
	}
	var out []*snode
	for i := range arr {
		n, err := k.node(kw, strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

const (
	tNull = 1 << iota
	tBool
	tInt
	tNum
	tStr
	tArr
	tObj
	tAll = tNull | tBool | tInt | tNum | tStr | tArr | tObj
)

var typeNames = map[string]int{"null": tNull, "boolean": tBool, "integer": tInt, "number": tNum | tInt, "string": tStr, "array": tArr, "object": tObj}

// compileSchema compiles the schema object of n.
func (c *compiler) compileSchema(n *snode) (*vset, error) {
	o, ok := n.loc.val.(*jobj)
	if !ok {
		if b, _ := n.loc.val.(bool); b {
			return c.vAnyFull(), nil
		}
		return &vset{}, nil
	}
	k := &kwCtx{c: c, n: n, loc: n.loc, o: o}
	// Before 2019-09 the specification has $ref replace its siblings; the
	// grammar applies them all the same, as ajv does and as the writers of
	// such schemas mean. The grammar's documents then satisfy the schema
	// under both readings, and the Validator, which follows the
	// specification, accepts them.
	v, err := c.ownKeywords(k)
	if err != nil {
		return nil, err
	}
	if n.own {
		return v, nil
	}
	ins, err := c.inPlace(k)
	if err != nil {
		return nil, err
	}
	for _, m := range ins {
		w, err := c.force(m)
		if err != nil {
			return nil, err
		}
		if v, err = c.vAnd(v, w, k.n.under); err != nil {
			return nil, err
		}
	}
	if k.has("unevaluatedProperties") || k.has("unevaluatedItems") {
		return c.unevaluated(k, v)
	}
	return v, nil
}

// ownKeywords compiles every keyword but the in-place applicators.
func (c *compiler) ownKeywords(k *kwCtx) (*vset, error) {
	o := k.o
	mask := tAll
	if t, ok := o.vals["type"]; ok {
		mask = 0
		var names []any
		switch t := t.(type) {
		case string:
			names = []any{t}
		case []any:
			names = t
		default:
			return nil, k.errf("type", "must be a string or an array of strings")
		}
		for _, x := range names {
			s, _ := x.(string)
			bit, ok := typeNames[s]
			if !ok {
				return nil, k.errf("type", "unknown type %v", x)
			}
			mask |= bit
		}
		if nb, _ := o.vals["nullable"].(bool); nb {
			mask |= tNull
		}
	}
	v := &vset{}
	if mask&tNull != 0 {
		v.null = true
	}
	if mask&tBool != 0 {
		v.bools = 3
	}
	var err error
	if mask&tNum != 0 {
		v.num = numAll()
	} else if mask&tInt != 0 {
		v.num = numInts()
	}
	if v.num != nil {
		if v.num, err = c.numberKeywords(k, v.num); err != nil {
			return nil, err
		}
	}
	if mask&tStr != 0 {
		if v.str, err = c.stringKeywords(k); err != nil {
			return nil, err
		}
	}
	if mask&tArr != 0 {
		a, err := c.arrayKeywords(k)
		if err != nil {
			return nil, err
		}
		if a != nil {
			v.arrs = []*arrAlt{a}
		}
	}
	if mask&tObj != 0 {
		objs, err := c.objectKeywords(k)
		if err != nil {
			return nil, err
		}
		v.objs = objs
	}
	if cv, ok := o.vals["const"]; ok {
		w, err := c.valueSet(cv)
		if err != nil {
			return nil, k.errf("const", "%v", err)
		}
		if v, err = c.vAnd(v, w, k.n.under); err != nil {
			return nil, err
		}
	}
	if ev, ok := o.vals["enum"]; ok {
		arr, ok := ev.([]any)
		if !ok {
			return nil, k.errf("enum", "must be an array")
		}
		// Strings make one automaton at once: a union per member would
		// minimise an ever larger automaton once per member, which is
		// minutes for enums of thousands of names.
		u := &vset{}
		var words []string
		for _, x := range arr {
			if s, ok := x.(string); ok {
				words = append(words, s)
				continue
			}
			w, err := c.valueSet(x)
			if err != nil {
				return nil, k.errf("enum", "%v", err)
			}
			if u, err = c.vOr(u, w, k.n.under); err != nil {
				return nil, err
			}
		}
		if len(words) > 0 {
			if u, err = c.vOr(u, &vset{str: strWords(words...)}, k.n.under); err != nil {
				return nil, err
			}
		}
		if v, err = c.vAnd(v, u, k.n.under); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// valueSet is the set holding exactly the JSON value x.
func (c *compiler) valueSet(x any) (*vset, error) {
	switch x := x.(type) {
	case nil:
		return &vset{null: true}, nil
	case bool:
		if x {
			return &vset{bools: 2}, nil
		}
		return &vset{bools: 1}, nil
	case json.Number:
		r, ok := ratOf(x)
		if !ok {
			return nil, fmt.Errorf("number %s is out of the supported range", x)
		}
		return &vset{num: numValue(r)}, nil
	case string:
		return &vset{str: strWords(x)}, nil
	case []any:
		a := &arrAlt{rest: c.noneN, min: len(x), max: len(x)}
		for _, it := range x {
			w, err := c.valueSet(it)
			if err != nil {
				return nil, err
			}
			a.prefix = append(a.prefix, c.fixed(w, "const"))
		}
		return &vset{arrs: []*arrAlt{a}}, nil
	case *jobj:
		ob := &objAlt{maxP: -1, rules: []keyRule{{keys: strAll(), n: c.noneN}}}
		for _, key := range x.keys {
			w, err := c.valueSet(x.vals[key])
			if err != nil {
				return nil, err
			}
			ob.props = append(ob.props, objProp{name: key, n: c.fixed(w, "const"), required: true})
		}
		return &vset{objs: []*objAlt{ob}}, nil
	}
	return nil, fmt.Errorf("unexpected value %T", x)
}

func (c *compiler) numberKeywords(k *kwCtx, ns *numSet) (*numSet, error) {
	and := func(kw string, w *numSet, err error) error {
		if err != nil {
			if errors.Is(err, ErrTooComplex) {
				if e := c.approx(k.loc, kw, "the value is too large to express as a grammar"); e != nil {
					e.(*SchemaError).Err = ErrTooComplex
					return e
				}
				if k.n.under {
					ns = nil
				}
				return nil
			}
			return err
		}
		ns, err = numAnd(ns, w)
		return err
	}
	oldExclusive := func(kw string) bool {
		b, _ := k.o.vals[kw].(bool)
		return b
	}
	if r, ok, err := k.number("minimum"); err != nil {
		return nil, err
	} else if ok {
		op := opGE
		if oldExclusive("exclusiveMinimum") {
			op = opGT
		}
		w, err := numCompare(op, r)
		if err := and("minimum", w, err); err != nil {
			return nil, err
		}
	}
	if r, ok, err := k.number("maximum"); err != nil {
		return nil, err
	} else if ok {
		op := opLE
		if oldExclusive("exclusiveMaximum") {
			op = opLT
		}
		w, err := numCompare(op, r)
		if err := and("maximum", w, err); err != nil {
			return nil, err
		}
	}
	if _, isBool := k.o.vals["exclusiveMinimum"].(bool); !isBool {
		if r, ok, err := k.number("exclusiveMinimum"); err != nil {
			return nil, err
		} else if ok {
			w, err := numCompare(opGT, r)
			if err := and("exclusiveMinimum", w, err); err != nil {
				return nil, err
			}
		}
	}
	if _, isBool := k.o.vals["exclusiveMaximum"].(bool); !isBool {
		if r, ok, err := k.number("exclusiveMaximum"); err != nil {
			return nil, err
		} else if ok {
			w, err := numCompare(opLT, r)
			if err := and("exclusiveMaximum", w, err); err != nil {
				return nil, err
			}
		}
	}
	if r, ok, err := k.number("multipleOf"); err != nil {
		return nil, err
	} else if ok {
		if r.Sign() <= 0 {
			return nil, k.errf("multipleOf", "must be greater than 0")
		}
		if ns != nil && !ns.all && ns.d != nil {
			// A finite set (enum-like or tightly bounded) is filtered
			// directly, whatever the divisor.
			if words, fin := ns.d.FiniteWords(4096); fin {
				var keep []string
				for _, w := range words {
					x, _ := new(big.Rat).SetString(w)
					if new(big.Rat).Quo(x, r).IsInt() {
						keep = append(keep, w)
					}
				}
				if len(keep) == 0 {
					return nil, nil
				}
				return &numSet{d: regex.WordsDFA(keep)}, nil
			}
		}
		w, err := numMultipleOf(r)
		if err := and("multipleOf", w, err); err != nil {
			return nil, err
		}
	}
	return ns, nil
}

func (c *compiler) stringKeywords(k *kwCtx) (*strSet, error) {
	s := strAll()
	if n, ok, err := k.count("minLength"); err != nil {
		return nil, err
	} else if ok {
		s.minLen = n
	}
	if n, ok, err := k.count("maxLength"); err != nil {
		return nil, err
	} else if ok {
		s.maxLen = n
	}
	if s.maxLen >= 0 && s.minLen > s.maxLen {
		return nil, nil
	}
	if p, ok := k.o.vals["pattern"]; ok {
		ps, ok := p.(string)
		if !ok {
			return nil, k.errf("pattern", "must be a string")
		}
		atom, err := c.patternAtom(k, "pattern", ps)
		if err != nil {
			return nil, err
		}
		if atom == nil && k.n.under {
			return nil, nil
		}
		if atom != nil {
			s.atoms = append(s.atoms, atom)
		}
	}
	if c.opts.FormatAssertion {
		if f, ok := k.o.vals["format"].(string); ok {
			atom, ignore := formatAtom(f)
			switch {
			case atom != nil:
				s.atoms = append(s.atoms, atom)
			case ignore:
				// An unknown format is an annotation even when asserting.
			default:
				if err := c.approx(k.loc, "format", fmt.Sprintf("format %q cannot be expressed as a grammar", f)); err != nil {
					return nil, err
				}
				if k.n.under {
					return nil, nil
				}
			}
		}
	}
	return s, nil
}

// patternAtom compiles a pattern; nil with no error means it was dropped
// in lenient mode.
func (c *compiler) patternAtom(k *kwCtx, kw, pattern string) (*strAtom, error) {
	re, err := regex.Parse(pattern)
	if err != nil {
		var rerr *regex.Error
		if errors.As(err, &rerr) && c.lenient {
			return nil, nil
		}
		return nil, &SchemaError{Pointer: k.loc.ptr, Keyword: kw, Msg: err.Error(), Err: err}
	}
	return &strAtom{re: re, search: true, what: pattern}, nil
}

func (c *compiler) arrayKeywords(k *kwCtx) (*arrAlt, error) {
	a := &arrAlt{rest: c.anyN, max: -1}
	o := k.o
	// Before 2020-12, "items" as an array is the tuple form and
	// additionalItems the tail; 2020-12 has prefixItems and items. An array
	// "items" is read the old way whatever the draft.
	tuple := ""
	if _, ok := o.vals["prefixItems"].([]any); ok && k.loc.draft >= draft2020 {
		tuple = "prefixItems"
	} else if _, ok := o.vals["items"].([]any); ok {
		tuple = "items"
	}
	if tuple != "" {
		ns, err := k.schemaArray(tuple)
		if err != nil {
			return nil, err
		}
		a.prefix = ns
	}
	tail := ""
	switch {
	case tuple == "items":
		tail = "additionalItems"
	case k.loc.draft >= draft2020 || tuple == "prefixItems":
		tail = "items"
	default:
		tail = "items"
		if _, ok := o.vals["items"].([]any); ok {
			tail = ""
		}
	}
	if tail != "" && isSchemaValue(o.vals[tail]) {
		n, err := k.node(tail)
		if err != nil {
			return nil, err
		}
		a.rest = n
	}
	if n, ok, err := k.count("minItems"); err != nil {
		return nil, err
	} else if ok {
		a.min = n
	}
	if n, ok, err := k.count("maxItems"); err != nil {
		return nil, err
	} else if ok {
		a.max = n
	}
	if isSchemaValue(o.vals["contains"]) && k.loc.draft >= draft6 {
		cn, err := k.node("contains")
		if err != nil {
			return nil, err
		}
		cc := countC{n: cn, min: 1, max: -1}
		if k.loc.draft >= draft2019 {
			if n, ok, err := k.count("minContains"); err != nil {
				return nil, err
			} else if ok {
				cc.min = n
			}
			if n, ok, err := k.count("maxContains"); err != nil {
				return nil, err
			} else if ok {
				cc.max = n
			}
		}
		if cc.min > 0 || cc.max >= 0 {
			a.contains = append(a.contains, cc)
		}
	}
	if u, _ := o.vals["uniqueItems"].(bool); u {
		a.unique = true
		a.uniqueAt = k.loc
	}
	return a.normalize(c), nil
}

func (c *compiler) objectKeywords(k *kwCtx) ([]*objAlt, error) {
	o := k.o
	ob := &objAlt{maxP: -1}
	if m, ok := o.vals["properties"].(*jobj); ok {
		for _, name := range m.keys {
			n, err := k.node("properties", name)
			if err != nil {
				return nil, err
			}
			ob.props = append(ob.props, objProp{name: name, n: n})
		}
	}
	var patterns []*strSet
	if m, ok := o.vals["patternProperties"].(*jobj); ok {
		for _, p := range m.keys {
			n, err := k.node("patternProperties", p)
			if err != nil {
				return nil, err
			}
			atom, err := c.patternAtom(k, "patternProperties", p)
			if err != nil {
				return nil, err
			}
			if atom == nil { // dropped in lenient mode
				if k.n.under {
					return nil, nil
				}
				continue
			}
			keys := &strSet{maxLen: -1, atoms: []*strAtom{atom}}
			patterns = append(patterns, keys)
			ob.rules = append(ob.rules, keyRule{keys: keys, n: n})
		}
	}
	// A named property that matches patterns must satisfy them too.
	for i, p := range ob.props {
		parts := []*snode{p.n}
		for _, r := range ob.rules {
			ok, err := r.keys.accepts(p.name)
			if err != nil {
				return nil, c.locate(err, k.n)
			}
			if ok {
				parts = append(parts, r.n)
			}
		}
		n, err := c.and(parts...)
		if err != nil {
			return nil, c.locate(err, k.n)
		}
		ob.props[i].n = n
	}
	if isSchemaValue(o.vals["additionalProperties"]) {
		n, err := k.node("additionalProperties")
		if err != nil {
			return nil, err
		}
		var keys *strSet = strAll()
		for _, p := range patterns {
			np, err := strNot(p)
			if err != nil {
				return nil, c.locate(err, k.n)
			}
			if keys, err = strAnd(keys, np); err != nil {
				return nil, c.locate(err, k.n)
			}
		}
		if keys != nil {
			ob.rules = append(ob.rules, keyRule{keys: keys, n: n})
		}
	}
	// Draft 3 marked required properties with "required": true inside
	// them; such schemas are still common.
	for _, p := range ob.props {
		if sub, ok := k.o.vals["properties"].(*jobj).vals[p.name].(*jobj); ok {
			if b, _ := sub.vals["required"].(bool); b {
				if err := c.require(ob, p.name); err != nil {
					return nil, err
				}
			}
		}
	}
	if req, ok := o.vals["required"]; ok {
		arr, ok := req.([]any)
		if _, isBool := req.(bool); isBool {
			arr, ok = nil, true // draft 3: handled by the parent
		}
		if !ok {
			return nil, k.errf("required", "must be an array of strings")
		}
		for _, x := range arr {
			name, ok := x.(string)
			if !ok {
				return nil, k.errf("required", "must be an array of strings")
			}
			if err := c.require(ob, name); err != nil {
				return nil, err
			}
		}
	}
	if isSchemaValue(o.vals["propertyNames"]) && k.loc.draft >= draft6 {
		pn, err := k.node("propertyNames")
		if err != nil {
			return nil, err
		}
		w, err := c.force(pn)
		if err != nil {
			return nil, err
		}
		names := w.str
		if names == nil {
			names = strWords()
		}
		// Named properties outside propertyNames are forbidden.
		for i, p := range ob.props {
			okName, err := names.accepts(p.name)
			if err != nil {
				return nil, c.locate(err, k.n)
			}
			if !okName {
				if p.required {
					return nil, nil
				}
				ob.props[i].n = c.noneN
			}
		}
		ob.names = names
	}
	if n, ok, err := k.count("minProperties"); err != nil {
		return nil, err
	} else if ok {
		ob.minP = n
	}
	if n, ok, err := k.count("maxProperties"); err != nil {
		return nil, err
	} else if ok {
		ob.maxP = n
	}
	if ob.maxP >= 0 && ob.minP > ob.maxP {
		return nil, nil
	}
	alts := []*objAlt{ob}
	// dependentRequired (and the array form of draft-07 "dependencies"):
	// either the trigger is absent, or it and its dependents are present.
	deps := map[string][]string{}
	var depOrder []string
	for _, kw := range []string{"dependentRequired", "dependencies"} {
		m, ok := o.vals[kw].(*jobj)
		if !ok {
			continue
		}
		for _, trig := range m.keys {
			arr, ok := m.vals[trig].([]any)
			if !ok {
				continue
			}
			var names []string
			for _, x := range arr {
				s, ok := x.(string)
				if !ok {
					return nil, k.errf(kw, "dependencies must be arrays of strings")
				}
				names = append(names, s)
			}
			if _, seen := deps[trig]; !seen {
				depOrder = append(depOrder, trig)
			}
			deps[trig] = append(deps[trig], names...)
		}
	}
	for _, trig := range depOrder {
		absent := &objAlt{maxP: -1, props: []objProp{{name: trig, n: c.noneN}}}
		present := &objAlt{maxP: -1}
		for _, name := range append([]string{trig}, deps[trig]...) {
			if err := c.require(present, name); err != nil {
				return nil, err
			}
		}
		var err error
		alts, err = crossAnd(c, alts, []*objAlt{absent, present}, k.n.under, c.hullObjs, func(x, y *objAlt) (*objAlt, bool, error) {
			z, err := c.objAnd(x, y, k.n.under)
			return z, z != nil, err
		})
		if err != nil {
			return nil, c.locate(err, k.n)
		}
	}
	return alts, nil
}

// require marks name required in ob, adding it as a named property (with
// the value its rules give) if it is not one yet.
func (c *compiler) require(ob *objAlt, name string) error {
	for i := range ob.props {
		if ob.props[i].name == name {
			ob.props[i].required = true
			return nil
		}
	}
	n, _, err := c.val(ob, name)
	if err != nil {
		return err
	}
	ob.props = append(ob.props, objProp{name: name, n: n, required: true})
	return nil
}

// inPlace returns the nodes of the in-place applicators; the schema is the
// intersection of its own keywords and these.
func (c *compiler) inPlace(k *kwCtx) ([]*snode, error) {
	o := k.o
	var out []*snode
	if ref, ok := o.vals["$ref"].(string); ok {
		t, err := c.resolve(k, "$ref", ref, false)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if ref, ok := o.vals["$dynamicRef"].(string); ok {
		t, err := c.resolve(k, "$dynamicRef", ref, true)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if ref, ok := o.vals["$recursiveRef"].(string); ok {
		t, err := c.resolve(k, "$recursiveRef", ref, false)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if _, ok := o.vals["allOf"]; ok {
		ns, err := k.schemaArray("allOf")
		if err != nil {
			return nil, err
		}
		out = append(out, ns...)
	}
	if _, ok := o.vals["anyOf"]; ok {
		ns, err := k.schemaArray("anyOf")
		if err != nil {
			return nil, err
		}
		n, err := c.or(ns...)
		if err != nil {
			return nil, c.locate(err, k.n)
		}
		out = append(out, n)
	}
	if _, ok := o.vals["oneOf"]; ok {
		n, err := c.oneOf(k)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if isSchemaValue(o.vals["not"]) {
		inner, err := k.nodeOpp("not")
		if err != nil {
			return nil, err
		}
		n, err := c.not(inner, k.loc, "not")
		if err != nil {
			return nil, c.locate(err, k.n)
		}
		out = append(out, n)
	}
	if isSchemaValue(o.vals["if"]) && k.loc.draft >= draft7 {
		n, err := c.ifThenElse(k)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
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
			d, err := k.node(kw, trig)
			if err != nil {
				return nil, err
			}
			absent := c.fixed(c.objectsOnly(&objAlt{maxP: -1, props: []objProp{{name: trig, n: c.noneN}}}), "absent")
			present := c.fixed(c.objectsOnly(&objAlt{maxP: -1, props: []objProp{{name: trig, n: c.anyN, required: true}}}), "present")
			pd, err := c.and(present, d)
			if err != nil {
				return nil, c.locate(err, k.n)
			}
			n, err := c.or(absent, pd)
			if err != nil {
				return nil, c.locate(err, k.n)
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// objectsOnly is every non-object value plus the objects of alt.
func (c *compiler) objectsOnly(alt *objAlt) *vset {
	v := c.vAnyFull()
	v.objs = []*objAlt{alt}
	return v
}

// oneOf is the union over i of branch i and the complement of every other
// branch. Where two branches are disjoint the complement is left out.
func (c *compiler) oneOf(k *kwCtx) (*snode, error) {
	ns, err := k.schemaArray("oneOf")
	if err != nil {
		return nil, err
	}
	var alts []*snode
	for i, a := range ns {
		parts := []*snode{a}
		for j, b := range ns {
			if i == j {
				continue
			}
			ab, err := c.and(a, b)
			if err != nil {
				return nil, c.locate(err, k.n)
			}
			empty, err := c.isEmpty(ab)
			if err != nil && err != errEmptyUnknown {
				return nil, err
			}
			if empty && err == nil {
				continue
			}
			bOpp, err := k.nodeOpp("oneOf", strconv.Itoa(j))
			if err != nil {
				return nil, err
			}
			nb, err := c.not(bOpp, k.loc, "oneOf")
			if err != nil {
				return nil, c.locate(err, k.n)
			}
			parts = append(parts, nb)
		}
		x, err := c.and(parts...)
		if err != nil {
			return nil, c.locate(err, k.n)
		}
		alts = append(alts, x)
	}
	n, err := c.or(alts...)
	if err != nil {
		return nil, c.locate(err, k.n)
	}
	return n, nil
}

func (c *compiler) ifThenElse(k *kwCtx) (*snode, error) {
	cond, err := k.node("if")
	if err != nil {
		return nil, err
	}
	thenN, elseN := c.anyN, c.anyN
	if isSchemaValue(k.o.vals["then"]) {
		if thenN, err = k.node("then"); err != nil {
			return nil, err
		}
	}
	if isSchemaValue(k.o.vals["else"]) {
		if elseN, err = k.node("else"); err != nil {
			return nil, err
		}
	}
	if thenN == c.anyN && elseN == c.anyN {
		return c.anyN, nil
	}
	condOpp, err := k.nodeOpp("if")
	if err != nil {
		return nil, err
	}
	notCond, err := c.not(condOpp, k.loc, "if")
	if err != nil {
		return nil, c.locate(err, k.n)
	}
	a, err := c.and(cond, thenN)
	if err != nil {
		return nil, c.locate(err, k.n)
	}
	b, err := c.and(notCond, elseN)
	if err != nil {
		return nil, c.locate(err, k.n)
	}
	n, err := c.or(a, b)
	if err != nil {
		return nil, c.locate(err, k.n)
	}
	return n, nil
}

// metaschemaRef handles a reference to a JSON Schema metaschema (a
// property whose value is itself a schema), which the document does not
// hold. The Validator has the metaschemas built in and never asks the
// Loader for them; neither does the compiler, which has no grammar of
// schema documents: in lenient mode a schema is approximated as any object
// or boolean (a part of one, as any value; from below, as nothing), in
// strict mode the reference is unsupported.
func (c *compiler) metaschemaRef(k *kwCtx, kw, abs string) (*snode, bool, error) {
	noFrag, frag := splitFragment(abs)
	if _, known := c.reg.resources[noFrag]; known {
		return nil, false, nil
	}
	if _, meta := draftOf(noFrag); !meta {
		return nil, false, nil
	}
	if err := c.approx(k.loc, kw, fmt.Sprintf("%q names a JSON Schema metaschema: a grammar of schema documents is not built in", abs)); err != nil {
		return nil, true, err
	}
	switch {
	case k.n.under:
		return c.noneN, true, nil
	case frag != "" && frag != "/":
		return c.anyN, true, nil
	}
	v := c.vAnyFull()
	v.null, v.num, v.str, v.arrs = false, nil, nil, nil
	return c.fixed(v, "schema"), true, nil
}

// resolve finds the node a reference names.
func (c *compiler) resolve(k *kwCtx, kw, ref string, dynamic bool) (*snode, error) {
	if kw == "$recursiveRef" {
		ref = "#"
	}
	abs, err := resolveURI(k.loc.base, ref)
	if err != nil {
		return nil, k.errf(kw, "invalid reference %q", ref)
	}
	if n, ok, err := c.metaschemaRef(k, kw, abs); ok {
		return n, err
	}
	t, err := c.reg.lookup(abs)
	if err != nil {
		return nil, &SchemaError{Pointer: k.loc.ptr, Keyword: kw, Msg: fmt.Sprintf("cannot resolve %q: %v", ref, err)}
	}
	if dynamic {
		// Resolved statically: the dynamic scope along this compile path
		// is known. Only a target that itself declares the same dynamic
		// anchor is redirected, to the outermost declaration in scope.
		_, frag := splitFragment(abs)
		if frag != "" && !strings.HasPrefix(frag, "/") && t.dynAnc == frag && k.n.scope != nil {
			for _, u := range k.n.scope.uris {
				if s, ok := c.reg.dynamic[u+"#"+frag]; ok {
					t = s
					break
				}
			}
		}
	}
	return c.schemaNode(t, k.n.under, k.n.scope)
}
