package jsonschema

import "slices"

// Unions of alternatives past the limits. A vset holds arrays and objects
// as unions of alternatives, and intersections multiply them: allOf over
// several oneOfs, or dependentRequired with many triggers, makes products
// of hundreds or thousands of alternatives. Past maxAlts, strict mode
// fails with ErrTooComplex; lenient mode approximates, from above by one
// alternative that holds them all (the hull), from below (inside "not")
// by keeping maxAlts of them.

// limitAlts keeps alts within maxAlts.
func limitAlts[T any](c *compiler, alts []T, under bool, hull func([]T) (T, error)) ([]T, error) {
	if len(alts) <= maxAlts {
		return alts, nil
	}
	if !c.lenient {
		return nil, ErrTooComplex
	}
	if under {
		return alts[:maxAlts], nil
	}
	h, err := hull(alts)
	if err != nil {
		return nil, err
	}
	return []T{h}, nil
}

// crossAnd intersects two unions of alternatives: the union of and(x, y)
// over the pairs for which it is not empty.
func crossAnd[T any](c *compiler, xs, ys []T, under bool, hull func([]T) (T, error), and func(x, y T) (T, bool, error)) ([]T, error) {
	if c.lenient && !under && len(xs)*len(ys) > maxAlts {
		// Hull the larger side, then the other if need be.
		big, small := &xs, &ys
		if len(ys) > len(xs) {
			big, small = &ys, &xs
		}
		for _, side := range []*[]T{big, small} {
			if len(xs)*len(ys) > maxAlts && len(*side) > 1 {
				h, err := hull(*side)
				if err != nil {
					return nil, err
				}
				*side = []T{h}
			}
		}
	}
	var out []T
	for _, x := range xs {
		for _, y := range ys {
			z, ok, err := and(x, y)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, z)
			}
			if len(out) > maxAlts {
				if !c.lenient {
					return nil, ErrTooComplex
				}
				if under {
					return out[:maxAlts], nil
				}
			}
		}
	}
	return limitAlts(c, out, under, hull)
}

// hullObjs is one object alternative holding every object of alts: each
// name any of them names, with a value in any of theirs, required where
// all require it; the rules, exists constraints and counts they share;
// property names from any of them.
func (c *compiler) hullObjs(alts []*objAlt) (*objAlt, error) {
	out := &objAlt{minP: alts[0].minP, maxP: alts[0].maxP}
	var names []string
	seen := map[string]bool{}
	for _, a := range alts {
		out.minP = min(out.minP, a.minP)
		if out.maxP >= 0 && (a.maxP < 0 || a.maxP > out.maxP) {
			out.maxP = a.maxP
		}
		for _, p := range a.props {
			if !seen[p.name] {
				seen[p.name] = true
				names = append(names, p.name)
			}
		}
	}
	for _, name := range names {
		var ns []*snode
		seen := map[*snode]bool{} // alternatives mostly share value nodes
		required := true
		for _, a := range alts {
			n, req, err := c.val(a, name)
			if err != nil {
				return nil, err
			}
			if !seen[n] {
				seen[n] = true
				ns = append(ns, n)
			}
			required = required && req
		}
		n, err := c.or(ns...)
		if err != nil {
			return nil, err
		}
		out.props = append(out.props, objProp{name: name, n: n, required: required})
	}
	out.rules = slices.Clone(alts[0].rules)
	out.exists = slices.Clone(alts[0].exists)
	for _, a := range alts[1:] {
		out.rules = slices.DeleteFunc(out.rules, func(r keyRule) bool { return !slices.Contains(a.rules, r) })
		out.exists = slices.DeleteFunc(out.exists, func(r keyRule) bool { return !slices.Contains(a.exists, r) })
	}
	out.names = alts[0].names
	for _, a := range alts[1:] {
		if out.names == nil || a.names == nil {
			out.names = nil
			break
		}
		var err error
		if out.names, err = strOr(out.names, a.names); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// hullArrs is one array alternative holding every array of alts: item i
// in any of theirs, lengths from the least minimum to the greatest
// maximum, the count constraints they share, unique if all are.
func (c *compiler) hullArrs(alts []*arrAlt) (*arrAlt, error) {
	out := &arrAlt{min: alts[0].min, max: alts[0].max, unique: true}
	long := 0
	for _, a := range alts {
		out.min = min(out.min, a.min)
		if out.max >= 0 && (a.max < 0 || a.max > out.max) {
			out.max = a.max
		}
		long = max(long, len(a.prefix))
		out.unique = out.unique && a.unique
		if a.unique && out.uniqueAt == nil {
			out.uniqueAt = a.uniqueAt
		}
	}
	if !out.unique {
		out.uniqueAt = nil
	}
	item := func(i int) (*snode, error) {
		var ns []*snode
		seen := map[*snode]bool{}
		for _, a := range alts {
			if n := a.item(i); !seen[n] {
				seen[n] = true
				ns = append(ns, n)
			}
		}
		return c.or(ns...)
	}
	for i := range long {
		n, err := item(i)
		if err != nil {
			return nil, err
		}
		out.prefix = append(out.prefix, n)
	}
	var err error
	if out.rest, err = item(long); err != nil {
		return nil, err
	}
	out.contains = slices.Clone(alts[0].contains)
	for _, a := range alts[1:] {
		out.contains = slices.DeleteFunc(out.contains, func(cc countC) bool { return !slices.Contains(a.contains, cc) })
	}
	return out, nil
}
