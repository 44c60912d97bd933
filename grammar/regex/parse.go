package regex

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// This file parses the ECMA-262 regular expressions of JSON Schema's
// "pattern" and "patternProperties" into a small syntax tree. What the tree
// can hold is what a grammar can express: literal characters and classes,
// concatenation, alternation, counted repetition, the two anchors, and
// lookaheads right after a leading ^ (as in password rules,
// ^(?=.*[0-9])(?!.*\s).{8,}$), which are intersections and differences of
// regular languages. Lookbehinds, other lookaheads, backreferences and
// word boundaries need memory of the text around them, so they are
// reported as errors rather than dropped.
//
// The dialect is ECMA-262 with the u flag as JSON Schema intends, read
// generously where the flag changes only what is an error: identity escapes
// of punctuation and a "{" that starts no quantifier are taken literally, as
// browsers do. Code points, not UTF-16 units, are matched.

// Error reports a pattern this package cannot translate: either invalid
// ECMA-262 or a construct no grammar can express.
type Error struct {
	Pattern string
	Offset  int // byte offset into Pattern
	Msg     string
}

func (e *Error) Error() string {
	return fmt.Sprintf("regex: pattern %q: offset %d: %s", e.Pattern, e.Offset, e.Msg)
}

// Op is the kind of a Node.
type Op uint8

const (
	OpNone   Op = iota // matches nothing
	OpEmpty            // matches the empty string
	OpChars            // one code point from Set
	OpConcat           // Subs in sequence
	OpAlt              // one of Subs
	OpRepeat           // Subs[0] between Min and Max times (Max < 0: unbounded)
	OpBegin            // ^: the start of the input
	OpEnd              // $: the end of the input
	OpLook             // (?=Subs[0]) when Min is 1, (?!Subs[0]) when 0; only right after a leading ^
)

// Node is a regex syntax tree, as Parse returns it or as the
// constructors (Lit, Chars, Cat, Alt, Repeat) build it, simplifying as
// they go. Trees are never modified once built, so subtrees may be
// shared.
type Node struct {
	Op       Op
	Set      CharSet
	Subs     []*Node
	Min, Max int
}

// Lit matches the string s.
func Lit(s string) *Node {
	var subs []*Node
	for _, r := range s {
		subs = append(subs, &Node{Op: OpChars, Set: RuneSet(r)})
	}
	return Cat(subs...)
}

// Chars matches one code point of cs.
func Chars(cs CharSet) *Node {
	if cs.Empty() {
		return &Node{Op: OpNone}
	}
	return &Node{Op: OpChars, Set: cs}
}

// Cat matches subs in sequence.
func Cat(subs ...*Node) *Node {
	var flat []*Node
	for _, s := range subs {
		switch s.Op {
		case OpNone:
			return s
		case OpEmpty:
			continue
		case OpConcat:
			flat = append(flat, s.Subs...)
		default:
			flat = append(flat, s)
		}
	}
	switch len(flat) {
	case 0:
		return &Node{Op: OpEmpty}
	case 1:
		return flat[0]
	}
	return &Node{Op: OpConcat, Subs: flat}
}

// Alt matches any one of subs.
func Alt(subs ...*Node) *Node {
	var flat []*Node
	for _, s := range subs {
		switch s.Op {
		case OpNone:
			continue
		case OpAlt:
			flat = append(flat, s.Subs...)
		default:
			flat = append(flat, s)
		}
	}
	switch len(flat) {
	case 0:
		return &Node{Op: OpNone}
	case 1:
		return flat[0]
	}
	return &Node{Op: OpAlt, Subs: flat}
}

// Repeat matches sub min to max times (max < 0: no bound).
func Repeat(sub *Node, min, max int) *Node {
	if max == 0 || sub.Op == OpEmpty {
		return &Node{Op: OpEmpty}
	}
	if sub.Op == OpNone {
		if min == 0 {
			return &Node{Op: OpEmpty}
		}
		return sub
	}
	if min == 1 && max == 1 {
		return sub
	}
	return &Node{Op: OpRepeat, Subs: []*Node{sub}, Min: min, Max: max}
}

// String prints the tree back in regex syntax, for tests and messages.
func (n *Node) String() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n *Node) write(b *strings.Builder) {
	switch n.Op {
	case OpNone:
		b.WriteString("[]")
	case OpEmpty:
		b.WriteString("(?:)")
	case OpChars:
		if len(n.Set) == 1 && n.Set[0].Lo == n.Set[0].Hi {
			writeRegexRune(b, n.Set[0].Lo)
			return
		}
		b.WriteByte('[')
		for _, r := range n.Set {
			writeRegexRune(b, r.Lo)
			if r.Hi != r.Lo {
				b.WriteByte('-')
				writeRegexRune(b, r.Hi)
			}
		}
		b.WriteByte(']')
	case OpConcat:
		for _, s := range n.Subs {
			if s.Op == OpAlt {
				b.WriteString("(?:")
				s.write(b)
				b.WriteByte(')')
				continue
			}
			s.write(b)
		}
	case OpAlt:
		for i, s := range n.Subs {
			if i > 0 {
				b.WriteByte('|')
			}
			s.write(b)
		}
	case OpRepeat:
		s := n.Subs[0]
		if s.Op == OpConcat || s.Op == OpAlt || s.Op == OpRepeat {
			b.WriteString("(?:")
			s.write(b)
			b.WriteByte(')')
		} else {
			s.write(b)
		}
		switch {
		case n.Min == 0 && n.Max < 0:
			b.WriteByte('*')
		case n.Min == 1 && n.Max < 0:
			b.WriteByte('+')
		case n.Min == 0 && n.Max == 1:
			b.WriteByte('?')
		case n.Max < 0:
			fmt.Fprintf(b, "{%d,}", n.Min)
		case n.Min == n.Max:
			fmt.Fprintf(b, "{%d}", n.Min)
		default:
			fmt.Fprintf(b, "{%d,%d}", n.Min, n.Max)
		}
	case OpBegin:
		b.WriteByte('^')
	case OpEnd:
		b.WriteByte('$')
	case OpLook:
		if n.Min == 1 {
			b.WriteString("(?=")
		} else {
			b.WriteString("(?!")
		}
		n.Subs[0].write(b)
		b.WriteByte(')')
	}
}

func writeRegexRune(b *strings.Builder, r rune) {
	switch {
	case r < 0x20 || r == 0x7F:
		fmt.Fprintf(b, `\x%02X`, r)
	case strings.ContainsRune(`\^$.|?*+()[]{}-/`, r):
		b.WriteByte('\\')
		b.WriteRune(r)
	case r > 0xFFFF:
		fmt.Fprintf(b, `\u{%X}`, r)
	case r > 0x7E:
		fmt.Fprintf(b, `\u%04X`, r)
	default:
		b.WriteRune(r)
	}
}

// Limits that keep a hostile pattern from costing unbounded time or memory.
const (
	maxRegexDepth  = 500
	maxRegexRepeat = 1 << 20
	maxRegexLen    = 1 << 16
)

type reParser struct {
	src   string
	pos   int
	depth int
	// groups counts capturing groups, so that \N can be told apart from an
	// octal escape the way ECMA-262 annex B does.
	groups int
}

// Parse parses an ECMA-262 pattern (see the package documentation for the
// dialect). Errors are *Error values.
func Parse(pattern string) (*Node, error) {
	if len(pattern) > maxRegexLen {
		return nil, &Error{pattern, 0, fmt.Sprintf("pattern longer than %d bytes", maxRegexLen)}
	}
	if !utf8.ValidString(pattern) {
		return nil, &Error{pattern, 0, "pattern is not valid UTF-8"}
	}
	p := &reParser{src: pattern}
	p.groups = countGroups(pattern)
	n, err := p.disjunction()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.src) {
		return nil, p.errf("unmatched )")
	}
	return n, nil
}

// countGroups counts capturing groups ahead of parsing.
func countGroups(s string) int {
	n := 0
	inClass := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '[':
			inClass = true
		case ']':
			inClass = false
		case '(':
			if inClass {
				continue
			}
			if i+1 < len(s) && s[i+1] == '?' {
				if i+2 < len(s) && s[i+2] == '<' && i+3 < len(s) && s[i+3] != '=' && s[i+3] != '!' {
					n++
				}
				continue
			}
			n++
		}
	}
	return n
}

func (p *reParser) errf(format string, args ...any) error {
	return &Error{Pattern: p.src, Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *reParser) eof() bool { return p.pos >= len(p.src) }

func (p *reParser) peek() rune {
	if p.eof() {
		return -1
	}
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	return r
}

func (p *reParser) next() rune {
	r, n := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += n
	return r
}

func (p *reParser) lookingAt(s string) bool { return strings.HasPrefix(p.src[p.pos:], s) }

func (p *reParser) disjunction() (*Node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxRegexDepth {
		return nil, p.errf("groups nested deeper than %d", maxRegexDepth)
	}
	var alts []*Node
	for {
		a, err := p.alternative()
		if err != nil {
			return nil, err
		}
		alts = append(alts, a)
		if p.peek() != '|' {
			break
		}
		p.next()
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	// Keep an alternation of empties as such: Alt drops OpNone only.
	return Alt(alts...), nil
}

func (p *reParser) alternative() (*Node, error) {
	var terms []*Node
	// Lookaheads are taken right after a leading ^ of a top-level
	// alternative, where each is an intersection (or, negated, a
	// difference) with the strings it accepts as a prefix.
	leading := true
	for !p.eof() && p.peek() != '|' && p.peek() != ')' {
		if p.lookingAt("(?=") || p.lookingAt("(?!") {
			if p.depth != 1 || !leading || len(terms) == 0 {
				return nil, p.errf("lookahead assertions are supported only at the start of a pattern, after ^ (as in ^(?=.*[0-9]).{8,}$)")
			}
			start := p.pos
			positive := p.lookingAt("(?=")
			p.pos += 3
			sub, err := p.disjunction()
			if err != nil {
				return nil, err
			}
			if p.peek() != ')' {
				p.pos = start
				return nil, p.errf("unterminated group")
			}
			p.next()
			look := &Node{Op: OpLook, Subs: []*Node{sub}}
			if positive {
				look.Min = 1
			}
			if err := p.noQuantifier(start); err != nil {
				return nil, err
			}
			terms = append(terms, look)
			continue
		}
		t, err := p.term()
		if err != nil {
			return nil, err
		}
		if !(t.Op == OpBegin && len(terms) == 0) {
			leading = false
		}
		terms = append(terms, t)
	}
	if len(terms) > 0 && terms[0].Op == OpLook {
		return nil, p.errf("lookahead assertions are supported only after a leading ^")
	}
	return Cat(terms...), nil
}

func (p *reParser) term() (*Node, error) {
	start := p.pos
	switch {
	case p.lookingAt("^"):
		p.next()
		return &Node{Op: OpBegin}, p.noQuantifier(start)
	case p.lookingAt("$"):
		p.next()
		return &Node{Op: OpEnd}, p.noQuantifier(start)
	case p.lookingAt(`\b`), p.lookingAt(`\B`):
		return nil, p.errf("word boundary assertions (\\b, \\B) are not supported: a grammar cannot look at neighbouring characters")
	case p.lookingAt("(?="), p.lookingAt("(?!"):
		return nil, p.errf("lookahead assertions are not supported by grammars")
	case p.lookingAt("(?<="), p.lookingAt("(?<!"):
		return nil, p.errf("lookbehind assertions are not supported by grammars")
	}
	atom, err := p.atom()
	if err != nil {
		return nil, err
	}
	return p.quantifier(atom)
}

func (p *reParser) noQuantifier(start int) error {
	switch p.peek() {
	case '*', '+', '?':
		return p.errf("nothing to repeat")
	case '{':
		if _, _, ok := p.braces(); ok {
			return p.errf("nothing to repeat")
		}
	}
	return nil
}

// braces reads {n}, {n,} or {n,m} at the current position without
// consuming it.
func (p *reParser) braces() (min, max int, ok bool) {
	s := p.src[p.pos:]
	if !strings.HasPrefix(s, "{") {
		return 0, 0, false
	}
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return 0, 0, false
	}
	body := s[1:end]
	lo, hi, comma := strings.Cut(body, ",")
	if !isDigits(lo) || (comma && hi != "" && !isDigits(hi)) {
		return 0, 0, false
	}
	min = atoiSat(lo)
	switch {
	case !comma:
		max = min
	case hi == "":
		max = -1
	default:
		max = atoiSat(hi)
	}
	return min, max, true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// atoiSat parses decimal digits, saturating far above any count we accept.
func atoiSat(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<40 {
			return 1 << 40
		}
	}
	return n
}

func (p *reParser) quantifier(atom *Node) (*Node, error) {
	for {
		var min, max int
		switch p.peek() {
		case '*':
			p.next()
			min, max = 0, -1
		case '+':
			p.next()
			min, max = 1, -1
		case '?':
			p.next()
			min, max = 0, 1
		case '{':
			lo, hi, ok := p.braces()
			if !ok {
				return atom, nil
			}
			if hi >= 0 && hi < lo {
				return nil, p.errf("numbers out of order in {} quantifier")
			}
			if lo > maxRegexRepeat || hi > maxRegexRepeat {
				return nil, p.errf("repetition count above %d", maxRegexRepeat)
			}
			p.pos += strings.IndexByte(p.src[p.pos:], '}') + 1
			min, max = lo, hi
		default:
			return atom, nil
		}
		if p.peek() == '?' { // lazy: same language
			p.next()
		}
		if atom.Op == OpBegin || atom.Op == OpEnd {
			return nil, p.errf("nothing to repeat")
		}
		atom = Repeat(atom, min, max)
		// ECMA-262 rejects a quantifier on a quantifier ("a**").
		switch p.peek() {
		case '*', '+', '?':
			return nil, p.errf("nothing to repeat")
		case '{':
			if _, _, ok := p.braces(); ok {
				return nil, p.errf("nothing to repeat")
			}
		}
		return atom, nil
	}
}

func (p *reParser) atom() (*Node, error) {
	r := p.peek()
	switch r {
	case '.':
		p.next()
		return Chars(csDot), nil
	case '(':
		return p.group()
	case '[':
		cs, err := p.class()
		if err != nil {
			return nil, err
		}
		return Chars(cs), nil
	case '\\':
		return p.atomEscape()
	case '*', '+', '?':
		return nil, p.errf("nothing to repeat")
	case '{':
		if _, _, ok := p.braces(); ok {
			return nil, p.errf("nothing to repeat")
		}
	case ')':
		return nil, p.errf("unmatched )")
	}
	p.next()
	return Chars(RuneSet(r)), nil
}

func (p *reParser) group() (*Node, error) {
	start := p.pos
	p.next() // (
	if p.peek() == '?' {
		p.next()
		switch {
		case p.lookingAt(":"):
			p.next()
		case p.lookingAt("<"):
			p.next()
			end := strings.IndexByte(p.src[p.pos:], '>')
			if end <= 0 || !validGroupName(p.src[p.pos:p.pos+end]) {
				return nil, p.errf("invalid group name")
			}
			p.pos += end + 1
		default:
			// (?P<name>...), (?#...), (?i) and friends are other dialects.
			return nil, p.errf("invalid group: (? must be followed by :, <name>, = or !")
		}
	}
	n, err := p.disjunction()
	if err != nil {
		return nil, err
	}
	if p.peek() != ')' {
		p.pos = start
		return nil, p.errf("unterminated group")
	}
	p.next()
	return n, nil
}

func validGroupName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r == '$' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return s != ""
}

func (p *reParser) atomEscape() (*Node, error) {
	p.next() // backslash
	if p.eof() {
		return nil, p.errf(`\ at end of pattern`)
	}
	r := p.peek()
	switch {
	case r == 'k' && p.lookingAt("k<"):
		return nil, p.errf("backreferences are not supported by grammars")
	case r >= '1' && r <= '9':
		return nil, p.errf("backreferences are not supported by grammars")
	}
	cs, err := p.classEscape(false)
	if err != nil {
		return nil, err
	}
	return Chars(cs), nil
}

// classEscape reads what follows a backslash, inside a class or out, and
// returns the characters it stands for.
func (p *reParser) classEscape(inClass bool) (CharSet, error) {
	r := p.next()
	switch r {
	case 'd':
		return csDigit, nil
	case 'D':
		return csDigit.Complement(), nil
	case 'w':
		return csWord, nil
	case 'W':
		return csWord.Complement(), nil
	case 's':
		return csSpace, nil
	case 'S':
		return csSpace.Complement(), nil
	case 'p', 'P':
		cs, err := p.property()
		if err != nil {
			return nil, err
		}
		if r == 'P' {
			cs = cs.Complement()
		}
		return cs, nil
	case 't':
		return RuneSet('\t'), nil
	case 'n':
		return RuneSet('\n'), nil
	case 'v':
		return RuneSet('\v'), nil
	case 'f':
		return RuneSet('\f'), nil
	case 'r':
		return RuneSet('\r'), nil
	case 'b':
		if inClass {
			return RuneSet('\b'), nil
		}
	case '0':
		if c := p.peek(); c >= '0' && c <= '9' {
			return nil, p.errf("octal escapes are not allowed")
		}
		return RuneSet(0), nil
	case 'c':
		c := p.peek()
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
			p.next()
			return RuneSet(c % 32), nil
		}
		return nil, p.errf(`\c must be followed by a letter`)
	case 'x':
		if p.pos+2 <= len(p.src) {
			if v, err := strconv.ParseUint(p.src[p.pos:p.pos+2], 16, 32); err == nil {
				p.pos += 2
				return RuneSet(rune(v)), nil
			}
		}
		return nil, p.errf(`\x must be followed by two hex digits`)
	case 'u':
		return p.unicodeEscape()
	case '-':
		if inClass {
			return RuneSet('-'), nil
		}
	}
	if r < 0x80 && (strings.ContainsRune(`^$\.*+?()[]{}|/`, r)) {
		return RuneSet(r), nil
	}
	if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
		p.pos -= utf8.RuneLen(r)
		return nil, p.errf(`invalid escape \%c`, r)
	}
	// Identity escape of other punctuation, as annex B and browsers allow.
	return RuneSet(r), nil
}

func (p *reParser) unicodeEscape() (CharSet, error) {
	if p.lookingAt("{") {
		end := strings.IndexByte(p.src[p.pos:], '}')
		if end > 1 {
			if v, err := strconv.ParseUint(p.src[p.pos+1:p.pos+end], 16, 32); err == nil && v <= MaxCodePoint {
				p.pos += end + 1
				return RuneSet(rune(v)), nil
			}
		}
		return nil, p.errf(`invalid \u{...} escape`)
	}
	read4 := func() (rune, bool) {
		if p.pos+4 > len(p.src) {
			return 0, false
		}
		v, err := strconv.ParseUint(p.src[p.pos:p.pos+4], 16, 32)
		if err != nil {
			return 0, false
		}
		p.pos += 4
		return rune(v), true
	}
	hi, ok := read4()
	if !ok {
		return nil, p.errf(`\u must be followed by four hex digits`)
	}
	if hi >= 0xD800 && hi <= 0xDBFF && p.lookingAt(`\u`) {
		save := p.pos
		p.pos += 2
		if lo, ok := read4(); ok && lo >= 0xDC00 && lo <= 0xDFFF {
			return RuneSet((hi-0xD800)<<10 + (lo - 0xDC00) + 0x10000), nil
		}
		p.pos = save
	}
	// A lone surrogate matches nothing a JSON string can decode to.
	return RuneSet(hi), nil
}

// unicodeCategoryAliases maps the long General_Category names that
// ECMA-262 accepts to Go's short ones.
var unicodeCategoryAliases = map[string]string{
	"Letter": "L", "Cased_Letter": "LC", "Uppercase_Letter": "Lu", "Lowercase_Letter": "Ll",
	"Titlecase_Letter": "Lt", "Modifier_Letter": "Lm", "Other_Letter": "Lo",
	"Mark": "M", "Combining_Mark": "M", "Nonspacing_Mark": "Mn", "Spacing_Mark": "Mc", "Enclosing_Mark": "Me",
	"Number": "N", "Decimal_Number": "Nd", "digit": "Nd", "Letter_Number": "Nl", "Other_Number": "No",
	"Punctuation": "P", "punct": "P", "Connector_Punctuation": "Pc", "Dash_Punctuation": "Pd",
	"Open_Punctuation": "Ps", "Close_Punctuation": "Pe", "Initial_Punctuation": "Pi",
	"Final_Punctuation": "Pf", "Other_Punctuation": "Po",
	"Symbol": "S", "Math_Symbol": "Sm", "Currency_Symbol": "Sc", "Modifier_Symbol": "Sk", "Other_Symbol": "So",
	"Separator": "Z", "Space_Separator": "Zs", "Line_Separator": "Zl", "Paragraph_Separator": "Zp",
	"Other": "C", "Control": "Cc", "cntrl": "Cc", "Format": "Cf", "Surrogate": "Cs",
	"Private_Use": "Co", "Unassigned": "Cn",
}

func (p *reParser) property() (CharSet, error) {
	if !p.lookingAt("{") {
		return nil, p.errf(`\p must be followed by {name}`)
	}
	end := strings.IndexByte(p.src[p.pos:], '}')
	if end < 0 {
		return nil, p.errf(`unterminated \p{...}`)
	}
	body := p.src[p.pos+1 : p.pos+end]
	cs, ok := unicodeProperty(body)
	if !ok {
		return nil, p.errf(`unknown Unicode property %q`, body)
	}
	p.pos += end + 1
	return cs, nil
}

// unicodeProperties caches property classes: building one from Go's
// tables sorts hundreds of ranges.
var unicodeProperties sync.Map // string -> propertyClass

type propertyClass struct {
	cs CharSet
	ok bool
}

func unicodeProperty(body string) (CharSet, bool) {
	if v, ok := unicodeProperties.Load(body); ok {
		p := v.(propertyClass)
		return p.cs, p.ok
	}
	cs, ok := unicodePropertyUncached(body)
	unicodeProperties.Store(body, propertyClass{cs, ok})
	return cs, ok
}

func unicodePropertyUncached(body string) (CharSet, bool) {
	name, value, hasValue := strings.Cut(body, "=")
	if hasValue {
		switch name {
		case "General_Category", "gc":
			return unicodeCategory(value)
		case "Script", "sc", "Script_Extensions", "scx":
			// Go has no Script_Extensions table; Script is the closest.
			if t, ok := unicode.Scripts[value]; ok {
				return csTable(t), true
			}
		}
		return nil, false
	}
	if cs, ok := unicodeCategory(name); ok {
		return cs, true
	}
	switch name {
	case "Any":
		return AnyChar, true
	case "ASCII":
		return RangeSet(0, 0x7F), true
	case "Assigned":
		cn, _ := unicodeCategory("Cn")
		return cn.Complement(), true
	case "Alphabetic", "Alpha":
		// Alphabetic = Lu+Ll+Lt+Lm+Lo+Nl + Other_Alphabetic.
		l, _ := unicodeCategory("L")
		return Union(Union(l, csTable(unicode.Nl)), csTable(unicode.Other_Alphabetic)), true
	}
	if t, ok := unicode.Properties[name]; ok {
		return csTable(t), true
	}
	return nil, false
}

func unicodeCategory(name string) (CharSet, bool) {
	if short, ok := unicodeCategoryAliases[name]; ok {
		name = short
	}
	switch name {
	case "LC":
		return Union(Union(csTable(unicode.Lu), csTable(unicode.Ll)), csTable(unicode.Lt)), true
	case "Cn":
		var all CharSet
		for _, t := range unicode.Categories {
			all = Union(all, csTable(t))
		}
		return all.Complement(), true
	case "C":
		// Go's C table lacks unassigned code points; ECMA's includes them.
		cn, _ := unicodeCategory("Cn")
		return Union(csTable(unicode.C), cn), true
	}
	if t, ok := unicode.Categories[name]; ok {
		return csTable(t), true
	}
	return nil, false
}

func (p *reParser) class() (CharSet, error) {
	start := p.pos
	p.next() // [
	negate := false
	if p.peek() == '^' {
		p.next()
		negate = true
	}
	var set CharSet
	for {
		if p.eof() {
			p.pos = start
			return nil, p.errf("unterminated character class")
		}
		if p.peek() == ']' {
			p.next()
			break
		}
		lo, loSingle, err := p.classAtom()
		if err != nil {
			return nil, err
		}
		if p.peek() == '-' && !p.lookingAt("-]") && p.pos+1 < len(p.src) {
			p.next()
			hi, hiSingle, err := p.classAtom()
			if err != nil {
				return nil, err
			}
			if !loSingle || !hiSingle {
				// Annex B reads [\d-z] as three alternatives; with u it is
				// an error. Take the lenient reading.
				set = Union(set, Union(Union(lo, hi), RuneSet('-')))
				continue
			}
			if hi[0].Lo < lo[0].Lo {
				return nil, p.errf("range out of order in character class")
			}
			set = Union(set, RangeSet(lo[0].Lo, hi[0].Lo))
			continue
		}
		set = Union(set, lo)
	}
	if negate {
		return set.Complement(), nil
	}
	return set, nil
}

// classAtom reads one class member; single reports whether it is one code
// point (and so may bound a range).
func (p *reParser) classAtom() (cs CharSet, single bool, err error) {
	if p.peek() != '\\' {
		r := p.next()
		return CharSet{{r, r}}, true, nil
	}
	p.next()
	if p.eof() {
		return nil, false, p.errf(`\ at end of pattern`)
	}
	switch r := p.peek(); {
	case r >= '1' && r <= '9':
		return nil, false, p.errf("backreferences are not supported by grammars")
	case strings.ContainsRune("dDwWsSpP", r):
		cs, err := p.classEscape(true)
		return cs, false, err
	}
	start := p.pos
	cs, err = p.classEscape(true)
	if err != nil {
		return nil, false, err
	}
	if len(cs) == 0 { // a lone surrogate escape
		r, _ := strconv.ParseUint(p.src[start+1:p.pos], 16, 32)
		return CharSet{{rune(r), rune(r)}}, true, nil
	}
	return cs, len(cs) == 1 && cs[0].Lo == cs[0].Hi, nil
}
