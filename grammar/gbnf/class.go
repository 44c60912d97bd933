package gbnf

import (
	"slices"
	"sort"
)

// Code point sets for matching, and the UTF-8 arithmetic the matcher needs
// to judge a partial sequence.

const (
	gMaxCodePoint   = 0x10ffff
	gSurrogateLo    = 0xd800
	gSurrogateHi    = 0xdfff
	gFirstMatchable = 1 // NUL never reaches llama.cpp's matcher: it ends a C string
)

// gClass is a set of code points the matcher can see: NUL, surrogates and
// values beyond U+10FFFF are left out, since valid UTF-8 never yields them
// (or, for NUL, llama.cpp never passes it on).
type gClass struct {
	low    [4]uint64   // members below 256
	ranges []CharRange // all members: sorted, disjoint, not adjacent
}

// gMatchable is every code point a gClass may hold.
var gMatchable = []CharRange{{gFirstMatchable, gSurrogateLo - 1}, {gSurrogateHi + 1, gMaxCodePoint}}

// gNormalize sorts and merges rs, dropping reversed ranges, which contain
// nothing in llama.cpp.
func gNormalize(rs []CharRange) []CharRange {
	var out []CharRange
	for _, r := range rs {
		if r.Lo <= r.Hi {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Lo < out[j].Lo })
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && uint64(r.Lo) <= uint64(merged[n-1].Hi)+1 {
			merged[n-1].Hi = max(merged[n-1].Hi, r.Hi)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// gComplement returns the complement of normalized rs among all uint32.
func gComplement(rs []CharRange) []CharRange {
	var out []CharRange
	next := uint64(0)
	for _, r := range rs {
		if uint64(r.Lo) > next {
			out = append(out, CharRange{uint32(next), r.Lo - 1})
		}
		next = uint64(r.Hi) + 1
	}
	if next <= 0xffffffff {
		out = append(out, CharRange{uint32(next), 0xffffffff})
	}
	return out
}

// gIntersect intersects two normalized range lists.
func gIntersect(a, b []CharRange) []CharRange {
	var out []CharRange
	for i, j := 0, 0; i < len(a) && j < len(b); {
		lo, hi := max(a[i].Lo, b[j].Lo), min(a[i].Hi, b[j].Hi)
		if lo <= hi {
			out = append(out, CharRange{lo, hi})
		}
		if a[i].Hi < b[j].Hi {
			i++
		} else {
			j++
		}
	}
	return out
}

// gNewClass builds the set a class, literal character or "." matches.
func gNewClass(rs []CharRange, negated bool) *gClass {
	n := gNormalize(rs)
	if negated {
		n = gComplement(n)
	}
	c := &gClass{ranges: gIntersect(n, gMatchable)}
	for _, r := range c.ranges {
		for x := r.Lo; x <= r.Hi && x < 256; x++ {
			c.low[x>>6] |= 1 << (x & 63)
		}
	}
	return c
}

func (c *gClass) empty() bool { return len(c.ranges) == 0 }

func (c *gClass) has(x uint32) bool {
	if x < 256 {
		return c.low[x>>6]>>(x&63)&1 != 0
	}
	i := sort.Search(len(c.ranges), func(i int) bool { return c.ranges[i].Hi >= x })
	return i < len(c.ranges) && c.ranges[i].Lo <= x
}

// intersects reports whether c holds a code point in [lo, hi].
func (c *gClass) intersects(lo, hi uint32) bool {
	i := sort.Search(len(c.ranges), func(i int) bool { return c.ranges[i].Hi >= lo })
	return i < len(c.ranges) && c.ranges[i].Lo <= hi
}

func (c *gClass) equal(d *gClass) bool { return slices.Equal(c.ranges, d.ranges) }

// gUTF8Prefix validates p as the start of one UTF-8 sequence (strictly: no
// overlong forms, surrogates or values beyond U+10FFFF) and returns the
// range of code points it can complete to and the sequence's length.
func gUTF8Prefix(p []byte) (lo, hi uint32, need int, ok bool) {
	b0 := p[0]
	lo1, hi1 := byte(0x80), byte(0xbf)
	switch {
	case b0 < 0x80:
		return uint32(b0), uint32(b0), 1, len(p) == 1
	case b0 < 0xc2:
		return 0, 0, 0, false
	case b0 < 0xe0:
		need = 2
	case b0 < 0xf0:
		need = 3
		if b0 == 0xe0 {
			lo1 = 0xa0
		} else if b0 == 0xed {
			hi1 = 0x9f
		}
	case b0 < 0xf5:
		need = 4
		if b0 == 0xf0 {
			lo1 = 0x90
		} else if b0 == 0xf4 {
			hi1 = 0x8f
		}
	default:
		return 0, 0, 0, false
	}
	if len(p) > need {
		return 0, 0, 0, false
	}
	lo = uint32(b0) & (0x7f >> need)
	hi = lo
	for i := 1; i < need; i++ {
		l, h := byte(0x80), byte(0xbf)
		if i == 1 {
			l, h = lo1, hi1
		}
		if i < len(p) {
			if p[i] < l || p[i] > h {
				return 0, 0, 0, false
			}
			l, h = p[i], p[i]
		}
		lo = lo<<6 | uint32(l&0x3f)
		hi = hi<<6 | uint32(h&0x3f)
	}
	return lo, hi, need, true
}
