package regex

import (
	"strconv"
	"strings"

	"github.com/locallm/locallm/grammar/gbnf"
)

// This file writes automata and syntax trees as GBNF rules: a DFA as
// right-linear rules, one per state; a syntax tree, for patterns whose
// automaton would be too large (big counted repetitions), as nested
// groups.

// Writer writes automata and syntax trees as rules of a gbnf.Builder.
// How characters are spelled is the caller's: raw text (Compile) or the
// inside of a JSON string (the JSON Schema compiler). A Writer is for one
// goroutine, as its Builder is.
type Writer struct {
	b *gbnf.Builder
	// chars writes one code point of a set; nil writes a plain class.
	chars func(CharSet) string
	// text writes a literal run of characters; nil writes a GBNF literal.
	text     func(string) string
	dfaRule  map[*DFA]string
	treeRule map[*Node]string
}

// NewWriter returns a Writer into b. chars spells one code point of a set
// (nil: Class, raw text); text spells a run of characters (nil:
// gbnf.Literal, raw text).
func NewWriter(b *gbnf.Builder, chars func(CharSet) string, text func(string) string) *Writer {
	if chars == nil {
		chars = Class
	}
	if text == nil {
		text = gbnf.Literal
	}
	return &Writer{b: b, chars: chars, text: text, dfaRule: map[*DFA]string{}, treeRule: map[*Node]string{}}
}

// Class writes a GBNF class for one code point of cs (never empty), the
// shortest of the spellings gbnf.Class chooses from.
func Class(cs CharSet) string {
	rs := make([]gbnf.CharRange, len(cs))
	for i, r := range cs {
		rs[i] = gbnf.CharRange{Lo: uint32(r.Lo), Hi: uint32(r.Hi)}
	}
	return gbnf.Class(rs)
}

// DFA writes an automaton as one rule per state and returns the start
// rule; chars spells a transition's characters (nil: a plain class). An
// automaton is written once, whatever the spelling asked later.
func (w *Writer) DFA(d *DFA, hint string, chars func(CharSet) string) string {
	if name, ok := w.dfaRule[d]; ok {
		return name
	}
	if chars == nil {
		chars = Class
	}
	d = d.Trim()
	// A final state without edges needs no rule: it is the end.
	isEnd := func(s int32) bool { return d.States[s].Final && len(d.States[s].Edges) == 0 }
	names := make([]string, len(d.States))
	base := w.b.Name(hint)
	for i := range d.States {
		if i == 0 {
			names[i] = base
		} else if !isEnd(int32(i)) {
			names[i] = w.b.Name(base + "-" + strconv.Itoa(i))
		}
	}
	w.dfaRule[d] = base
	for i, st := range d.States {
		if names[i] == "" {
			continue
		}
		// Group edges by target.
		var targets []int32
		byTarget := map[int32]CharSet{}
		for _, ed := range st.Edges {
			if _, ok := byTarget[ed.To]; !ok {
				targets = append(targets, ed.To)
			}
			byTarget[ed.To] = append(byTarget[ed.To], Range{ed.Lo, ed.Hi})
		}
		var alts []string
		loop := ""
		for _, t := range targets {
			cs := SetOf(byTarget[t]...)
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
		if st.Final {
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

// Tree writes a regex (no anchors) as a grammar fragment; ok is false for
// a tree that matches nothing or holds an anchor or lookahead. Large
// subtrees become rules, once per node, so that shared subtrees are
// written once.
func (w *Writer) Tree(n *Node) (string, bool) {
	if name, ok := w.treeRule[n]; ok {
		return name, true
	}
	f, ok := w.treeUncached(n)
	if ok && len(f) > 200 && (n.Op == OpConcat || n.Op == OpAlt || n.Op == OpRepeat) {
		name := w.b.Helper("re", f)
		w.treeRule[n] = name
		return name, true
	}
	return f, ok
}

func (w *Writer) treeUncached(n *Node) (string, bool) {
	switch n.Op {
	case OpNone:
		return "", false
	case OpEmpty:
		return `""`, true
	case OpChars:
		return w.chars(n.Set), true
	case OpConcat:
		var parts []string
		lit := ""
		for _, s := range n.Subs {
			if s.Op == OpChars && len(s.Set) == 1 && s.Set[0].Lo == s.Set[0].Hi {
				lit += string(s.Set[0].Lo)
				continue
			}
			if lit != "" {
				parts = append(parts, w.text(lit))
				lit = ""
			}
			f, ok := w.Tree(s)
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
	case OpAlt:
		var parts []string
		for _, s := range n.Subs {
			f, ok := w.Tree(s)
			if !ok {
				return "", false
			}
			parts = append(parts, f)
		}
		return "( " + strings.Join(parts, " | ") + " )", true
	case OpRepeat:
		f, ok := w.Tree(n.Subs[0])
		if !ok {
			return "", false
		}
		if strings.Contains(f, " ") && !strings.HasPrefix(f, "(") {
			f = "( " + f + " )"
		}
		if n.Max > gbnf.MaxRepetition || n.Min > gbnf.MaxRepetition {
			f = w.b.Helper("re", f)
		}
		return "( " + w.b.Rep(f, n.Min, n.Max) + " )", true
	}
	return "", false
}

// HasAnchor reports whether n holds ^ or $.
func HasAnchor(n *Node) bool {
	if n.Op == OpBegin || n.Op == OpEnd {
		return true
	}
	for _, s := range n.Subs {
		if HasAnchor(s) {
			return true
		}
	}
	return false
}

// Lengths is the least and greatest length of a regex (hi < 0: unbounded).
func Lengths(n *Node) (lo, hi int) {
	switch n.Op {
	case OpChars:
		return 1, 1
	case OpConcat:
		for _, s := range n.Subs {
			l, h := Lengths(s)
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
	case OpAlt:
		lo, hi = -1, 0
		for _, s := range n.Subs {
			l, h := Lengths(s)
			if lo < 0 || l < lo {
				lo = l
			}
			if hi >= 0 && (h < 0 || h > hi) {
				hi = h
			}
		}
		return max(lo, 0), hi
	case OpRepeat:
		l, h := Lengths(n.Subs[0])
		lo = l * n.Min
		switch {
		case n.Max < 0 || h < 0:
			hi = -1
			if h == 0 {
				hi = 0
			}
		default:
			hi = h * n.Max
		}
		return lo, hi
	}
	return 0, 0
}
