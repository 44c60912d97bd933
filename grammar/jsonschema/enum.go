package jsonschema

import "strings"

// Enumeration of small finite sets of values, for uniqueItems: when every
// array an alternative allows can be listed, the unique ones are written
// out as literals.

// enumNode lists the canonical compact JSON texts of n's values, if there
// are at most limit of them.
func (e *emitter) enumNode(n *snode, limit int, depth int) ([]string, bool) {
	if depth > 8 || !e.live(n) {
		return nil, !e.live(n) && depth <= 8
	}
	v, err := e.c.force(n)
	if err != nil {
		return nil, false
	}
	var out []string
	if v.null {
		out = append(out, "null")
	}
	if v.bools&1 != 0 {
		out = append(out, "false")
	}
	if v.bools&2 != 0 {
		out = append(out, "true")
	}
	if v.num != nil {
		if v.num.all {
			return nil, false
		}
		words, ok := v.num.d.FiniteWords(limit)
		if !ok {
			return nil, false
		}
		out = append(out, words...)
	}
	if v.str != nil {
		d, err := v.str.toDFA()
		if err != nil {
			return nil, false
		}
		words, ok := d.FiniteWords(limit)
		if !ok {
			return nil, false
		}
		for _, w := range words {
			out = append(out, jsonQuote(w))
		}
	}
	for _, a := range v.arrs {
		l, err := e.c.arrLayoutOf(a)
		if err != nil {
			return nil, false
		}
		arrs, ok := e.enumArray(l, limit, depth+1)
		if !ok {
			return nil, false
		}
		for _, items := range arrs {
			out = append(out, "["+strings.Join(items, ",")+"]")
		}
	}
	if len(v.objs) > 0 {
		return nil, false
	}
	if len(out) > limit {
		return nil, false
	}
	return out, true
}

// enumArray lists the arrays of a layout as item texts.
func (e *emitter) enumArray(l *arrLayout, limit int, depth int) ([][]string, bool) {
	if len(l.counters) > 0 {
		return nil, false
	}
	mx := l.max
	if mx < 0 {
		if e.live(l.rest) {
			return nil, false
		}
		mx = len(l.items)
	}
	var out [][]string
	cur := [][]string{{}}
	for i := 0; i <= mx; i++ {
		if i >= l.min {
			out = append(out, cur...)
		}
		if i == mx {
			break
		}
		item := l.rest
		if i < len(l.items) {
			item = l.items[i]
		}
		vals, ok := e.enumNode(item, limit, depth)
		if !ok {
			return nil, false
		}
		var next [][]string
		for _, c := range cur {
			for _, v := range vals {
				next = append(next, append(append([]string(nil), c...), v))
				if len(next)+len(out) > limit {
					return nil, false
				}
			}
		}
		cur = next
		if len(cur) == 0 {
			break
		}
	}
	return out, len(out) <= limit
}

// allDistinct reports whether the item texts are pairwise different. The
// texts are canonical and hold no objects, so equal values have equal texts.
func allDistinct(items []string) bool {
	seen := map[string]bool{}
	for _, it := range items {
		if seen[it] {
			return false
		}
		seen[it] = true
	}
	return true
}
