package regex

import (
	"fmt"

	"github.com/locallm/locallm/grammar/gbnf"
)

// StructuralSize is the automaton size beyond which a lone pattern is
// written as grammar from its syntax tree.
const StructuralSize = 2000

// Compile compiles an ECMA-262 regular expression (the dialect of JSON
// Schema's "pattern", see Error for what is refused) to a GBNF
// grammar whose language is the texts the pattern matches as a whole, as
// if it were written ^(?:pattern)$; anchors inside it keep their meaning.
// Characters are code points, matched raw (no JSON escaping): this is for
// constraining free text, not a JSON string. The grammar is checked with
// Parse before it is returned.
func Compile(pattern string) (*gbnf.Grammar, error) {
	re, err := Parse(pattern)
	if err != nil {
		return nil, err
	}
	b := gbnf.NewBuilder()
	w := NewWriter(b, nil, nil)
	body := ""
	if NFASize(re) > StructuralSize && !HasAnchor(re) {
		if frag, ok := w.Tree(re); ok {
			b.Define("root", frag)
			return checkedRegex(b)
		}
	}
	if d, err := NewDFA(re, false); err == nil {
		if d.IsEmpty() {
			return nil, &Error{Pattern: pattern, Msg: "the pattern matches nothing"}
		}
		body = w.DFA(d, "re", nil)
	} else {
		frag, ok := "", false
		if !HasAnchor(re) {
			frag, ok = w.Tree(re)
		}
		if !ok {
			return nil, &Error{Pattern: pattern, Msg: fmt.Sprintf("too large to compile: %v", err)}
		}
		body = frag
	}
	b.Define("root", body)
	return checkedRegex(b)
}

// checkedRegex parses the grammar written.
func checkedRegex(b *gbnf.Builder) (*gbnf.Grammar, error) {
	g, err := b.Grammar("regex")
	if err != nil {
		return nil, fmt.Errorf("regex: internal error: the compiled grammar does not parse: %w", err)
	}
	return g, nil
}
