package regex

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRegexParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, pattern, want string }{
		{"lookahead", "a(?=b)", "lookahead"},
		{"lookahead without ^", "(?=a)b", "lookahead"},
		{"nested lookahead", "^(?=(?=a)b)", "lookahead"},
		{"negative lookahead", "a(?!b)", "lookahead"},
		{"lookbehind", "(?<=a)b", "lookbehind"},
		{"backreference", `(a)\1`, "backreference"},
		{"named backreference", `(?<n>a)\k<n>`, "backreference"},
		{"word boundary", `\bword\b`, "word boundary"},
		{"unterminated group", "(ab", "unterminated group"},
		{"unmatched paren", "ab)", "unmatched"},
		{"unterminated class", "[ab", "unterminated character class"},
		{"nothing to repeat", "*a", "nothing to repeat"},
		{"double quantifier", "a**", "nothing to repeat"},
		{"bad range", "[z-a]", "out of order"},
		{"python group", "(?P<name>x)", "invalid group"},
		{"inline flags", "(?i)abc", "invalid group"},
		{"bad escape", `\a`, "invalid escape"},
		{"bad count order", "a{3,2}", "out of order"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.pattern)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			var re *Error
			assert.ErrorAs(t, err, &re)
		})
	}
}

func TestRegexMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		search  bool
		accept  []string
		reject  []string
	}{
		{"^a*$", true, []string{"", "a", "aaa"}, []string{"b", "ab", "aab"}},
		{"a+", true, []string{"a", "xxaayy", "ba"}, []string{"", "b", "xyz"}},
		{"^[0-9]{2,3}$", true, []string{"12", "123"}, []string{"1", "1234", "ab"}},
		{"^(?:ab|cd)+$", true, []string{"ab", "abcd", "cdcd"}, []string{"", "abc", "ba"}},
		{`^\d+\.\d*$`, true, []string{"1.", "12.5"}, []string{".5", "a.1"}},
		{`^\p{Letter}+$`, true, []string{"Hello", "π"}, []string{"123", ""}},
		{`^[^a-c]$`, true, []string{"d", "é"}, []string{"a", "b", "", "dd"}},
		{`a^b`, true, nil, []string{"ab", "a^b", "b"}},
		{`^$`, true, []string{""}, []string{"a"}},
		{`x$`, true, []string{"x", "abx"}, []string{"xa", ""}},
		{`^.$`, true, []string{"a", "😀"}, []string{"\n", "ab"}},
		{`\s`, true, []string{" ", "a\u00a0b", "\ufeff"}, []string{"ab"}},
		{`^\w+$`, true, []string{"ab_9"}, []string{"é", "a-b"}},
		{`[]`, true, nil, []string{"", "a"}},
		{`[^]`, true, []string{"a", "\n"}, []string{""}},
		{`^\cA$`, true, []string{"\x01"}, []string{"c"}},
		{`^[\d-z]+$`, true, []string{"1-z"}, []string{"a"}},
		{`^a{2}b?$`, false, []string{"aa", "aab"}, []string{"a", "aaab"}},
		{`^(a|)$`, true, []string{"", "a"}, []string{"aa"}},
		{`^\u{1F600}$`, true, []string{"😀"}, []string{"a"}},
		{`^(?=.*\d)(?=.*[a-z])[a-z0-9]{4,8}$`, true, []string{"abc1", "1a2b3c4d"}, []string{"abcd", "1234", "ab1", "abcdefgh1"}},
		{`^(?!admin$)(?!root)[a-z]+$`, true, []string{"user", "admins", "adm"}, []string{"admin", "rooted", "root"}},
		{`^(?=a)ab|^(?=c)cd`, true, []string{"ab", "cdx"}, []string{"b", "d"}},
		{`^\uD83D\uDE00$`, true, []string{"😀"}, []string{"a"}},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			n, err := Parse(tc.pattern)
			require.NoError(t, err)
			d, err := NewDFA(n, tc.search)
			require.NoError(t, err)
			for _, s := range tc.accept {
				assert.True(t, d.Accepts(s), "should accept %q", s)
			}
			for _, s := range tc.reject {
				assert.False(t, d.Accepts(s), "should reject %q", s)
			}
		})
	}
}

func TestDFAOperations(t *testing.T) {
	re := func(p string) *DFA {
		n, err := Parse(p)
		require.NoError(t, err)
		d, err := NewDFA(n, false)
		require.NoError(t, err)
		return d
	}
	a, b := re("[a-m]+"), re("[h-z]+")
	and, err := And(a, b)
	require.NoError(t, err)
	assert.True(t, and.Accepts("hij"))
	assert.False(t, and.Accepts("abc"))
	not, err := Not(a)
	require.NoError(t, err)
	assert.True(t, not.Accepts(""))
	assert.True(t, not.Accepts("az"))
	assert.False(t, not.Accepts("am"))
	assert.True(t, re("a|b").Equal(re("[ab]")))
	assert.False(t, re("a|b").Equal(re("[abc]")))
	words, ok := re("(x|y)(1|2)").FiniteWords(10)
	require.True(t, ok)
	assert.ElementsMatch(t, []string{"x1", "x2", "y1", "y2"}, words)
	_, ok = re("x+").FiniteWords(10)
	assert.False(t, ok)
	l, err := LengthDFA(2, 3)
	require.NoError(t, err)
	assert.True(t, l.Accepts("ab") && l.Accepts("π😀x"))
	assert.False(t, l.Accepts("a") || l.Accepts("abcd"))
}

// A star inside an optional group must not loop back into the group's
// entry: that would let the loop skip what follows the star.
func TestRegexStarInsideOptional(t *testing.T) {
	n, err := Parse(`^(?:[:a]*@)?a*(?::[0-9]*)?$`)
	require.NoError(t, err)
	d, err := NewDFA(n, false)
	require.NoError(t, err)
	assert.False(t, d.Accepts("a:aa"))
	assert.True(t, d.Accepts("a:a@a:12"))
	assert.True(t, d.Accepts("aa:7"))
}

func TestCompile(t *testing.T) {
	for _, tc := range []struct {
		pattern        string
		accept, reject []string
	}{
		{`[a-z]+@[a-z]+\.com`, []string{"ab@cd.com"}, []string{"ab@cd.org", "x ab@cd.com"}},
		{`^\d{3}-\d{4}$`, []string{"555-1234"}, []string{"5551234"}},
		{`(yes|no)`, []string{"yes", "no"}, []string{"yesno", ""}},
		{`"quoted" \\ text`, []string{`"quoted" \ text`}, nil},
		{`[a-z]{0,3000}`, []string{"", "abc"}, []string{"A"}},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			g, err := Compile(tc.pattern)
			require.NoError(t, err)
			for _, s := range tc.accept {
				assert.True(t, g.Accepts(s), "should accept %q", s)
			}
			for _, s := range tc.reject {
				assert.False(t, g.Accepts(s), "should reject %q", s)
			}
		})
	}
	_, err := Compile(`a(?=b)`)
	var re *Error
	assert.ErrorAs(t, err, &re)
	_, err = Compile(`[]`)
	assert.ErrorAs(t, err, &re)
}

// randomRegex builds a small random pattern over a few letters.
func randomRegex(rng *rand.Rand, depth int) string {
	if depth == 0 || rng.Intn(3) == 0 {
		return []string{"a", "b", "c", "[ab]", "[^a]", ".", "(?:)"}[rng.Intn(7)]
	}
	switch rng.Intn(4) {
	case 0:
		return randomRegex(rng, depth-1) + randomRegex(rng, depth-1)
	case 1:
		return "(?:" + randomRegex(rng, depth-1) + "|" + randomRegex(rng, depth-1) + ")"
	case 2:
		return "(?:" + randomRegex(rng, depth-1) + ")" + []string{"*", "+", "?", "{2}", "{1,3}", "{2,}"}[rng.Intn(6)]
	}
	return "^" + randomRegex(rng, depth-1) + "$"
}

// TestMinimizeAgrees checks Hopcroft's minimization against Moore's.
func TestMinimizeAgrees(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for range 300 {
		p := randomRegex(rng, 4)
		n, err := Parse(p)
		require.NoError(t, err, p)
		a := &NFA{}
		s, e, err := a.build(n)
		require.NoError(t, err)
		d, err := a.Determinize(s, e)
		require.NoError(t, err)
		d = d.Trim()
		h, m := d.Minimize(), d.moore()
		require.Equal(t, len(m.States), len(h.States), p)
		require.True(t, h.Equal(m), p)
		for _, w := range []string{"", "a", "ab", "ba", "abc", "aab", "cc", "abab"} {
			require.Equal(t, d.Accepts(w), h.Accepts(w), "%s on %q", p, w)
		}
	}
}
