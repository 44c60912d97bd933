package llamacpp

import (
	"github.com/locallm/locallm/grammar"
)

// A constrained generation that reaches MaxNewTokens mid-structure would
// end as invalid output (an unclosed string, a missing brace). Near the end
// of its budget, the scheduler asks the Go matcher, which follows the same
// grammar byte by byte, for a short completion, and appends it when the
// budget would not otherwise suffice: the output then always parses.

// completionWindow is how close to MaxNewTokens (in tokens) completions are
// looked for; completionSlack the tokens kept in reserve, since one sampled
// token can open several structures at once.
const (
	completionWindow = 64
	completionSlack  = 6
	completionBeam   = 32
)

// shortestCompletion searches, breadth first with a bounded beam, for a
// short byte string that takes m to an accepting state, trying structural
// bytes (quotes, closing brackets, digits) before others. It gives up after
// maxLen bytes.
func shortestCompletion(m *grammar.Matcher, maxLen int) ([]byte, bool) {
	type node struct {
		m    *grammar.Matcher
		path []byte
	}
	if m.Accepting() {
		return nil, true
	}
	frontier := []node{{m: m}}
	for depth := 0; depth < maxLen && len(frontier) > 0; depth++ {
		var next []node
		for _, n := range frontier {
			for _, b := range byPriority(n.m.NextBytes()) {
				c := n.m.Clone()
				if c.Feed([]byte{b}) != nil {
					continue
				}
				p := append(append([]byte(nil), n.path...), b)
				if c.Accepting() {
					return p, true
				}
				if len(next) < completionBeam {
					next = append(next, node{c, p})
				}
			}
		}
		frontier = next
	}
	return nil, false
}

// byPriority orders candidate bytes: those that close structures first.
func byPriority(bs []byte) []byte {
	rank := func(b byte) int {
		switch {
		case b == '"':
			return 0
		case b == '}' || b == ']':
			return 1
		case b == '0':
			return 2
		case b >= '1' && b <= '9':
			return 3
		case b == 'n' || b == 't' || b == 'f' || b == ',' || b == ':':
			return 4
		case b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z':
			return 5
		case b < 0x80:
			return 6
		}
		return 7
	}
	out := make([]byte, 0, len(bs))
	for r := 0; r <= 7; r++ {
		for _, b := range bs {
			if rank(b) == r {
				out = append(out, b)
			}
		}
	}
	return out
}
