package jsonschema

import (
	"fmt"
	"strings"
	"sync"

	"github.com/locallm/locallm/grammar/regex"
)

// Formats, as regular languages written in the package's regex dialect
// (whole-string match). Each is exact or a subset of what the format
// allows, so that a grammar asserting a format never admits a string the
// format rejects; the subsets are noted where they are taken. The
// definitions follow the RFCs the 2020-12 specification cites (3339, 5321,
// 1123, 2673/4291, 3986, 3987, 4122, 6570, 6901) and agree with the
// validator this package uses (santhosh-tekuri/jsonschema) where the RFCs
// leave room: a quoted e-mail local part without \ or ", lengths counted
// in characters.

// knownFormats are the formats JSON Schema 2020-12 defines; formats not
// listed are annotations even when asserting, as the specification asks.
var knownFormats = map[string]bool{
	"date-time": true, "date": true, "time": true, "duration": true, "email": true, "idn-email": true,
	"hostname": true, "idn-hostname": true, "ipv4": true, "ipv6": true, "uri": true, "uri-reference": true,
	"iri": true, "iri-reference": true, "uuid": true, "uri-template": true, "json-pointer": true,
	"relative-json-pointer": true, "regex": true,
}

// formatAtom returns the constraint of a format. ignore is true for a
// format the specification does not define (an annotation); nil with
// ignore false would be a defined format no grammar here expresses.
func formatAtom(name string) (atom *strAtom, ignore bool) {
	if !knownFormats[name] {
		return nil, true
	}
	formatOnce.Do(buildFormats)
	f, ok := formatTrees[name]
	if !ok {
		return nil, false
	}
	return &strAtom{re: f.re, what: "format " + name, tree: f, structural: largeFormats[name]}, false
}

// largeFormats have automata of hundreds of states; alone, they are
// written as grammar from their regex instead.
var largeFormats = map[string]bool{"time": true, "date-time": true, "hostname": true, "email": true,
	"idn-hostname": true, "idn-email": true, "regex": true}

// regexSyntax is the language of ECMA-262 patterns, a subset: groups
// nest at most depth deep (balanced brackets are not regular), and
// constructs whose validity depends on the rest of the pattern or on the
// flags are left out (named groups, whose names must be unique,
// backreferences, which need their group, \p{...}, and ranges other than
// between two digits or two letters of the same case, whose ends must be
// in order). The tree shares its subtrees, so each nesting level is
// written once.
func regexSyntax(depth int) *regex.Node {
	syntax := `\^$.*+?()[\]{}|/\-`
	hex := `[0-9A-Fa-f]`
	charEscape := group(`[tnvfr]`, `c[A-Za-z]`, `x`+hex+`{2}`, `u`+hex+`{4}`, `u\{`+group(`0?`+hex+`{1,5}`, `10`+hex+`{4}`)+`\}`, `[`+syntax+`]`)
	atomEscape := `\\` + group(`[dDwWsS]`, charEscape)
	var ranges []string
	for _, span := range []string{"09", "az", "AZ"} {
		for lo := span[0]; lo <= span[1]; lo++ {
			ranges = append(ranges, fmt.Sprintf(`%c-[%c-%c]`, lo, lo, span[1]))
		}
	}
	classAtom := group(`[^\\\]\-]`, `\\`+group(`[dDwWsSb]`, charEscape))
	class := `\[\^?-?` + group(append(ranges, classAtom)...) + `*-?\]`
	var quant []string
	for lo := '0'; lo <= '9'; lo++ {
		quant = append(quant, fmt.Sprintf(`%c,[%c-9]`, lo, lo))
	}
	quantifier := mustRegex(group(`[*+?]`, `\{`+group(`[0-9]+,?`, group(quant...))+`\}`) + `\??`)
	plain := `[^\\^$.*+?()[\]{}|]`
	leafAtoms := mustRegex(group(plain, `\.`, atomEscape, class))
	leafAssertions := mustRegex(group(`\^`, `\$`, `\\[bB]`))
	var disj *regex.Node
	for d := 0; d <= depth; d++ {
		atoms, assertions := leafAtoms, leafAssertions
		if d > 0 {
			atoms = regex.Alt(atoms, regex.Cat(mustRegex(`\((?:\?:)?`), disj, regex.Lit(")")))
			assertions = regex.Alt(assertions, regex.Cat(mustRegex(`\(\?<?[=!]`), disj, regex.Lit(")")))
		}
		term := regex.Alt(regex.Cat(atoms, regex.Repeat(quantifier, 0, 1)), assertions)
		terms := regex.Repeat(term, 0, -1)
		disj = regex.Cat(terms, regex.Repeat(regex.Cat(regex.Lit("|"), terms), 0, -1))
	}
	return disj
}

// formatTree is a format's regex, with its automaton built once and shared
// by every compilation.
type formatTree struct {
	re   *regex.Node
	once sync.Once
	d    *regex.DFA
	err  error
}

var (
	formatOnce  sync.Once
	formatTrees map[string]*formatTree
)

func mustRegex(src string) *regex.Node {
	re, err := regex.Parse(src)
	if err != nil {
		panic(fmt.Sprintf("jsonschema: format regex %q: %v", src, err))
	}
	return re
}

func group(alts ...string) string { return "(?:" + strings.Join(alts, "|") + ")" }

func buildFormats() {
	const (
		digit = `[0-9]`
		hex   = `[0-9A-Fa-f]`
		alpha = `[A-Za-z]`
	)
	// --- date and time (RFC 3339 section 5.6) ---
	m31 := `(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])`
	m30 := `(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)`
	feb := `02-(?:0[1-9]|1[0-9]|2[0-8])`
	leapYear := group(`[0-9]{2}(?:0[48]|[2468][048]|[13579][26])`, `(?:[02468][048]|[13579][26])00`)
	date := group(`[0-9]{4}-`+group(m31, m30, feb), leapYear+`-02-29`)
	hh := `(?:[01][0-9]|2[0-3])`
	mm := `[0-5][0-9]`
	frac := `(?:\.[0-9]+)?`
	offset := group(`[Zz]`, `[+-]`+hh+`:`+mm)
	// A leap second (:60) is valid only at 23:59 UTC. The hour and minute
	// must then match the offset; the pairs are listed for offsets whose
	// minutes are 00 or 30, a subset of what RFC 3339 allows.
	var leaps []string
	leaps = append(leaps, `23:59:60`+frac+group(`[Zz]`, `[+-]00:00`))
	for _, sign := range []int{1, -1} {
		for oh := 0; oh < 24; oh++ {
			for _, om := range []int{0, 30} {
				if oh == 0 && om == 0 {
					continue
				}
				local := (23*60 + 59 + sign*(oh*60+om) + 2*1440) % 1440
				s := "+"
				if sign < 0 {
					s = "-"
				}
				leaps = append(leaps, fmt.Sprintf(`%02d:%02d:60%s\%s%02d:%02d`, local/60, local%60, frac, s, oh, om))
			}
		}
	}
	timeRe := group(hh+`:`+mm+`:[0-5][0-9]`+frac+offset, group(leaps...))
	// --- duration (RFC 3339 appendix A) ---
	n := digit + `+`
	durTime := `T` + group(n+`H(?:`+n+`M(?:`+n+`S)?)?`, n+`M(?:`+n+`S)?`, n+`S`)
	durDate := group(n+`D`, n+`M(?:`+n+`D)?`, n+`Y(?:`+n+`M(?:`+n+`D)?)?`) + `(?:` + durTime + `)?`
	duration := `P` + group(durDate, durTime, n+`W`)
	// --- IP addresses ---
	octet := group(`25[0-5]`, `2[0-4][0-9]`, `1[0-9]{2}`, `[1-9]?[0-9]`)
	ipv4 := octet + `(?:\.` + octet + `){3}`
	h16 := hex + `{1,4}`
	ls32 := group(h16+`:`+h16, ipv4)
	hc := func(k int) string { // k times "h16:"
		switch k {
		case 0:
			return ""
		case 1:
			return h16 + `:`
		}
		return fmt.Sprintf(`(?:%s:){%d}`, h16, k)
	}
	upTo := func(k int) string { // [ *k( h16 ":" ) h16 ]
		if k == 0 {
			return `(?:` + h16 + `)?`
		}
		return fmt.Sprintf(`(?:(?:%s:){0,%d}%s)?`, h16, k, h16)
	}
	ipv6 := group(
		hc(6)+ls32,
		`::`+hc(5)+ls32,
		upTo(0)+`::`+hc(4)+ls32,
		upTo(1)+`::`+hc(3)+ls32,
		upTo(2)+`::`+hc(2)+ls32,
		upTo(3)+`::`+hc(1)+ls32,
		upTo(4)+`::`+ls32,
		upTo(5)+`::`+h16,
		upTo(6)+`::`,
	)
	// --- host names (RFC 1123) ---
	// A label: 1 to 63 letters, digits and hyphens, not starting or ending
	// with a hyphen. Labels with hyphens in the 3rd and 4th places are
	// reserved for A-labels ("xn--"), whose Punycode a grammar cannot
	// check; they are left out (a subset). The 253-character limit on the
	// whole name is kept by a union of shapes (up to k labels of up to m
	// characters each, k(m+1)-1 <= 253), another subset.
	an, ldh := `[A-Za-z0-9]`, `[A-Za-z0-9-]`
	label := func(m int) string {
		alts := []string{an, an + an}
		if m >= 3 {
			alts = append(alts, an+ldh+an)
		}
		if m >= 4 {
			alts = append(alts, an+ldh+ldh+an)
		}
		if m >= 5 {
			alts = append(alts, an+ldh+group(an+ldh, `-`+an)+fmt.Sprintf(`%s{0,%d}`, ldh, m-5)+an)
		}
		return group(alts...)
	}
	hostname := func(budget int) string {
		var shapes []string
		for _, m := range []int{63, 31, 15, 7, 3} {
			k := (budget + 1) / (m + 1)
			if k < 1 {
				continue
			}
			l := label(m)
			shapes = append(shapes, l+fmt.Sprintf(`(?:\.%s){0,%d}`, l, k-1))
		}
		return group(shapes...)
	}
	// --- e-mail (RFC 5321 Mailbox) ---
	// Local part up to 64 characters and domain up to 189, so the address
	// stays within 254.
	// The local part's 64 characters are kept the way the host name's 253
	// are: by shapes of k dot-separated atoms of up to m characters.
	atext := `[A-Za-z0-9!#$%&'*+\-/=?^_` + "`" + `{|}~]`
	var locals []string
	for k := 1; k <= 8; k++ {
		m := 65/k - 1
		a := fmt.Sprintf(`%s{1,%d}`, atext, m)
		if k == 1 {
			locals = append(locals, a)
			continue
		}
		locals = append(locals, fmt.Sprintf(`%s(?:\.%s){%d}`, a, a, k-1))
	}
	quoted := `"[ !#-\[\]-~]{0,62}"`
	email := group(append(locals, quoted)...) + `@` + group(hostname(189), `\[`+ipv4+`\]`, `\[IPv6:`+ipv6+`\]`)
	// --- URI (RFC 3986), IRI (RFC 3987) ---
	unreserved := `A-Za-z0-9\-._~`
	subDelims := `!$&'()*+,;=`
	pct := `%` + hex + hex
	iunreserved := unreserved + `\u00A0-\uD7FF\uF900-\uFDCF\uFDF0-\uFFEF\u{10000}-\u{1FFFD}\u{20000}-\u{2FFFD}\u{30000}-\u{3FFFD}\u{40000}-\u{4FFFD}\u{50000}-\u{5FFFD}\u{60000}-\u{6FFFD}\u{70000}-\u{7FFFD}\u{80000}-\u{8FFFD}\u{90000}-\u{9FFFD}\u{A0000}-\u{AFFFD}\u{B0000}-\u{BFFFD}\u{C0000}-\u{CFFFD}\u{D0000}-\u{DFFFD}\u{E1000}-\u{EFFFD}`
	iprivate := `\uE000-\uF8FF\u{F0000}-\u{FFFFD}\u{100000}-\u{10FFFD}`
	uri := func(unres string, private string, absolute bool) string {
		pchar := group(`[`+unres+subDelims+`:@]`, pct)
		segment := pchar + `*`
		segmentNZ := pchar + `+`
		segmentNZNC := group(`[`+unres+subDelims+`@]`, pct) + `+`
		query := group(`[`+unres+subDelims+`:@/?`+private+`]`, pct) + `*`
		fragment := group(`[`+unres+subDelims+`:@/?]`, pct) + `*`
		scheme := alpha + `[A-Za-z0-9+\-.]*`
		userinfo := group(`[`+unres+subDelims+`:]`, pct) + `*`
		ipvFuture := `[vV]` + hex + `+\.[` + unreserved + subDelims + `:]+`
		regName := group(`[`+unres+subDelims+`]`, pct) + `*`
		host := group(`\[`+group(ipv6, ipvFuture)+`\]`, ipv4, regName)
		authority := `(?:` + userinfo + `@)?` + host + `(?::[0-9]*)?`
		pathAbempty := `(?:/` + segment + `)*`
		pathAbsolute := `/(?:` + segmentNZ + `(?:/` + segment + `)*)?`
		pathRootless := segmentNZ + `(?:/` + segment + `)*`
		pathNoScheme := segmentNZNC + `(?:/` + segment + `)*`
		tail := `(?:\?` + query + `)?(?:#` + fragment + `)?`
		abs := scheme + `:` + group(`//`+authority+pathAbempty, pathAbsolute, pathRootless, ``) + tail
		if absolute {
			return abs
		}
		rel := group(`//`+authority+pathAbempty, pathAbsolute, pathNoScheme, ``) + tail
		return group(abs, rel)
	}
	// --- URI template (RFC 6570, level 4; the apostrophe allowed in
	// literals as the test suite reads the RFC) ---
	literal := group(`[!#$&'()*+,\-./0-9:;=?@A-Z\[\]_a-z~`+iunreserved[len(unreserved):]+iprivate+`]`, pct)
	varchar := group(`[A-Za-z0-9_]`, pct)
	varname := varchar + `(?:\.?` + varchar + `)*`
	varspec := varname + `(?::[1-9][0-9]{0,3}|\*)?`
	expression := `\{[+#./;?&=,!@|]?` + varspec + `(?:,` + varspec + `)*\}`
	template := group(literal, expression) + `*`
	// --- JSON pointers (RFC 6901, draft-handrews-relative-json-pointer) ---
	pointer := `(?:/(?:[^~/]|~[01])*)*`
	relPointer := `(?:0|[1-9][0-9]*)(?:#|` + pointer + `)`

	srcs := map[string]string{
		"date":                  `^` + date + `$`,
		"time":                  `^` + timeRe + `$`,
		"date-time":             `^` + date + `[Tt]` + timeRe + `$`,
		"duration":              `^` + duration + `$`,
		"ipv4":                  `^` + ipv4 + `$`,
		"ipv6":                  `^` + ipv6 + `$`,
		"hostname":              `^` + hostname(253) + `$`,
		"uuid":                  `^` + hex + `{8}-` + hex + `{4}-` + hex + `{4}-` + hex + `{4}-` + hex + `{12}$`,
		"uri":                   `^` + uri(unreserved, "", true) + `$`,
		"uri-reference":         `^` + uri(unreserved, "", false) + `$`,
		"iri":                   `^` + uri(iunreserved, iprivate, true) + `$`,
		"iri-reference":         `^` + uri(iunreserved, iprivate, false) + `$`,
		"uri-template":          `^` + template + `$`,
		"json-pointer":          `^` + pointer + `$`,
		"relative-json-pointer": `^` + relPointer + `$`,
	}
	srcs["email"] = `^` + email + `$`
	// Internationalized names: the ASCII ones only (every ASCII host name
	// and address is also a valid internationalized one), a subset: the
	// IDNA 2008 rules for Unicode labels (contextual joiners, bidi, scripts)
	// are beyond this package.
	srcs["idn-hostname"] = srcs["hostname"]
	srcs["idn-email"] = srcs["email"]
	formatTrees = map[string]*formatTree{"regex": {re: regexSyntax(3)}}
	for name, src := range srcs {
		formatTrees[name] = &formatTree{re: mustRegex(src)}
	}
}
