package gbnf

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Limits on what Parse accepts. MaxRepetition is llama.cpp's own
// (MAX_REPETITION_THRESHOLD); the others are this package's, so that hostile
// input can neither exhaust the stack or memory here nor in llama.cpp, which
// parses recursively and expands every repetition into rules.
const (
	// MaxRepetition is the largest count allowed in x{m}, x{m,} and x{m,n}.
	MaxRepetition = 2000
	// MaxNesting caps how deeply parentheses and repetition operators
	// (as in x*?) nest.
	MaxNesting = 1000
	// MaxSourceSize caps the length of the GBNF text, in bytes.
	MaxSourceSize = 4 << 20
	// MaxElements caps the number of grammar elements llama.cpp would
	// build from the text, counting each repetition expanded as llama.cpp
	// expands it: "abc"{2000}{2000} alone would be 12 million.
	MaxElements = 1 << 22
	// MaxPaths caps the paths llama.cpp follows, from any position of a
	// rule, to each terminal or way of matching the empty string; it
	// expands them one by one, so they cost it time exponential in the
	// nesting of items that match the empty string in several ways.
	MaxPaths = 1 << 16
)

// Sentinel errors. Parse returns a *SyntaxError; errors.Is tells these
// classes of error apart from plain syntax errors.
var (
	ErrUndefinedRule = errors.New("gbnf: undefined rule")
	ErrNoRoot        = errors.New("gbnf: no root rule")
	ErrLeftRecursion = errors.New("gbnf: left recursion")
	ErrLimit         = errors.New("gbnf: limit exceeded")
)

// SyntaxError reports a grammar that llama.cpp would reject (or could not
// survive), with the place it went wrong: Line and Col count from 1, Col in
// bytes; Offset is the byte offset from 0.
type SyntaxError struct {
	Name      string
	Line, Col int
	Offset    int
	Msg       string
	Err       error // one of the sentinel errors, or nil for plain syntax
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.Name, e.Line, e.Col, e.Msg)
}

// Unwrap returns the sentinel error that classifies e, if any.
func (e *SyntaxError) Unwrap() error { return e.Err }

// Rule is one rule definition, name ::= body. Expr is always an *AltNode.
type Rule struct {
	Name string
	Pos  Pos
	Expr Node
}

// String prints the rule as one line of GBNF, without a newline.
func (r *Rule) String() string {
	var b strings.Builder
	r.writeTo(&b)
	return b.String()
}

func (r *Rule) writeTo(b *strings.Builder) {
	b.WriteString(r.Name)
	b.WriteString(" ::= ")
	if a, ok := r.Expr.(*AltNode); ok {
		a.write(b, true)
	} else {
		r.Expr.writeTo(b)
	}
}

// Grammar is a parsed GBNF grammar. It is immutable: a *Grammar may be
// shared by any number of goroutines, each matching with its own Matcher.
type Grammar struct {
	name   string
	rules  []*Rule
	byName map[string]*Rule // the effective, last, definition of each name

	progOnce sync.Once
	prog     *gProg
}

// Name returns the name the grammar was parsed under.
func (g *Grammar) Name() string { return g.name }

// Rules returns the rule definitions in source order. A name defined twice
// appears twice; as in llama.cpp, the last definition is the one in force.
// The slice is a copy; the rules are shared and must not be modified.
func (g *Grammar) Rules() []*Rule {
	return append([]*Rule(nil), g.rules...)
}

// Rule returns the definition in force for name, or nil.
func (g *Grammar) Rule(name string) *Rule { return g.byName[name] }

// String prints the grammar as canonical GBNF: one rule per line in source
// order, comments dropped, items separated by one space. Parse accepts the
// result and prints it back unchanged; the two grammars have equal rules,
// except that a rule whose last alternative is empty gets "" written there.
func (g *Grammar) String() string {
	var b strings.Builder
	for _, r := range g.rules {
		r.writeTo(&b)
		b.WriteByte('\n')
	}
	return b.String()
}

// Parse parses src, GBNF text in llama.cpp's grammar format (grammars/
// README.md in llama.cpp); name labels errors. It accepts what llama.cpp's
// parser and llama_sampler_init_grammar accept, quirks included (the last
// definition of a rule wins; [] matches the empty string; raw bytes in
// strings decode as llama.cpp decodes them), and rejects what they reject.
//
// It also rejects, where llama.cpp would not: a NUL byte (llama.cpp stops
// reading there); x{m,n} with m > n (llama.cpp loops almost without end);
// and, among the rules root can reach, what llama.cpp cannot survive:
// left recursion through items that can match the empty string, as in
// root ::= ("a"?)* (llama.cpp's own check misses it and its matcher
// recurses until the stack overflows), positions from which llama.cpp
// would expand more than MaxPaths paths, and recursion after which the
// rest of a rule can match the empty string in several ways (llama.cpp's
// time grows exponentially with the nesting of the input). Grammars beyond
// MaxSourceSize, MaxNesting or MaxElements are rejected too. Token
// references by text, <name>, are accepted without a vocabulary to check
// them against.
//
// Ambiguity is not detected: on a grammar that parses some texts in
// exponentially many ways, such as x ::= "b" x+ "c"? | "b", llama.cpp's
// set of stacks grows exponentially with the input (a Matcher's work does
// not), so such grammars are best not handed to llama.cpp.
//
// Parse returns a *SyntaxError on failure.
func Parse(name, src string) (*Grammar, error) {
	p := &gParser{name: name, src: src, lex: gLexer{src: src}, symIDs: map[string]int{}, maxAdded: -1}
	if len(src) > MaxSourceSize {
		return nil, p.errAt(0, ErrLimit, "grammar is %d bytes, more than %d", len(src), MaxSourceSize)
	}
	if i := strings.IndexByte(src, 0); i >= 0 {
		return nil, p.errAt(i, nil, "NUL byte in grammar (llama.cpp would stop reading here)")
	}
	g, err := p.parse()
	if err != nil {
		return nil, err
	}
	if err := p.check(g); err != nil {
		return nil, err
	}
	return g, nil
}

// gParser is a recursive-descent parser over the lexer's items. It panics
// with a *SyntaxError on the first error; Parse recovers it.
type gParser struct {
	name  string
	src   string
	lex   gLexer
	item  gItem
	ahead bool
	lines []int // offsets of line starts, built on first use

	depth int             // open parentheses
	aux   int32           // groups and repetitions so far
	x     *gIdx           // for the checks after parsing
	reach map[string]bool // rules root uses

	// llama.cpp's symbol ids, simulated to reproduce which undefined
	// rules it notices (see checkUndefined).
	symIDs   map[string]int
	nextID   int
	maxAdded int
}

func (p *gParser) pos(off int) Pos {
	if p.lines == nil {
		p.lines = []int{0}
		for i := 0; i < len(p.src); i++ {
			switch p.src[i] {
			case '\n':
				p.lines = append(p.lines, i+1)
			case '\r':
				if i+1 < len(p.src) && p.src[i+1] == '\n' {
					i++
				}
				p.lines = append(p.lines, i+1)
			}
		}
	}
	line := sort.Search(len(p.lines), func(i int) bool { return p.lines[i] > off }) - 1
	return Pos{Line: line + 1, Col: off - p.lines[line] + 1, Offset: off}
}

func (p *gParser) errAt(off int, kind error, format string, args ...any) *SyntaxError {
	pos := p.pos(off)
	return &SyntaxError{Name: p.name, Line: pos.Line, Col: pos.Col, Offset: off, Msg: fmt.Sprintf(format, args...), Err: kind}
}

func (p *gParser) fail(off int, kind error, format string, args ...any) {
	panic(p.errAt(off, kind, format, args...))
}

func (p *gParser) peek() gItem {
	if !p.ahead {
		p.item = p.lex.next()
		p.ahead = true
		if p.item.typ == gItemError {
			p.fail(p.item.errPos, nil, "%s", p.item.err)
		}
	}
	return p.item
}

func (p *gParser) next() gItem {
	it := p.peek()
	p.ahead = false
	return it
}

func (p *gParser) skipNewlines() {
	for p.peek().typ == gItemNewline {
		p.next()
	}
}

// describe names an item for an error message.
func (p *gParser) describe(it gItem) string {
	switch it.typ {
	case gItemEOF:
		return "end of input"
	case gItemNewline:
		return "newline"
	}
	return strconv.Quote(it.val)
}

func (p *gParser) parse() (g *Grammar, err error) {
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(*SyntaxError)
			if !ok {
				panic(r)
			}
			g, err = nil, se
		}
	}()
	g = &Grammar{name: p.name, byName: map[string]*Rule{}}
	p.skipNewlines()
	for p.peek().typ != gItemEOF {
		r := p.parseRule()
		g.rules = append(g.rules, r)
		g.byName[r.Name] = r
	}
	return g, nil
}

func (p *gParser) symbol(name string) int {
	id, ok := p.symIDs[name]
	if !ok {
		id = p.nextID
		p.symIDs[name] = id
		p.nextID++
	}
	return id
}

func (p *gParser) added(id int) {
	if id > p.maxAdded {
		p.maxAdded = id
	}
}

func (p *gParser) parseRule() *Rule {
	it := p.next()
	if it.typ != gItemWord {
		p.fail(it.pos, nil, "expecting rule name, found %s", p.describe(it))
	}
	r := &Rule{Name: it.val, Pos: p.pos(it.pos)}
	id := p.symbol(r.Name)
	if d := p.next(); d.typ != gItemDefine {
		p.fail(d.pos, nil, "expecting ::= after rule name %s, found %s", r.Name, p.describe(d))
	}
	p.skipNewlines()
	r.Expr = p.parseAlternates(false)
	p.added(id)
	switch end := p.next(); end.typ {
	case gItemNewline, gItemEOF:
	default:
		p.fail(end.pos, nil, "expecting newline or end of input after rule %s, found %s", r.Name, p.describe(end))
	}
	p.skipNewlines()
	return r
}

func (p *gParser) parseAlternates(nested bool) *AltNode {
	a := &AltNode{Pos: p.pos(p.peek().pos)}
	a.Alts = append(a.Alts, p.parseSequence(nested))
	for p.peek().typ == gItemBar {
		p.next()
		p.skipNewlines()
		a.Alts = append(a.Alts, p.parseSequence(nested))
	}
	return a
}

// gZeroWidth reports whether llama.cpp emits no element at all for n: "",
// [], [^] and x{0}. A repetition operator after such an item is an error.
func gZeroWidth(n Node) bool {
	switch n := n.(type) {
	case *LiteralNode:
		return len(n.Value) == 0
	case *ClassNode:
		return len(n.Ranges) == 0
	case *RepeatNode:
		return n.Max == 0
	}
	return false
}

func gHeight(n Node) int {
	switch n := n.(type) {
	case *GroupNode:
		return n.height
	case *RepeatNode:
		return n.height
	}
	return 0
}

func (p *gParser) parseSequence(nested bool) *SeqNode {
	s := &SeqNode{Pos: p.pos(p.peek().pos)}
	for {
		if nested {
			p.skipNewlines()
		}
		it := p.peek()
		var n Node
		switch it.typ {
		case gItemLiteral:
			p.next()
			n = &LiteralNode{Pos: p.pos(it.pos), Value: it.chars}
		case gItemClass:
			p.next()
			n = &ClassNode{Pos: p.pos(it.pos), Negated: it.negated, Ranges: it.ranges}
		case gItemToken:
			p.next()
			n = &TokenNode{Pos: p.pos(it.pos), Negated: it.negated, ByID: it.byID, ID: it.id, Text: it.text}
		case gItemWord:
			p.next()
			p.symbol(it.val)
			n = &RefNode{Pos: p.pos(it.pos), Name: it.val}
		case gItemDot:
			p.next()
			n = &AnyNode{Pos: p.pos(it.pos)}
		case gItemLParen:
			p.next()
			if p.depth >= MaxNesting {
				p.fail(it.pos, ErrLimit, "parentheses nested more than %d deep", MaxNesting)
			}
			p.depth++
			id := p.nextID
			p.nextID++
			p.skipNewlines()
			body := p.parseAlternates(true)
			p.added(id)
			p.depth--
			if c := p.next(); c.typ != gItemRParen {
				p.fail(c.pos, nil, "expecting ) to close ( at %s, found %s", p.pos(it.pos), p.describe(c))
			}
			h := 0
			for _, alt := range body.Alts {
				for _, x := range alt.Items {
					h = max(h, gHeight(x))
				}
			}
			n = &GroupNode{Pos: p.pos(it.pos), Body: body, height: h + 1, idx: p.aux}
			p.aux++
		case gItemStar, gItemPlus, gItemQuestion, gItemLBrace:
			p.repeat(s, nested)
			continue
		default:
			return s
		}
		s.Items = append(s.Items, n)
	}
}

// repeat applies the repetition operator at the parser's position to the
// last item of s, as llama.cpp's handle_repetitions does.
func (p *gParser) repeat(s *SeqNode, nested bool) {
	op := p.next()
	if len(s.Items) == 0 || gZeroWidth(s.Items[len(s.Items)-1]) {
		p.fail(op.pos, nil, "expecting an item before %s", op.val)
	}
	lo, hi := 0, Unbounded
	switch op.typ {
	case gItemPlus:
		lo = 1
	case gItemQuestion:
		hi = 1
	case gItemLBrace:
		lo, hi = p.parseBraces(op, nested)
	}
	last := s.Items[len(s.Items)-1]
	h := gHeight(last) + 1
	if h+p.depth > MaxNesting {
		p.fail(op.pos, ErrLimit, "repetition operators and parentheses nested more than %d deep", MaxNesting)
	}
	s.Items[len(s.Items)-1] = &RepeatNode{Pos: last.Position(), OpPos: p.pos(op.pos), Expr: last, Min: lo, Max: hi, height: h, idx: p.aux}
	p.aux++
	// llama.cpp's rules for the repetition: one per optional copy.
	nOpt := 1
	if hi != Unbounded {
		nOpt = hi - lo
	}
	for i := 0; i < nOpt; i++ {
		p.added(p.nextID)
		p.nextID++
	}
}

// parseBraces parses the rest of {m}, {m,} or {m,n}.
func (p *gParser) parseBraces(open gItem, nested bool) (lo, hi int) {
	skip := func() {
		if nested {
			p.skipNewlines()
		}
	}
	count := func() (int, bool) {
		it := p.peek()
		if it.typ != gItemWord || !gIsDigit(it.val[0]) {
			return 0, false
		}
		p.next()
		for i := 0; i < len(it.val); i++ {
			if !gIsDigit(it.val[i]) {
				p.fail(it.pos+i, nil, "expecting , or } in repetition count, found %q", it.val[i:i+1])
			}
		}
		v, err := strconv.ParseUint(it.val, 10, 64)
		switch {
		case err != nil:
			p.fail(it.pos, ErrLimit, "repetition count %s out of range", it.val)
		case v == math.MaxUint64:
			// llama.cpp's marker for "no maximum".
			return Unbounded, true
		case v > MaxRepetition:
			p.fail(it.pos, ErrLimit, "repetition count %d exceeds llama.cpp's limit of %d", v, MaxRepetition)
		}
		return int(v), true
	}
	skip()
	lo, ok := count()
	if !ok {
		p.fail(p.peek().pos, nil, "expecting a count after {, found %s", p.describe(p.peek()))
	}
	if lo == Unbounded {
		p.fail(open.pos, ErrLimit, "repetition count exceeds llama.cpp's limit of %d", MaxRepetition)
	}
	skip()
	switch it := p.next(); it.typ {
	case gItemRBrace:
		return lo, lo
	case gItemComma:
		skip()
		hi = Unbounded
		if p.peek().typ == gItemWord {
			if hi, ok = count(); !ok {
				p.fail(p.peek().pos, nil, "expecting a count or } after {%d,, found %s", lo, p.describe(p.peek()))
			}
			skip()
		}
		if c := p.next(); c.typ != gItemRBrace {
			p.fail(c.pos, nil, "expecting } to close { at %s, found %s", p.pos(open.pos), p.describe(c))
		}
		if hi != Unbounded && hi < lo {
			p.fail(open.pos, nil, "repetition {%d,%d} has a maximum below its minimum", lo, hi)
		}
		return lo, hi
	default:
		p.fail(it.pos, nil, "expecting , or } in repetition count, found %s", p.describe(it))
	}
	return 0, 0
}
