package grammar

import (
	"math/big"
	"sync"
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
	canonNumDFA, canonIntDFA   *dfa
	canonNumRe, canonNonnegRe  *reNode
	reFrac, reDigitsNZ, reIntP *reNode
)

func dg(lo, hi byte) *reNode { return reCS(csRange(rune(lo), rune(hi))) }

func initCanon() {
	canonOnce.Do(func() {
		d09 := dg('0', '9')
		d19 := dg('1', '9')
		// \d*[1-9]: the body of a canonical fraction.
		reDigitsNZ = reCat(reRep(d09, 0, -1), d19)
		reFrac = reCat(reLit("."), reDigitsNZ)
		// 0 | [1-9]\d*
		reIntP = reAltOf(reLit("0"), reCat(d19, reRep(d09, 0, -1)))
		canonNonnegRe = reCat(reIntP, reRep(reFrac, 0, 1))
		positive := reAltOf(reCat(reLit("0"), reFrac), reCat(d19, reRep(d09, 0, -1), reRep(reFrac, 0, 1)))
		canonNumRe = reAltOf(reLit("0"), reCat(reRep(reLit("-"), 0, 1), positive))
		var err error
		if canonNumDFA, err = compileRegexDFA(canonNumRe, false); err != nil {
			panic("grammar: canonical number automaton: " + err.Error())
		}
		intRe := reAltOf(reLit("0"), reCat(reRep(reLit("-"), 0, 1), d19, reRep(d09, 0, -1)))
		if canonIntDFA, err = compileRegexDFA(intRe, false); err != nil {
			panic("grammar: canonical integer automaton: " + err.Error())
		}
	})
}

// numSet is a set of numbers. all means every number, written in full JSON
// syntax; otherwise d accepts the canonical spellings of the members.
type numSet struct {
	all bool
	d   *dfa
}

func numAll() *numSet { return &numSet{all: true} }

func numInts() *numSet {
	initCanon()
	return &numSet{d: canonIntDFA}
}

func (n *numSet) dfa() *dfa {
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
	d, err := dfaAnd(a.d, b.d)
	if err != nil || d.isEmpty() {
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
	d, err := dfaOr(a.d, b.d)
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
	d, err := dfaMinus(canonNumDFA, a.d)
	if err != nil || d.isEmpty() {
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
	return &numSet{d: literalsDFA([]string{s})}
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
	minus := reLit("-")
	var re *reNode
	switch op {
	case opGT:
		if !neg {
			re = nonnegCompare(opGT, ip, fp)
		} else {
			re = reAltOf(canonNonnegRe, reCat(minus, nonnegCompare(opLT, ip, fp)))
		}
	case opGE:
		if !neg {
			re = nonnegCompare(opGE, ip, fp)
		} else {
			re = reAltOf(canonNonnegRe, reCat(minus, nonnegCompare(opLE, ip, fp)))
		}
	case opLT:
		if !neg && (ip != "0" || fp != "") {
			re = reAltOf(reCat(minus, canonNonnegRe), nonnegCompare(opLT, ip, fp))
		} else {
			re = reCat(minus, nonnegCompare(opGT, ip, fp))
		}
	case opLE:
		if !neg {
			re = reAltOf(reCat(minus, canonNonnegRe), nonnegCompare(opLE, ip, fp))
		} else {
			re = reCat(minus, nonnegCompare(opGE, ip, fp))
		}
	}
	d, err := compileRegexDFA(re, false)
	if err != nil {
		return nil, err
	}
	// Drop "-0" and anything else not canonical.
	if d, err = dfaAnd(d, canonNumDFA); err != nil {
		return nil, err
	}
	if d.isEmpty() {
		return nil, nil
	}
	return &numSet{d: d}, nil
}

// nonnegCompare is the canonical non-negative numbers x with x op b, where
// b has integer digits ip and fraction digits fp.
func nonnegCompare(op cmpOp, ip, fp string) *reNode {
	optFrac := reRep(reFrac, 0, 1)
	self := reLit(ip)
	if fp != "" {
		self = reLit(ip + "." + fp)
	}
	switch op {
	case opGT:
		return reAltOf(reCat(intsGreater(ip), optFrac), reCat(reLit(ip+"."), fracsGreater(fp)))
	case opGE:
		return reAltOf(nonnegCompare(opGT, ip, fp), self)
	case opLT:
		alts := []*reNode{reCat(intsLess(ip), optFrac), reCat(reLit(ip+"."), fracsLess(fp))}
		if fp != "" {
			alts = append(alts, reLit(ip))
		}
		return reAltOf(alts...)
	default:
		return reAltOf(nonnegCompare(opLT, ip, fp), self)
	}
}

func digitRange(lo, hi byte) *reNode {
	if lo > hi {
		return &reNode{op: reNone}
	}
	return dg(lo, hi)
}

// intsGreater: canonical integer parts greater than n.
func intsGreater(n string) *reNode {
	d09 := dg('0', '9')
	alts := []*reNode{reCat(dg('1', '9'), reRep(d09, len(n), -1))}
	for i := 0; i < len(n); i++ {
		if n[i] == '9' {
			continue
		}
		alts = append(alts, reCat(reLit(n[:i]), digitRange(n[i]+1, '9'), reRep(d09, len(n)-i-1, len(n)-i-1)))
	}
	return reAltOf(alts...)
}

// intsLess: canonical integer parts less than n.
func intsLess(n string) *reNode {
	d09 := dg('0', '9')
	var alts []*reNode
	if len(n) >= 2 {
		alts = append(alts, reLit("0"), reCat(dg('1', '9'), reRep(d09, 0, len(n)-2)))
	}
	for i := 0; i < len(n); i++ {
		lo := byte('0')
		if i == 0 && len(n) > 1 {
			lo = '1'
		}
		if n[i] == '0' || n[i]-1 < lo {
			continue
		}
		alts = append(alts, reCat(reLit(n[:i]), digitRange(lo, n[i]-1), reRep(d09, len(n)-i-1, len(n)-i-1)))
	}
	return reAltOf(alts...)
}

// fracsGreater: canonical fraction digits (non-empty, no trailing zero)
// greater than f as decimals 0.s > 0.f.
func fracsGreater(f string) *reNode {
	alts := []*reNode{reCat(reLit(f), reDigitsNZ)}
	for i := 0; i < len(f); i++ {
		if f[i] == '9' {
			continue
		}
		alts = append(alts, reCat(reLit(f[:i]), digitRange(f[i]+1, '9'), reRep(reDigitsNZ, 0, 1)))
	}
	return reAltOf(alts...)
}

// fracsLess: canonical fraction digits s with 0.s < 0.f.
func fracsLess(f string) *reNode {
	var alts []*reNode
	for i := 0; i < len(f); i++ {
		if f[i] > '1' {
			alts = append(alts, reCat(reLit(f[:i]), digitRange('1', f[i]-1), reRep(reDigitsNZ, 0, 1)))
		}
		if f[i] > '0' {
			alts = append(alts, reCat(reLit(f[:i]+"0"), reDigitsNZ))
		}
		if i > 0 && f[i-1] != '0' {
			alts = append(alts, reLit(f[:i]))
		}
	}
	return reAltOf(alts...)
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
	d := &dfa{states: make([]dfaState, n)}
	pow10 := func(e int) int {
		p := 1
		for i := 0; i < e; i++ {
			p = p * 10 % mod
		}
		return p
	}
	addDigits := func(from int32, to func(digit int) int32) {
		for dgt := 0; dgt <= 9; dgt++ {
			d.states[from].edges = append(d.states[from].edges, dfaEdge{rune('0' + dgt), rune('0' + dgt), to(dgt)})
		}
	}
	d.states[0].edges = append(d.states[0].edges, dfaEdge{'-', '-', 1})
	addDigits(0, func(x int) int32 { return intState(x % mod) })
	addDigits(1, func(x int) int32 { return intState(x % mod) })
	for r := 0; r < mod; r++ {
		s := intState(r)
		d.states[s].final = r*pow10(K)%mod == 0
		if K > 0 {
			d.states[s].edges = append(d.states[s].edges, dfaEdge{'.', '.', pointState(r)})
		}
		addDigits(s, func(x int) int32 { return intState((r*10 + x) % mod) })
		sortEdges(d.states[s].edges)
		if K > 0 {
			addDigits(pointState(r), func(x int) int32 { return fracState((r*10+x)%mod, 1) })
		}
		for j := 1; j <= K; j++ {
			f := fracState(r, j)
			d.states[f].final = r*pow10(K-j)%mod == 0
			if j < K {
				jj := j
				addDigits(f, func(x int) int32 { return fracState((r*10+x)%mod, jj+1) })
			}
		}
	}
	sortEdges(d.states[0].edges)
	res, err := dfaAnd(d, canonNumDFA)
	if err != nil {
		return nil, err
	}
	return &numSet{d: res}, nil
}

func sortEdges(es []dfaEdge) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].lo < es[j-1].lo; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}

// hasFraction reports whether some accepted spelling has a '.'.
func hasFraction(d *dfa) bool {
	for _, st := range d.states {
		for _, e := range st.edges {
			if e.lo <= '.' && '.' <= e.hi {
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
func numPadded(d *dfa) (*dfa, error) {
	d = d.trim()
	a := &nfa{}
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
		v, err := a.newState()
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
	final, err := a.newState()
	if err != nil {
		return nil, err
	}
	zeros, err := a.newState() // after a '.', one zero needed, then any
	if err != nil {
		return nil, err
	}
	trailing, err := a.newState() // any number of zeros
	if err != nil {
		return nil, err
	}
	zero := csRune('0')
	a.add(zeros, nfaEdge{kind: nfaChars, cs: zero, to: trailing})
	a.add(trailing, nfaEdge{kind: nfaChars, cs: zero, to: trailing})
	a.add(trailing, nfaEdge{kind: nfaEps, to: final})
	for i := 0; i < len(order); i++ {
		k := order[i]
		from := ids[k]
		st := d.states[k.q]
		for _, e := range st.edges {
			dot := k.dot || (e.lo <= '.' && '.' <= e.hi)
			if e.lo <= '.' && '.' <= e.hi && e.lo != e.hi {
				return nil, ErrTooComplex // not a number automaton
			}
			to, err := id(key{e.to, dot})
			if err != nil {
				return nil, err
			}
			a.add(from, nfaEdge{kind: nfaChars, cs: charSet{{e.lo, e.hi}}, to: to})
		}
		if st.final {
			a.add(from, nfaEdge{kind: nfaEps, to: final})
			if k.dot {
				a.add(from, nfaEdge{kind: nfaEps, to: trailing})
			} else {
				a.add(from, nfaEdge{kind: nfaChars, cs: csRune('.'), to: zeros})
			}
		}
	}
	if d.accepts("0") {
		m, err := a.newState()
		if err != nil {
			return nil, err
		}
		z, err := a.newState()
		if err != nil {
			return nil, err
		}
		a.add(start, nfaEdge{kind: nfaChars, cs: csRune('-'), to: m})
		a.add(m, nfaEdge{kind: nfaChars, cs: zero, to: z})
		a.add(z, nfaEdge{kind: nfaEps, to: final})
		a.add(z, nfaEdge{kind: nfaChars, cs: csRune('.'), to: zeros})
	}
	out, err := a.determinize(start, final)
	if err != nil {
		return nil, err
	}
	return out.minimize(), nil
}
