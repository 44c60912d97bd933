package regex

import (
	"testing"
)

// FuzzRegex: parsing never panics; a parsed pattern prints back to a
// pattern with the same language (parse, print, parse); Compile
// returns a grammar that parses or an error.
func FuzzRegex(f *testing.F) {
	for _, p := range []string{
		`^[a-z]+@[a-z]+\.com$`, `a{2,5}?b*`, `(?:x|y)+z?`, `[^\d\s]\w`, `\p{Letter}+`, `\u{1F600}|\uD83D\uDE00`,
		`((((((a))))))`, `[\]\-\\]`, `\cA\x41\0`, `(?<n>a)|b`, `a{3000}`, `x{0,100000}`, `$^`, `.*`, `[]|[^]`,
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		n, err := Parse(pattern)
		if err != nil {
			return
		}
		printed := n.String()
		m, err := Parse(printed)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", pattern, printed, err)
		}
		d1, err1 := NewDFA(n, true)
		d2, err2 := NewDFA(m, true)
		if err1 == nil && err2 == nil && !d1.Equal(d2) {
			t.Fatalf("%q printed as %q, a different language", pattern, printed)
		}
		if _, err := Compile(pattern); err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("%q: %v", pattern, err)
			}
		}
	})
}
