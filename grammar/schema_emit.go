package grammar

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The emit layer: nodes to GBNF text in llama.cpp's dialect. Every node
// that is reached becomes one rule (so recursion is a recursive rule),
// automata become right-linear rules (one per state), and counted
// repetitions above llama.cpp's limit of 2000 are nested so that counts
// stay exact.

// maxGrammarBytes bounds the emitted text unless
// SchemaOptions.MaxGrammarBytes says otherwise.
const maxGrammarBytes = 8 << 20

// repChunk is the block size used to nest repetitions past llama.cpp's
// limit; llamaMaxRepeat is that limit.
const (
	repChunk       = 1000
	llamaMaxRepeat = 2000
)

type emitter struct {
	c        *compiler
	ws       string // the white space between tokens: "" or " ws "
	names    map[string]bool
	order    []string
	bodies   map[string]string
	nodeRule map[*snode]string
	queue    []*snode
	shared   map[string]string // helper bodies already emitted -> rule name
	dfaRule  map[*dfa]string
	vsetRule map[*vset]string // nodes that share a vset share a rule
	size     int
	raw      bool               // characters are written raw, not as inside a JSON string
	chars    map[string]string  // jsonChars results by class
	reRule   map[*reNode]string // regex subtrees written as rules
}

func newEmitter(c *compiler) *emitter {
	e := &emitter{c: c, names: map[string]bool{}, bodies: map[string]string{}, nodeRule: map[*snode]string{},
		shared: map[string]string{}, dfaRule: map[*dfa]string{}, vsetRule: map[*vset]string{}}
	switch c.opts.Whitespace {
	case WhitespaceFlexible:
		e.ws = " ws "
		e.define("ws", `[ \t\n\r]*`)
	case WhitespaceBounded:
		e.ws = " ws "
		n := c.opts.MaxWhitespace
		if n <= 0 {
			n = 20
		}
		e.define("ws", e.rep(`[ \t\n\r]`, 0, n))
	}
	return e
}

// newName returns a fresh rule name derived from hint.
func (e *emitter) newName(hint string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(hint) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
		}
		if b.Len() > 40 {
			break
		}
	}
	base := strings.Trim(b.String(), "-")
	if base == "" {
		base = "r"
	}
	name := base
	for i := 2; e.names[name] || reservedRule[name]; i++ {
		name = base + "-" + strconv.Itoa(i)
	}
	e.names[name] = true
	return name
}

// Names of the shared helper rules, kept free for them.
var reservedRule = map[string]bool{"value": true, "object": true, "array": true, "string": true, "char": true,
	"number": true, "ws": true, "hex": true, "root": false}

func (e *emitter) define(name, body string) {
	if _, ok := e.bodies[name]; !ok {
		e.order = append(e.order, name)
		e.names[name] = true
	}
	e.bodies[name] = body
	e.size += len(name) + len(body) + 6
}

// helper defines (once) a rule with the given body and returns its name.
func (e *emitter) helper(hint, body string) string {
	if name, ok := e.shared[body]; ok {
		return name
	}
	name := e.newName(hint)
	e.shared[body] = name
	e.define(name, body)
	return name
}

// use makes sure a shared rule exists.
func (e *emitter) use(name string) string {
	if _, ok := e.bodies[name]; ok {
		return name
	}
	sep := strings.TrimSpace(e.ws + `"," ` + e.ws)
	colon := strings.TrimSpace(e.ws + `":" ` + e.ws)
	open := func(t string) string { return strings.TrimSpace(t + " " + e.ws) }
	close := func(t string) string { return strings.TrimSpace(e.ws + " " + t) }
	switch name {
	case "value":
		e.define(name, `object | array | string | number | "true" | "false" | "null"`)
		e.use("object")
		e.use("array")
		e.use("string")
		e.use("number")
	case "object":
		e.define(name, fmt.Sprintf(`%s ( string %s value ( %s string %s value )* )? %s`, open(`"{"`), colon, sep, colon, close(`"}"`)))
		e.use("string")
		e.use("value")
	case "array":
		e.define(name, fmt.Sprintf(`%s ( value ( %s value )* )? %s`, open(`"["`), sep, close(`"]"`)))
		e.use("value")
	case "string":
		e.define(name, `"\"" char* "\""`)
		e.use("char")
	case "char":
		// One code point: raw, a short escape, a \u escape of a non-surrogate
		// or a surrogate pair. Lone surrogates are left out: they decode to
		// no code point.
		e.define(name, `[^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" ( [0-9a-cA-CeEfF] hex hex hex | [dD] [0-7] hex hex | [dD] [89abAB] hex hex "\\u" [dD] [c-fC-F] hex hex ) )`)
		e.use("hex")
	case "hex":
		e.define(name, `[0-9a-fA-F]`)
	case "number":
		e.define(name, `"-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?`)
	}
	return name
}

// text returns the grammar, root first.
func (e *emitter) text() string {
	var b strings.Builder
	names := slices.Clone(e.order)
	// root first, then the rest in creation order.
	for i, n := range names {
		if n == "root" {
			names = append([]string{"root"}, append(names[:i:i], names[i+1:]...)...)
			break
		}
	}
	for _, n := range names {
		b.WriteString(n)
		b.WriteString(" ::= ")
		b.WriteString(e.bodies[n])
		b.WriteByte('\n')
	}
	return b.String()
}

// emitRoot emits the grammar for n.
func (e *emitter) emitRoot(n *snode) error {
	e.nodeRule[n] = "root"
	e.names["root"] = true
	e.queue = append(e.queue, n)
	for len(e.queue) > 0 {
		x := e.queue[0]
		e.queue = e.queue[1:]
		body, err := e.nodeBody(x)
		if err != nil {
			return e.c.locate(err, x)
		}
		e.define(e.nodeRule[x], body)
		limit := e.c.opts.MaxGrammarBytes
		if limit <= 0 {
			limit = maxGrammarBytes
		}
		if e.size > limit || len(e.order) > maxRuleCount {
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
	name := e.newName(n.hint)
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

// lit is the GBNF fragment of s inside a JSON string (see jsonText), or
// raw.
func (e *emitter) lit(s string) string {
	if e.raw {
		return gbnfLiteral(s)
	}
	return e.jsonText(s)
}

// jsonQuoted is the fragment of the JSON string holding s, quotes
// included.
func (e *emitter) jsonQuoted(s string) string {
	if !needsAltEscapes(s) {
		return gbnfLiteral(jsonQuote(s))
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
		parts = append(parts, e.jsonChars(csRune(r)))
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
func hexEscapes(cs charSet) string {
	var alts []string
	if bmp := csIntersect(cs, charSet{{0, 0xFFFF}}); !bmp.empty() {
		alts = append(alts, hexDigits(bmp, 4, 0))
	}
	// Astral code points, grouped by high surrogate.
	type pair struct{ hi, lo charSet }
	var pairs []pair
	for _, r := range csIntersect(cs, charSet{{0x10000, maxCodePoint}}) {
		hlo, hhi := 0xD800+(r.lo-0x10000)>>10, 0xD800+(r.hi-0x10000)>>10
		llo, lhi := 0xDC00+(r.lo-0x10000)&0x3FF, 0xDC00+(r.hi-0x10000)&0x3FF
		if hlo == hhi {
			pairs = append(pairs, pair{charSet{{hlo, hlo}}, charSet{{llo, lhi}}})
			continue
		}
		pairs = append(pairs, pair{charSet{{hlo, hlo}}, charSet{{llo, 0xDFFF}}})
		if hlo+1 <= hhi-1 {
			pairs = append(pairs, pair{charSet{{hlo + 1, hhi - 1}}, charSet{{0xDC00, 0xDFFF}}})
		}
		pairs = append(pairs, pair{charSet{{hhi, hhi}}, charSet{{0xDC00, lhi}}})
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
func hexDigits(cs charSet, k int, base rune) string {
	size := rune(1)
	for i := 1; i < k; i++ {
		size *= 16
	}
	digit := func(v rune) charSet {
		d := rune("0123456789abcdef"[v])
		if v >= 10 {
			return csUnion(csRune(d), csRune(d-'a'+'A'))
		}
		return csRune(d)
	}
	var alts []string
	var full charSet // nibbles whose whole block is in cs
	for v := rune(0); v < 16; v++ {
		lo, hi := base+v*size, base+(v+1)*size-1
		part := csIntersect(cs, charSet{{lo, hi}})
		switch {
		case part.empty():
		case part.size() == int(size):
			full = csUnion(full, digit(v))
		default:
			alts = append(alts, gbnfClass(digit(v))+" "+hexDigits(part, k-1, lo))
		}
	}
	if !full.empty() {
		f := gbnfClass(full)
		if k > 1 {
			f += fmt.Sprintf(" [0-9a-fA-F]{%d}", k-1)
			if k == 2 {
				f = gbnfClass(full) + " [0-9a-fA-F]"
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
	return gbnfLiteral(q[1 : len(q)-1])
}

// gbnfLiteral quotes s as a GBNF string literal.
func gbnfLiteral(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		writeGBNFChar(&b, r, false)
	}
	b.WriteByte('"')
	return b.String()
}

func writeGBNFChar(b *strings.Builder, r rune, inClass bool) {
	switch {
	case !inClass && (r == '"' || r == '\\'):
		b.WriteByte('\\')
		b.WriteRune(r)
	case r == '"' || r == '\\' || (inClass && (r == ']' || r == '[' || r == '-' || r == '^')):
		fmt.Fprintf(b, `\x%02X`, r)
	case r >= 0x20 && r < 0x7F:
		b.WriteRune(r)
	case r <= 0xFF:
		fmt.Fprintf(b, `\x%02X`, r)
	case r <= 0xFFFF:
		fmt.Fprintf(b, `\u%04X`, r)
	default:
		fmt.Fprintf(b, `\U%08X`, r)
	}
}

// gbnfClass writes a character class for cs (never empty): as listed,
// with the surrogate block merged in, or negated, whichever is shortest.
// Surrogates never occur in text, so all three match the same input.
func gbnfClass(cs charSet) string {
	set, prefix := cs, "["
	if ws := withSurrogates(cs); len(ws) < len(set) {
		set = ws
	}
	var comp charSet
	next := rune(0)
	for _, r := range withSurrogates(cs) {
		if r.lo > next {
			comp = append(comp, runeRange{next, r.lo - 1})
		}
		next = r.hi + 1
	}
	if next <= maxCodePoint {
		comp = append(comp, runeRange{next, maxCodePoint})
	}
	if len(comp) > 0 && len(comp) < len(set) {
		set, prefix = comp, "[^"
	}
	if prefix == "[" && len(set) == 1 && set[0].lo == set[0].hi {
		return gbnfLiteral(string(set[0].lo))
	}
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range set {
		writeGBNFChar(&b, r.lo, true)
		if r.hi != r.lo {
			b.WriteByte('-')
			writeGBNFChar(&b, r.hi, true)
		}
	}
	b.WriteByte(']')
	return b.String()
}

// withSurrogates adds the surrogate block to cs, merging neighbours.
func withSurrogates(cs charSet) []runeRange {
	var out []runeRange
	added := false
	add := func(r runeRange) {
		if n := len(out); n > 0 && r.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			return
		}
		out = append(out, r)
	}
	for _, r := range cs {
		if !added && r.lo > surrogateFirst {
			add(runeRange{surrogateFirst, surrogateLast})
			added = true
		}
		add(r)
	}
	if !added {
		add(runeRange{surrogateFirst, surrogateLast})
	}
	return out
}

// jsonChars is the fragment matching one code point of cs as it appears
// inside a JSON string: raw where JSON allows, else escaped the canonical
// way (\" \\ \b \f \n \r \t, other controls as \u00xx in either case);
// a non-ASCII character may also be a \u escape, and "/" may be "\/",
// as ASCII-only serializers write them.
func (e *emitter) jsonChars(cs charSet) string {
	if e.raw {
		return gbnfClass(cs)
	}
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

func csKey(cs charSet) string {
	b := make([]byte, 0, 8*len(cs))
	for _, r := range cs {
		b = append(b, byte(r.lo), byte(r.lo>>8), byte(r.lo>>16), byte(r.hi), byte(r.hi>>8), byte(r.hi>>16))
	}
	return string(b)
}

func (e *emitter) jsonCharsUncached(cs charSet) string {
	raw := csMinus(cs, csOf(runeRange{0, 0x1F}, runeRange{'"', '"'}, runeRange{'\\', '\\'}))
	var alts []string
	if !raw.empty() {
		alts = append(alts, gbnfClass(raw))
	}
	var letters charSet
	for r, l := range map[rune]rune{'"': '"', '\\': '\\', '/': '/', '\b': 'b', '\f': 'f', '\n': 'n', '\r': 'r', '\t': 't'} {
		if cs.contains(r) {
			letters = csUnion(letters, csRune(l))
		}
	}
	if !letters.empty() {
		alts = append(alts, `"\\" `+gbnfClass(letters))
	}
	for hi := 0; hi < 2; hi++ {
		var lows charSet
		for lo := 0; lo < 16; lo++ {
			r := rune(hi*16 + lo)
			switch r {
			case '\b', '\f', '\n', '\r', '\t':
				continue
			}
			if cs.contains(r) {
				d := "0123456789abcdef"[lo]
				lows = csUnion(lows, csRune(rune(d)))
				if d >= 'a' {
					lows = csUnion(lows, csRune(rune(d-'a'+'A')))
				}
			}
		}
		if !lows.empty() {
			alts = append(alts, fmt.Sprintf(`"\\u00%d" %s`, hi, gbnfClass(lows)))
		}
	}
	// Classes of many ranges (\p{Letter}) would cost kilobytes of escapes:
	// those admit their characters raw only.
	if wide := csIntersect(cs, charSet{{0x80, maxCodePoint}}); !wide.empty() && len(wide) <= maxEscapedRanges {
		alts = append(alts, `"\\u" `+hexEscapes(wide))
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return e.helper("c", strings.Join(alts, " | "))
}

// --- repetition ---

// rep writes x repeated min..max times (max < 0: unbounded), nesting
// counts above llama.cpp's limit. x must be a single element (a rule name,
// literal, class or group).
func (e *emitter) rep(x string, min, max int) string {
	var parts []string
	if min > 0 {
		parts = append(parts, e.repExact(x, min))
	}
	switch {
	case max < 0:
		parts = append(parts, x+"*")
	case max > min:
		parts = append(parts, e.repUpTo(x, max-min))
	}
	return strings.Join(parts, " ")
}

func (e *emitter) repExact(x string, n int) string {
	switch {
	case n == 0:
		return ""
	case n == 1:
		return x
	case n <= llamaMaxRepeat:
		return fmt.Sprintf("%s{%d}", x, n)
	}
	blk := e.helper("rep", fmt.Sprintf("%s{%d}", x, repChunk))
	s := e.repExact(blk, n/repChunk)
	if r := n % repChunk; r > 0 {
		s += " " + e.repExact(x, r)
	}
	return s
}

// repUpTo writes x repeated 0..n times. For n past the limit, the count is
// either below a whole number of blocks (some blocks, then fewer than a
// block) or exactly all blocks and a remainder.
func (e *emitter) repUpTo(x string, n int) string {
	switch {
	case n == 0:
		return ""
	case n == 1:
		return x + "?"
	case n <= llamaMaxRepeat:
		return fmt.Sprintf("%s{0,%d}", x, n)
	}
	blk := e.helper("rep", fmt.Sprintf("%s{%d}", x, repChunk))
	q, r := n/repChunk, n%repChunk
	below := strings.TrimSpace(e.repUpTo(blk, q-1) + " " + e.repUpTo(x, repChunk-1))
	full := strings.TrimSpace(e.repExact(blk, q) + " " + e.repUpTo(x, r))
	return "( " + below + " | " + full + " )"
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
	if words, ok := ns.d.finiteWords(maxLiteralAlts); ok {
		var lits []string
		for _, w := range words {
			lits = append(lits, gbnfLiteral(w))
		}
		return e.literals(lits, hint+"-num"), nil
	}
	return e.dfa(ns.d, hint+"-num", false), nil
}

// maxEscapedRanges bounds the classes whose non-ASCII characters may also
// be written as \u escapes.
const maxEscapedRanges = 32

// structuralSize is the automaton size beyond which a lone pattern is
// written as grammar from its syntax tree.
const structuralSize = 2000

// maxLiteralAlts bounds the finite sets written as literal alternatives
// rather than automata.
const maxLiteralAlts = 64

// literals writes a choice of literals, as a rule when there are several.
func (e *emitter) literals(lits []string, hint string) string {
	if len(lits) == 1 {
		return lits[0]
	}
	return e.helper(hint, strings.Join(lits, " | "))
}

func (e *emitter) str(s *strSet, hint string) (string, error) {
	if s.isAll() {
		return e.use("string"), nil
	}
	if s.d == nil && len(s.atoms) == 0 {
		return `"\"" ` + e.rep(e.use("char"), s.minLen, s.maxLen) + ` "\""`, nil
	}
	if s.d == nil && len(s.atoms) == 1 && (s.atoms[0].structural || reSize(s.atoms[0].re) > structuralSize) {
		if frag, ok := e.strStructural(s); ok {
			return `"\"" ` + frag + ` "\""`, nil
		}
	}
	d, err := s.toDFA()
	if err != nil {
		frag, ok := e.strStructural(s)
		if !ok {
			return "", err
		}
		return `"\"" ` + frag + ` "\""`, nil
	}
	if d.isEmpty() {
		return "", nil
	}
	if words, ok := d.finiteWords(maxLiteralAlts); ok {
		var lits []string
		for _, w := range words {
			lits = append(lits, e.jsonQuoted(w))
		}
		return e.literals(lits, hint+"-str"), nil
	}
	return `"\"" ` + e.dfa(d, hint+"-str", true) + ` "\""`, nil
}

// dfa emits an automaton as one rule per state and returns the start rule.
// With json, characters are written as they appear inside a JSON string.
func (e *emitter) dfa(d *dfa, hint string, json bool) string {
	if name, ok := e.dfaRule[d]; ok {
		return name
	}
	d = d.trim()
	// A final state without edges needs no rule: it is the end.
	isEnd := func(s int32) bool { return d.states[s].final && len(d.states[s].edges) == 0 }
	names := make([]string, len(d.states))
	base := e.newName(hint)
	for i := range d.states {
		if i == 0 {
			names[i] = base
		} else if !isEnd(int32(i)) {
			names[i] = e.newName(base + "-" + strconv.Itoa(i))
		}
	}
	e.dfaRule[d] = base
	class := func(cs charSet) string {
		if json {
			return e.jsonChars(cs)
		}
		return gbnfClass(cs)
	}
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
			frag := class(cs)
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
		e.define(names[i], body)
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

// strStructural writes a lone pattern as grammar without an automaton, for
// patterns whose automaton is too large (big counted repetitions).
func (e *emitter) strStructural(s *strSet) (string, bool) {
	if s.d != nil || len(s.atoms) != 1 {
		return "", false
	}
	a := s.atoms[0]
	re := a.re
	branches := []*reNode{re}
	if re.op == reAlt {
		branches = re.subs
	}
	anyRun := e.jsonChars(anyChar) + "*"
	var alts []string
	for _, br := range branches {
		items := []*reNode{br}
		if br.op == reConcat {
			items = br.subs
		}
		begin, end := false, false
		if len(items) > 0 && items[0].op == reBegin {
			begin, items = true, items[1:]
		}
		if len(items) > 0 && items[len(items)-1].op == reEnd {
			end, items = true, items[:len(items)-1]
		}
		if !a.search {
			begin, end = true, true // a whole-string match, anchors or not
		}
		body := reCat(items...)
		if hasAnchor(body) {
			return "", false
		}
		frag, ok := e.reFrag(body)
		if !ok {
			return "", false
		}
		lo, hi := reLengths(body)
		if s.minLen > 0 || s.maxLen >= 0 {
			// Lengths merge only into a fully anchored run of one class.
			if !(begin && end) {
				return "", false
			}
			if s.minLen <= lo && (s.maxLen < 0 || (hi >= 0 && hi <= s.maxLen)) {
				// implied
			} else if body.op == reRepeat && body.subs[0].op == reChars {
				mn := max(body.min, s.minLen)
				mx := minBound(body.max, s.maxLen)
				if mx >= 0 && mn > mx {
					return `""`, false
				}
				frag = e.rep(e.jsonChars(body.subs[0].cs), mn, mx)
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

// reFrag writes a regex (no anchors) as a grammar fragment. Large
// subtrees become rules, once per node, so that shared subtrees are
// written once.
func (e *emitter) reFrag(n *reNode) (string, bool) {
	if name, ok := e.reRule[n]; ok {
		return name, true
	}
	f, ok := e.reFragUncached(n)
	if ok && len(f) > 200 && (n.op == reConcat || n.op == reAlt || n.op == reRepeat) {
		if e.reRule == nil {
			e.reRule = map[*reNode]string{}
		}
		name := e.helper("re", f)
		e.reRule[n] = name
		return name, true
	}
	return f, ok
}

func (e *emitter) reFragUncached(n *reNode) (string, bool) {
	switch n.op {
	case reNone:
		return "", false
	case reEmpty:
		return `""`, true
	case reChars:
		return e.jsonChars(n.cs), true
	case reConcat:
		var parts []string
		lit := ""
		for _, s := range n.subs {
			if s.op == reChars && len(s.cs) == 1 && s.cs[0].lo == s.cs[0].hi {
				lit += string(s.cs[0].lo)
				continue
			}
			if lit != "" {
				parts = append(parts, e.lit(lit))
				lit = ""
			}
			f, ok := e.reFrag(s)
			if !ok {
				return "", false
			}
			parts = append(parts, f)
		}
		if lit != "" {
			parts = append(parts, e.lit(lit))
		}
		if len(parts) == 1 {
			return parts[0], true
		}
		return "( " + strings.Join(parts, " ") + " )", true
	case reAlt:
		var parts []string
		for _, s := range n.subs {
			f, ok := e.reFrag(s)
			if !ok {
				return "", false
			}
			parts = append(parts, f)
		}
		return "( " + strings.Join(parts, " | ") + " )", true
	case reRepeat:
		f, ok := e.reFrag(n.subs[0])
		if !ok {
			return "", false
		}
		if strings.Contains(f, " ") && !strings.HasPrefix(f, "(") {
			f = "( " + f + " )"
		}
		if n.max > llamaMaxRepeat || n.min > llamaMaxRepeat {
			f = e.helper("re", f)
		}
		return "( " + e.rep(f, n.min, n.max) + " )", true
	}
	return "", false
}
