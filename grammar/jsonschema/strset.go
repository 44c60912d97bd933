package jsonschema

import (
	"github.com/locallm/locallm/grammar/regex"
)

// strSet is a set of strings (the decoded values, not their JSON text). A
// nil *strSet is the empty set. Until an operation needs an automaton, the
// set stays a conjunction of length bounds and regex atoms, so that a lone
// pattern with a huge count (^[a-z]{1,5000}$) or a huge maxLength can still
// be emitted as a grammar with counted repetitions; intersections of several
// atoms, unions and complements go through automata.
type strSet struct {
	minLen, maxLen int        // code points; maxLen < 0: no bound. Unused when d != nil.
	atoms          []*strAtom // all must match. Unused when d != nil.
	d              *regex.DFA // when non-nil, the exact set
}

// strAtom is one regular constraint: a pattern or a format.
type strAtom struct {
	re     *regex.Node
	search bool       // pattern semantics: a match anywhere in the string
	what   string     // for messages
	d      *regex.DFA // built on demand
	err    error
	// Formats: the automaton is built once per process and shared, the
	// language is never empty, and large ones are written from the tree.
	tree       *formatTree
	structural bool
}

func (a *strAtom) dfa() (*regex.DFA, error) {
	if a.tree != nil {
		a.tree.once.Do(func() { a.tree.d, a.tree.err = regex.NewDFA(a.tree.re, false) })
		return a.tree.d, a.tree.err
	}
	if a.d == nil && a.err == nil {
		a.d, a.err = regex.NewDFA(a.re, a.search)
	}
	return a.d, a.err
}

func strAll() *strSet { return &strSet{maxLen: -1} }

func strWords(words ...string) *strSet { return &strSet{d: regex.WordsDFA(words)} }

func strOfDFA(d *regex.DFA) *strSet {
	if d.IsEmpty() {
		return nil
	}
	return &strSet{d: d}
}

// isAll reports whether s is syntactically every string.
func (s *strSet) isAll() bool {
	return s != nil && s.d == nil && len(s.atoms) == 0 && s.minLen == 0 && s.maxLen < 0
}

// toDFA returns the exact automaton of s.
func (s *strSet) toDFA() (*regex.DFA, error) {
	if s.d != nil {
		return s.d, nil
	}
	var d *regex.DFA
	if s.minLen > 0 || s.maxLen >= 0 {
		l, err := regex.LengthDFA(s.minLen, s.maxLen)
		if err != nil {
			return nil, err
		}
		d = l
	}
	for _, a := range s.atoms {
		ad, err := a.dfa()
		if err != nil {
			return nil, err
		}
		if d == nil {
			d = ad
			continue
		}
		if d, err = regex.And(d, ad); err != nil {
			return nil, err
		}
	}
	if d == nil {
		d = regex.StarDFA(regex.AnyChar)
	}
	return d, nil
}

func strAnd(a, b *strSet) (*strSet, error) {
	switch {
	case a == nil || b == nil:
		return nil, nil
	case a.isAll():
		return b, nil
	case b.isAll():
		return a, nil
	}
	if a.d == nil && b.d == nil {
		out := &strSet{minLen: max(a.minLen, b.minLen), maxLen: a.maxLen}
		if b.maxLen >= 0 && (out.maxLen < 0 || b.maxLen < out.maxLen) {
			out.maxLen = b.maxLen
		}
		if out.maxLen >= 0 && out.minLen > out.maxLen {
			return nil, nil
		}
		out.atoms = append(append([]*strAtom(nil), a.atoms...), b.atoms...)
		return out, nil
	}
	return strDFAOp(a, b, regex.And)
}

func strOr(a, b *strSet) (*strSet, error) {
	switch {
	case a == nil:
		return b, nil
	case b == nil:
		return a, nil
	case a.isAll() || b.isAll():
		return strAll(), nil
	}
	return strDFAOp(a, b, regex.Or)
}

// strDFAOp combines a and b through their automata with op (regex.And or
// regex.Or).
func strDFAOp(a, b *strSet, op func(x, y *regex.DFA) (*regex.DFA, error)) (*strSet, error) {
	da, err := a.toDFA()
	if err != nil {
		return nil, err
	}
	db, err := b.toDFA()
	if err != nil {
		return nil, err
	}
	d, err := op(da, db)
	if err != nil {
		return nil, err
	}
	return strOfDFA(d), nil
}

func strNot(a *strSet) (*strSet, error) {
	if a == nil {
		return strAll(), nil
	}
	if a.isAll() {
		return nil, nil
	}
	if a.d == nil && len(a.atoms) == 0 {
		// Only lengths: the complement is two length ranges.
		var out *strSet
		if a.minLen > 0 {
			out = &strSet{maxLen: a.minLen - 1}
		}
		if a.maxLen >= 0 {
			o, err := strOr(out, &strSet{minLen: a.maxLen + 1, maxLen: -1})
			if err != nil {
				return nil, err
			}
			out = o
		}
		return out, nil
	}
	d, err := a.toDFA()
	if err != nil {
		return nil, err
	}
	if d, err = regex.Not(d); err != nil {
		return nil, err
	}
	return strOfDFA(d), nil
}

// empty reports whether s has no member; known is false when deciding it
// would take too large an automaton.
func (s *strSet) empty() (empty, known bool) {
	if s == nil {
		return true, true
	}
	if s.d == nil && len(s.atoms) == 0 {
		return s.maxLen >= 0 && s.minLen > s.maxLen, true
	}
	if s.d == nil && len(s.atoms) == 1 && s.atoms[0].tree != nil && s.minLen == 0 && s.maxLen < 0 {
		return false, true
	}
	if s.d == nil && len(s.atoms) == 1 && regex.NFASize(s.atoms[0].re) > regex.StructuralSize {
		return false, false // too large to decide cheaply
	}
	d, err := s.toDFA()
	if err != nil {
		return false, false
	}
	return d.IsEmpty(), true
}

// accepts reports whether the string is in s (for keys known at compile time).
func (s *strSet) accepts(str string) (bool, error) {
	if s == nil {
		return false, nil
	}
	if s.d != nil {
		return s.d.Accepts(str), nil
	}
	n := 0
	for range str {
		n++
	}
	if n < s.minLen || (s.maxLen >= 0 && n > s.maxLen) {
		return false, nil
	}
	for _, a := range s.atoms {
		d, err := a.dfa()
		if err != nil {
			return false, err
		}
		if !d.Accepts(str) {
			return false, nil
		}
	}
	return true, nil
}
