package gbnf

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode/utf8"
)

// A slow, obviously correct recogniser over the AST and a random grammar
// generator, for differential tests of the Matcher.

// gRefAccepts reports whether s matches g's root rule, by memoised
// recursive descent over sets of end positions. It relies on Parse having
// rejected left recursion, so that every cycle of calls consumes input.
func gRefAccepts(g *Grammar, s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	r := &gRef{g: g, in: []rune(s), memo: map[gRefKey][]int{}}
	return slices.Contains(r.ends(g.Rule("root").Expr, 0), len(r.in))
}

type gRefKey struct {
	node Node
	at   int
}

type gRef struct {
	g    *Grammar
	in   []rune
	memo map[gRefKey][]int
}

func gRefClassHas(n *ClassNode, c rune) bool {
	found := false
	for _, r := range n.Ranges {
		if r.Lo <= uint32(c) && uint32(c) <= r.Hi {
			found = true
		}
	}
	return found != n.Negated
}

// ends returns the sorted positions j such that n matches in[i:j],
// memoised so that nested repetitions stay polynomial.
func (r *gRef) ends(n Node, i int) []int {
	k := gRefKey{n, i}
	if e, ok := r.memo[k]; ok {
		return e
	}
	e := r.ends1(n, i)
	r.memo[k] = e
	return e
}

func (r *gRef) ends1(n Node, i int) []int {
	var out []int
	switch n := n.(type) {
	case *AltNode:
		for _, s := range n.Alts {
			out = append(out, r.ends(s, i)...)
		}
	case *SeqNode:
		cur := []int{i}
		for _, it := range n.Items {
			var next []int
			for _, p := range cur {
				next = append(next, r.ends(it, p)...)
			}
			cur = gRefSet(next)
		}
		out = cur
	case *LiteralNode:
		j := i
		for _, c := range n.Value {
			if j >= len(r.in) || uint32(r.in[j]) != c || c == 0 {
				return nil
			}
			j++
		}
		out = []int{j}
	case *ClassNode:
		if len(n.Ranges) == 0 {
			return []int{i}
		}
		if i < len(r.in) && r.in[i] != 0 && gRefClassHas(n, r.in[i]) {
			out = []int{i + 1}
		}
	case *AnyNode:
		if i < len(r.in) && r.in[i] != 0 {
			out = []int{i + 1}
		}
	case *TokenNode:
	case *RefNode:
		return r.ends(r.g.Rule(n.Name).Expr, i)
	case *GroupNode:
		out = r.ends(n.Body, i)
	case *RepeatNode:
		cur := []int{i}
		seen := map[int]bool{}
		if n.Min == 0 {
			out = append(out, i)
			seen[i] = true
		}
		for k := 1; n.Max == Unbounded || k <= n.Max; k++ {
			var next []int
			for _, p := range cur {
				next = append(next, r.ends(n.Expr, p)...)
			}
			cur = gRefSet(next)
			if k >= n.Min {
				var fresh []int
				for _, p := range cur {
					if !seen[p] {
						seen[p] = true
						fresh = append(fresh, p)
					}
				}
				out = append(out, fresh...)
				if n.Max == Unbounded {
					cur = fresh
				}
			}
			if len(cur) == 0 {
				break
			}
		}
	}
	return gRefSet(out)
}

func gRefSet(xs []int) []int {
	slices.Sort(xs)
	return slices.Compact(xs)
}

// gGenGrammar writes a random grammar over a small alphabet, meant to
// exercise every construct, including some that Parse rejects.
func gGenGrammar(r *rand.Rand) string {
	nRules := 1 + r.IntN(4)
	names := []string{"root", "a1", "b-2", "c"}[:nRules]
	var b strings.Builder
	for i, name := range names {
		if i > 0 && r.IntN(8) == 0 {
			b.WriteString("# a comment\n")
		}
		fmt.Fprintf(&b, "%s ::= ", name)
		gGenAlts(r, &b, names, 0, false)
		b.WriteString("\n")
	}
	return b.String()
}

func gGenAlts(r *rand.Rand, b *strings.Builder, names []string, depth int, nested bool) {
	n := 1 + r.IntN(3)
	for i := 0; i < n; i++ {
		if i > 0 {
			if nested && r.IntN(4) == 0 {
				b.WriteString("\n  | ")
			} else {
				b.WriteString(" | ")
			}
		}
		items := r.IntN(4)
		if i == n-1 && items == 0 && !nested {
			items = 1 // a trailing empty alternative would swallow the next rule
		}
		for j := 0; j < items; j++ {
			if j > 0 {
				b.WriteByte(' ')
			}
			gGenItem(r, b, names, depth, nested)
		}
	}
}

var gGenChars = []string{"a", "b", "é", `\x41`, `\u00e9`, `\n`, `\"`, "-", "]", "^"}

func gGenItem(r *rand.Rand, b *strings.Builder, names []string, depth int, nested bool) {
	switch k := r.IntN(16); {
	case k < 4:
		b.WriteByte('"')
		for n := r.IntN(3); n > 0; n-- {
			c := gGenChars[r.IntN(7)]
			b.WriteString(c)
		}
		b.WriteByte('"')
	case k < 7:
		b.WriteByte('[')
		if r.IntN(3) == 0 {
			b.WriteByte('^')
		}
		for n := r.IntN(3); n > 0; n-- {
			switch r.IntN(4) {
			case 0:
				b.WriteString("a-c")
			case 1:
				b.WriteString(`\x00-\x7F`)
			case 2:
				b.WriteString("b")
			default:
				b.WriteString("é")
			}
		}
		b.WriteByte(']')
	case k < 8:
		b.WriteByte('.')
	case k < 11:
		b.WriteString(names[r.IntN(len(names))])
	case k < 13 && depth < 3:
		b.WriteByte('(')
		if r.IntN(5) == 0 {
			b.WriteString("\n ")
		}
		gGenAlts(r, b, names, depth+1, true)
		b.WriteByte(')')
	case k < 14:
		b.WriteString("<[7]>")
	default:
		b.WriteString(`"x"`)
	}
	switch r.IntN(10) {
	case 0:
		b.WriteByte('*')
	case 1:
		b.WriteByte('+')
	case 2:
		b.WriteByte('?')
	case 3:
		fmt.Fprintf(b, "{%d}", r.IntN(3))
	case 4:
		fmt.Fprintf(b, "{%d,}", r.IntN(3))
	case 5:
		lo := r.IntN(3)
		fmt.Fprintf(b, "{%d,%d}", lo, lo+r.IntN(3))
	}
}

// gGenString returns a random short string over the generator's alphabet.
func gGenString(r *rand.Rand) string {
	alphabet := []string{"a", "b", "c", "é", "A", "\n", "\"", "x", "-"}
	var b strings.Builder
	for n := r.IntN(7); n > 0; n-- {
		b.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

// gSample returns a random string the grammar generates, or false when the
// random derivation ran too deep.
func gSample(g *Grammar, r *rand.Rand) (string, bool) {
	var b strings.Builder
	budget := 200
	var gen func(n Node) bool
	gen = func(n Node) bool {
		if budget--; budget < 0 {
			return false
		}
		switch n := n.(type) {
		case *AltNode:
			return gen(n.Alts[r.IntN(len(n.Alts))])
		case *SeqNode:
			for _, it := range n.Items {
				if !gen(it) {
					return false
				}
			}
		case *LiteralNode:
			for _, c := range n.Value {
				if c == 0 || c > utf8.MaxRune || !utf8.ValidRune(rune(c)) {
					return false
				}
				b.WriteRune(rune(c))
			}
		case *ClassNode:
			if len(n.Ranges) == 0 {
				return true
			}
			for try := 0; try < 20; try++ {
				c := rune(r.IntN(0x120))
				if c != 0 && gRefClassHas(n, c) {
					b.WriteRune(c)
					return true
				}
			}
			return false
		case *AnyNode:
			b.WriteRune(rune('a' + r.IntN(3)))
		case *TokenNode:
			return false
		case *RefNode:
			return gen(g.Rule(n.Name).Expr)
		case *GroupNode:
			return gen(n.Body)
		case *RepeatNode:
			k := n.Min
			if n.Max == Unbounded {
				k += r.IntN(3)
			} else {
				k += r.IntN(n.Max - n.Min + 1)
			}
			for ; k > 0; k-- {
				if !gen(n.Expr) {
					return false
				}
			}
		}
		return true
	}
	ok := gen(g.Rule("root").Expr)
	return b.String(), ok
}
