package gbnf

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gUpdate reports whether -update was given: rewrite golden files instead
// of comparing with them. The flag is registered in init, after every
// package-level variable, and only if no other test file registered it, so
// that the package's test files can share it.
func gUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files in testdata")
	}
}

// gEqualRules compares two grammars' rules, ignoring positions.
func gEqualRules(t *testing.T, want, got *Grammar) {
	t.Helper()
	w, g := want.Rules(), got.Rules()
	require.Equal(t, len(w), len(g), "rule count")
	for i := range w {
		assert.Equal(t, w[i].Name, g[i].Name)
		assert.True(t, gSameNode(w[i].Expr, g[i].Expr), "rule %s differs:\n%s\n%s", w[i].Name, w[i], g[i])
	}
}

// gSameNode compares two nodes, ignoring positions.
func gSameNode(a, b Node) bool {
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	switch a := a.(type) {
	case *AltNode:
		b := b.(*AltNode)
		if len(a.Alts) != len(b.Alts) {
			return false
		}
		for i := range a.Alts {
			if !gSameNode(a.Alts[i], b.Alts[i]) {
				return false
			}
		}
		return true
	case *SeqNode:
		b := b.(*SeqNode)
		if len(a.Items) != len(b.Items) {
			return false
		}
		for i := range a.Items {
			if !gSameNode(a.Items[i], b.Items[i]) {
				return false
			}
		}
		return true
	case *LiteralNode:
		return reflect.DeepEqual(a.Value, b.(*LiteralNode).Value) || len(a.Value)+len(b.(*LiteralNode).Value) == 0
	case *ClassNode:
		b := b.(*ClassNode)
		return a.Negated == b.Negated && (reflect.DeepEqual(a.Ranges, b.Ranges) || len(a.Ranges)+len(b.Ranges) == 0)
	case *AnyNode:
		return true
	case *RefNode:
		return a.Name == b.(*RefNode).Name
	case *GroupNode:
		return gSameNode(a.Body, b.(*GroupNode).Body)
	case *RepeatNode:
		b := b.(*RepeatNode)
		return a.Min == b.Min && a.Max == b.Max && gSameNode(a.Expr, b.Expr)
	case *TokenNode:
		b := b.(*TokenNode)
		return a.Negated == b.Negated && a.ByID == b.ByID && a.ID == b.ID && a.Text == b.Text
	}
	return false
}

// gRoundTrip checks that src parses, prints, and parses back to the same
// rules, and that printing is then a fixed point.
func gRoundTrip(t *testing.T, src string) *Grammar {
	t.Helper()
	g, err := Parse("src", src)
	require.NoError(t, err)
	printed := g.String()
	g2, err := Parse("printed", printed)
	require.NoError(t, err, "printed:\n%s", printed)
	assert.Equal(t, printed, g2.String(), "printing is not a fixed point")
	gEqualRules(t, gTrailingEmptyAsLiteral(g), g2)
	return g
}

// gTrailingEmptyAsLiteral returns g with each rule's trailing empty
// alternative replaced by "", the one change String makes.
func gTrailingEmptyAsLiteral(g *Grammar) *Grammar {
	out := &Grammar{byName: map[string]*Rule{}}
	for _, r := range g.rules {
		a := r.Expr.(*AltNode)
		alts := append([]*SeqNode(nil), a.Alts...)
		if last := alts[len(alts)-1]; len(last.Items) == 0 {
			alts[len(alts)-1] = &SeqNode{Items: []Node{&LiteralNode{}}}
		}
		out.rules = append(out.rules, &Rule{Name: r.Name, Expr: &AltNode{Alts: alts}})
	}
	return out
}

func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.gbnf")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			require.NoError(t, err)
			g := gRoundTrip(t, string(src))
			golden := strings.TrimSuffix(file, ".gbnf") + ".golden"
			if gUpdate() {
				require.NoError(t, os.WriteFile(golden, []byte(g.String()), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create it")
			assert.Equal(t, string(want), g.String())
		})
	}
}

func TestParseValid(t *testing.T) {
	// Grammars llama.cpp accepts, with how they print back.
	tests := []struct {
		name, src, want string
	}{
		{"minimal", `root ::= "a"`, `root ::= "a"`},
		{"no spaces", `root::="a"[b]c` + "\nc::=.", "root ::= \"a\" [b] c\nc ::= ."},
		{"body on next line", "root ::=\n\n  \"a\"", `root ::= "a"`},
		{"crlf", "root ::= a\r\na ::= \"x\"\r\n", "root ::= a\na ::= \"x\""},
		{"lone cr", "root ::= a\ra ::= \"x\"", "root ::= a\na ::= \"x\""},
		{"comments", "# head\nroot ::= \"a\" # tail\n# end", `root ::= "a"`},
		{"empty first alternative", `root ::= | "a"`, `root ::= | "a"`},
		{"empty middle alternative", `root ::= "a" | | "b"`, `root ::= "a" | | "b"`},
		{"empty last alternative at end", `root ::= "a" |`, `root ::= "a" | ""`},
		{"empty body at end", `root ::=`, `root ::= ""`},
		{"newline after bar", "root ::= \"a\" |\n \"b\"", `root ::= "a" | "b"`},
		{"newlines in group", "root ::= (\n\"a\"\n|\n\"b\"\n)\n", `root ::= ("a" | "b")`},
		{"newline in braces in group", "root ::= (\"a\"{ 1 ,\n 2 })", `root ::= ("a"{1,2})`},
		{"spaces in braces", `root ::= "a"{ 2 , 3 }`, `root ::= "a"{2,3}`},
		{"normalised counts", `root ::= "a"{0,} "b"{1,} "c"{0,1} "d"{2,2} "e"{2,}`, `root ::= "a"* "b"+ "c"? "d"{2} "e"{2,}`},
		{"max uint64 means no maximum", `root ::= "a"{0,18446744073709551615}`, `root ::= "a"*`},
		{"stacked repetitions", `root ::= "a"*? "b"+{2}`, `root ::= "a"*? "b"+{2}`},
		{"zero repetitions", `root ::= "a"{0} "b"{0,0}`, `root ::= "a"{0} "b"{0}`},
		{"names with digits and dashes", "root ::= 1-x\n1-x ::= \"-\"", "root ::= 1-x\n1-x ::= \"-\""},
		{"empty things", `root ::= "" [] [^] ()`, `root ::= "" [] [^] ()`},
		{"class dash", `root ::= [-a] [a-] [--/] [a\x2D]`, `root ::= [-a] [a-] [\x2D-/] [a-]`},
		{"class escapes", `root ::= [\]\\\[^"]`, `root ::= [\]\\[^"]`},
		{"class caret first", `root ::= [\x5E] [^^]`, `root ::= [\x5E] [^^]`},
		{"reversed range", `root ::= [z-a]`, `root ::= [z-a]`},
		{"escapes", `root ::= "\x41\u00e9\U0001F600\t\n\r\"\\\[\]"`, `root ::= "Aé😀\t\n\r\"\\[]"`},
		{"non-printing", `root ::= "\x01\x7F\u00A0\uD800\U00110000\UFFFFFFFF"`, `root ::= "\x01\x7F\xA0\uD800\U00110000\UFFFFFFFF"`},
		{"raw utf-8", `root ::= "é€😀" [à-ÿ]`, `root ::= "é€😀" [à-ÿ]`},
		{"lax utf-8", "root ::= \"\xc3A\"", `root ::= "Á"`},
		{"stray continuation byte", "root ::= \"\xa9\"", `root ::= ")"`},
		{"tokens", `root ::= <[1]> !<[2]> <|im_end|> !<x y>`, `root ::= <[1]> !<[2]> <|im_end|> !<x y>`},
		{"duplicate rule: last wins", "root ::= \"a\"\nroot ::= \"b\"", "root ::= \"a\"\nroot ::= \"b\""},
		{"undefined only in replaced body", "root ::= zz\nroot ::= \"a\"", "root ::= zz\nroot ::= \"a\""},
		{"undefined but repeated zero times", `root ::= zz{0}`, `root ::= zz{0}`},
		{"undefined but repeated twice zero times", `root ::= zz{2}{0} "a"`, ``},
		{"hidden left recursion out of reach", "root ::= (\"a\"?)*{0} \"a\"\nx ::= (\"b\"?)*", ``},
		{"max repetition", `root ::= "a"{2000} "b"{0,2000} "c"{2000,}`, `root ::= "a"{2000} "b"{0,2000} "c"{2000,}`},
		{"right recursion", "root ::= \"a\" root | \"\"", "root ::= \"a\" root | \"\""},
		{"nullable, not left-recursive", "root ::= a b a\na ::= \"x\"?\nb ::= a \"y\"", ""},
		{"ambiguous empty matches within limits", `root ::= (("a"?)?){15}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gRoundTrip(t, tt.src)
			if tt.want != "" {
				assert.Equal(t, tt.want+"\n", g.String())
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	// Grammars llama.cpp rejects (or cannot survive), with where we say
	// the error is.
	tests := []struct {
		name, src string
		line, col int
		msg       string
		kind      error
	}{
		{"unterminated string", `root ::= "a`, 1, 12, "unexpected end of input", nil},
		{"unterminated class", `root ::= [a`, 1, 12, "unexpected end of input", nil},
		{"unterminated range", `root ::= [a-`, 1, 13, "unexpected end of input", nil},
		{"unknown escape", `root ::= "\q"`, 1, 11, `unknown escape \q`, nil},
		{"escaped dash", `root ::= [\-]`, 1, 11, `unknown escape \-`, nil},
		{"short hex", `root ::= "\x4"`, 1, 11, `expecting 2 hex digits after \x`, nil},
		{"bad unicode escape", `root ::= "\u12G4"`, 1, 11, `expecting 4 hex digits after \u`, nil},
		{"unclosed group", `root ::= ("a"`, 1, 14, "expecting ) to close ( at 1:10", nil},
		{"unclosed group at newline", "root ::= (\"a\"\n", 2, 1, "expecting ) to close", nil},
		{"stray paren", `root ::= "a")`, 1, 13, "expecting newline or end of input", nil},
		{"missing define", `root "a"`, 1, 6, "expecting ::=", nil},
		{"short define", `root := "a"`, 1, 6, "expecting ::=", nil},
		{"define on next line", "root\n::= \"a\"", 1, 5, "expecting ::=", nil},
		{"missing name", `::= "a"`, 1, 1, "expecting rule name", nil},
		{"bar on next line", "root ::= \"a\"\n| \"b\"", 2, 1, "expecting rule name", nil},
		{"underscore", `root ::= a_b`, 1, 11, "expecting newline or end of input", nil},
		{"star first", `root ::= *`, 1, 10, "expecting an item before *", nil},
		{"plus after bar", `root ::= "a" | +`, 1, 16, "expecting an item before +", nil},
		{"star after empty string", `root ::= "a" ""*`, 1, 16, "expecting an item before *", nil},
		{"question after empty class", `root ::= []?`, 1, 12, "expecting an item before ?", nil},
		{"brace after zero", `root ::= "a"{0}{2}`, 1, 16, "expecting an item before {", nil},
		{"count too large", `root ::= "a"{2001}`, 1, 14, "exceeds llama.cpp's limit of 2000", ErrLimit},
		{"max too large", `root ::= "a"{1,2001}`, 1, 16, "exceeds llama.cpp's limit of 2000", ErrLimit},
		{"count overflows", `root ::= "a"{99999999999999999999}`, 1, 14, "out of range", ErrLimit},
		{"max below min", `root ::= "a"{3,2}`, 1, 13, "maximum below its minimum", nil},
		{"missing count", `root ::= "a"{,2}`, 1, 14, "expecting a count", nil},
		{"unclosed braces", `root ::= "a"{2`, 1, 15, "expecting , or }", nil},
		{"unclosed range braces", `root ::= "a"{2,3`, 1, 17, "expecting } to close { at 1:13", nil},
		{"two counts", `root ::= "a"{2 3}`, 1, 16, "expecting , or }", nil},
		{"letters in count", `root ::= "a"{2a}`, 1, 15, "expecting , or }", nil},
		{"newline in braces", "root ::= \"a\"{2\n}", 1, 15, "expecting , or }", nil},
		{"bang without token", `root ::= !"a"`, 1, 11, "expecting '<'", nil},
		{"token id not a number", `root ::= <[a]>`, 1, 12, "expecting integer token id", nil},
		{"token id unclosed", `root ::= <[1>`, 1, 13, "expecting ']'", nil},
		{"token id without >", `root ::= <[1]`, 1, 14, "expecting '>'", nil},
		{"token id too large", `root ::= <[18446744073709551616]>`, 1, 12, "out of range", nil},
		{"token text unclosed", `root ::= <abc`, 1, 14, "expecting '>'", nil},
		{"nul byte", "root ::= \"a\x00\"", 1, 12, "NUL byte", nil},
		{"undefined", `root ::= x`, 1, 10, "undefined rule x", ErrUndefinedRule},
		{"undefined after a later rule", "root ::= zz\nroot ::= (\"a\")", 1, 10, "undefined rule zz", ErrUndefinedRule},
		{"undefined in replaced group", "root ::= (zz)\nroot ::= \"a\"", 1, 11, "undefined rule zz", ErrUndefinedRule},
		{"undefined in replaced repetition", "root ::= zz*\nroot ::= \"a\"", 1, 10, "undefined rule zz", ErrUndefinedRule},
		{"undefined in group repeated zero times", `root ::= (zz){0}`, 1, 11, "undefined rule zz", ErrUndefinedRule},
		{"undefined in repetition repeated zero times", `root ::= zz*{0}`, 1, 10, "undefined rule zz", ErrUndefinedRule},
		{"undefined repeated zero times before a group", `root ::= zz{0} ("a")`, 1, 10, "undefined rule zz", ErrUndefinedRule},
		{"undefined in a group repeated zero times", `root ::= (zz{2}){0} "a"`, 1, 11, "undefined rule zz", ErrUndefinedRule},
		{"left recursion under zero repetitions", `root ::= ("")*{0} "a"`, 1, 14, "left recursion", ErrLeftRecursion},
		{"no root", `x ::= "a"`, 1, 1, "no rule named root", ErrNoRoot},
		{"empty", "", 1, 1, "no rule named root", ErrNoRoot},
		{"only comments", "# nothing\n", 1, 1, "no rule named root", ErrNoRoot},
		{"direct left recursion", `root ::= root "a" | "b"`, 1, 1, "left recursion: root -> root", ErrLeftRecursion},
		{"indirect left recursion", "root ::= x\nx ::= y \"a\"\ny ::= root | \"b\"", 1, 1, "left recursion: root -> x -> y -> root", ErrLeftRecursion},
		{"left recursion past empty", "root ::= e root \"a\" | \"b\"\ne ::= | \"x\"", 1, 1, "left recursion", ErrLeftRecursion},
		{"left recursion in unused rule", "root ::= \"a\"\nx ::= x \"b\"", 2, 1, "left recursion: x -> x", ErrLeftRecursion},
		{"empty group repeated", `root ::= ()*`, 1, 12, "left recursion: repetition at 1:12 -> repetition at 1:12", ErrLeftRecursion},
		{"nullable repeated", `root ::= ("a"?)*`, 1, 16, "llama.cpp does not detect it", ErrLeftRecursion},
		{"nullable rule repeated", "root ::= x+\nx ::= y\ny ::= \"\"", 1, 11, "llama.cpp does not detect it", ErrLeftRecursion},
		{"hidden left recursion", "root ::= n root \"a\" | \"b\"\nn ::= \"x\"?", 1, 1, "llama.cpp does not detect it", ErrLeftRecursion},
		{"hidden left recursion in reach", "root ::= \"a\" x\nx ::= (\"b\"?)*", 2, 13, "llama.cpp does not detect it", ErrLeftRecursion},
		{"nesting", strings.Repeat("(", MaxNesting+1), 1, MaxNesting + 10, "nested more than", ErrLimit},
		{"nesting of repetitions", `root ::= "a"` + strings.Repeat("?", MaxNesting+1), 1, 13 + MaxNesting, "nested more than", ErrLimit},
		{"expansion", `root ::= "abcdefghij"{2000}{2000}`, 1, 1, "more than 4194304 elements", ErrLimit},
		{"ambiguous empty matches", `root ::= "x" (("a"?)?){17}`, 1, 14, "llama.cpp would expand 131071 paths from here", ErrLimit},
		{"ambiguous empty matches in a chain", `root ::= ("a"? | "b"?){0,2000}`, 1, 10, "more than 2^60 paths", ErrLimit},
		{"many alternatives", "root ::= x x\nx ::= (" + strings.Repeat(`"a" | `, 1<<16) + `"b")`, 1, 12, "paths from here", ErrLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src
			if tt.name == "nesting" {
				src = "root ::= " + src
			}
			g, err := Parse("test.gbnf", src)
			require.Error(t, err)
			assert.Nil(t, g)
			var se *SyntaxError
			require.True(t, errors.As(err, &se), "%T", err)
			assert.Equal(t, "test.gbnf", se.Name)
			assert.Equal(t, tt.line, se.Line, "line: %v", err)
			assert.Equal(t, tt.col, se.Col, "col: %v", err)
			assert.Contains(t, se.Msg, tt.msg)
			pos := posOf(src, se.Offset)
			assert.Equal(t, [2]int{se.Line, se.Col}, pos, "offset %d does not match line and column", se.Offset)
			assert.True(t, strings.HasPrefix(err.Error(), "test.gbnf:"), err.Error())
			if tt.kind != nil {
				assert.ErrorIs(t, err, tt.kind)
			} else {
				assert.Nil(t, se.Err, "plain syntax error expected: %v", err)
			}
		})
	}
}

// posOf computes line and column from a byte offset, independently of the
// parser.
func posOf(src string, off int) [2]int {
	line, col := 1, 1
	for i := 0; i < off && i < len(src); i++ {
		switch {
		case src[i] == '\n', src[i] == '\r' && (i+1 >= len(src) || src[i+1] != '\n'):
			line, col = line+1, 1
		default:
			col++
		}
	}
	return [2]int{line, col}
}

func TestParseTooLarge(t *testing.T) {
	_, err := Parse("big", "root ::= \""+strings.Repeat("a", MaxSourceSize)+"\"")
	assert.ErrorIs(t, err, ErrLimit)
}

func TestParseDeepNestingWithinLimit(t *testing.T) {
	// Deep but allowed nesting parses, prints and matches without trouble.
	n := MaxNesting - 1
	src := "root ::= " + strings.Repeat("(", n) + `"a"` + strings.Repeat(")", n)
	g := gRoundTrip(t, src)
	assert.True(t, g.Accepts("a"))
}

func TestRules(t *testing.T) {
	g, err := Parse("g", "root ::= x \"b\"\nx ::= \"a\" | [c-d]*\nx ::= \"z\"\n")
	require.NoError(t, err)
	rules := g.Rules()
	require.Len(t, rules, 3)
	assert.Equal(t, "root", rules[0].Name)
	assert.Equal(t, Pos{Line: 2, Col: 1, Offset: 15}, rules[1].Pos)
	assert.Same(t, rules[2], g.Rule("x"), "the last definition is in force")
	assert.Nil(t, g.Rule("y"))
	alt := rules[1].Expr.(*AltNode)
	require.Len(t, alt.Alts, 2)
	rep := alt.Alts[1].Items[0].(*RepeatNode)
	assert.Equal(t, 0, rep.Min)
	assert.Equal(t, Unbounded, rep.Max)
	assert.Equal(t, Pos{Line: 2, Col: 13, Offset: 27}, rep.Pos)
	assert.Equal(t, Pos{Line: 2, Col: 18, Offset: 32}, rep.OpPos)
	assert.Equal(t, []CharRange{{'c', 'd'}}, rep.Expr.(*ClassNode).Ranges)
	assert.Equal(t, `[c-d]*`, rep.String())
	assert.Equal(t, `x ::= "a" | [c-d]*`, rules[1].String())
	// Rules returns a copy.
	rules[0] = nil
	assert.NotNil(t, g.Rules()[0])
	assert.True(t, g.Accepts("zb"))
	assert.False(t, g.Accepts("ab"))
}
