package gbnf

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gcGrammar parses GBNF text, or a file under testdata. The files
// under compiled/ were compiled from the JSON Schema on their first line by
// the schema compiler, which checks that they are what it compiles.
func gcGrammar(t testing.TB, src string) *Grammar {
	t.Helper()
	if strings.HasSuffix(src, ".gbnf") {
		b, err := os.ReadFile("testdata/" + src)
		require.NoError(t, err)
		src = string(b)
	}
	g, err := Parse("test", src)
	require.NoError(t, err)
	return g
}

// gcKeys canonicalises matcher states for the brute-force search: states
// with the same key have the same future, whatever their stack nodes'
// identities.
type gcKeys struct {
	ids  map[string]int
	memo map[*gNode]int
}

func (k *gcKeys) node(u *gNode) int {
	if id, ok := k.memo[u]; ok {
		return id
	}
	k.memo[u] = -1 // a cycle, which Parse's left-recursion check rules out
	es := make([]string, 0, len(u.edges))
	for _, e := range u.edges {
		p := -2
		if e.parent != nil {
			p = k.node(e.parent)
		}
		es = append(es, fmt.Sprint(e.slot, ",", e.count, ",", p))
	}
	slices.Sort(es)
	s := fmt.Sprint(u.nt, "(", strings.Join(slices.Compact(es), ";"), ")")
	id, ok := k.ids[s]
	if !ok {
		id = len(k.ids)
		k.ids[s] = id
	}
	k.memo[u] = id
	return id
}

func (k *gcKeys) state(m *Matcher) string {
	ds := make([]string, 0, len(m.st.pending))
	for _, d := range m.st.pending {
		ds = append(ds, fmt.Sprint(d.slot, ",", d.count, ",", k.node(d.node)))
	}
	slices.Sort(ds)
	return fmt.Sprint(m.st.accept, m.st.part[:m.st.npart], slices.Compact(ds))
}

// gcBruteForce returns the length in bytes of a shortest completion of m
// by a search over code points that uses only the matcher's class
// membership and Feed: code points that belong to the same pending
// classes lead to the same state, so the smallest of each such set
// stands for all. It returns -1 for none within maxLen, and decided false
// when more than maxStates states would be needed.
func gcBruteForce(m *Matcher, maxLen, maxStates int) (n int, decided bool) {
	keys := &gcKeys{ids: map[string]int{}, memo: map[*gNode]int{}}
	type entry struct {
		m   *Matcher
		key string
	}
	start := entry{m.Clone(), keys.state(m)}
	dist := map[string]int{start.key: 0} // Dijkstra: code points weigh their bytes
	buckets := make([][]entry, maxLen+5)
	buckets[0] = []entry{start}
	for d := 0; d <= maxLen; d++ {
		for len(buckets[d]) > 0 {
			x := buckets[d][0]
			buckets[d] = buckets[d][1:]
			if dist[x.key] < d {
				continue // reached more cheaply since
			}
			if x.m.Accepting() {
				return d, true
			}
			for _, cp := range gcCandidates(x.m) {
				var buf [4]byte
				n := utf8.EncodeRune(buf[:], cp)
				b := buf[x.m.st.npart:n]
				e := d + len(b)
				if e > maxLen {
					continue
				}
				y := x.m.Clone()
				if y.Feed(b) != nil {
					continue
				}
				k := keys.state(y)
				if old, ok := dist[k]; ok && old <= e {
					continue
				}
				dist[k] = e
				if len(dist) > maxStates {
					return 0, false
				}
				buckets[e] = append(buckets[e], entry{y, k})
			}
		}
	}
	return -1, true
}

// gcCandidates returns the smallest code point of each run of code points
// that the pending classes do not tell apart (within the range a partial
// UTF-8 sequence allows).
func gcCandidates(m *Matcher) []rune {
	lo, hi := uint32(gFirstMatchable), uint32(gMaxCodePoint)
	if m.st.npart > 0 {
		lo, hi, _, _ = gUTF8Prefix(m.st.part[:m.st.npart])
	}
	cuts := []uint32{lo, hi + 1}
	for _, d := range m.st.pending {
		for _, r := range m.prog.classes[m.prog.slots[d.slot].arg].ranges {
			cuts = append(cuts, r.Lo, r.Hi+1)
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	var out []rune
	for i, c := range cuts {
		if c < lo || c > hi {
			continue
		}
		end := hi
		if i+1 < len(cuts) {
			end = min(end, cuts[i+1]-1)
		}
		if c >= gSurrogateLo && c <= gSurrogateHi {
			if end <= gSurrogateHi {
				continue
			}
			c = gSurrogateHi + 1
		}
		out = append(out, rune(c))
	}
	return out
}

// gcDocs lists grammars and documents they accept; the tests cut every
// document at every byte.
var gcDocs = []struct {
	name, grammar string
	docs          []string
}{
	{"json", "json.gbnf", []string{
		` { "a" : [1, -2.5e+3, true, false, null, "x\"\\\/\n\u00e9"] } `,
		`{"a":{"b":{"c":[{}]}}}`, `[[[[[]]]]]`, `"é😀"`, `-0.0E-0`,
	}},
	{"arithmetic", "arithmetic.gbnf", []string{`-(1+2)*-3 % 4`, `((((7))))`}},
	{"schema file", "schema.gbnf", []string{"{ \"name\": \"x\\u00e9\",\n  \"age\": 42 }"}},
	{"unicode", "unicode.gbnf", []string{"héllo 😀 一二 Ω", "Grüß dich 😃 一二 ✓"}},
	{"repetitions", `root ::= "a"{2} "b"{1,3} "c"{2,} "d"? "e"* "f"+ "g"{0}`, []string{"aabbbccccdeeefff"}},
	{"stacked repetitions", `root ::= ("ab"{2}){1,2} "c"+{2}`, []string{"ababababccc"}},
	{"nested bounded repetitions", `root ::= ("a"{0,3} "b"){0,3}`, []string{"abaabaaab"}},
	{"repetition minimums", `root ::= ("x" [0-9]{2,4} "y"){3,5} "z"`, []string{"x12yx123yx1234yx00yz"}},
	{"multi-byte classes", "root ::= [é-ê] x | [一-龯]{2} \"!\" | [😀-😃] \"a\"\nx ::= \"ü\"{2} | [Ω]", []string{"éüü", "一二!", "😃a", "êΩ"}},
	{"ambiguous", "root ::= x x \"!\"\nx ::= \"a\" | \"aa\" | \"\"", []string{"aaaa!", "a!"}},
	{"right recursion", "root ::= \"a\" root | \"bc\"", []string{"aaaabc"}},
	{"balanced", "root ::= (\"(\" root \")\")* \"-\"", []string{"((-)-)(-)-"}},
	{"shared tails", "root ::= a | b\na ::= \"x\" c \"1\"\nb ::= \"x\" c \"22\"\nc ::= \"[\" c \"]\" | \"\"", []string{"x[[]]1", "x[]22"}},
	{"required properties", "compiled/required-properties.gbnf", []string{
		`{"id":"0A1B2C3D","n":123,"tags":["red",7,"green"]}`,
	}},
	{"nested arrays", "compiled/nested-arrays.gbnf", []string{`[[[1,2],[3]],[[4]]]`, `[]`}},
	{"linked list", gcListSchema, []string{`{"v":0,"next":{"v":1261682597,"next":{"v":-3,"next":null}}}`}},
	{"optional properties", "compiled/optional-properties.gbnf", []string{`{"a":true,"b":-1.5,"c":"xyz"}`, `{"c":"éé😀"}`}},
}

// gcListSchema is a linked list of integers.
const gcListSchema = "compiled/linked-list.gbnf"

// gcTally counts the checks the brute force decided and those it gave up.
type gcTally struct{ decided, undecided int }

// gcCheck checks ShortestCompletion on m, against the brute force with
// tally, and returns the completion.
func gcCheck(t *testing.T, m *Matcher, tally *gcTally, msg string) []byte {
	t.Helper()
	before := *m
	pending := slices.Clone(m.st.pending)
	comp, ok := m.ShortestCompletion(1 << 20)
	assert.Equal(t, before.st.accept, m.st.accept, msg)
	assert.Equal(t, before.st.off, m.st.off, msg)
	assert.Equal(t, before.st.part, m.st.part, msg)
	assert.Equal(t, before.st.npart, m.st.npart, msg)
	assert.Equal(t, pending, m.st.pending, msg)
	if !assert.True(t, ok, msg) {
		return nil
	}
	c := m.Clone()
	require.NoError(t, c.Feed(comp), msg)
	assert.True(t, c.Accepting(), "%s: completion %q", msg, comp)
	assert.True(t, utf8.Valid(append(m.st.part[:m.st.npart:m.st.npart], comp...)), msg)
	if len(comp) > 0 {
		_, ok := m.ShortestCompletion(len(comp) - 1)
		assert.False(t, ok, "%s: shorter than %q", msg, comp)
	}
	again, ok := m.ShortestCompletion(len(comp))
	assert.True(t, ok, msg)
	assert.Equal(t, comp, again, msg)
	if tally != nil {
		if n, decided := gcBruteForce(m, len(comp), 3000); decided {
			assert.Equal(t, len(comp), n, "%s: completion %q", msg, comp)
			tally.decided++
		} else {
			tally.undecided++
		}
	}
	return comp
}

func TestShortestCompletionPrefixes(t *testing.T) {
	for _, tt := range gcDocs {
		t.Run(tt.name, func(t *testing.T) {
			var tally gcTally
			defer func() { t.Logf("brute force decided %d, undecided %d", tally.decided, tally.undecided) }()
			g := gcGrammar(t, tt.grammar)
			for _, doc := range tt.docs {
				require.True(t, g.Accepts(doc), doc)
				for i := 0; i <= len(doc); i++ {
					m := g.NewMatcher()
					require.NoError(t, m.Feed([]byte(doc[:i])))
					comp := gcCheck(t, m, &tally, fmt.Sprintf("%q", doc[:i]))
					if i == len(doc) {
						assert.Empty(t, comp)
					}
				}
			}
		})
	}
}

// TestShortestCompletionRandom compares ShortestCompletion with the brute
// force on random grammars at random points of random matches.
func TestShortestCompletionRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	n := 300
	if testing.Short() {
		n = 50
	}
	checked, dead := 0, 0
	var tally gcTally
	for range n {
		src := gcRandomGrammar(r)
		g, err := Parse("random", src)
		if err != nil {
			continue // left recursion, mostly
		}
		for range 4 {
			m := g.NewMatcher()
			var fed []byte
			for range r.IntN(10) {
				next := m.NextBytes()
				if len(next) == 0 {
					break
				}
				b := next[r.IntN(len(next))]
				require.NoError(t, m.Feed([]byte{b}))
				fed = append(fed, b)
			}
			if m.Dead() && !m.Accepting() {
				_, ok := m.ShortestCompletion(100)
				assert.False(t, ok, src)
				dead++
				continue
			}
			gcCheck(t, m, &tally, fmt.Sprintf("%s after %q", src, fed))
			checked++
		}
	}
	t.Logf("%d states checked, %d dead; brute force decided %d, undecided %d", checked, dead, tally.decided, tally.undecided)
}

// gcRandomGrammar returns a small random GBNF grammar over a few letters,
// with nesting, recursion, repetitions and a multi-byte class.
func gcRandomGrammar(r *rand.Rand) string {
	rules := 1 + r.IntN(4)
	var item func(depth int) string
	alts := func(depth int) string {
		var as []string
		for range 1 + r.IntN(3) {
			var its []string
			for i := range r.IntN(4) {
				it := item(depth + 1)
				if i == 0 && r.IntN(2) == 0 {
					it = strconv.Quote(string(rune('a'+r.IntN(3)))) + " " + it // less left recursion
				}
				its = append(its, it)
			}
			if len(its) == 0 {
				its = append(its, `""`)
			}
			as = append(as, strings.Join(its, " "))
		}
		return strings.Join(as, " | ")
	}
	item = func(depth int) string {
		k := r.IntN(10)
		if depth > 3 {
			k = r.IntN(4)
		}
		switch k {
		case 0:
			return strconv.Quote(string(rune('a' + r.IntN(3))))
		case 1:
			return []string{`[ab]`, `[^a-z]`, `[é-ê]`, `[a-c]`}[r.IntN(4)]
		case 2, 3:
			return fmt.Sprint("r", r.IntN(rules))
		case 4, 5:
			return "(" + alts(depth) + ")"
		default:
			lo := r.IntN(4)
			rep := []string{"*", "+", "?", fmt.Sprintf("{%d}", lo), fmt.Sprintf("{%d,}", lo), fmt.Sprintf("{%d,%d}", lo, lo+r.IntN(3))}[r.IntN(6)]
			body := item(depth + 1)
			if r.IntN(3) > 0 { // a body that cannot be empty, mostly: Parse rejects (x?)*
				body = strconv.Quote(string(rune('a'+r.IntN(3)))) + " " + body
			}
			return "(" + body + ")" + rep
		}
	}
	var b strings.Builder
	b.WriteString("root ::= r0\n")
	for i := range rules {
		fmt.Fprintf(&b, "r%d ::= %s\n", i, alts(0))
	}
	return b.String()
}

func TestShortestCompletionBruteForce(t *testing.T) {
	for src, want := range map[string]int{
		`root ::= "a"{10} | "b"{5} "c"`:       6,
		`root ::= [一-龯]{2}`:                   6,
		`root ::= ("x" | "yy")+ [😀] | "zzzz"`: 4,
		`root ::= "a" root | ""`:              0,
		`root ::= "a" x` + "\nx ::= \"b\" x":  -1,
	} {
		n, decided := gcBruteForce(gcGrammar(t, src).NewMatcher(), 10, 1000)
		assert.True(t, decided, src)
		assert.Equal(t, want, n, src)
	}
}

// gcEqual compares strings that may be long, quoting at most 200 bytes
// of each.
func gcEqual(t *testing.T, want, got string) {
	t.Helper()
	assert.True(t, want == got, "want %.200q (%d bytes), got %.200q (%d bytes)", want, len(want), got, len(got))
}

func TestShortestCompletionValues(t *testing.T) {
	tests := []struct {
		name, grammar, prefix, want string
	}{
		{"linked list", gcListSchema, `{"v":0,"next":{"v":1261682597`, `,"next":null}}`},
		{"linked list, in a key", gcListSchema, `{"v":0,"next":{"v":1,"ne`, `xt":null}}`},
		{"linked list, at the start", gcListSchema, ``, `{"v":0,"next":null}`},
		{"pattern", "compiled/pattern.gbnf", `"AB`, `000000"`},
		{"integer range", "compiled/integer-range.gbnf", `1`, `00`},
		{"enum", "compiled/enum.gbnf", `"g`, `amma"`},
		{"json nesting", "json.gbnf", `[{"a":[{"b":`, `0}]}]`},
		{"json string", "json.gbnf", `["\u00`, `aa"]`},
		{"minimum count", `root ::= "<" ("ab" | "c"){5,9} ">"`, `<ab`, `cccc>`},
		{"star minimum", `root ::= "<" [x-z]{5,9} ">"`, `<x`, `xxxx>`},
		{"large counts", `root ::= ("x"{0,2000} "-"){0,2000} "y"{2000}`, `xx-`, strings.Repeat("y", 2000)},
		{"nested large counts", `root ::= (("a" | "b"){1000,2000} ";"){3}`, strings.Repeat("a", 999), "a;" + strings.Repeat(strings.Repeat("a", 1000)+";", 2)},
		{"partial UTF-8", `root ::= "\"" [é-ê一] "\""`, "\"\xc3", "\xa9\""},
		{"partial UTF-8 of 4 bytes", `root ::= [😀-😃]+ "."`, "\xf0\x9f", "\x98\x80."},
		{"multi-byte only", `root ::= [一-龯]{2}`, ``, "一一"},
		{"prefers printable", `root ::= [\x01-\x7f] [\x01-\x1f] [^a-z]`, ``, "a\n0"},
		{"accepting", `root ::= "a"*`, `aaa`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := gcGrammar(t, tt.grammar).NewMatcher()
			require.NoError(t, m.Feed([]byte(tt.prefix)))
			comp, ok := m.ShortestCompletion(10000)
			require.True(t, ok)
			gcEqual(t, tt.want, string(comp))
			gcCheck(t, m, nil, tt.name)
		})
	}
}

func TestShortestCompletionNone(t *testing.T) {
	// An unproductive root: the matcher is dead from the start.
	m := gcGrammar(t, "root ::= \"a\" root").NewMatcher()
	require.True(t, m.Dead())
	_, ok := m.ShortestCompletion(100)
	assert.False(t, ok)

	// Dead but accepting: the empty string.
	m = gcGrammar(t, `root ::= "ab"`).NewMatcher()
	require.NoError(t, m.Feed([]byte("ab")))
	require.True(t, m.Dead())
	comp, ok := m.ShortestCompletion(0)
	assert.True(t, ok)
	assert.Empty(t, comp)

	// maxLen.
	m = gcGrammar(t, `root ::= "a"{10} | "b"{5} "c"`).NewMatcher()
	for n := range 6 {
		_, ok := m.ShortestCompletion(n)
		assert.False(t, ok, n)
	}
	comp, ok = m.ShortestCompletion(6)
	assert.True(t, ok)
	assert.Equal(t, "bbbbbc", string(comp))
	_, ok = m.ShortestCompletion(-1)
	assert.False(t, ok)

	// Lengths far beyond any maxLen saturate rather than overflow.
	m = gcGrammar(t, `root ::= ((((((("ab"{2000}){2000}){2000}){2000}){2000}){2000}){2000}) | "x"{3}`).NewMatcher()
	comp, ok = m.ShortestCompletion(1 << 30)
	assert.True(t, ok)
	assert.Equal(t, "xxx", string(comp))
	m = gcGrammar(t, `root ::= ((((((("ab"{2000}){2000}){2000}){2000}){2000}){2000}){2000})`).NewMatcher()
	_, ok = m.ShortestCompletion(1 << 62)
	assert.False(t, ok)
}

// TestShortestCompletionDeep checks a deep stack: long right recursion
// and deep nesting.
func TestShortestCompletionDeep(t *testing.T) {
	g := gcGrammar(t, "json.gbnf")
	m := g.NewMatcher()
	require.NoError(t, m.Feed([]byte(strings.Repeat(`[{"a":`, 3000))))
	comp, ok := m.ShortestCompletion(1 << 20)
	require.True(t, ok)
	gcEqual(t, "0"+strings.Repeat("}]", 3000), string(comp))
	_, ok = m.ShortestCompletion(6000)
	assert.False(t, ok)

	g = gcGrammar(t, gcListSchema)
	m = g.NewMatcher()
	require.NoError(t, m.Feed([]byte(strings.Repeat(`{"v":1,"next":`, 500))))
	comp, ok = m.ShortestCompletion(1 << 20)
	require.True(t, ok)
	gcEqual(t, "null"+strings.Repeat("}", 500), string(comp))
}

// TestShortestCompletionConcurrent computes a program's tables from
// several goroutines at once (run with -race).
func TestShortestCompletionConcurrent(t *testing.T) {
	g := gcGrammar(t, gcListSchema)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			m := g.NewMatcher()
			if !assert.NoError(t, m.Feed([]byte(`{"v":`+strconv.Itoa(i)))) {
				return
			}
			comp, ok := m.ShortestCompletion(100)
			assert.True(t, ok)
			assert.Equal(t, `,"next":null}`, string(comp))
		})
	}
	// A matcher's stack is shared with its clones, which feed on.
	m := g.NewMatcher()
	require.NoError(t, m.Feed([]byte(`{"v":1,"next":{"v":2,"next":`)))
	for i := range 4 {
		c := m.Clone()
		wg.Go(func() {
			assert.NoError(t, c.Feed([]byte(`{"v":`+strconv.Itoa(i)+`,"next":null}}}`)))
			assert.True(t, c.Accepting())
		})
		wg.Go(func() {
			comp, ok := m.ShortestCompletion(100)
			assert.True(t, ok)
			assert.Equal(t, `null}}`, string(comp))
		})
	}
	wg.Wait()
}

// TestShortestCompletionTablesCollected checks that a program's tables
// do not outlive it.
func TestShortestCompletionTablesCollected(t *testing.T) {
	count := func() (n int) {
		gComplCache.Range(func(any, any) bool { n++; return true })
		return n
	}
	g := gcGrammar(t, `root ::= "a"{3}`)
	_, ok := g.NewMatcher().ShortestCompletion(3)
	require.True(t, ok)
	k := weak.Make(g.program())
	_, ok = gComplCache.Load(k)
	require.True(t, ok)
	g = nil
	for range 100 {
		runtime.GC()
		if _, ok := gComplCache.Load(k); !ok {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("tables kept after their program was collected (%d entries)", count())
}

// gcChain returns a grammar for linked lists whose nodes hold a few typed
// properties (compiled from a schema), and a prefix depth nodes deep, cut
// inside a number.
func gcChain(depth int) (grammar, prefix string) {
	var b strings.Builder
	for i := range depth {
		fmt.Fprintf(&b, `{"id":"0123ABCD","v":%d,"tags":["a","c"],"next":`, i)
	}
	b.WriteString(`{"id":"0123ABCD","v":1261682597`)
	return "compiled/chain.gbnf", b.String()
}

func TestShortestCompletionChain(t *testing.T) {
	file, prefix := gcChain(10)
	m := gcGrammar(t, file).NewMatcher()
	require.NoError(t, m.Feed([]byte(prefix)))
	comp, ok := m.ShortestCompletion(1000)
	require.True(t, ok)
	assert.Equal(t, `,"tags":[],"next":null}`+strings.Repeat("}", 10), string(comp))
}

func BenchmarkShortestCompletion(b *testing.B) {
	for _, depth := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprint("depth=", depth), func(b *testing.B) {
			file, prefix := gcChain(depth)
			m := gcGrammar(b, file).NewMatcher()
			require.NoError(b, m.Feed([]byte(prefix)))
			m.ShortestCompletion(1 << 20) // the tables
			b.ResetTimer()
			for b.Loop() {
				if _, ok := m.ShortestCompletion(1 << 20); !ok {
					b.Fatal("no completion")
				}
			}
		})
	}
	b.Run("tables", func(b *testing.B) {
		file, _ := gcChain(1)
		p := gcGrammar(b, file).program()
		for b.Loop() {
			gComplTables(p)
		}
		b.ReportMetric(float64(len(p.slots)), "slots")
	})
	b.Run("json-depth=10", func(b *testing.B) {
		m := gcGrammar(b, "json.gbnf").NewMatcher()
		require.NoError(b, m.Feed([]byte(strings.Repeat(`[{"a":`, 10)+`"xyz`)))
		for b.Loop() {
			if _, ok := m.ShortestCompletion(1 << 20); !ok {
				b.Fatal("no completion")
			}
		}
	})
}

func ExampleMatcher_ShortestCompletion() {
	// A linked list of integers, as JSON.
	g, err := Parse("list", `root ::= node
node ::= "{\"v\":" int ",\"next\":" ("null" | node) "}"
int  ::= "-"? ("0" | [1-9] [0-9]{0,15})
`)
	if err != nil {
		panic(err)
	}
	m := g.NewMatcher()
	// A generation cut short by its token budget.
	if err := m.Feed([]byte(`{"v":0,"next":{"v":1261682597`)); err != nil {
		panic(err)
	}
	tail, ok := m.ShortestCompletion(64)
	fmt.Printf("%s %v\n", tail, ok)
	_, ok = m.ShortestCompletion(10)
	fmt.Println(ok)
	// Output:
	// ,"next":null}} true
	// false
}
