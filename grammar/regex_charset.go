package grammar

import (
	"sort"
	"unicode"
)

// Code points a JSON string can hold once decoded. Surrogates are left out:
// a lone \uD800 escape does not decode to a code point, and encoding/json
// replaces it with U+FFFD, so no schema language ever contains one.
const (
	maxCodePoint   = 0x10FFFF
	surrogateFirst = 0xD800
	surrogateLast  = 0xDFFF
)

// runeRange is the closed interval [lo, hi] of code points.
type runeRange struct{ lo, hi rune }

// charSet is a set of code points: sorted, disjoint and non-adjacent ranges.
// The zero value is the empty set. Values are never modified in place once
// built, so they may be shared.
type charSet []runeRange

// anyChar is every code point a string may hold (surrogates excluded).
var anyChar = charSet{{0, surrogateFirst - 1}, {surrogateLast + 1, maxCodePoint}}

func csRange(lo, hi rune) charSet { return csIntersect(charSet{{lo, hi}}, anyChar) }

func csRune(r rune) charSet { return csRange(r, r) }

// csOf builds a set from ranges given in any order, possibly overlapping.
func csOf(rs ...runeRange) charSet {
	if len(rs) == 0 {
		return nil
	}
	s := append([]runeRange(nil), rs...)
	sort.Slice(s, func(i, j int) bool { return s[i].lo < s[j].lo })
	out := charSet{s[0]}
	for _, r := range s[1:] {
		last := &out[len(out)-1]
		if r.lo <= last.hi+1 {
			if r.hi > last.hi {
				last.hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return csIntersect(out, anyChar)
}

func (s charSet) contains(r rune) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i].hi >= r })
	return i < len(s) && s[i].lo <= r
}

func (s charSet) empty() bool { return len(s) == 0 }

// size is the number of code points in s.
func (s charSet) size() int {
	n := 0
	for _, r := range s {
		n += int(r.hi-r.lo) + 1
	}
	return n
}

func (s charSet) equal(t charSet) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

func csUnion(a, b charSet) charSet {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	all := make([]runeRange, 0, len(a)+len(b))
	all = append(all, a...)
	all = append(all, b...)
	return csOf(all...)
}

func csIntersect(a, b charSet) charSet {
	var out charSet
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo, hi := max(a[i].lo, b[j].lo), min(a[i].hi, b[j].hi)
		if lo <= hi {
			out = append(out, runeRange{lo, hi})
		}
		if a[i].hi < b[j].hi {
			i++
		} else {
			j++
		}
	}
	return out
}

// complement is anyChar minus s.
func (s charSet) complement() charSet {
	var out charSet
	next := rune(0)
	for _, r := range s {
		if r.lo > next {
			out = append(out, runeRange{next, r.lo - 1})
		}
		next = r.hi + 1
	}
	if next <= maxCodePoint {
		out = append(out, runeRange{next, maxCodePoint})
	}
	return csIntersect(out, anyChar)
}

func csMinus(a, b charSet) charSet { return csIntersect(a, b.complement()) }

// csTable converts a unicode table.
func csTable(t *unicode.RangeTable) charSet {
	var rs []runeRange
	for _, r := range t.R16 {
		if r.Stride == 1 {
			rs = append(rs, runeRange{rune(r.Lo), rune(r.Hi)})
			continue
		}
		for c := rune(r.Lo); c <= rune(r.Hi); c += rune(r.Stride) {
			rs = append(rs, runeRange{c, c})
		}
	}
	for _, r := range t.R32 {
		if r.Stride == 1 {
			rs = append(rs, runeRange{rune(r.Lo), rune(r.Hi)})
			continue
		}
		for c := rune(r.Lo); c <= rune(r.Hi); c += rune(r.Stride) {
			rs = append(rs, runeRange{c, c})
		}
	}
	return csOf(rs...)
}

// The ECMA-262 classes. \d and \w are ASCII-only even with the u flag
// (without the i flag); \s is WhiteSpace plus LineTerminator.
var (
	csDigit = charSet{{'0', '9'}}
	csWord  = csOf(runeRange{'0', '9'}, runeRange{'A', 'Z'}, runeRange{'_', '_'}, runeRange{'a', 'z'})
	csSpace = csOf(runeRange{'\t', '\r'}, runeRange{' ', ' '}, runeRange{0xA0, 0xA0}, runeRange{0x1680, 0x1680},
		runeRange{0x2000, 0x200A}, runeRange{0x2028, 0x2029}, runeRange{0x202F, 0x202F}, runeRange{0x205F, 0x205F},
		runeRange{0x3000, 0x3000}, runeRange{0xFEFF, 0xFEFF})
	// csDot is what "." matches: everything but the line terminators.
	csDot = csMinus(anyChar, csOf(runeRange{'\n', '\n'}, runeRange{'\r', '\r'}, runeRange{0x2028, 0x2029}))
)
