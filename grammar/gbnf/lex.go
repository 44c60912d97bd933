package gbnf

import (
	"fmt"
	"strconv"
	"strings"
)

// The GBNF lexer. It follows llama.cpp's src/llama-grammar.cpp character by
// character: what counts as space (parse_space), a name (is_word_char), an
// escape (parse_char), a character class and a token reference. Newlines
// are items of their own because their meaning depends on the parser's
// state: they end a rule, except inside parentheses and after "::=" or "|".

type gItemType uint8

const (
	gItemError    gItemType = iota
	gItemEOF                // end of input
	gItemNewline            // \n, \r or \r\n
	gItemWord               // [a-zA-Z0-9-]+: a rule name or, inside {}, a count
	gItemDefine             // ::=
	gItemLiteral            // "..."
	gItemClass              // [...] or [^...]
	gItemToken              // <[id]>, <text>, !<[id]>, !<text>
	gItemDot                // .
	gItemLParen             // (
	gItemRParen             // )
	gItemBar                // |
	gItemStar               // *
	gItemPlus               // +
	gItemQuestion           // ?
	gItemLBrace             // {
	gItemRBrace             // }
	gItemComma              // ,
	gItemOther              // any other character: never valid where it stands
)

type gItem struct {
	typ gItemType
	pos int    // byte offset of the item's first byte
	val string // the source text of the item

	chars   []uint32    // gItemLiteral
	ranges  []CharRange // gItemClass
	negated bool        // gItemClass, gItemToken
	byID    bool        // gItemToken
	id      uint64      // gItemToken
	text    string      // gItemToken

	err    string // gItemError: the message
	errPos int    // gItemError: where the error is
}

type gLexer struct {
	src string
	pos int
}

func gIsWordChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-'
}

func gIsDigit(c byte) bool { return '0' <= c && c <= '9' }

// at returns the byte at i, or 0 past the end (llama.cpp reads a C string).
func (l *gLexer) at(i int) byte {
	if i < len(l.src) {
		return l.src[i]
	}
	return 0
}

// skipSpace skips blanks, tabs and comments, but not newlines (parse_space
// with newline_ok false). A comment runs to the next \r or \n.
func (l *gLexer) skipSpace() {
	for l.pos < len(l.src) {
		switch l.src[l.pos] {
		case ' ', '\t':
			l.pos++
		case '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\r' && l.src[l.pos] != '\n' {
				l.pos++
			}
		default:
			return
		}
	}
}

func (l *gLexer) errorf(at int, format string, args ...any) gItem {
	return gItem{typ: gItemError, pos: at, errPos: at, err: fmt.Sprintf(format, args...)}
}

// next returns the next item.
func (l *gLexer) next() gItem {
	l.skipSpace()
	start := l.pos
	if start >= len(l.src) {
		return gItem{typ: gItemEOF, pos: start}
	}
	c := l.src[start]
	single := func(t gItemType) gItem {
		l.pos++
		return gItem{typ: t, pos: start, val: l.src[start:l.pos]}
	}
	switch c {
	case '\r':
		l.pos++
		if l.at(l.pos) == '\n' {
			l.pos++
		}
		return gItem{typ: gItemNewline, pos: start, val: l.src[start:l.pos]}
	case '\n':
		return single(gItemNewline)
	case '"':
		return l.lexLiteral()
	case '[':
		return l.lexClass()
	case '<', '!':
		return l.lexToken()
	case '.':
		return single(gItemDot)
	case '(':
		return single(gItemLParen)
	case ')':
		return single(gItemRParen)
	case '|':
		return single(gItemBar)
	case '*':
		return single(gItemStar)
	case '+':
		return single(gItemPlus)
	case '?':
		return single(gItemQuestion)
	case '{':
		return single(gItemLBrace)
	case '}':
		return single(gItemRBrace)
	case ',':
		return single(gItemComma)
	case ':':
		if strings.HasPrefix(l.src[start:], "::=") {
			l.pos += 3
			return gItem{typ: gItemDefine, pos: start, val: "::="}
		}
	}
	if gIsWordChar(c) {
		for l.pos < len(l.src) && gIsWordChar(l.src[l.pos]) {
			l.pos++
		}
		return gItem{typ: gItemWord, pos: start, val: l.src[start:l.pos]}
	}
	// One whole UTF-8 sequence, for a readable message.
	_, n := gLaxDecode(l.src, start)
	l.pos += n
	return gItem{typ: gItemOther, pos: start, val: l.src[start:l.pos]}
}

func (l *gLexer) lexLiteral() gItem {
	start := l.pos
	l.pos++ // "
	var chars []uint32
	for {
		if l.pos >= len(l.src) {
			return l.errorf(l.pos, "unexpected end of input in string literal")
		}
		if l.src[l.pos] == '"' {
			l.pos++
			break
		}
		c, errItem, ok := l.char()
		if !ok {
			return errItem
		}
		chars = append(chars, c)
	}
	return gItem{typ: gItemLiteral, pos: start, val: l.src[start:l.pos], chars: chars}
}

func (l *gLexer) lexClass() gItem {
	start := l.pos
	l.pos++ // [
	it := gItem{typ: gItemClass, pos: start}
	if l.at(l.pos) == '^' {
		it.negated = true
		l.pos++
	}
	for {
		if l.pos >= len(l.src) {
			return l.errorf(l.pos, "unexpected end of input in character class")
		}
		if l.src[l.pos] == ']' {
			l.pos++
			break
		}
		lo, errItem, ok := l.char()
		if !ok {
			return errItem
		}
		hi := lo
		// As llama.cpp: '-' starts a range unless a ']' follows it.
		if l.at(l.pos) == '-' && l.at(l.pos+1) != ']' {
			if l.pos+1 >= len(l.src) {
				return l.errorf(l.pos+1, "unexpected end of input in character class")
			}
			l.pos++
			hi, errItem, ok = l.char()
			if !ok {
				return errItem
			}
		}
		it.ranges = append(it.ranges, CharRange{lo, hi})
	}
	it.val = l.src[start:l.pos]
	return it
}

// char reads one character of a literal or class at l.pos (parse_char).
func (l *gLexer) char() (uint32, gItem, bool) {
	start := l.pos
	if l.src[start] != '\\' {
		c, n := gLaxDecode(l.src, start)
		l.pos += n
		return c, gItem{}, true
	}
	size := 0
	switch e := l.at(start + 1); e {
	case 'x':
		size = 2
	case 'u':
		size = 4
	case 'U':
		size = 8
	case 't', 'r', 'n', '\\', '"', '[', ']':
		l.pos += 2
		switch e {
		case 't':
			return '\t', gItem{}, true
		case 'r':
			return '\r', gItem{}, true
		case 'n':
			return '\n', gItem{}, true
		}
		return uint32(e), gItem{}, true
	default:
		if start+1 >= len(l.src) {
			return 0, l.errorf(start, "unexpected end of input after \\"), false
		}
		_, n := gLaxDecode(l.src, start+1)
		return 0, l.errorf(start, "unknown escape \\%s", l.src[start+1:start+1+n]), false
	}
	var v uint32
	p := start + 2
	for i := 0; i < size; i++ {
		d, ok := gHexDigit(l.at(p))
		if !ok {
			return 0, l.errorf(start, "expecting %d hex digits after \\%c", size, l.src[start+1]), false
		}
		v = v<<4 | d
		p++
	}
	l.pos = p
	return v, gItem{}, true
}

func gHexDigit(c byte) (uint32, bool) {
	switch {
	case '0' <= c && c <= '9':
		return uint32(c - '0'), true
	case 'a' <= c && c <= 'f':
		return uint32(c-'a') + 10, true
	case 'A' <= c && c <= 'F':
		return uint32(c-'A') + 10, true
	}
	return 0, false
}

// gLaxDecode decodes one character at s[i] the way llama.cpp's parser does:
// the length comes from the first byte's high nibble alone (a stray
// continuation byte counts as one byte) and the following bytes are taken
// without checking that they are continuation bytes. It never reads past
// the end of s and always consumes at least one byte.
func gLaxDecode(s string, i int) (uint32, int) {
	lookup := [16]int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4}
	first := s[i]
	n := lookup[first>>4]
	v := uint32(first) & (1<<(8-n) - 1)
	j := i + 1
	for ; j < i+n && j < len(s); j++ {
		v = v<<6 + uint32(s[j]&0x3f)
	}
	return v, j - i
}

func (l *gLexer) lexToken() gItem {
	start := l.pos
	it := gItem{typ: gItemToken, pos: start}
	if l.src[l.pos] == '!' {
		it.negated = true
		l.pos++
		if l.at(l.pos) != '<' {
			return l.errorf(l.pos, "expecting '<' after '!'")
		}
	}
	l.pos++ // <
	if l.at(l.pos) == '[' {
		l.pos++
		d := l.pos
		for l.pos < len(l.src) && gIsDigit(l.src[l.pos]) {
			l.pos++
		}
		if d == l.pos {
			return l.errorf(l.pos, "expecting integer token id")
		}
		id, err := strconv.ParseUint(l.src[d:l.pos], 10, 64)
		if err != nil {
			return l.errorf(d, "token id %s out of range", l.src[d:l.pos])
		}
		if l.at(l.pos) != ']' {
			return l.errorf(l.pos, "expecting ']' in token reference")
		}
		l.pos++
		if l.at(l.pos) != '>' {
			return l.errorf(l.pos, "expecting '>' in token reference")
		}
		l.pos++
		it.byID, it.id = true, id
		it.val = l.src[start:l.pos]
		return it
	}
	t := l.pos
	end := strings.IndexByte(l.src[t:], '>')
	if end < 0 {
		return l.errorf(len(l.src), "expecting '>' to end token reference")
	}
	l.pos = t + end + 1
	it.text = l.src[t : t+end]
	it.val = l.src[start:l.pos]
	return it
}
