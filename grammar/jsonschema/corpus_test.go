package jsonschema

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/grammar/gbnf"
)

// The corpus test measures the compiler and the validator on real-world
// schemas, which are not kept in this repository. LOCALLM_SCHEMA_CORPUS
// names a directory with one folder per schema:
//
//	NAME/schema.json     the schema
//	NAME/valid/*.json    instances the schema accepts
//	NAME/invalid/*.json  instances it rejects
//	_remote/SCHEME/HOST/PATH  documents that $ref names by URL
//
// (SchemaStore's src/schemas/json, src/test and src/negative_test give
// such a corpus, its YAML tests read as YAML 1.2 and its TOML tests
// converted to JSON, and its schemas under _remote both at the URLs
// SchemaStore publishes them and at BaseURI's host, since its schemas
// without $id name each other by relative references.) A schema that
// needs a document the corpus lacks is left out of the figures and
// counted apart.
// LOCALLM_SCHEMA_CORPUS_PART selects "dev" or "heldout", a fixed split of
// the names (3 in 10 held out, by hash), or "all" (the default).
//
// A schema passes when it compiles with GenerationOptions (NewConstraint,
// as generation compiles it), every valid instance is accepted by both the
// grammar (in some member order, written compactly) and the Validator, and
// no invalid instance is accepted by both. The test reports the other
// option sets beside the default, and, as what generation makes without a
// model, how many of the grammars' shortest documents validate. It fails
// if the default passes fewer than 95% of the schemas or if any invalid
// instance gets through grammar and validation. Valid and invalid are the
// corpus's word: SchemaStore's tests follow ajv where it departs from the
// specification (siblings of $ref in draft 7, const in draft 4), and the
// Validator follows the specification.
func TestSchemaCorpus(t *testing.T) {
	dir := os.Getenv("LOCALLM_SCHEMA_CORPUS")
	if dir == "" {
		t.Skip("LOCALLM_SCHEMA_CORPUS is not set: no real-world schema corpus to measure (see the comment above TestSchemaCorpus)")
	}
	part := os.Getenv("LOCALLM_SCHEMA_CORPUS_PART")
	only := os.Getenv("LOCALLM_SCHEMA_CORPUS_ONLY") // a substring of the names to run, for debugging
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), "_") && corpusPart(e.Name(), part) && strings.Contains(e.Name(), only) {
			names = append(names, e.Name())
		}
	}
	require.NotEmpty(t, names, "no schema folders in %s (part %q)", dir, part)
	missing := map[string]bool{} // documents asked for that the corpus lacks
	loader := corpusLoader(filepath.Join(dir, "_remote"), missing)
	configs := []struct {
		name string
		opts func() *Options
	}{
		{"default", func() *Options { o := GenerationOptions(); o.Loader = loader; return o }},
		{"strict", func() *Options { o := GenerationOptions(); o.Lenient, o.Loader = false, loader; return o }},
		{"no-formats", func() *Options { o := GenerationOptions(); o.FormatAssertion, o.Loader = false, loader; return o }},
	}
	var report strings.Builder
	for ci, cfg := range configs {
		var sc corpusScore
		for _, name := range names {
			start := time.Now()
			clear(missing)
			sc.add(t, filepath.Join(dir, name), name, cfg.opts(), missing)
			if d := time.Since(start); d > 5*time.Second {
				t.Logf("%s: %s took %v", cfg.name, name, d.Round(time.Millisecond))
			}
		}
		fmt.Fprintf(&report, "%-10s %s\n", cfg.name, sc.summary())
		if ci == 0 {
			for _, f := range sc.failures {
				t.Log(f)
			}
			assert.Empty(t, sc.badAccept, "invalid instances passed grammar and validation")
			assert.GreaterOrEqual(t, float64(sc.pass)/float64(sc.schemas), 0.95, "real-world schemas passing with the defaults")
		}
	}
	t.Logf("corpus %s, part %q, %d schemas\n%s", dir, part, len(names), report.String())
}

// corpusPart reports whether name belongs to part.
func corpusPart(name, part string) bool {
	h := fnv.New32a()
	h.Write([]byte(name))
	held := h.Sum32()%10 < 3
	switch part {
	case "dev":
		return !held
	case "heldout":
		return held
	}
	return true
}

func corpusLoader(remote string, missing map[string]bool) func(string) ([]byte, error) {
	return func(uri string) ([]byte, error) {
		scheme, rest, ok := strings.Cut(uri, "://")
		if !ok || strings.Contains(rest, "..") {
			missing[uri] = true
			return nil, fmt.Errorf("not in the corpus: %s", uri)
		}
		data, err := os.ReadFile(filepath.Join(remote, scheme, filepath.FromSlash(rest)))
		if err != nil {
			missing[uri] = true
			return nil, fmt.Errorf("not in the corpus: %s", uri)
		}
		return data, nil
	}
}

type corpusScore struct {
	schemas, compiled, pass, withInstances int
	skipped                                []string // schemas needing documents the corpus lacks
	valid, validOK, invalid, invalidCaught int
	undecided                              int
	shortest, shortestValid                int // the grammar's shortest documents, and how many validate
	compileTime                            time.Duration
	errs                                   map[string]int // compile errors by kind
	failures, badAccept                    []string
}

func (sc *corpusScore) add(t *testing.T, dir, name string, opts *Options, missing map[string]bool) {
	schema, err := os.ReadFile(filepath.Join(dir, "schema.json"))
	require.NoError(t, err)
	start := time.Now()
	cons, err := NewConstraint(schema, opts) // as generation compiles it
	sc.compileTime += time.Since(start)
	if err != nil && len(missing) > 0 {
		sc.skipped = append(sc.skipped, name)
		return
	}
	sc.schemas++
	if err != nil {
		if sc.errs == nil {
			sc.errs = map[string]int{}
		}
		sc.errs[corpusErrKind(err)]++
		sc.failures = append(sc.failures, fmt.Sprintf("%s: %v", name, err))
		return
	}
	sc.compiled++
	g, v := cons.Grammar, cons.Validator
	// What generation makes, without a model: the grammar's shortest
	// document must validate (a lenient grammar may admit invalid ones,
	// which generation then retries, but not as a rule).
	if doc, ok := g.NewMatcher().ShortestCompletion(1 << 16); ok {
		sc.shortest++
		if err := v.Validate(doc); err == nil {
			sc.shortestValid++
		} else {
			sc.failures = append(sc.failures, fmt.Sprintf("%s: shortest document %.80s invalid: %v", name, doc, err))
		}
	}
	var rank map[string]int
	if root, err := decodeJSON(schema); err == nil {
		if c, _, err := buildRoot(root, opts); err == nil {
			rank = c.reg.rank
		}
	}
	ok := true
	valid, _ := filepath.Glob(filepath.Join(dir, "valid", "*.json"))
	invalid, _ := filepath.Glob(filepath.Join(dir, "invalid", "*.json"))
	if len(valid)+len(invalid) > 0 {
		sc.withInstances++
	}
	for _, f := range valid {
		sc.valid++
		accepted, why := corpusAccepts(g, v, rank, f)
		if accepted {
			sc.validOK++
			continue
		}
		if strings.HasPrefix(why, "undecided") {
			sc.undecided++
		}
		ok = false
		sc.failures = append(sc.failures, fmt.Sprintf("%s: valid %s rejected: %s", name, filepath.Base(f), why))
	}
	for _, f := range invalid {
		sc.invalid++
		if accepted, why := corpusAccepts(g, v, rank, f); accepted || strings.HasPrefix(why, "undecided") {
			ok = false
			sc.badAccept = append(sc.badAccept, name+": "+filepath.Base(f))
			sc.failures = append(sc.failures, fmt.Sprintf("%s: invalid %s accepted", name, filepath.Base(f)))
			continue
		}
		sc.invalidCaught++
	}
	if ok {
		sc.pass++
	}
}

// corpusAccepts reports whether an instance gets through the validator and
// the grammar, and if not, why. The validator goes first: it is cheap, and
// what it rejects is rejected whatever the grammar says. Object members
// are tried first in the order the grammar most likely wants (by first
// mention in the schema), then in every other order.
func corpusAccepts(g *gbnf.Grammar, v *Validator, rank map[string]int, file string) (bool, string) {
	data, err := os.ReadFile(file)
	if err != nil {
		return false, err.Error()
	}
	inst, err := decodeJSON(data)
	if err != nil {
		return false, "instance: " + err.Error()
	}
	if err := v.Validate(data); err != nil {
		return false, "validator: " + err.Error()
	}
	sortMembers(inst, rank)
	if m, ok := feedInOrder(g.NewMatcher(), inst); ok && m.Accepting() {
		return true, ""
	}
	budget := 20000
	if !feedValue(g.NewMatcher(), inst, &budget, func(m *gbnf.Matcher) bool { return m.Accepting() }) {
		if budget < 0 {
			return false, "undecided: the grammar's search ran out of budget"
		}
		return false, "grammar"
	}
	return true, ""
}

// feedInOrder feeds v to m, finding each object's member order as it
// goes (feedObject), in polynomial time where the search over all orders
// of the whole document (feedValue) may take exponential time. It does not
// backtrack into a value once fed, so it may miss an order that only a
// different reading of an earlier value allows.
func feedInOrder(m *gbnf.Matcher, v any) (*gbnf.Matcher, bool) {
	switch x := v.(type) {
	case []any:
		m, ok := feedText(m, "[")
		for i, item := range x {
			if !ok {
				return nil, false
			}
			if i > 0 {
				if m, ok = feedText(m, ","); !ok {
					return nil, false
				}
			}
			m, ok = feedInOrder(m, item)
		}
		if !ok {
			return nil, false
		}
		return feedText(m, "]")
	case *jobj:
		if m2, ok := feedObject(m, x); ok {
			return m2, true
		}
		budget := 2000
		return searchObject(m, x, &budget)
	default:
		return feedText(m, canonicalScalar(v))
	}
}

func memberHead(i int, k string) string {
	if i == 0 {
		return jsonQuote(k) + ":"
	}
	return "," + jsonQuote(k) + ":"
}

// feedObject places the members in the order given, and moves a member
// whose key the grammar refuses where it stands: back to the latest place
// where the grammar takes it (the named properties of an object
// alternative come in a fixed order, so that place is unique), and what
// followed is fed again; or, where no earlier place takes it, after the
// first later member the grammar takes there.
func feedObject(m *gbnf.Matcher, x *jobj) (*gbnf.Matcher, bool) {
	m, ok := feedText(m, "{")
	if !ok {
		return nil, false
	}
	order := slices.Clone(x.keys)
	states := []*gbnf.Matcher{m} // states[i]: before order[i]
	for i, moves := 0, 0; i < len(order); {
		k := order[i]
		if m2, ok := feedText(states[i], memberHead(i, k)); ok {
			m3, ok := feedInOrder(m2, x.vals[k])
			if !ok {
				return nil, false
			}
			states = append(states[:i+1], m3)
			i++
			continue
		}
		if moves++; moves > len(order)*len(order) {
			return nil, false
		}
		p := i - 1
		for p >= 0 {
			if _, ok := feedText(states[p], memberHead(p, k)); ok {
				break
			}
			p--
		}
		if p >= 0 {
			copy(order[p+1:i+1], order[p:i])
			order[p] = k
			states = states[:p+1]
			i = p
			continue
		}
		j := i + 1
		for j < len(order) {
			if _, ok := feedText(states[i], memberHead(i, order[j])); ok {
				break
			}
			j++
		}
		if j == len(order) {
			return nil, false
		}
		next := order[j]
		copy(order[i+1:j+1], order[i:j])
		order[i] = next
	}
	return feedText(states[len(order)], "}")
}

// searchObject tries the member orders the grammar allows, depth first,
// until one is accepted or budget key trials are spent: the fallback for
// objects whose alternatives order their members differently.
func searchObject(m *gbnf.Matcher, x *jobj, budget *int) (*gbnf.Matcher, bool) {
	m, ok := feedText(m, "{")
	if !ok {
		return nil, false
	}
	var try func(m *gbnf.Matcher, placed int, rest []string) (*gbnf.Matcher, bool)
	try = func(m *gbnf.Matcher, placed int, rest []string) (*gbnf.Matcher, bool) {
		if len(rest) == 0 {
			return feedText(m, "}")
		}
		for i, k := range rest {
			if *budget--; *budget < 0 {
				return nil, false
			}
			m2, ok := feedText(m, memberHead(placed, k))
			if !ok {
				continue
			}
			if m2, ok = feedInOrder(m2, x.vals[k]); !ok {
				continue
			}
			others := append(slices.Clone(rest[:i]), rest[i+1:]...)
			if m3, ok := try(m2, placed+1, others); ok {
				return m3, true
			}
		}
		return nil, false
	}
	return try(m, 0, x.keys)
}

// sortMembers orders the members of every object in v by rank, names
// without one last, in their order.
func sortMembers(v any, rank map[string]int) {
	switch x := v.(type) {
	case *jobj:
		r := func(k string) int {
			if i, ok := rank[k]; ok {
				return i
			}
			return len(rank)
		}
		slices.SortStableFunc(x.keys, func(a, b string) int { return r(a) - r(b) })
		for _, k := range x.keys {
			sortMembers(x.vals[k], rank)
		}
	case []any:
		for _, y := range x {
			sortMembers(y, rank)
		}
	}
}

// corpusErrKind names the class of a compile error, for the summary.
func corpusErrKind(err error) string {
	var se *SchemaError
	switch {
	case errors.Is(err, ErrUnsupported) && errors.As(err, &se):
		return "unsupported " + se.Keyword
	case errors.Is(err, ErrTooComplex):
		return "too complex"
	case errors.Is(err, ErrNoValue):
		return "no value"
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && len(msg)-i < 60 {
		msg = msg[i+2:]
	}
	if len(msg) > 60 {
		msg = msg[:60]
	}
	return msg
}

func (sc *corpusScore) summary() string {
	pct := func(a, b int) float64 {
		if b == 0 {
			return 100
		}
		return 100 * float64(a) / float64(b)
	}
	var kinds []string
	for k, n := range sc.errs {
		kinds = append(kinds, fmt.Sprintf("%d× %s", n, k))
	}
	slices.Sort(kinds)
	return fmt.Sprintf("%d left out (documents outside the corpus); pass %d/%d (%.1f%%), compiled %d (%.1f%%); of %d with test documents: valid accepted %d/%d (%.1f%%, %d undecided), invalid caught %d/%d, %d invalid accepted; shortest documents valid %d/%d; compile %v\n           errors: %s",
		len(sc.skipped), sc.pass, sc.schemas, pct(sc.pass, sc.schemas), sc.compiled, pct(sc.compiled, sc.schemas), sc.withInstances,
		sc.validOK, sc.valid, pct(sc.validOK, sc.valid), sc.undecided, sc.invalidCaught, sc.invalid, len(sc.badAccept), sc.shortestValid, sc.shortest,
		sc.compileTime.Round(time.Millisecond), strings.Join(kinds, "; "))
}
