package grammar

import "fmt"

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
	e := newEmitter(newCompiler(SchemaOptions{}, nil))
	e.raw = true
	body := ""
	if reSize(re) > structuralSize && !hasAnchor(re) {
		if frag, ok := e.reFrag(re); ok {
			e.define("root", frag)
			return e.checked()
		}
	}
	if d, err := compileRegexDFA(re, false); err == nil {
		if d.isEmpty() {
			return "", &RegexError{Pattern: pattern, Msg: "the pattern matches nothing"}
		}
		body = e.dfa(d, "re", false)
	} else {
		frag, ok := "", false
		if !hasAnchor(re) {
			frag, ok = e.reFrag(re)
		}
		if !ok {
			return "", &RegexError{Pattern: pattern, Msg: fmt.Sprintf("too large to compile: %v", err)}
		}
		body = frag
	}
	e.define("root", body)
	return e.checked()
}

// checked returns the grammar text after checking it with Parse.
func (e *emitter) checked() (string, error) {
	text := e.text()
	if _, err := Parse("regex", text); err != nil {
		return "", fmt.Errorf("grammar: internal error: the compiled grammar does not parse: %w", err)
	}
	return text, nil
}
