package regex

import (
	"sort"
	"unicode"
)

// Code points a JSON string can hold once decoded. Surrogates are left out:
// a lone \uD800 escape does not decode to a code point, and encoding/json
// replaces it with U+FFFD, so no schema language ever contains one.
const (
	MaxCodePoint   = 0x10FFFF
	surrogateFirst = 0xD800
	surrogateLast  = 0xDFFF
)

// Range is the closed interval [Lo, Hi] of code points.
type Range struct{ Lo, Hi rune }

// CharSet is a set of code points: sorted, disjoint and non-adjacent ranges.
// The zero value is the empty set. Values are never modified in place once
// built, so they may be shared.
type CharSet []Range

// AnyChar is every code point a string may hold (surrogates excluded).
var AnyChar = CharSet{{0, surrogateFirst - 1}, {surrogateLast + 1, MaxCodePoint}}

// RangeSet is the code points from lo to hi, surrogates left out.
func RangeSet(lo, hi rune) CharSet { return Intersect(CharSet{{lo, hi}}, AnyChar) }

// RuneSet is the set of r alone (empty for a surrogate).
func RuneSet(r rune) CharSet { return RangeSet(r, r) }

// SetOf builds a set from ranges given in any order, possibly overlapping.
func SetOf(rs ...Range) CharSet {
	if len(rs) == 0 {
		return nil
	}
	s := append([]Range(nil), rs...)
	sort.Slice(s, func(i, j int) bool { return s[i].Lo < s[j].Lo })
	out := CharSet{s[0]}
	for _, r := range s[1:] {
		last := &out[len(out)-1]
		if r.Lo <= last.Hi+1 {
			if r.Hi > last.Hi {
				last.Hi = r.Hi
			}
			continue
		}
		out = append(out, r)
	}
	return Intersect(out, AnyChar)
}

// Contains reports whether r is in s.
func (s CharSet) Contains(r rune) bool {
	i := sort.Search(len(s), func(i int) bool { return s[i].Hi >= r })
	return i < len(s) && s[i].Lo <= r
}

// Empty reports whether s has no code point.
func (s CharSet) Empty() bool { return len(s) == 0 }

// Size is the number of code points in s.
func (s CharSet) Size() int {
	n := 0
	for _, r := range s {
		n += int(r.Hi-r.Lo) + 1
	}
	return n
}

// Equal reports whether s and t hold the same code points.
func (s CharSet) Equal(t CharSet) bool {
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

// Union is the code points in a or b.
func Union(a, b CharSet) CharSet {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	all := make([]Range, 0, len(a)+len(b))
	all = append(all, a...)
	all = append(all, b...)
	return SetOf(all...)
}

// Intersect is the code points in both a and b.
func Intersect(a, b CharSet) CharSet {
	var out CharSet
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo, hi := max(a[i].Lo, b[j].Lo), min(a[i].Hi, b[j].Hi)
		if lo <= hi {
			out = append(out, Range{lo, hi})
		}
		if a[i].Hi < b[j].Hi {
			i++
		} else {
			j++
		}
	}
	return out
}

// Complement is AnyChar minus s.
func (s CharSet) Complement() CharSet {
	var out CharSet
	next := rune(0)
	for _, r := range s {
		if r.Lo > next {
			out = append(out, Range{next, r.Lo - 1})
		}
		next = r.Hi + 1
	}
	if next <= MaxCodePoint {
		out = append(out, Range{next, MaxCodePoint})
	}
	return Intersect(out, AnyChar)
}

// Minus is the code points in a and not in b.
func Minus(a, b CharSet) CharSet { return Intersect(a, b.Complement()) }

// csTable converts a unicode table.
func csTable(t *unicode.RangeTable) CharSet {
	var rs []Range
	for _, r := range t.R16 {
		if r.Stride == 1 {
			rs = append(rs, Range{rune(r.Lo), rune(r.Hi)})
			continue
		}
		for c := rune(r.Lo); c <= rune(r.Hi); c += rune(r.Stride) {
			rs = append(rs, Range{c, c})
		}
	}
	for _, r := range t.R32 {
		if r.Stride == 1 {
			rs = append(rs, Range{rune(r.Lo), rune(r.Hi)})
			continue
		}
		for c := rune(r.Lo); c <= rune(r.Hi); c += rune(r.Stride) {
			rs = append(rs, Range{c, c})
		}
	}
	return SetOf(rs...)
}

// The ECMA-262 classes. \d and \w are ASCII-only even with the u flag
// (without the i flag); \s is WhiteSpace plus LineTerminator.
var (
	csDigit = CharSet{{'0', '9'}}
	csWord  = SetOf(Range{'0', '9'}, Range{'A', 'Z'}, Range{'_', '_'}, Range{'a', 'z'})
	csSpace = SetOf(Range{'\t', '\r'}, Range{' ', ' '}, Range{0xA0, 0xA0}, Range{0x1680, 0x1680},
		Range{0x2000, 0x200A}, Range{0x2028, 0x2029}, Range{0x202F, 0x202F}, Range{0x205F, 0x205F},
		Range{0x3000, 0x3000}, Range{0xFEFF, 0xFEFF})
	// csDot is what "." matches: everything but the line terminators.
	csDot = Minus(AnyChar, SetOf(Range{'\n', '\n'}, Range{'\r', '\r'}, Range{0x2028, 0x2029}))
)
