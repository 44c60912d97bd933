package jsonschema

import (
	"fmt"
	"strings"

	"github.com/locallm/locallm/grammar/gbnf"
	"github.com/locallm/locallm/grammar/regex"
)

// The emit layer: nodes to GBNF text in llama.cpp's dialect. Every node
// that is reached becomes one rule (so recursion is a recursive rule),
// automata become right-linear rules (one per state), and counted
// repetitions above llama.cpp's limit of 2000 are nested so that counts
// stay exact.

// maxGrammarBytes bounds the emitted text: the most gbnf.Parse takes.
// Options.MaxGrammarBytes may only lower it.
const maxGrammarBytes = gbnf.MaxSourceSize

type emitter struct {
	c        *compiler
	b        *gbnf.Builder
	w        *regex.Writer
	ws       string // the white space between tokens: "" or " ws "
	nodeRule map[*snode]string
	queue    []*snode
	vsetRule map[*vset]string  // nodes that share a vset share a rule
	chars    map[string]string // jsonChars results by class
}

func newEmitter(c *compiler) *emitter {
	e := &emitter{c: c, b: gbnf.NewBuilder(jsonRules...), nodeRule: map[*snode]string{}, vsetRule: map[*vset]string{}}
	e.w = regex.NewWriter(e.b, e.jsonChars, e.jsonText)
	switch c.opts.Whitespace {
	case WhitespaceFlexible:
		e.ws = " ws "
		e.b.Define("ws", `[ \t\n\r]*`)
	case WhitespaceBounded:
		e.ws = " ws "
		n := c.opts.MaxWhitespace
		if n <= 0 {
			n = 20
		}
		e.b.Define("ws", e.b.Rep(`[ \t\n\r]`, 0, n))
	}
	return e
}

// jsonRules are the names of the shared JSON rules, kept free for them.
var jsonRules = []string{"value", "object", "array", "string", "char", "number", "ws", "hex"}

// use makes sure a shared rule exists.
func (e *emitter) use(name string) string {
	if e.b.Defined(name) {
		return name
	}
	sep := strings.TrimSpace(e.ws + `"," ` + e.ws)
	colon := strings.TrimSpace(e.ws + `":" ` + e.ws)
	open := func(t string) string { return strings.TrimSpace(t + " " + e.ws) }
	close := func(t string) string { return strings.TrimSpace(e.ws + " " + t) }
	switch name {
	case "value":
		e.b.Define(name, `object | array | string | number | "true" | "false" | "null"`)
		e.use("object")
		e.use("array")
		e.use("string")
		e.use("number")
	case "object":
		e.b.Define(name, fmt.Sprintf(`%s ( string %s value ( %s string %s value )* )? %s`, open(`"{"`), colon, sep, colon, close(`"}"`)))
		e.use("string")
		e.use("value")
	case "array":
		e.b.Define(name, fmt.Sprintf(`%s ( value ( %s value )* )? %s`, open(`"["`), sep, close(`"]"`)))
		e.use("value")
	case "string":
		e.b.Define(name, `"\"" char* "\""`)
		e.use("char")
	case "char":
		// One code point: raw, a short escape, a \u escape of a non-surrogate
		// or a surrogate pair. Lone surrogates are left out: they decode to
		// no code point.
		e.b.Define(name, `[^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" ( [0-9a-cA-CeEfF] hex hex hex | [dD] [0-7] hex hex | [dD] [89abAB] hex hex "\\u" [dD] [c-fC-F] hex hex ) )`)
		e.use("hex")
	case "hex":
		e.b.Define(name, `[0-9a-fA-F]`)
	case "number":
		e.b.Define(name, `"-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?`)
	}
	return name
}

// emitRoot emits the grammar for n.
func (e *emitter) emitRoot(n *snode) error {
	e.nodeRule[n] = "root"
	e.b.Reserve("root")
	e.queue = append(e.queue, n)
	for len(e.queue) > 0 {
		x := e.queue[0]
		e.queue = e.queue[1:]
		body, err := e.nodeBody(x)
		if err != nil {
			return e.c.locate(err, x)
		}
		e.b.Define(e.nodeRule[x], body)
		limit := e.c.opts.MaxGrammarBytes
		if limit <= 0 || limit > maxGrammarBytes {
			limit = maxGrammarBytes
		}
		if e.b.Size() > limit || e.b.Len() > maxRuleCount {
			return e.c.locate(ErrTooComplex, x)
		}
	}
	return nil
}

// ref returns the rule name of a node, queueing it for emission.
func (e *emitter) ref(n *snode) string {
	if n == e.c.anyN {
		return e.use("value")
	}
	if name, ok := e.nodeRule[n]; ok {
		return name
	}
	name := e.b.Name(n.hint)
	e.nodeRule[n] = name
	e.queue = append(e.queue, n)
	return name
}

func (e *emitter) live(n *snode) bool {
	empty, err := e.c.isEmpty(n)
	return err == nil && !empty
}

func (e *emitter) nodeBody(n *snode) (string, error) {
	v, err := e.c.force(n)
	if err != nil {
		return "", err
	}
	if _, err := e.c.isEmpty(n); err != nil {
		return "", err
	}
	if name, ok := e.vsetRule[v]; ok && name != e.nodeRule[n] {
		return name, nil
	}
	e.vsetRule[v] = e.nodeRule[n]
	var alts []string
	if e.c.isAnyVset(v) {
		return e.use("value"), nil
	}
	if v.null {
		alts = append(alts, `"null"`)
	}
	if v.bools&2 != 0 {
		alts = append(alts, `"true"`)
	}
	if v.bools&1 != 0 {
		alts = append(alts, `"false"`)
	}
	if v.num != nil {
		s, err := e.number(v.num, n.hint)
		if err != nil {
			return "", err
		}
		alts = append(alts, s)
	}
	if v.str != nil {
		if empty, known := v.str.empty(); !(empty && known) {
			s, err := e.str(v.str, n.hint)
			if err != nil {
				return "", err
			}
			alts = append(alts, s)
		}
	}
	for _, a := range v.arrs {
		s, err := e.array(a, n.hint)
		if err != nil {
			return "", err
		}
		if s != "" {
			alts = append(alts, s)
		}
	}
	for _, o := range v.objs {
		s, err := e.object(o, n.hint)
		if err != nil {
			return "", err
		}
		if s != "" {
			alts = append(alts, s)
		}
	}
	if len(alts) == 0 {
		return "", &SchemaError{Msg: "no value can satisfy this schema"}
	}
	return strings.Join(alts, " | "), nil
}

// --- literals and classes ---

// jsonQuoted is the fragment of the JSON string holding s, quotes
// included.
func (e *emitter) jsonQuoted(s string) string {
	if !needsAltEscapes(s) {
		return gbnf.Literal(jsonQuote(s))
	}
	return `"\"" ` + e.jsonText(s) + ` "\""`
}

func needsAltEscapes(s string) bool {
	for _, r := range s {
		if r >= 0x80 || r == '/' {
			return true
		}
	}
	return false
}

// jsonText is the fragment of s inside a JSON string: the canonical
// spelling, where a non-ASCII character may also be a \u escape (as
// serializers that keep to ASCII write it) and "/" may be "\/".
func (e *emitter) jsonText(s string) string {
	if !needsAltEscapes(s) {
		return jsonLiteral(s)
	}
	var parts []string
	run := ""
	flush := func() {
		if run != "" {
			parts = append(parts, jsonLiteral(run))
			run = ""
		}
	}
	for _, r := range s {
		if r < 0x80 && r != '/' {
			run += string(r)
			continue
		}
		flush()
		parts = append(parts, e.jsonChars(regex.RuneSet(r)))
	}
	flush()
	if len(parts) == 1 {
		return parts[0]
	}
	return "( " + strings.Join(parts, " ") + " )"
}

// hexEscapes is the fragment of the \uXXXX spellings (after the "\u")
// of the code points of cs: one escape in the Basic Multilingual Plane, a
// surrogate pair ("\uD83D\uDE00") beyond. Hex digits may be in either
// case.
func hexEscapes(cs regex.CharSet) string {
	var alts []string
	if bmp := regex.Intersect(cs, regex.CharSet{{Lo: 0, Hi: 0xFFFF}}); !bmp.Empty() {
		alts = append(alts, hexDigits(bmp, 4, 0))
	}
	// Astral code points, grouped by high surrogate.
	type pair struct{ hi, lo regex.CharSet }
	var pairs []pair
	for _, r := range regex.Intersect(cs, regex.CharSet{{Lo: 0x10000, Hi: regex.MaxCodePoint}}) {
		hlo, hhi := 0xD800+(r.Lo-0x10000)>>10, 0xD800+(r.Hi-0x10000)>>10
		llo, lhi := 0xDC00+(r.Lo-0x10000)&0x3FF, 0xDC00+(r.Hi-0x10000)&0x3FF
		if hlo == hhi {
			pairs = append(pairs, pair{regex.CharSet{{Lo: hlo, Hi: hlo}}, regex.CharSet{{Lo: llo, Hi: lhi}}})
			continue
		}
		pairs = append(pairs, pair{regex.CharSet{{Lo: hlo, Hi: hlo}}, regex.CharSet{{Lo: llo, Hi: 0xDFFF}}})
		if hlo+1 <= hhi-1 {
			pairs = append(pairs, pair{regex.CharSet{{Lo: hlo + 1, Hi: hhi - 1}}, regex.CharSet{{Lo: 0xDC00, Hi: 0xDFFF}}})
		}
		pairs = append(pairs, pair{regex.CharSet{{Lo: hhi, Hi: hhi}}, regex.CharSet{{Lo: 0xDC00, Hi: lhi}}})
	}
	for _, p := range pairs {
		alts = append(alts, hexDigits(p.hi, 4, 0)+` "\\u" `+hexDigits(p.lo, 4, 0))
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return "( " + strings.Join(alts, " | ") + " )"
}

// hexDigits writes the k-digit hex spellings of the values of cs that lie
// in [base, base+16^k).
func hexDigits(cs regex.CharSet, k int, base rune) string {
	size := rune(1)
	for i := 1; i < k; i++ {
		size *= 16
	}
	digit := func(v rune) regex.CharSet {
		d := rune("0123456789abcdef"[v])
		if v >= 10 {
			return regex.Union(regex.RuneSet(d), regex.RuneSet(d-'a'+'A'))
		}
		return regex.RuneSet(d)
	}
	var alts []string
	var full regex.CharSet // nibbles whose whole block is in cs
	for v := rune(0); v < 16; v++ {
		lo, hi := base+v*size, base+(v+1)*size-1
		part := regex.Intersect(cs, regex.CharSet{{Lo: lo, Hi: hi}})
		switch {
		case part.Empty():
		case part.Size() == int(size):
			full = regex.Union(full, digit(v))
		default:
			alts = append(alts, regex.Class(digit(v))+" "+hexDigits(part, k-1, lo))
		}
	}
	if !full.Empty() {
		f := regex.Class(full)
		if k > 1 {
			f += fmt.Sprintf(" [0-9a-fA-F]{%d}", k-1)
			if k == 2 {
				f = regex.Class(full) + " [0-9a-fA-F]"
			}
		}
		alts = append([]string{f}, alts...)
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return "( " + strings.Join(alts, " | ") + " )"
}

// jsonLiteral is the GBNF literal of s as it appears inside a JSON string.
func jsonLiteral(s string) string {
	q := jsonQuote(s)
	return gbnf.Literal(q[1 : len(q)-1])
}

// jsonChars is the fragment matching one code point of cs as it appears
// inside a JSON string: raw where JSON allows, else escaped the canonical
// way (\" \\ \b \f \n \r \t, other controls as \u00xx in either case);
// a non-ASCII character may also be a \u escape, and "/" may be "\/",
// as ASCII-only serializers write them.
func (e *emitter) jsonChars(cs regex.CharSet) string {
	key := csKey(cs)
	if f, ok := e.chars[key]; ok {
		return f
	}
	f := e.jsonCharsUncached(cs)
	if e.chars == nil {
		e.chars = map[string]string{}
	}
	e.chars[key] = f
	return f
}

func csKey(cs regex.CharSet) string {
	b := make([]byte, 0, 8*len(cs))
	for _, r := range cs {
		b = append(b, byte(r.Lo), byte(r.Lo>>8), byte(r.Lo>>16), byte(r.Hi), byte(r.Hi>>8), byte(r.Hi>>16))
	}
	return string(b)
}

func (e *emitter) jsonCharsUncached(cs regex.CharSet) string {
	raw := regex.Minus(cs, regex.SetOf(regex.Range{Lo: 0, Hi: 0x1F}, regex.Range{Lo: '"', Hi: '"'}, regex.Range{Lo: '\\', Hi: '\\'}))
	var alts []string
	if !raw.Empty() {
		alts = append(alts, regex.Class(raw))
	}
	var letters regex.CharSet
	for r, l := range map[rune]rune{'"': '"', '\\': '\\', '/': '/', '\b': 'b', '\f': 'f', '\n': 'n', '\r': 'r', '\t': 't'} {
		if cs.Contains(r) {
			letters = regex.Union(letters, regex.RuneSet(l))
		}
	}
	if !letters.Empty() {
		alts = append(alts, `"\\" `+regex.Class(letters))
	}
	for hi := 0; hi < 2; hi++ {
		var lows regex.CharSet
		for lo := 0; lo < 16; lo++ {
			r := rune(hi*16 + lo)
			switch r {
			case '\b', '\f', '\n', '\r', '\t':
				continue
			}
			if cs.Contains(r) {
				d := "0123456789abcdef"[lo]
				lows = regex.Union(lows, regex.RuneSet(rune(d)))
				if d >= 'a' {
					lows = regex.Union(lows, regex.RuneSet(rune(d-'a'+'A')))
				}
			}
		}
		if !lows.Empty() {
			alts = append(alts, fmt.Sprintf(`"\\u00%d" %s`, hi, regex.Class(lows)))
		}
	}
	// Classes of many ranges (\p{Letter}) would cost kilobytes of escapes:
	// those admit their characters raw only.
	if wide := regex.Intersect(cs, regex.CharSet{{Lo: 0x80, Hi: regex.MaxCodePoint}}); !wide.Empty() && len(wide) <= maxEscapedRanges {
		alts = append(alts, `"\\u" `+hexEscapes(wide))
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return e.b.Helper("c", strings.Join(alts, " | "))
}

// --- numbers and strings ---

func (e *emitter) number(ns *numSet, hint string) (string, error) {
	if ns.all {
		return e.use("number"), nil
	}
	if hasFraction(ns.d) {
		if padded, err := numPadded(ns.d); err == nil {
			return e.dfa(padded, hint+"-num", false), nil
		}
	}
	if words, ok := ns.d.FiniteWords(maxLiteralAlts); ok {
		var lits []string
		for _, w := range words {
			lits = append(lits, gbnf.Literal(w))
		}
		return e.literals(lits, hint+"-num"), nil
	}
	return e.dfa(ns.d, hint+"-num", false), nil
}

// maxEscapedRanges bounds the classes whose non-ASCII characters may also
// be written as \u escapes.
const maxEscapedRanges = 32

// maxLiteralAlts bounds the finite sets written as literal alternatives
// rather than automata.
const maxLiteralAlts = 64

// literals writes a choice of literals, as a rule when there are several.
func (e *emitter) literals(lits []string, hint string) string {
	if len(lits) == 1 {
		return lits[0]
	}
	return e.b.Helper(hint, strings.Join(lits, " | "))
}

func (e *emitter) str(s *strSet, hint string) (string, error) {
	if s.isAll() {
		return e.use("string"), nil
	}
	if s.d == nil && len(s.atoms) == 0 {
		return `"\"" ` + e.b.Rep(e.use("char"), s.minLen, s.maxLen) + ` "\""`, nil
	}
	if s.d == nil && len(s.atoms) == 1 && (s.atoms[0].structural || regex.NFASize(s.atoms[0].re) > regex.StructuralSize) {
		if frag, ok := e.strStructural(s); ok {
			return `"\"" ` + frag + ` "\""`, nil
		}
	}
	d, err := s.toDFA()
	if err != nil {
		frag, ok := e.strStructural(s)
		if !ok {
			if !e.c.lenient {
				return "", err
			}
			return e.strApprox(s, hint)
		}
		return `"\"" ` + frag + ` "\""`, nil
	}
	if d.IsEmpty() {
		return "", nil
	}
	if words, ok := d.FiniteWords(maxLiteralAlts); ok {
		var lits []string
		for _, w := range words {
			lits = append(lits, e.jsonQuoted(w))
		}
		return e.literals(lits, hint+"-str"), nil
	}
	return `"\"" ` + e.dfa(d, hint+"-str", true) + ` "\""`, nil
}

// strApprox writes, in lenient mode, a set of strings too large for one
// automaton from above: by one of its patterns or formats alone, or its
// lengths alone, or as any string. (At emission every set is part of the
// grammar's language, so above is always the safe side.) A format with a
// pattern, such as "format": "regex" beside "minLength", is the usual case.
func (e *emitter) strApprox(s *strSet, hint string) (string, error) {
	for _, a := range s.atoms {
		one := &strSet{maxLen: -1, atoms: []*strAtom{a}}
		if frag, ok := e.strStructural(one); ok {
			return `"\"" ` + frag + ` "\""`, nil
		}
		if d, err := a.dfa(); err == nil && !d.IsEmpty() {
			return `"\"" ` + e.dfa(d, hint+"-str", true) + ` "\""`, nil
		}
	}
	return `"\"" ` + e.b.Rep(e.use("char"), s.minLen, s.maxLen) + ` "\""`, nil
}

// dfa writes an automaton as rules and returns the start rule. With json,
// characters are written as they appear inside a JSON string.
func (e *emitter) dfa(d *regex.DFA, hint string, json bool) string {
	if json {
		return e.w.DFA(d, hint, e.jsonChars)
	}
	return e.w.DFA(d, hint, nil)
}

// strStructural writes a lone pattern as grammar without an automaton, for
// patterns whose automaton is too large (big counted repetitions).
func (e *emitter) strStructural(s *strSet) (string, bool) {
	if s.d != nil || len(s.atoms) != 1 {
		return "", false
	}
	a := s.atoms[0]
	re := a.re
	branches := []*regex.Node{re}
	if re.Op == regex.OpAlt {
		branches = re.Subs
	}
	anyRun := e.jsonChars(regex.AnyChar) + "*"
	var alts []string
	for _, br := range branches {
		items := []*regex.Node{br}
		if br.Op == regex.OpConcat {
			items = br.Subs
		}
		begin, end := false, false
		if len(items) > 0 && items[0].Op == regex.OpBegin {
			begin, items = true, items[1:]
		}
		if len(items) > 0 && items[len(items)-1].Op == regex.OpEnd {
			end, items = true, items[:len(items)-1]
		}
		if !a.search {
			begin, end = true, true // a whole-string match, anchors or not
		}
		body := regex.Cat(items...)
		if regex.HasAnchor(body) {
			return "", false
		}
		frag, ok := e.w.Tree(body)
		if !ok {
			return "", false
		}
		lo, hi := regex.Lengths(body)
		if s.minLen > 0 || s.maxLen >= 0 {
			// Lengths merge only into a fully anchored run of one class.
			if !(begin && end) {
				return "", false
			}
			if s.minLen <= lo && (s.maxLen < 0 || (hi >= 0 && hi <= s.maxLen)) {
				// implied
			} else if body.Op == regex.OpRepeat && body.Subs[0].Op == regex.OpChars {
				mn := max(body.Min, s.minLen)
				mx := minBound(body.Max, s.maxLen)
				if mx >= 0 && mn > mx {
					return `""`, false
				}
				frag = e.b.Rep(e.jsonChars(body.Subs[0].Set), mn, mx)
			} else {
				return "", false
			}
		}
		parts := []string{}
		if !begin {
			parts = append(parts, anyRun)
		}
		parts = append(parts, frag)
		if !end {
			parts = append(parts, anyRun)
		}
		alts = append(alts, strings.Join(parts, " "))
	}
	if len(alts) == 1 {
		return alts[0], true
	}
	return "( " + strings.Join(alts, " | ") + " )", true
}
