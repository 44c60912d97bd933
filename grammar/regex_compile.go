package grammar

import "fmt"

// structuralSize is the automaton size beyond which a lone pattern is
// written as grammar from its syntax tree.
const structuralSize = 2000

// CompileRegex compiles an ECMA-262 regular expression (the dialect of
// JSON Schema's "pattern", see RegexError for what is refused) to a GBNF
// grammar whose language is the texts the pattern matches as a whole, as
// if it were written ^(?:pattern)$; anchors inside it keep their meaning.
// Characters are code points, matched raw (no JSON escaping): this is for
// constraining free text, not a JSON string. The grammar is checked with
// Parse before it is returned.
func CompileRegex(pattern string) (string, error) {
	re, err := parseRegex(pattern)
	if err != nil {
		return "", err
	}
	b := NewBuilder()
	w := newRegexWriter(b, nil, nil)
	body := ""
	if reSize(re) > structuralSize && !hasAnchor(re) {
		if frag, ok := w.tree(re); ok {
			b.Define("root", frag)
			return checkedRegex(b)
		}
	}
	if d, err := compileRegexDFA(re, false); err == nil {
		if d.isEmpty() {
			return "", &RegexError{Pattern: pattern, Msg: "the pattern matches nothing"}
		}
		body = w.dfa(d, "re", nil)
	} else {
		frag, ok := "", false
		if !hasAnchor(re) {
			frag, ok = w.tree(re)
		}
		if !ok {
			return "", &RegexError{Pattern: pattern, Msg: fmt.Sprintf("too large to compile: %v", err)}
		}
		body = frag
	}
	b.Define("root", body)
	return checkedRegex(b)
}

// checkedRegex returns the grammar text after checking it with Parse.
func checkedRegex(b *Builder) (string, error) {
	text := b.String()
	if _, err := Parse("regex", text); err != nil {
		return "", fmt.Errorf("grammar: internal error: the compiled grammar does not parse: %w", err)
	}
	return text, nil
}
