package jsonschema

import (
	"fmt"
	"strings"

	"github.com/locallm/locallm/grammar/gbnf"
)

// Arrays and objects.

// jsonQuote writes s as a JSON string the canonical way the grammars
// accept it: raw characters except ", \ and controls; \b \f \n \r \t; other
// controls as \u00xx.
func jsonQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func (e *emitter) open(t string) string  { return strings.TrimSpace(gbnf.Literal(t) + e.ws) }
func (e *emitter) close(t string) string { return strings.TrimSpace(e.ws + gbnf.Literal(t)) }
func (e *emitter) sep() string           { return strings.TrimSpace(e.ws + `"," ` + e.ws) }
func (e *emitter) colon() string         { return strings.TrimSpace(e.ws + `":" ` + e.ws) }

func (e *emitter) array(a *arrAlt, hint string) (string, error) {
	c := e.c
	if c.isAllArrays(a) {
		return e.use("array"), nil
	}
	l, err := c.arrLayoutOf(a)
	if err != nil {
		return "", err
	}
	if !l.productive(e.live) {
		return "", nil
	}
	if l.unique {
		s, done, err := e.uniqueArray(a, l, hint)
		if err != nil || done {
			return s, err
		}
	}
	if len(l.counters) > 0 {
		return e.countedArray(l, hint)
	}
	limit := -1
	for i, n := range l.items {
		if !e.live(n) {
			limit = i
			break
		}
	}
	if limit < 0 && !e.live(l.rest) {
		limit = len(l.items)
	}
	mx := minBound(l.max, limit)
	p := len(l.items)
	if mx >= 0 && p > mx {
		p = mx
	}
	sep := e.sep()
	kmin := max(l.min-p, 0)
	kmax := -1
	if mx >= 0 {
		kmax = mx - p
	}
	tail := ""
	if kmax != 0 {
		r := e.ref(l.rest)
		sr := "( " + sep + " " + r + " )"
		switch {
		case p > 0:
			tail = e.b.Rep(sr, kmin, kmax)
		case kmin == 0:
			tail = "( " + r + " " + e.b.Rep(sr, 0, decBound(kmax)) + " )?"
		default:
			tail = r + " " + e.b.Rep(sr, kmin-1, decBound(kmax))
		}
	}
	for i := p - 1; i >= 0; i-- {
		item := e.ref(l.items[i])
		if i > 0 {
			item = sep + " " + item
		}
		if tail != "" {
			item += " " + tail
		}
		if i >= l.min {
			item = "( " + item + " )?"
		}
		tail = item
		if (p-i)%8 == 0 && i > 0 {
			tail = e.b.Helper(hint+"-tail", tail)
		}
	}
	return strings.TrimSpace(e.open("[") + " " + tail + " " + e.close("]")), nil
}

func decBound(n int) int {
	if n < 0 {
		return -1
	}
	return n - 1
}

// countedArray writes the counting automaton of contains constraints: one
// rule per live state.
func (e *emitter) countedArray(l *arrLayout, hint string) (string, error) {
	if l.numStates() > maxCountStates {
		return "", ErrTooComplex
	}
	live, order, ok := l.liveStates(e.live)
	if !ok {
		return "", nil
	}
	names := map[int]string{}
	for _, s := range order {
		if live[l.stateKey(s)] {
			names[l.stateKey(s)] = e.b.Name(hint + "-items")
		}
	}
	sep := e.sep()
	for _, s := range order {
		k := l.stateKey(s)
		if !live[k] {
			continue
		}
		var alts []string
		if l.accepting(s) {
			alts = append(alts, `""`)
		}
		for _, cat := range l.catsAt(s.i) {
			if !e.live(cat.n) {
				continue
			}
			t, good := l.step(s, cat)
			if !good || !live[l.stateKey(t)] {
				continue
			}
			item := e.ref(cat.n)
			if s.i > 0 {
				item = sep + " " + item
			}
			alts = append(alts, item+" "+names[l.stateKey(t)])
		}
		e.b.Define(names[k], strings.Join(alts, " | "))
	}
	start := names[l.stateKey(order[0])]
	return strings.TrimSpace(e.open("[") + " " + start + " " + e.close("]")), nil
}

// uniqueArray handles uniqueItems. Arrays of at most one item are always
// unique; otherwise the arrays are enumerated when the alternative is
// finite and small, and written as literals. done is false when the
// constraint can be ignored (lenient) and the caller should go on.
func (e *emitter) uniqueArray(a *arrAlt, l *arrLayout, hint string) (string, bool, error) {
	mx := l.max
	if mx < 0 && !e.live(l.rest) {
		mx = len(l.items)
	}
	if mx >= 0 && mx <= 1 {
		return "", false, nil
	}
	arrs, ok := e.enumArray(l, 512, 0)
	if ok {
		var lits []string
		for _, items := range arrs {
			if allDistinct(items) {
				lits = append(lits, gbnf.Literal("["+strings.Join(items, ",")+"]"))
			}
		}
		if len(lits) == 0 {
			return "", true, nil
		}
		return e.b.Helper("unique", strings.Join(lits, " | ")), true, nil
	}
	if s, ok := e.uniqueSubsets(l, hint); ok {
		return s, true, nil
	}
	if err := e.c.approx(a.uniqueAt, "uniqueItems", "uniqueItems needs memory of earlier items; it can be expressed for arrays of at most one item, and for items drawn from a few values (at most 12)"); err != nil {
		return "", true, err
	}
	return "", false, nil
}

// maxUniqueValues bounds the values whose subsets uniqueSubsets tracks.
const maxUniqueValues = 12

// uniqueSubsets writes unique arrays whose items come from a few values
// (an enum of tags, booleans): the state is the set of values used so far,
// whose size is also the position, so each value appears at most once.
func (e *emitter) uniqueSubsets(l *arrLayout, hint string) (string, bool) {
	if len(l.counters) > 0 {
		return "", false
	}
	// The values each position may hold, indexed over all positions.
	index := map[string]int{}
	var values []string
	positions := len(l.items) + 1 // the last one stands for the rest
	allowed := make([][]int, positions)
	for i := 0; i < positions; i++ {
		n := l.rest
		if i < len(l.items) {
			n = l.items[i]
		}
		vals, ok := e.enumNode(n, maxUniqueValues, 0)
		if !ok {
			return "", false
		}
		for _, v := range vals {
			j, seen := index[v]
			if !seen {
				j = len(values)
				index[v] = j
				values = append(values, v)
				if len(values) > maxUniqueValues {
					return "", false
				}
			}
			allowed[i] = append(allowed[i], j)
		}
	}
	full := 1 << len(values)
	count := func(mask int) int {
		c := 0
		for ; mask != 0; mask &= mask - 1 {
			c++
		}
		return c
	}
	at := func(i int) []int { return allowed[min(i, positions-1)] }
	// Live masks: acceptance reachable.
	live := make([]bool, full)
	for mask := full - 1; mask >= 0; mask-- {
		k := count(mask)
		if k >= l.min && (l.max < 0 || k <= l.max) {
			live[mask] = true
			continue
		}
		if l.max >= 0 && k >= l.max {
			continue
		}
		for _, j := range at(k) {
			if mask&(1<<j) == 0 && live[mask|1<<j] {
				live[mask] = true
				break
			}
		}
	}
	if !live[0] {
		return "", false
	}
	names := map[int]string{}
	var visit func(mask int) string
	visit = func(mask int) string {
		if name, ok := names[mask]; ok {
			return name
		}
		name := e.b.Name(hint + "-unique")
		names[mask] = name
		k := count(mask)
		var alts []string
		if k >= l.min {
			alts = append(alts, `""`)
		}
		if l.max < 0 || k < l.max {
			for _, j := range at(k) {
				next := mask | 1<<j
				if mask&(1<<j) != 0 || !live[next] {
					continue
				}
				item := gbnf.Literal(values[j])
				if k > 0 {
					item = e.sep() + " " + item
				}
				alts = append(alts, item+" "+visit(next))
			}
		}
		e.b.Define(name, strings.Join(alts, " | "))
		return name
	}
	return strings.TrimSpace(e.open("[") + " " + visit(0) + " " + e.close("]")), true
}

func (e *emitter) object(o *objAlt, hint string) (string, error) {
	c := e.c
	if c.isAllObjects(o) {
		return e.use("object"), nil
	}
	l, err := c.objLayoutOf(o)
	if err != nil {
		return "", err
	}
	if !l.productive(e.live) {
		return "", nil
	}
	if l.exists > 0 {
		return e.existObject(l, hint)
	}
	var props []objProp
	for _, p := range l.props {
		if e.live(p.n) {
			props = append(props, p)
		}
	}
	var addl []string
	for _, r := range l.regions {
		if !e.live(r.n) {
			continue
		}
		key, err := e.str(r.keys, hint+"-key")
		if err != nil {
			return "", err
		}
		if key == "" {
			continue
		}
		addl = append(addl, key+" "+e.colon()+" "+e.ref(r.n))
	}
	addRule := ""
	if len(addl) > 0 {
		addRule = e.b.Helper(hint+"-additional", strings.Join(addl, " | "))
	}
	sep, colon := e.sep(), e.colon()
	n := len(props)
	minP, maxP := l.minP, l.maxP
	if n == 0 {
		if addRule == "" {
			if minP > 0 {
				return "", nil
			}
			return strings.TrimSpace(e.open("{") + " " + e.close("}")), nil
		}
		sa := "( " + sep + " " + addRule + " )"
		var body string
		if minP == 0 {
			body = "( " + addRule + " " + e.b.Rep(sa, 0, decBound(maxP)) + " )?"
			if maxP == 0 {
				body = ""
			}
		} else {
			body = addRule + " " + e.b.Rep(sa, minP-1, decBound(maxP))
		}
		return strings.TrimSpace(e.open("{") + " " + body + " " + e.close("}")), nil
	}
	T := maxP
	if T < 0 {
		T = max(minP, 1)
	}
	if (n+1)*(T+1) > maxCountStates {
		return "", ErrTooComplex
	}
	next := func(cnt int) (int, bool) {
		if maxP >= 0 && cnt >= maxP {
			return 0, false
		}
		return min(cnt+1, T), true
	}
	live := make([][]bool, n+1)
	for i := range live {
		live[i] = make([]bool, T+1)
	}
	for cnt := T; cnt >= 0; cnt-- {
		live[n][cnt] = cnt >= minP
		if nc, ok := next(cnt); ok && addRule != "" && nc != cnt && live[n][nc] {
			live[n][cnt] = true
		}
	}
	for i := n - 1; i >= 0; i-- {
		for cnt := 0; cnt <= T; cnt++ {
			if nc, ok := next(cnt); ok && live[i+1][nc] {
				live[i][cnt] = true
			}
			if !props[i].required && live[i+1][cnt] {
				live[i][cnt] = true
			}
		}
	}
	if !live[0][0] {
		return "", nil
	}
	names := map[[2]int]string{}
	var visit func(i, cnt int) string
	visit = func(i, cnt int) string {
		key := [2]int{i, cnt}
		if name, ok := names[key]; ok {
			return name
		}
		name := e.b.Name(fmt.Sprintf("%s-m%d", hint, i))
		names[key] = name
		sp := ""
		if cnt > 0 {
			sp = sep + " "
		}
		var alts []string
		if i == n {
			nc, ok := next(cnt)
			canAdd := ok && addRule != ""
			switch {
			case canAdd && nc == cnt:
				alts = append(alts, "( "+sep+" "+addRule+" )*")
			default:
				if cnt >= minP {
					alts = append(alts, `""`)
				}
				if canAdd && live[n][nc] {
					alts = append(alts, sp+addRule+" "+visit(n, nc))
				}
			}
		} else {
			p := props[i]
			if nc, ok := next(cnt); ok && live[i+1][nc] {
				alts = append(alts, sp+e.jsonQuoted(p.name)+" "+colon+" "+e.ref(p.n)+" "+visit(i+1, nc))
			}
			if !p.required && live[i+1][cnt] {
				alts = append(alts, visit(i+1, cnt))
			}
		}
		e.b.Define(name, strings.Join(alts, " | "))
		return name
	}
	start := visit(0, 0)
	return strings.TrimSpace(e.open("{") + " " + start + " " + e.close("}")), nil
}

// existObject writes an object with existentials: one rule per live state
// of its counting automaton.
func (e *emitter) existObject(l *objLayout, hint string) (string, error) {
	order, edges, live, err := l.existStates(e.live)
	if err != nil {
		return "", err
	}
	if !live[objState{}] {
		return "", nil
	}
	sep, colon := e.sep(), e.colon()
	groups := make([]string, len(l.addGroup))
	group := func(g int) (string, error) {
		if groups[g] != "" {
			return groups[g], nil
		}
		var alts []string
		for _, m := range l.addGroup[g].members {
			if !e.live(m.n) {
				continue
			}
			key, err := e.str(m.keys, hint+"-key")
			if err != nil {
				return "", err
			}
			if key != "" {
				alts = append(alts, key+" "+colon+" "+e.ref(m.n))
			}
		}
		groups[g] = e.b.Helper(hint+"-additional", strings.Join(alts, " | "))
		return groups[g], nil
	}
	names := map[objState]string{}
	for _, s := range order {
		if live[s] {
			names[s] = e.b.Name(fmt.Sprintf("%s-m%d", hint, s.i))
		}
	}
	n := len(l.props)
	full := uint32(1)<<l.exists - 1
	for _, s := range order {
		if !live[s] {
			continue
		}
		var alts []string
		if s.i == n && s.cnt >= l.minP && s.mask == full {
			alts = append(alts, `""`)
		}
		sp := ""
		if s.cnt > 0 {
			sp = sep + " "
		}
		for _, ed := range edges[s] {
			if !live[ed.to] {
				continue
			}
			switch {
			case ed.g >= 0:
				g, err := group(ed.g)
				if err != nil {
					return "", err
				}
				alts = append(alts, sp+g+" "+names[ed.to])
			case ed.i >= 0:
				p := l.props[ed.i]
				alts = append(alts, sp+e.jsonQuoted(p.name)+" "+colon+" "+e.ref(ed.cat.n)+" "+names[ed.to])
			default: // an optional member left out
				alts = append(alts, names[ed.to])
			}
		}
		e.b.Define(names[s], strings.Join(alts, " | "))
	}
	return strings.TrimSpace(e.open("{") + " " + names[objState{}] + " " + e.close("}")), nil
}
