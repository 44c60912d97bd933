package gbnf

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func gLoad(t testing.TB, file string) *Grammar {
	t.Helper()
	src, err := os.ReadFile("testdata/" + file)
	require.NoError(t, err)
	g, err := Parse(file, string(src))
	require.NoError(t, err)
	return g
}

func gMust(t testing.TB, src string) *Grammar {
	t.Helper()
	g, err := Parse("test", src)
	require.NoError(t, err)
	return g
}

func TestAccepts(t *testing.T) {
	type cases map[string]bool
	tests := []struct {
		name    string
		grammar string // GBNF text, or a file under testdata
		cases   cases
	}{
		{"json", "json.gbnf", cases{
			`{}`: true, ` { "a" : [1, -2.5e+3, true, false, null, "x\"\\\/\n\u00e9"] } `: true,
			`[]`: true, `"é😀"`: true, `0`: true, `-0.0E-0`: true, `[[[[[]]]]]`: true,
			`{"a":{"b":{"c":[{}]}}}`: true, "\t\r\n\"tabs and newlines around\"\n": true,
			``: false, `{`: false, `{"a"}`: false, `[1,]`: false, `01`: false, `1.`: false,
			`"\x"`: false, "\"\x01\"": false, `"\u12"`: false, `nul`: false, `[1 2]`: false,
			`{"a":1,}`: false, `{'a':1}`: false,
		}},
		{"arithmetic", "arithmetic.gbnf", cases{
			`1`: true, `1 + 2 * 3`: true, `-(1+2)*-3 % 4`: true, `((((7))))`: true,
			`1 +`: false, `(1`: false, `1 2`: false, `+1`: false, ``: false,
		}},
		{"schema", "schema.gbnf", cases{
			`{"name":"Ann"}`: true, `{ "name": "Ann", "age": 42 }`: true,
			"{\"name\":\"x\\u00e9\",\n  \"age\":0}": true, `{"name":"` + strings.Repeat("a", 64) + `"}`: true,
			`{"name":""}`: false, `{"name":"` + strings.Repeat("a", 65) + `"}`: false,
			`{"age":1,"name":"x"}`: false, `{"name":"x","age":01}`: false, `{"name":"x","age":1000}`: false,
		}},
		{"unicode", "unicode.gbnf", cases{
			"héllo 😀 一二 Ω": true, "¡hola! 😀🙏 龯龯龯龯 ж": true, "Grüß dich 😃 一二 ✓": true,
			"hello 😀 一二 Ω": false, "héllo  一二 Ω": false, "héllo 😀 一 Ω": false, "héllo 😀 一二 a": false,
			"héllo 😀 一二二二二 Ω": false, "héllo 🚀 一二 Ω": false,
		}},
		{"repetitions", `root ::= "a"{2} "b"{1,3} "c"{2,} "d"? "e"* "f"+ "g"{0}`, cases{
			"aabccf": true, "aabbbccccdeeefff": true, "aabbbbccf": false, "abccf": false, "aabcf": false,
			"aabccdd f": false, "aabccfg": false, "aabcc": false,
		}},
		{"stacked repetitions", `root ::= ("ab"{2}){1,2} "c"+{2}`, cases{
			"ababcc": true, "ababababccc": true, "ababc": false, "abababcc": false, "ababababababcc": false,
		}},
		{"nested bounded repetitions", `root ::= ("a"{0,3} "b"){0,3}`, cases{
			"": true, "b": true, "aaab": true, "abaabaaab": true, "aaaab": false, "bbbb": false, "a": false,
		}},
		{"large counts", `root ::= ("x"{0,2000} "-"){0,2000} "y"{2000}`, cases{
			strings.Repeat(strings.Repeat("x", 1500)+"-", 3) + strings.Repeat("y", 2000): true,
			strings.Repeat("-", 2000) + strings.Repeat("y", 2000):                        true,
			strings.Repeat("y", 1999): false, strings.Repeat("y", 2001): false, strings.Repeat("x", 2001) + "-": false,
		}},
		{"classes", `root ::= [a-cx] [^a-c] [\x00-\x1F] [-] [a-] [\]] [z-a]?`, cases{
			"ad\t--]": true, "xé\n-a]": true, "aa\t--]": false, "ad\t-b]": false, "ad\t--]z": false,
		}},
		{"negated class and dot", `root ::= [^"\\]* "\"" .`, cases{
			"héllo \"😀": true, `"` + "\n": true, `a\"x`: false, `""`: true, "\"": false, `"ab`: false,
		}},
		{"empty class and string match nothing", `root ::= "a" [] "" [^] "b"`, cases{"ab": true, "a": false}},
		{"unicode escapes", `root ::= "\u00e9" [\U0001F600-\U0001F64F] "\x41"`, cases{"é😃A": true, "e😃A": false}},
		{"surrogates and NUL never match", `root ::= [\x00] | [\uD800-\uDFFF] | "\x00"`, cases{"\x00": false, "\xed\xa0\x80": false, "": false}},
		{"invalid UTF-8 never matches", `root ::= .*`, cases{"abc": true, "\xff": false, "\xc3": false, "\xc0\x80": false, "a\x80": false}},
		{"tokens never match text", `root ::= <[1]> | !<[2]> "a" | "b" <x>`, cases{"": false, "a": false, "b": false}},
		{"right recursion", "root ::= \"a\" root | \"b\"", cases{strings.Repeat("a", 3000) + "b": true, strings.Repeat("a", 3000): false}},
		{"balanced", "root ::= (\"(\" root \")\")*", cases{"": true, "()(())": true, "(()": false, ")(": false}},
		{"ambiguous", "root ::= x x\nx ::= \"a\" | \"aa\" | \"\"", cases{"": true, "a": true, "aaaa": true, "aaaaa": false}},
		{"duplicate definition", "root ::= \"a\"\nroot ::= \"b\"", cases{"a": false, "b": true}},
		{"lax utf-8 in grammar", "root ::= \"\xc3A\"", cases{"Á": true, "A": false}},
		{"unproductive alternative", "root ::= \"a\" x | \"b\"\nx ::= \"c\" x", cases{"b": true, "ac": false, "acc": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g *Grammar
			if strings.HasSuffix(tt.grammar, ".gbnf") {
				g = gLoad(t, tt.grammar)
			} else {
				g = gMust(t, tt.grammar)
			}
			for in, want := range tt.cases {
				assert.Equal(t, want, g.Accepts(in), "%q", in)
				if len(in) < 500 {
					assert.Equal(t, want, gRefAccepts(g, in), "reference on %q", in)
				}
			}
		})
	}
}

func TestAcceptsLongInputs(t *testing.T) {
	json := gLoad(t, "json.gbnf")
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	assert.True(t, json.Accepts(deep))
	assert.False(t, json.Accepts(deep[:len(deep)-1]))
	long := `"` + strings.Repeat("é", 100000) + `"`
	assert.True(t, json.Accepts(long))

	doc := gJSONDoc(10000)
	start := time.Now()
	assert.True(t, json.Accepts(doc))
	// Milliseconds in practice (see BenchmarkAcceptsJSON); the bound is
	// loose for slow, shared or instrumented builds.
	assert.Less(t, time.Since(start), 2*time.Second)
}

// gJSONDoc returns a JSON document of at least n bytes, always the same.
func gJSONDoc(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	var value func(depth int) any
	value = func(depth int) any {
		switch k := r.IntN(7); {
		case depth > 3 || k == 0:
			return r.NormFloat64() * 1e3
		case k == 1:
			return r.IntN(100000) - 50000
		case k == 2:
			return "héllo \"wörld\" 😀\n\t" + strconv.Itoa(r.IntN(1000))
		case k == 3:
			return []any{nil, true, false}[r.IntN(3)]
		case k == 4 || k == 5:
			m := map[string]any{}
			for i := r.IntN(5); i >= 0; i-- {
				m["key"+strconv.Itoa(i)] = value(depth + 1)
			}
			return m
		default:
			var a []any
			for i := r.IntN(5); i >= 0; i-- {
				a = append(a, value(depth+1))
			}
			return a
		}
	}
	var out []any
	for {
		out = append(out, value(0))
		b, _ := json.MarshalIndent(out, "", "  ")
		if len(b) >= n {
			return string(b)
		}
	}
}

func TestAcceptsMatchesReference(t *testing.T) {
	// Random grammars, random and generated strings: the matcher agrees
	// with the slow reference recogniser.
	r := rand.New(rand.NewPCG(3, 4))
	parsed, checked, accepted := 0, 0, 0
	for i := 0; i < 3000; i++ {
		g, err := Parse("random", gGenGrammar(r))
		if err != nil {
			continue
		}
		parsed++
		for j := 0; j < 20; j++ {
			s := gGenString(r)
			if j%2 == 0 {
				if x, ok := gSample(g, r); ok {
					s = x
				}
			}
			want := gRefAccepts(g, s)
			require.Equal(t, want, g.Accepts(s), "%q on\n%s", s, g)
			checked++
			if want {
				accepted++
			}
		}
	}
	t.Logf("%d grammars parsed, %d strings checked, %d accepted", parsed, checked, accepted)
	assert.Greater(t, parsed, 300)
	assert.Greater(t, accepted, checked/10)
}

func TestNextBytes(t *testing.T) {
	g := gMust(t, `root ::= "a" ([b-d] | "é" | "\U0001F600" | [\u0400-\u04FF]) "z"?`)
	m := g.NewMatcher()
	assert.Equal(t, []byte("a"), m.NextBytes())
	assert.False(t, m.Accepting())
	require.NoError(t, m.Feed([]byte("a")))
	assert.Equal(t, []byte{'b', 'c', 'd', 0xc3, 0xd0, 0xd1, 0xd2, 0xd3, 0xf0}, m.NextBytes())
	require.NoError(t, m.Feed([]byte{0xf0}))
	assert.Equal(t, []byte{0x9f}, m.NextBytes())
	require.NoError(t, m.Feed([]byte{0x9f, 0x98}))
	assert.Equal(t, []byte{0x80}, m.NextBytes())
	assert.False(t, m.Accepting(), "inside a code point")
	require.NoError(t, m.Feed([]byte{0x80}))
	assert.True(t, m.Accepting())
	assert.Equal(t, []byte("z"), m.NextBytes())
	require.NoError(t, m.Feed([]byte("z")))
	assert.True(t, m.Accepting())
	assert.True(t, m.Dead())
	assert.Empty(t, m.NextBytes())
	assert.NotNil(t, m.NextBytes())

	// A negated class allows every byte that starts valid UTF-8, but NUL.
	all := gMust(t, `root ::= [^x]`).NewMatcher().NextBytes()
	assert.Len(t, all, 0x7f-1+0xf4-0xc2+1)
	assert.NotContains(t, all, byte(0))
	assert.NotContains(t, all, byte('x'))
	assert.NotContains(t, all, byte(0xc0))
	assert.NotContains(t, all, byte(0xf5))
	m = gMust(t, `root ::= [^x]`).NewMatcher()
	require.NoError(t, m.Feed([]byte{0xed}))
	assert.Equal(t, byte(0x80), m.NextBytes()[0])
	assert.Equal(t, byte(0x9f), m.NextBytes()[len(m.NextBytes())-1], "no surrogates")

	// Paths that cannot complete are not offered.
	m = gMust(t, "root ::= \"a\" <[3]> | \"b\" | \"c\" x\nx ::= \"d\" x").NewMatcher()
	assert.Equal(t, []byte("b"), m.NextBytes())
}

func TestNextBytesAgreesWithFeed(t *testing.T) {
	g := gLoad(t, "unicode.gbnf")
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 50; i++ {
		m := g.NewMatcher()
		for !m.Dead() && m.Offset() < 200 {
			next := m.NextBytes()
			allowed := map[byte]bool{}
			for _, b := range next {
				allowed[b] = true
			}
			for b := 0; b < 256; b++ {
				err := m.Clone().Feed([]byte{byte(b)})
				assert.Equal(t, allowed[byte(b)], err == nil, "byte %#x after %d bytes", b, m.Offset())
				assert.Equal(t, allowed[byte(b)], m.AllowsByte(byte(b)), "AllowsByte(%#x) after %d bytes", b, m.Offset())
			}
			require.NoError(t, m.Feed([]byte{next[r.IntN(len(next))]}))
		}
	}
}

func TestFeedSplitUTF8(t *testing.T) {
	g := gLoad(t, "unicode.gbnf")
	text := "Grüß dich 😀😃🙏 龯一二 ж"
	require.True(t, g.Accepts(text))
	// Every way of cutting the text in two, and byte by byte.
	for cut := 0; cut <= len(text); cut++ {
		m := g.NewMatcher()
		require.NoError(t, m.Feed([]byte(text[:cut])), "cut %d", cut)
		require.NoError(t, m.Feed([]byte(text[cut:])), "cut %d", cut)
		assert.True(t, m.Accepting(), "cut %d", cut)
		assert.Equal(t, int64(len(text)), m.Offset())
	}
	m := g.NewMatcher()
	for i := 0; i < len(text); i++ {
		require.NoError(t, m.Feed([]byte{text[i]}))
		assert.Equal(t, i == len(text)-1, m.Accepting())
	}
}

func TestFeedErrors(t *testing.T) {
	g := gMust(t, `root ::= "ab" [é-ë]+ "c"`)
	m := g.NewMatcher()
	require.NoError(t, m.Feed([]byte("ab\xc3")))
	next := m.NextBytes()

	// é is C3 A9; C3 A8 (è) starts fine and fails on its second byte.
	err := m.Feed([]byte("\xa9\xc3\xa8"))
	var me *MatchError
	require.True(t, errors.As(err, &me), "%v", err)
	assert.Equal(t, int64(5), me.Offset)
	assert.Equal(t, byte(0xa8), me.Byte)
	assert.Contains(t, err.Error(), "byte 0xa8 at offset 5")
	assert.Equal(t, int64(3), m.Offset(), "unchanged after an error")
	assert.Equal(t, next, m.NextBytes(), "unchanged after an error")
	require.NoError(t, m.Feed([]byte("\xa9c")))
	assert.True(t, m.Accepting())

	tests := []struct {
		name, in string
		off      int64
		msg      string
	}{
		{"wrong byte", "ax", 1, "no continuation"},
		{"invalid lead", "\xff", 0, "invalid UTF-8"},
		{"overlong", "ab\xc0\x80", 2, "invalid UTF-8"},
		{"bad continuation", "ab\xc3(", 3, "invalid UTF-8"},
		{"lead of surrogates", "ab\xed\xa0\x80", 2, "no continuation"},
		{"lead outside the class", "ab\xe4", 2, "no continuation"},
		{"after the end", "abéc!", 5, "no continuation"},
		{"NUL", "\x00", 0, "NUL is never accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := g.NewMatcher()
			err := m.Feed([]byte(tt.in))
			require.True(t, errors.As(err, &me), "%v", err)
			assert.Equal(t, tt.off, me.Offset)
			assert.Equal(t, tt.in[tt.off], me.Byte)
			assert.Contains(t, me.Msg, tt.msg)
			assert.Equal(t, int64(0), m.Offset())
		})
	}
	dot := gMust(t, `root ::= .*`)
	err = dot.NewMatcher().Feed([]byte{0})
	require.ErrorAs(t, err, &me)
	assert.Contains(t, me.Msg, "NUL")
	err = dot.NewMatcher().Feed([]byte("\xed\xa0\x80"))
	require.ErrorAs(t, err, &me)
	assert.Equal(t, int64(1), me.Offset, "a surrogate is invalid UTF-8")
	assert.Contains(t, me.Msg, "invalid UTF-8")
}

func TestMatcherState(t *testing.T) {
	g := gMust(t, `root ::= "a"+ "b"?`)
	m := g.NewMatcher()
	assert.False(t, m.Accepting())
	assert.False(t, m.Dead())
	assert.NoError(t, m.Feed(nil))
	require.NoError(t, m.Feed([]byte("aa")))
	c := m.Clone()
	require.NoError(t, m.Feed([]byte("b")))
	assert.True(t, m.Dead())
	assert.True(t, m.Accepting())
	// The clone did not move.
	assert.Equal(t, int64(2), c.Offset())
	assert.False(t, c.Dead())
	require.NoError(t, c.Feed([]byte("aaa")))
	assert.True(t, c.Accepting())
	assert.Error(t, m.Feed([]byte("a")))

	// A grammar that matches nothing is dead from the start.
	d := gMust(t, `root ::= <[1]>`).NewMatcher()
	assert.True(t, d.Dead())
	assert.False(t, d.Accepting())
	// One that matches only the empty string accepts and is dead.
	e := gMust(t, `root ::= ""`).NewMatcher()
	assert.True(t, e.Dead())
	assert.True(t, e.Accepting())
}

func TestMatchersShareGrammar(t *testing.T) {
	// A grammar is safe to share; clones of one matcher run in parallel.
	g := gLoad(t, "json.gbnf")
	doc := gJSONDoc(2000)
	m := g.NewMatcher()
	require.NoError(t, m.Feed([]byte(doc[:len(doc)/2])))
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.True(t, g.Accepts(doc))
			c := m.Clone()
			assert.NoError(t, c.Feed([]byte(doc[len(doc)/2:])))
			assert.True(t, c.Accepting())
		}()
	}
	wg.Wait()
}

func TestMatchAmbiguous(t *testing.T) {
	// Heavy ambiguity: every split of the input into x's is explored,
	// in polynomial time.
	g := gMust(t, "root ::= x*\nx ::= \"a\" | \"a\" \"a\" | y\ny ::= \"a\" y | \"a\"")
	assert.True(t, g.Accepts(strings.Repeat("a", 1000)))
	assert.False(t, g.Accepts(strings.Repeat("a", 1000)+"b"))

	// Exponentially many parses (llama.cpp takes seconds for 20 b's).
	g = gMust(t, "root ::= x\nx ::= \"b\" x+ \"c\"? | \"b\"")
	assert.True(t, g.Accepts(strings.Repeat("b", 300)+"cc"))
	assert.False(t, g.Accepts("c"+strings.Repeat("b", 300)))
}

func TestMatchBudget(t *testing.T) {
	// With the budget lowered, an ambiguous grammar runs out of it: Feed
	// gives up with an error and leaves the matcher as it was.
	defer func(w int) { gMatchWork = w }(gMatchWork)
	gMatchWork = 100
	g := gMust(t, `root ::= ("a"{0,20} "a"{0,20}){0,20}`)
	m := g.NewMatcher()
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = m.Feed([]byte("a"))
	}
	var me *MatchError
	require.ErrorAs(t, err, &me)
	assert.ErrorIs(t, err, ErrMatchBudget)
	assert.Contains(t, err.Error(), "needs more than")
	assert.Equal(t, me.Offset, m.Offset())
	assert.False(t, g.Accepts(strings.Repeat("a", 50)))
	gMatchWork = MaxMatchWork
	assert.True(t, g.Accepts(strings.Repeat("a", 50)))
}

func BenchmarkAcceptsJSON(b *testing.B) {
	g := gLoad(b, "json.gbnf")
	doc := gJSONDoc(10000)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if !g.Accepts(doc) {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkFeedJSON(b *testing.B) {
	// Feeding token-sized pieces, as generation does.
	g := gLoad(b, "json.gbnf")
	doc := []byte(gJSONDoc(10000))
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		m := g.NewMatcher()
		for i := 0; i < len(doc); i += 4 {
			if err := m.Feed(doc[i:min(i+4, len(doc))]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkAcceptsSchema(b *testing.B) {
	g := gLoad(b, "schema.gbnf")
	doc := `{ "name": "` + strings.Repeat("x\\u00e9", 10) + `", "age": 42 }`
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if !g.Accepts(doc) {
			b.Fatal("rejected")
		}
	}
}

func BenchmarkParseJSONGrammar(b *testing.B) {
	src, err := os.ReadFile("testdata/json.gbnf")
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("json", string(src)); err != nil {
			b.Fatal(err)
		}
	}
}
