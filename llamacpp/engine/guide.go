package engine

import (
	"github.com/locallm/locallm/grammar/gbnf"
)

// A guide follows one sequence's output through its grammar and decides
// which tokens may come next: the only grammar engine on the decode path.
// Sampling asks first whether the token the sampler chose is allowed (one
// Feed of its text, on a copy of the matcher); only when it is not does it
// compute the whole set of allowed tokens, by walking the vocabulary trie
// with the matcher, pruned at the first byte the grammar refuses, and draw
// again among them. A token is allowed when its whole text can continue
// the match; an end-of-generation token when the text so far is a
// complete match. Tokens without text (control tokens) never are.
type guide struct {
	m *gbnf.Matcher
}

func newGuide(g *gbnf.Grammar) *guide { return &guide{m: g.NewMatcher()} }

// allows reports whether tok may come next.
func (g *guide) allows(v *vocab, tok int32) bool {
	if v.isEOG[tok] {
		return g.m.Accepting()
	}
	t := v.tokenText(tok)
	if len(t) == 0 {
		return false
	}
	return g.m.Clone().Feed(t) == nil
}

// accept advances over tok, which allows said may come next.
func (g *guide) accept(v *vocab, tok int32) error {
	if v.isEOG[tok] {
		return nil
	}
	return g.m.Feed(v.tokenText(tok))
}

// allowed appends every token that may come next to dst.
func (g *guide) allowed(v *vocab, dst []int32) []int32 {
	if g.m.Accepting() {
		dst = append(dst, v.eog...)
	}
	v.trie()
	return g.walk(v, 0, g.m, dst)
}

func (g *guide) walk(v *vocab, node int32, m *gbnf.Matcher, dst []int32) []int32 {
	n := v.nodes[node]
	var one [1]byte
	for _, e := range v.edges[n.edge0 : n.edge0+n.nEdges] {
		if !m.AllowsByte(e.b) {
			continue
		}
		c := m.Clone()
		one[0] = e.b
		if c.Feed(one[:]) != nil {
			continue
		}
		child := v.nodes[e.child]
		dst = append(dst, v.toks[child.tok0:child.tok0+child.nToks]...)
		if child.nEdges > 0 {
			dst = g.walk(v, e.child, c, dst)
		}
	}
	return dst
}
