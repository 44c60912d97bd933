package engine

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// findStop returns where the first stop sequence starts in text[from:],
// looking only at matches that end after the first old bytes (earlier ones
// were looked for before), so that a generation costs linear time.
func findStop(text []byte, from, old int, stops []string) (int, bool) {
	best := -1
	for _, st := range stops {
		lo := max(from, old-len(st)+1)
		if lo > len(text) {
			continue
		}
		if i := bytes.Index(text[lo:], []byte(st)); i >= 0 && (best < 0 || lo+i < best) {
			best = lo + i
		}
	}
	return best, best >= 0
}

// incompleteUTF8 is the length of a UTF-8 sequence cut short at the end of
// b (a token can end inside a character); such bytes are streamed with the
// next token.
func incompleteUTF8(b []byte) int {
	for n := 1; n < utf8.UTFMax && n <= len(b); n++ {
		c := b[len(b)-n]
		if c < 0x80 {
			return 0 // ASCII: complete
		}
		if c >= 0xC0 { // a leading byte: how long should its sequence be?
			want := 2
			if c >= 0xF0 {
				want = 4
			} else if c >= 0xE0 {
				want = 3
			}
			if want > n {
				return n
			}
			return 0
		}
	}
	return 0
}

// heldBack is the length of the longest suffix of text that is a proper
// prefix of one of the markers: text that must not be streamed yet.
func heldBack(text []byte, markers []string) int {
	held := 0
	for _, st := range markers {
		for n := min(len(st)-1, len(text)); n > held; n-- {
			if strings.HasPrefix(st, string(text[len(text)-n:])) {
				held = n
				break
			}
		}
	}
	return held
}

// isSpace reports ASCII white space, which separates a reasoning block
// from the answer.
func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }
