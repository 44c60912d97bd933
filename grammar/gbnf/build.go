package gbnf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Builder assembles a grammar's text rule by rule, for compilers that
// write GBNF (the JSON Schema compiler, the regex compiler): it hands out
// fresh rule names, shares helper rules by their body, writes counted
// repetition within llama.cpp's limit, and keeps count of the text's size.
// Bodies are GBNF text; Literal and Class spell the terminals. Grammar
// parses the result once, so that what a compiler hands on is a checked
// *Grammar.
//
// A Builder is for one goroutine; its zero value is not ready for use
// (see NewBuilder).
type Builder struct {
	names  map[string]bool // taken names, defined or reserved
	next   map[string]int  // per base name, the suffix after which to look for a free one
	order  []string
	bodies map[string]string
	shared map[string]string // helper bodies already defined -> rule name
	size   int
}

// NewBuilder returns an empty Builder. The reserved names are never
// handed out by Name: the caller defines them itself when it needs them.
func NewBuilder(reserved ...string) *Builder {
	b := &Builder{names: map[string]bool{}, next: map[string]int{}, bodies: map[string]string{}, shared: map[string]string{}}
	b.Reserve(reserved...)
	return b
}

// Reserve keeps names from being handed out by Name.
func (b *Builder) Reserve(names ...string) {
	for _, n := range names {
		b.names[n] = true
	}
}

// Name returns a fresh rule name derived from hint: its letters and
// digits, lower-cased, other runs as "-", at most about 40 bytes, with
// "-2", "-3", ... appended when taken. The name is taken from then on.
func (b *Builder) Name(hint string) string {
	var s strings.Builder
	for _, r := range strings.ToLower(hint) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			s.WriteRune(r)
		default:
			if s.Len() > 0 && !strings.HasSuffix(s.String(), "-") {
				s.WriteByte('-')
			}
		}
		if s.Len() > 40 {
			break
		}
	}
	base := strings.Trim(s.String(), "-")
	if base == "" {
		base = "r"
	}
	// Names are never freed, so the search for a base's next free suffix
	// starts after the last one found: naming stays linear when thousands
	// of rules share a hint.
	name := base
	i := max(b.next[base], 1)
	for b.names[name] {
		i++
		name = base + "-" + strconv.Itoa(i)
	}
	b.next[base] = i
	b.names[name] = true
	return name
}

// Define sets the body of rule name; a second Define replaces the body
// but keeps the rule's place.
func (b *Builder) Define(name, body string) {
	if _, ok := b.bodies[name]; !ok {
		b.order = append(b.order, name)
		b.names[name] = true
	}
	b.bodies[name] = body
	b.size += len(name) + len(body) + 6
}

// Defined reports whether rule name has a body.
func (b *Builder) Defined(name string) bool {
	_, ok := b.bodies[name]
	return ok
}

// Helper defines, once per distinct body, a rule named after hint, and
// returns its name.
func (b *Builder) Helper(hint, body string) string {
	if name, ok := b.shared[body]; ok {
		return name
	}
	name := b.Name(hint)
	b.shared[body] = name
	b.Define(name, body)
	return name
}

// Size is the number of bytes defined so far (bodies replaced by a second
// Define count twice): a bound for a compiler to check as it goes.
func (b *Builder) Size() int { return b.size }

// Len is the number of rules defined.
func (b *Builder) Len() int { return len(b.order) }

// String returns the grammar's text: rule root first, then the others
// in the order they were first defined.
func (b *Builder) String() string {
	var s strings.Builder
	names := slices.Clone(b.order)
	for i, n := range names {
		if n == "root" {
			names = append([]string{"root"}, append(names[:i:i], names[i+1:]...)...)
			break
		}
	}
	for _, n := range names {
		s.WriteString(n)
		s.WriteString(" ::= ")
		s.WriteString(b.bodies[n])
		s.WriteByte('\n')
	}
	return s.String()
}

// Grammar parses the text under name. A compiler that wrote the text
// treats an error here as its own bug.
func (b *Builder) Grammar(name string) (*Grammar, error) {
	return Parse(name, b.String())
}

// repChunk is the block size used to nest repetitions past llama.cpp's
// limit, MaxRepetition.
const repChunk = 1000

// Rep writes x repeated min..max times (max < 0: unbounded), nesting
// counts above MaxRepetition in helper rules so that they stay exact. x
// must be a single element (a rule name, literal, class or group).
func (b *Builder) Rep(x string, min, max int) string {
	var parts []string
	if min > 0 {
		parts = append(parts, b.repExact(x, min))
	}
	switch {
	case max < 0:
		parts = append(parts, x+"*")
	case max > min:
		parts = append(parts, b.repUpTo(x, max-min))
	}
	return strings.Join(parts, " ")
}

func (b *Builder) repExact(x string, n int) string {
	switch {
	case n == 0:
		return ""
	case n == 1:
		return x
	case n <= MaxRepetition:
		return fmt.Sprintf("%s{%d}", x, n)
	}
	blk := b.Helper("rep", fmt.Sprintf("%s{%d}", x, repChunk))
	s := b.repExact(blk, n/repChunk)
	if r := n % repChunk; r > 0 {
		s += " " + b.repExact(x, r)
	}
	return s
}

// repUpTo writes x repeated 0..n times. For n past the limit, the count is
// either below a whole number of blocks (some blocks, then fewer than a
// block) or exactly all blocks and a remainder.
func (b *Builder) repUpTo(x string, n int) string {
	switch {
	case n == 0:
		return ""
	case n == 1:
		return x + "?"
	case n <= MaxRepetition:
		return fmt.Sprintf("%s{0,%d}", x, n)
	}
	blk := b.Helper("rep", fmt.Sprintf("%s{%d}", x, repChunk))
	q, r := n/repChunk, n%repChunk
	below := strings.TrimSpace(b.repUpTo(blk, q-1) + " " + b.repUpTo(x, repChunk-1))
	full := strings.TrimSpace(b.repExact(blk, q) + " " + b.repUpTo(x, r))
	return "( " + below + " | " + full + " )"
}

// Literal quotes s as a GBNF string literal, as LiteralNode prints.
func Literal(s string) string {
	n := &LiteralNode{}
	for _, r := range s {
		n.Value = append(n.Value, uint32(r))
	}
	return n.String()
}

// The surrogate block, which no text holds.
const (
	surrogateLo = 0xD800
	surrogateHi = 0xDFFF
)

// Class writes a character class for one code point among ranges (sorted,
// disjoint, not adjacent, not empty, without surrogates): as listed, with
// the surrogate block merged in, or negated, whichever is shortest, and a
// single code point as a literal. Surrogates never occur in text, so all
// three match the same input.
func Class(ranges []CharRange) string {
	set, negated := ranges, false
	ws := withSurrogates(ranges)
	if len(ws) < len(set) {
		set = ws
	}
	var comp []CharRange
	next := uint32(0)
	for _, r := range ws {
		if r.Lo > next {
			comp = append(comp, CharRange{next, r.Lo - 1})
		}
		next = r.Hi + 1
	}
	if next <= unicode.MaxRune {
		comp = append(comp, CharRange{next, unicode.MaxRune})
	}
	if len(comp) > 0 && len(comp) < len(set) {
		set, negated = comp, true
	}
	if !negated && len(set) == 1 && set[0].Lo == set[0].Hi {
		return Literal(string(rune(set[0].Lo)))
	}
	return (&ClassNode{Negated: negated, Ranges: set}).String()
}

// withSurrogates adds the surrogate block to ranges, merging neighbours.
func withSurrogates(ranges []CharRange) []CharRange {
	var out []CharRange
	added := false
	add := func(r CharRange) {
		if n := len(out); n > 0 && r.Lo <= out[n-1].Hi+1 {
			out[n-1].Hi = max(out[n-1].Hi, r.Hi)
			return
		}
		out = append(out, r)
	}
	for _, r := range ranges {
		if !added && r.Lo > surrogateLo {
			add(CharRange{surrogateLo, surrogateHi})
			added = true
		}
		add(r)
	}
	if !added {
		add(CharRange{surrogateLo, surrogateHi})
	}
	return out
}
