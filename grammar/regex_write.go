package grammar

import (
	"strconv"
	"strings"
)

// This file writes automata and syntax trees as GBNF rules: a DFA as
// right-linear rules, one per state; a syntax tree, for patterns whose
// automaton would be too large (big counted repetitions), as nested
// groups.

// regexWriter writes into a Builder. How characters are spelled is the
// caller's: raw text (CompileRegex) or the inside of a JSON string (the
// schema compiler).
type regexWriter struct {
	b *Builder
	// chars writes one code point of a set; nil writes a plain class.
	chars func(charSet) string
	// text writes a literal run of characters; nil writes a GBNF literal.
	text     func(string) string
	dfaRule  map[*dfa]string
	treeRule map[*reNode]string
}

func newRegexWriter(b *Builder, chars func(charSet) string, text func(string) string) *regexWriter {
	if chars == nil {
		chars = classOf
	}
	if text == nil {
		text = Literal
	}
	return &regexWriter{b: b, chars: chars, text: text, dfaRule: map[*dfa]string{}, treeRule: map[*reNode]string{}}
}

// classOf writes a GBNF class for one code point of cs (never empty).
func classOf(cs charSet) string {
	rs := make([]CharRange, len(cs))
	for i, r := range cs {
		rs[i] = CharRange{uint32(r.lo), uint32(r.hi)}
	}
	return Class(rs)
}

// dfa writes an automaton as one rule per state and returns the start
// rule; chars spells a transition's characters (nil: a plain class). An
// automaton is written once, whatever the spelling asked later.
func (w *regexWriter) dfa(d *dfa, hint string, chars func(charSet) string) string {
	if name, ok := w.dfaRule[d]; ok {
		return name
	}
	if chars == nil {
		chars = classOf
	}
	d = d.trim()
	// A final state without edges needs no rule: it is the end.
	isEnd := func(s int32) bool { return d.states[s].final && len(d.states[s].edges) == 0 }
	names := make([]string, len(d.states))
	base := w.b.Name(hint)
	for i := range d.states {
		if i == 0 {
			names[i] = base
		} else if !isEnd(int32(i)) {
			names[i] = w.b.Name(base + "-" + strconv.Itoa(i))
		}
	}
	w.dfaRule[d] = base
	for i, st := range d.states {
		if names[i] == "" {
			continue
		}
		// Group edges by target.
		var targets []int32
		byTarget := map[int32]charSet{}
		for _, ed := range st.edges {
			if _, ok := byTarget[ed.to]; !ok {
				targets = append(targets, ed.to)
			}
			byTarget[ed.to] = append(byTarget[ed.to], runeRange{ed.lo, ed.hi})
		}
		var alts []string
		loop := ""
		for _, t := range targets {
			cs := csOf(byTarget[t]...)
			frag := chars(cs)
			switch {
			case t == int32(i):
				loop = frag
			case isEnd(t):
				alts = append(alts, frag)
			default:
				alts = append(alts, frag+" "+names[t])
			}
		}
		if st.final {
			alts = append(alts, `""`)
		}
		body := strings.Join(alts, " | ")
		if loop != "" {
			if len(alts) == 1 && alts[0] == `""` {
				body = loopElem(loop) + "*"
			} else {
				body = loopElem(loop) + "* ( " + body + " )"
			}
		}
		if i == 0 && isEnd(0) {
			body = `""`
		}
		w.b.Define(names[i], body)
	}
	return base
}

// loopElem makes a fragment a single element for a postfix operator.
func loopElem(frag string) string {
	if strings.Contains(frag, " ") && !strings.HasPrefix(frag, "[") {
		return "( " + frag + " )"
	}
	return frag
}

// tree writes a regex (no anchors) as a grammar fragment; ok is false for
// a tree that matches nothing or holds an anchor or lookahead. Large
// subtrees become rules, once per node, so that shared subtrees are
// written once.
func (w *regexWriter) tree(n *reNode) (string, bool) {
	if name, ok := w.treeRule[n]; ok {
		return name, true
	}
	f, ok := w.treeUncached(n)
	if ok && len(f) > 200 && (n.op == reConcat || n.op == reAlt || n.op == reRepeat) {
		name := w.b.Helper("re", f)
		w.treeRule[n] = name
		return name, true
	}
	return f, ok
}

func (w *regexWriter) treeUncached(n *reNode) (string, bool) {
	switch n.op {
	case reNone:
		return "", false
	case reEmpty:
		return `""`, true
	case reChars:
		return w.chars(n.cs), true
	case reConcat:
		var parts []string
		lit := ""
		for _, s := range n.subs {
			if s.op == reChars && len(s.cs) == 1 && s.cs[0].lo == s.cs[0].hi {
				lit += string(s.cs[0].lo)
				continue
			}
			if lit != "" {
				parts = append(parts, w.text(lit))
				lit = ""
			}
			f, ok := w.tree(s)
			if !ok {
				return "", false
			}
			parts = append(parts, f)
		}
		if lit != "" {
			parts = append(parts, w.text(lit))
		}
		if len(parts) == 1 {
			return parts[0], true
		}
		return "( " + strings.Join(parts, " ") + " )", true
	case reAlt:
		var parts []string
		for _, s := range n.subs {
			f, ok := w.tree(s)
			if !ok {
				return "", false
			}
			parts = append(parts, f)
		}
		return "( " + strings.Join(parts, " | ") + " )", true
	case reRepeat:
		f, ok := w.tree(n.subs[0])
		if !ok {
			return "", false
		}
		if strings.Contains(f, " ") && !strings.HasPrefix(f, "(") {
			f = "( " + f + " )"
		}
		if n.max > MaxRepetition || n.min > MaxRepetition {
			f = w.b.Helper("re", f)
		}
		return "( " + w.b.Rep(f, n.min, n.max) + " )", true
	}
	return "", false
}

// hasAnchor reports whether n holds ^ or $.
func hasAnchor(n *reNode) bool {
	if n.op == reBegin || n.op == reEnd {
		return true
	}
	for _, s := range n.subs {
		if hasAnchor(s) {
			return true
		}
	}
	return false
}

// reLengths is the least and greatest length of a regex (hi < 0: unbounded).
func reLengths(n *reNode) (lo, hi int) {
	switch n.op {
	case reChars:
		return 1, 1
	case reConcat:
		for _, s := range n.subs {
			l, h := reLengths(s)
			lo += l
			if hi >= 0 {
				if h < 0 {
					hi = -1
				} else {
					hi += h
				}
			}
		}
		return lo, hi
	case reAlt:
		lo, hi = -1, 0
		for _, s := range n.subs {
			l, h := reLengths(s)
			if lo < 0 || l < lo {
				lo = l
			}
			if hi >= 0 && (h < 0 || h > hi) {
				hi = h
			}
		}
		return max(lo, 0), hi
	case reRepeat:
		l, h := reLengths(n.subs[0])
		lo = l * n.min
		switch {
		case n.max < 0 || h < 0:
			hi = -1
			if h == 0 {
				hi = 0
			}
		default:
			hi = h * n.max
		}
		return lo, hi
	}
	return 0, 0
}
