package gbnf

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pos is a position in GBNF source: Line and Col count from 1, Col in
// bytes (as go/scanner does); Offset is the byte offset from 0.
type Pos struct {
	Line, Col, Offset int
}

func (p Pos) String() string { return strconv.Itoa(p.Line) + ":" + strconv.Itoa(p.Col) }

// Node is an element of a parsed grammar. Each node keeps the position of
// its first byte in the source and prints back as GBNF text that parses to
// an equal node.
//
// The concrete types are *AltNode, *SeqNode, *LiteralNode, *ClassNode,
// *AnyNode, *RefNode, *GroupNode, *RepeatNode and *TokenNode.
type Node interface {
	Position() Pos
	String() string
	writeTo(b *strings.Builder)
}

// AltNode is a choice: Alts[0] | Alts[1] | ... . A rule's body and a
// group's body are always an *AltNode with at least one alternative, each
// an *SeqNode.
type AltNode struct {
	Pos  Pos
	Alts []*SeqNode
}

// SeqNode is a sequence of items; an empty sequence matches the empty
// string.
type SeqNode struct {
	Pos   Pos
	Items []Node
}

// LiteralNode is a quoted string, "...". Value holds its code points as
// llama.cpp decodes them: escapes give any 32-bit value (\UFFFFFFFF
// included) and raw bytes are decoded without validation, as llama.cpp's
// parser does, so values need not be valid Unicode.
type LiteralNode struct {
	Pos   Pos
	Value []uint32
}

// CharRange is an inclusive range of code points in a character class; a
// single character has Lo == Hi. A range with Lo > Hi is kept as written
// and, as in llama.cpp, contains nothing.
type CharRange struct {
	Lo, Hi uint32
}

// ClassNode is a character class, [...] or [^...]. An empty class, [] or
// [^], matches the empty string: llama.cpp emits no element for it.
type ClassNode struct {
	Pos     Pos
	Negated bool
	Ranges  []CharRange
}

// AnyNode is ".", any single code point.
type AnyNode struct {
	Pos Pos
}

// RefNode is a reference to the rule Name.
type RefNode struct {
	Pos  Pos
	Name string
}

// GroupNode is a parenthesised choice, ( ... ).
type GroupNode struct {
	Pos  Pos
	Body *AltNode

	height int   // nesting height, for the depth cap
	idx    int32 // numbers groups and repetitions, for the checks
}

// Unbounded is RepeatNode.Max for x*, x+ and x{m,}.
const Unbounded = -1

// RepeatNode is Expr repeated from Min to Max times (Max is Unbounded for
// no limit): x* is {0,}, x+ is {1,}, x? is {0,1}. OpPos is the position of
// the operator. Expr may itself be a *RepeatNode, as in x*?.
type RepeatNode struct {
	Pos      Pos
	OpPos    Pos
	Expr     Node
	Min, Max int

	height int
	idx    int32
}

// TokenNode is a token reference: <[ID]> by id, or <Text> by the text of a
// token in the model's vocabulary; Negated for !<...>. Token references
// match model tokens, not text: Parse accepts them, but the text matcher
// never matches them (see Matcher).
type TokenNode struct {
	Pos     Pos
	Negated bool
	ByID    bool
	ID      uint64 // when ByID; llama.cpp keeps the low 32 bits
	Text    string // when !ByID: the bytes between < and >
}

func (n *AltNode) Position() Pos     { return n.Pos }
func (n *SeqNode) Position() Pos     { return n.Pos }
func (n *LiteralNode) Position() Pos { return n.Pos }
func (n *ClassNode) Position() Pos   { return n.Pos }
func (n *AnyNode) Position() Pos     { return n.Pos }
func (n *RefNode) Position() Pos     { return n.Pos }
func (n *GroupNode) Position() Pos   { return n.Pos }
func (n *RepeatNode) Position() Pos  { return n.Pos }
func (n *TokenNode) Position() Pos   { return n.Pos }

func gNodeString(n Node) string {
	var b strings.Builder
	n.writeTo(&b)
	return b.String()
}

func (n *AltNode) String() string     { return gNodeString(n) }
func (n *SeqNode) String() string     { return gNodeString(n) }
func (n *LiteralNode) String() string { return gNodeString(n) }
func (n *ClassNode) String() string   { return gNodeString(n) }
func (n *AnyNode) String() string     { return gNodeString(n) }
func (n *RefNode) String() string     { return gNodeString(n) }
func (n *GroupNode) String() string   { return gNodeString(n) }
func (n *RepeatNode) String() string  { return gNodeString(n) }
func (n *TokenNode) String() string   { return gNodeString(n) }

// writeTo prints the alternatives separated by " | ". An empty alternative
// prints as nothing, which reads back as empty inside a group and before a
// "|"; Rule.String prints a rule's trailing empty alternative as "" since
// llama.cpp skips newlines after a "|" and would read the next rule into it.
func (n *AltNode) writeTo(b *strings.Builder) { n.write(b, false) }

func (n *AltNode) write(b *strings.Builder, topLevel bool) {
	sep := false
	for i, s := range n.Alts {
		if i > 0 {
			if sep {
				b.WriteByte(' ')
			}
			b.WriteByte('|')
			sep = true
		}
		if len(s.Items) == 0 {
			if topLevel && i == len(n.Alts)-1 {
				if sep {
					b.WriteByte(' ')
				}
				b.WriteString(`""`)
			}
			continue
		}
		if sep {
			b.WriteByte(' ')
		}
		s.writeTo(b)
		sep = true
	}
}

func (n *SeqNode) writeTo(b *strings.Builder) {
	for i, it := range n.Items {
		if i > 0 {
			b.WriteByte(' ')
		}
		it.writeTo(b)
	}
}

func (n *LiteralNode) writeTo(b *strings.Builder) {
	b.WriteByte('"')
	for _, c := range n.Value {
		gWriteChar(b, c, false)
	}
	b.WriteByte('"')
}

func (n *ClassNode) writeTo(b *strings.Builder) {
	b.WriteByte('[')
	if n.Negated {
		b.WriteByte('^')
	}
	for i, r := range n.Ranges {
		switch {
		case r.Lo == '-' && r.Lo == r.Hi && (i == 0 || i == len(n.Ranges)-1):
			// A lone '-' right after an item would start a range.
			b.WriteByte('-')
		case r.Lo == '^' && i == 0 && !n.Negated:
			b.WriteString(`\x5E`)
		default:
			gWriteChar(b, r.Lo, true)
		}
		if r.Hi != r.Lo {
			b.WriteByte('-')
			gWriteChar(b, r.Hi, true)
		}
	}
	b.WriteByte(']')
}

func (n *AnyNode) writeTo(b *strings.Builder) { b.WriteByte('.') }
func (n *RefNode) writeTo(b *strings.Builder) { b.WriteString(n.Name) }

func (n *GroupNode) writeTo(b *strings.Builder) {
	b.WriteByte('(')
	n.Body.writeTo(b)
	b.WriteByte(')')
}

func (n *RepeatNode) writeTo(b *strings.Builder) {
	n.Expr.writeTo(b)
	switch {
	case n.Min == 0 && n.Max == Unbounded:
		b.WriteByte('*')
	case n.Min == 1 && n.Max == Unbounded:
		b.WriteByte('+')
	case n.Min == 0 && n.Max == 1:
		b.WriteByte('?')
	case n.Max == Unbounded:
		fmt.Fprintf(b, "{%d,}", n.Min)
	case n.Min == n.Max:
		fmt.Fprintf(b, "{%d}", n.Min)
	default:
		fmt.Fprintf(b, "{%d,%d}", n.Min, n.Max)
	}
}

func (n *TokenNode) writeTo(b *strings.Builder) {
	if n.Negated {
		b.WriteByte('!')
	}
	if n.ByID {
		b.WriteString("<[")
		b.WriteString(strconv.FormatUint(n.ID, 10))
		b.WriteString("]>")
		return
	}
	b.WriteByte('<')
	b.WriteString(n.Text)
	b.WriteByte('>')
}

// gWriteChar writes c so that llama.cpp's parse_char reads it back: in a
// string literal (inClass false) or a character class.
func gWriteChar(b *strings.Builder, c uint32, inClass bool) {
	switch c {
	case '\\':
		b.WriteString(`\\`)
		return
	case '\n':
		b.WriteString(`\n`)
		return
	case '\r':
		b.WriteString(`\r`)
		return
	case '\t':
		b.WriteString(`\t`)
		return
	case '"':
		if !inClass {
			b.WriteString(`\"`)
			return
		}
	case ']':
		if inClass {
			b.WriteString(`\]`)
			return
		}
	case '-':
		if inClass {
			b.WriteString(`\x2D`)
			return
		}
	}
	switch {
	case c >= 0x20 && c < 0x7f:
		b.WriteByte(byte(c))
	case c >= 0x80 && c <= unicode.MaxRune && utf8.ValidRune(rune(c)) && unicode.IsPrint(rune(c)):
		b.WriteRune(rune(c))
	case c <= 0xff:
		fmt.Fprintf(b, `\x%02X`, c)
	case c <= 0xffff:
		fmt.Fprintf(b, `\u%04X`, c)
	default:
		fmt.Fprintf(b, `\U%08X`, c)
	}
}
