package jsonschema

import (
	"math/big"
	"sync"

	"github.com/locallm/locallm/grammar/regex"
)

// Numbers are compiled to automata over their canonical text: no exponent,
// no leading zeros, no trailing zeros in the fraction and no "-0". Every
// JSON number has exactly one canonical spelling (JSON numbers are finite
// decimals), so a set of numeric values and the set of their canonical
// spellings determine each other. Bounds, integer-ness and multipleOf are
// regular over that text, which makes them exact, closed under
// intersection, union and complement, and lets every combination be emitted
// as grammar. An unconstrained "number" keeps the full JSON number syntax.

var (
	canonOnce                  sync.Once
	canonNumDFA, canonIntDFA   *regex.DFA
	canonNumRe, canonNonnegRe  *regex.Node
	reFrac, reDigitsNZ, reIntP *regex.Node
)

func dg(lo, hi byte) *regex.Node { return regex.Chars(regex.RangeSet(rune(lo), rune(hi))) }

func initCanon() {
	canonOnce.Do(func() {
		d09 := dg('0', '9')
		d19 := dg('1', '9')
		// \d*[1-9]: the body of a canonical fraction.
		reDigitsNZ = regex.Cat(regex.Repeat(d09, 0, -1), d19)
		reFrac = regex.Cat(regex.Lit("."), reDigitsNZ)
		// 0 | [1-9]\d*
		reIntP = regex.Alt(regex.Lit("0"), regex.Cat(d19, regex.Repeat(d09, 0, -1)))
		canonNonnegRe = regex.Cat(reIntP, regex.Repeat(reFrac, 0, 1))
		positive := regex.Alt(regex.Cat(regex.Lit("0"), reFrac), regex.Cat(d19, regex.Repeat(d09, 0, -1), regex.Repeat(reFrac, 0, 1)))
		canonNumRe = regex.Alt(regex.Lit("0"), regex.Cat(regex.Repeat(regex.Lit("-"), 0, 1), positive))
		var err error
		if canonNumDFA, err = regex.NewDFA(canonNumRe, false); err != nil {
			panic("jsonschema: canonical number automaton: " + err.Error())
		}
		intRe := regex.Alt(regex.Lit("0"), regex.Cat(regex.Repeat(regex.Lit("-"), 0, 1), d19, regex.Repeat(d09, 0, -1)))
		if canonIntDFA, err = regex.NewDFA(intRe, false); err != nil {
			panic("jsonschema: canonical integer automaton: " + err.Error())
		}
	})
}

// numSet is a set of numbers. all means every number, written in full JSON
// syntax; otherwise d accepts the canonical spellings of the members.
type numSet struct {
	all bool
	d   *regex.DFA
}

func numAll() *numSet { return &numSet{all: true} }

func numInts() *numSet {
	initCanon()
	return &numSet{d: canonIntDFA}
}

func (n *numSet) dfa() *regex.DFA {
	if n.all {
		initCanon()
		return canonNumDFA
	}
	return n.d
}

func numAnd(a, b *numSet) (*numSet, error) {
	switch {
	case a == nil || b == nil:
		return nil, nil
	case a.all:
		return b, nil
	case b.all:
		return a, nil
	}
	d, err := regex.And(a.d, b.d)
	if err != nil || d.IsEmpty() {
		return nil, err
	}
	return &numSet{d: d}, nil
}

func numOr(a, b *numSet) (*numSet, error) {
	switch {
	case a == nil:
		return b, nil
	case b == nil:
		return a, nil
	case a.all || b.all:
		return numAll(), nil
	}
	d, err := regex.Or(a.d, b.d)
	if err != nil {
		return nil, err
	}
	return &numSet{d: d}, nil
}

func numNot(a *numSet) (*numSet, error) {
	initCanon()
	switch {
	case a == nil:
		return numAll(), nil
	case a.all:
		return nil, nil
	}
	d, err := regex.AndNot(canonNumDFA, a.d)
	if err != nil || d.IsEmpty() {
		return nil, err
	}
	return &numSet{d: d}, nil
}

// numValue is the set holding exactly r.
func numValue(r *big.Rat) *numSet {
	s, ok := canonicalNumber(r)
	if !ok {
		return nil
	}
	return &numSet{d: regex.WordsDFA([]string{s})}
}

type cmpOp uint8

const (
	opGT cmpOp = iota
	opGE
	opLT
	opLE
)

// numCompare is the set of numbers x with x op bound.
func numCompare(op cmpOp, bound *big.Rat) (*numSet, error) {
	initCanon()
	neg, ip, fp, ok := decimalParts(bound)
	if !ok {
		return nil, ErrTooComplex
	}
	if ip == "0" && fp == "" {
		neg = false
	}
	minus := regex.Lit("-")
	var re *regex.Node
	switch op {
	case opGT:
		if !neg {
			re = nonnegCompare(opGT, ip, fp)
		} else {
			re = regex.Alt(canonNonnegRe, regex.Cat(minus, nonnegCompare(opLT, ip, fp)))
		}
	case opGE:
		if !neg {
			re = nonnegCompare(opGE, ip, fp)
		} else {
			re = regex.Alt(canonNonnegRe, regex.Cat(minus, nonnegCompare(opLE, ip, fp)))
		}
	case opLT:
		if !neg && (ip != "0" || fp != "") {
			re = regex.Alt(regex.Cat(minus, canonNonnegRe), nonnegCompare(opLT, ip, fp))
		} else {
			re = regex.Cat(minus, nonnegCompare(opGT, ip, fp))
		}
	case opLE:
		if !neg {
			re = regex.Alt(regex.Cat(minus, canonNonnegRe), nonnegCompare(opLE, ip, fp))
		} else {
			re = regex.Cat(minus, nonnegCompare(opGE, ip, fp))
		}
	}
	d, err := regex.NewDFA(re, false)
	if err != nil {
		return nil, err
	}
	// Drop "-0" and anything else not canonical.
	if d, err = regex.And(d, canonNumDFA); err != nil {
		return nil, err
	}
	if d.IsEmpty() {
		return nil, nil
	}
	return &numSet{d: d}, nil
}

// nonnegCompare is the canonical non-negative numbers x with x op b, where
// b has integer digits ip and fraction digits fp.
func nonnegCompare(op cmpOp, ip, fp string) *regex.Node {
	optFrac := regex.Repeat(reFrac, 0, 1)
	self := regex.Lit(ip)
	if fp != "" {
		self = regex.Lit(ip + "." + fp)
	}
	switch op {
	case opGT:
		return regex.Alt(regex.Cat(intsGreater(ip), optFrac), regex.Cat(regex.Lit(ip+"."), fracsGreater(fp)))
	case opGE:
		return regex.Alt(nonnegCompare(opGT, ip, fp), self)
	case opLT:
		alts := []*regex.Node{regex.Cat(intsLess(ip), optFrac), regex.Cat(regex.Lit(ip+"."), fracsLess(fp))}
		if fp != "" {
			alts = append(alts, regex.Lit(ip))
		}
		return regex.Alt(alts...)
	default:
		return regex.Alt(nonnegCompare(opLT, ip, fp), self)
	}
}

func digitRange(lo, hi byte) *regex.Node {
	if lo > hi {
		return &regex.Node{Op: regex.OpNone}
	}
	return dg(lo, hi)
}

// intsGreater: canonical integer parts greater than n.
func intsGreater(n string) *regex.Node {
	d09 := dg('0', '9')
	alts := []*regex.Node{regex.Cat(dg('1', '9'), regex.Repeat(d09, len(n), -1))}
	for i := 0; i < len(n); i++ {
		if n[i] == '9' {
			continue
		}
		alts = append(alts, regex.Cat(regex.Lit(n[:i]), digitRange(n[i]+1, '9'), regex.Repeat(d09, len(n)-i-1, len(n)-i-1)))
	}
	return regex.Alt(alts...)
}

// intsLess: canonical integer parts less than n.
func intsLess(n string) *regex.Node {
	d09 := dg('0', '9')
	var alts []*regex.Node
	if len(n) >= 2 {
		alts = append(alts, regex.Lit("0"), regex.Cat(dg('1', '9'), regex.Repeat(d09, 0, len(n)-2)))
	}
	for i := 0; i < len(n); i++ {
		lo := byte('0')
		if i == 0 && len(n) > 1 {
			lo = '1'
		}
		if n[i] == '0' || n[i]-1 < lo {
			continue
		}
		alts = append(alts, regex.Cat(regex.Lit(n[:i]), digitRange(lo, n[i]-1), regex.Repeat(d09, len(n)-i-1, len(n)-i-1)))
	}
	return regex.Alt(alts...)
}

// fracsGreater: canonical fraction digits (non-empty, no trailing zero)
// greater than f as decimals 0.s > 0.f.
func fracsGreater(f string) *regex.Node {
	alts := []*regex.Node{regex.Cat(regex.Lit(f), reDigitsNZ)}
	for i := 0; i < len(f); i++ {
		if f[i] == '9' {
			continue
		}
		alts = append(alts, regex.Cat(regex.Lit(f[:i]), digitRange(f[i]+1, '9'), regex.Repeat(reDigitsNZ, 0, 1)))
	}
	return regex.Alt(alts...)
}

// fracsLess: canonical fraction digits s with 0.s < 0.f.
func fracsLess(f string) *regex.Node {
	var alts []*regex.Node
	for i := 0; i < len(f); i++ {
		if f[i] > '1' {
			alts = append(alts, regex.Cat(regex.Lit(f[:i]), digitRange('1', f[i]-1), regex.Repeat(reDigitsNZ, 0, 1)))
		}
		if f[i] > '0' {
			alts = append(alts, regex.Cat(regex.Lit(f[:i]+"0"), reDigitsNZ))
		}
		if i > 0 && f[i-1] != '0' {
			alts = append(alts, regex.Lit(f[:i]))
		}
	}
	return regex.Alt(alts...)
}

// maxMultipleStates bounds the automaton of multipleOf.
const maxMultipleStates = 4000

// numMultipleOf is the set of multiples of m (m > 0), or ErrTooComplex
// when the automaton would be too large.
func numMultipleOf(m *big.Rat) (*numSet, error) {
	initCanon()
	_, ip, fp, ok := decimalParts(m)
	if !ok || m.Sign() <= 0 {
		return nil, ErrTooComplex
	}
	// m = M / 10^K with M an integer.
	digits := ip + fp
	K := len(fp)
	M := new(big.Int)
	M.SetString(digits, 10)
	if M.Sign() == 0 {
		return nil, ErrTooComplex
	}
	if !M.IsInt64() || M.Int64()*int64(K+2) > maxMultipleStates {
		return nil, ErrTooComplex
	}
	mod := int(M.Int64())
	// States: 0 start, 1 after '-', then int(r) = 2+r, then frac(r, j)
	// = 2+mod+j*mod+r for j in 1..K (digits read after the point).
	intState := func(r int) int32 { return int32(2 + r) }
	fracState := func(r, j int) int32 { return int32(2 + mod + (j-1)*mod + r) }
	pointState := func(r int) int32 { return int32(2 + mod + K*mod + r) }
	n := 2 + mod + K*mod + mod
	d := &regex.DFA{States: make([]regex.State, n)}
	pow10 := func(e int) int {
		p := 1
		for i := 0; i < e; i++ {
			p = p * 10 % mod
		}
		return p
	}
	addDigits := func(from int32, to func(digit int) int32) {
		for dgt := 0; dgt <= 9; dgt++ {
			d.States[from].Edges = append(d.States[from].Edges, regex.Edge{Lo: rune('0' + dgt), Hi: rune('0' + dgt), To: to(dgt)})
		}
	}
	d.States[0].Edges = append(d.States[0].Edges, regex.Edge{Lo: '-', Hi: '-', To: 1})
	addDigits(0, func(x int) int32 { return intState(x % mod) })
	addDigits(1, func(x int) int32 { return intState(x % mod) })
	for r := 0; r < mod; r++ {
		s := intState(r)
		d.States[s].Final = r*pow10(K)%mod == 0
		if K > 0 {
			d.States[s].Edges = append(d.States[s].Edges, regex.Edge{Lo: '.', Hi: '.', To: pointState(r)})
		}
		addDigits(s, func(x int) int32 { return intState((r*10 + x) % mod) })
		sortEdges(d.States[s].Edges)
		if K > 0 {
			addDigits(pointState(r), func(x int) int32 { return fracState((r*10+x)%mod, 1) })
		}
		for j := 1; j <= K; j++ {
			f := fracState(r, j)
			d.States[f].Final = r*pow10(K-j)%mod == 0
			if j < K {
				jj := j
				addDigits(f, func(x int) int32 { return fracState((r*10+x)%mod, jj+1) })
			}
		}
	}
	sortEdges(d.States[0].Edges)
	res, err := regex.And(d, canonNumDFA)
	if err != nil {
		return nil, err
	}
	return &numSet{d: res}, nil
}

func sortEdges(es []regex.Edge) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].Lo < es[j-1].Lo; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// hasFraction reports whether some accepted spelling has a '.'.
func hasFraction(d *regex.DFA) bool {
	for _, st := range d.States {
		for _, e := range st.Edges {
			if e.Lo <= '.' && '.' <= e.Hi {
				return true
			}
		}
	}
	return false
}

// numPadded extends a canonical number language with the other decimal
// spellings of the same values: trailing zeros in the fraction ("1.50",
// "2.0") and negative zero ("-0", "-0.0"). Exponents stay out: a bound
// over them is not regular. This is what the emitter writes for sets that
// hold non-integers, so that a model, or a document written by another
// serializer, may say 3.0 where the canonical text is 3.
func numPadded(d *regex.DFA) (*regex.DFA, error) {
	d = d.Trim()
	a := &regex.NFA{}
	type key struct {
		q   int32
		dot bool
	}
	ids := map[key]int32{}
	var order []key
	id := func(k key) (int32, error) {
		if v, ok := ids[k]; ok {
			return v, nil
		}
		v, err := a.NewState()
		if err != nil {
			return 0, err
		}
		ids[k] = v
		order = append(order, k)
		return v, nil
	}
	start, err := id(key{0, false})
	if err != nil {
		return nil, err
	}
	final, err := a.NewState()
	if err != nil {
		return nil, err
	}
	zeros, err := a.NewState() // after a '.', one zero needed, then any
	if err != nil {
		return nil, err
	}
	trailing, err := a.NewState() // any number of zeros
	if err != nil {
		return nil, err
	}
	zero := regex.RuneSet('0')
	a.Add(zeros, regex.NFAEdge{Kind: regex.NFAChars, Set: zero, To: trailing})
	a.Add(trailing, regex.NFAEdge{Kind: regex.NFAChars, Set: zero, To: trailing})
	a.Add(trailing, regex.NFAEdge{Kind: regex.NFAEps, To: final})
	for i := 0; i < len(order); i++ {
		k := order[i]
		from := ids[k]
		st := d.States[k.q]
		for _, e := range st.Edges {
			dot := k.dot || (e.Lo <= '.' && '.' <= e.Hi)
			if e.Lo <= '.' && '.' <= e.Hi && e.Lo != e.Hi {
				return nil, ErrTooComplex // not a number automaton
			}
			to, err := id(key{e.To, dot})
			if err != nil {
				return nil, err
			}
			a.Add(from, regex.NFAEdge{Kind: regex.NFAChars, Set: regex.CharSet{{Lo: e.Lo, Hi: e.Hi}}, To: to})
		}
		if st.Final {
			a.Add(from, regex.NFAEdge{Kind: regex.NFAEps, To: final})
			if k.dot {
				a.Add(from, regex.NFAEdge{Kind: regex.NFAEps, To: trailing})
			} else {
				a.Add(from, regex.NFAEdge{Kind: regex.NFAChars, Set: regex.RuneSet('.'), To: zeros})
			}
		}
	}
	if d.Accepts("0") {
		m, err := a.NewState()
		if err != nil {
			return nil, err
		}
		z, err := a.NewState()
		if err != nil {
			return nil, err
		}
		a.Add(start, regex.NFAEdge{Kind: regex.NFAChars, Set: regex.RuneSet('-'), To: m})
		a.Add(m, regex.NFAEdge{Kind: regex.NFAChars, Set: zero, To: z})
		a.Add(z, regex.NFAEdge{Kind: regex.NFAEps, To: final})
		a.Add(z, regex.NFAEdge{Kind: regex.NFAChars, Set: regex.RuneSet('.'), To: zeros})
	}
	out, err := a.Determinize(start, final)
	if err != nil {
		return nil, err
	}
	return out.Minimize(), nil
}
