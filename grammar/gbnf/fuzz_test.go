package gbnf

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unicode/utf8"
)

func gFuzzSeeds(f *testing.F) []string {
	files, _ := filepath.Glob("testdata/*.gbnf")
	var seeds []string
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, string(src))
	}
	return append(seeds,
		`root ::= ("a"?)*`, `root ::= "a"{2,3} [^b-d]* . <[1]>`, "root ::= x\nx ::= \"(\" x \")\" | \"\"",
		`root ::= (("a"?)?){20}`, "root ::= \"\xc3A\" [\\]-]", `root ::= "x"{0,2000}{0,2000}`)
}

// FuzzParse: Parse never panics, and whatever it accepts prints to text
// that parses back to the same rules and prints the same again.
func FuzzParse(f *testing.F) {
	for _, s := range gFuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 1<<16 {
			t.Skip("long inputs only slow the fuzzer down")
		}
		g, err := Parse("fuzz", src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if se.Offset < 0 || se.Offset > len(src) || posOf(src, se.Offset) != [2]int{se.Line, se.Col} {
				t.Fatalf("bad position %d:%d (offset %d) in %q: %v", se.Line, se.Col, se.Offset, src, err)
			}
			return
		}
		printed := g.String()
		g2, err := Parse("printed", printed)
		if err != nil {
			t.Fatalf("printed grammar does not parse: %v\n%q\nfrom %q", err, printed, src)
		}
		if again := g2.String(); again != printed {
			t.Fatalf("printing is not a fixed point:\n%q\n%q", printed, again)
		}
		want, got := gTrailingEmptyAsLiteral(g).Rules(), g2.Rules()
		if len(want) != len(got) {
			t.Fatalf("rule count %d != %d", len(want), len(got))
		}
		for i := range want {
			if want[i].Name != got[i].Name || !gSameNode(want[i].Expr, got[i].Expr) {
				t.Fatalf("rule %d differs:\n%s\n%s", i, want[i], got[i])
			}
		}
		// Compiling and starting a matcher never fails.
		m := g.NewMatcher()
		_ = m.NextBytes()
	})
}

// FuzzMatch: on any grammar and input the matcher agrees with the slow
// reference recogniser, NextBytes agrees with Feed, and pieces fed one by
// one give what Accepts gives.
func FuzzMatch(f *testing.F) {
	for _, s := range gFuzzSeeds(f) {
		f.Add(s, []byte("a"))
	}
	f.Add("root ::= [^x]* \"x\"", []byte("é😀x"))
	f.Add("root ::= \"ab\" | \"a\" \"c\"+", []byte("accc"))
	f.Add("root ::= .", []byte{0xf0, 0x9f, 0x98, 0x80})
	f.Add("root ::= [^0]++++++++++++++++++++++++++*", []byte("root::=["))
	f.Fuzz(func(t *testing.T, src string, in []byte) {
		if len(src) > 4096 || len(in) > 256 {
			t.Skip("long inputs only slow the fuzzer down")
		}
		// A smaller budget keeps every input fast: at the full one, an
		// ambiguous grammar may take 256 times tens of milliseconds.
		defer func(w int) { gMatchWork = w }(gMatchWork)
		gMatchWork = 1 << 14
		g, err := Parse("fuzz", src)
		if err != nil {
			return
		}
		m := g.NewMatcher()
		fed := 0
		for i, b := range in {
			next := m.NextBytes()
			err := m.Feed([]byte{b})
			if errors.Is(err, ErrMatchBudget) {
				t.Skip("too ambiguous to check")
			}
			if (err == nil) != slices.Contains(next, b) {
				t.Fatalf("byte %d (%#x): NextBytes %x, Feed error %v", i, b, next, err)
			}
			if err != nil {
				if m.Offset() != int64(fed) {
					t.Fatalf("failed Feed moved the matcher")
				}
				break
			}
			fed++
		}
		accepts := g.Accepts(string(in))
		if accepts != (fed == len(in) && m.Accepting()) {
			t.Fatalf("Accepts %v, but fed %d of %d bytes, Accepting %v", accepts, fed, len(in), m.Accepting())
		}
		if utf8.Valid(in) && len(in) <= 32 {
			if ref := gRefAccepts(g, string(in)); ref != accepts {
				t.Fatalf("Accepts %v, reference %v on %q\n%s", accepts, ref, in, g)
			}
		}
	})
}
