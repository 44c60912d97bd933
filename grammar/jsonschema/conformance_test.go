package jsonschema

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/grammar/gbnf"
)

// The conformance test runs the official JSON-Schema-Test-Suite (draft
// 2020-12: the core files and optional/format) through the compiler. A case
// passes when the grammar accepts the instance exactly when the suite says
// the instance is valid.
//
// How an instance is written: compact JSON, strings in the canonical
// spelling of jsonQuote, numbers in canonical decimal form (1.0 is written
// 1, 1e2 is written 100: a JSON number is a value, and the grammars admit
// one spelling per value where they constrain numbers). Objects: the
// grammars fix the order of named properties (schema order), so the test
// asks whether the grammar accepts the object with its members in some
// order, trying the instance's order first and then the others, each
// prefix checked with a Matcher so that dead orders are cut early. For a
// valid instance this is the re-serialisation in schema order; for an
// invalid one, no order may be accepted, which is stricter than checking a
// single order.
//
// Core files compile with format as an annotation (the 2020-12 default);
// optional/format files compile with FormatAssertion. Every group compiles
// in strict mode; a group that does not compile counts all its cases as
// failed. Lenient mode is reported beside it.

var conformanceOut = flag.String("conformance.out", "", "write the conformance summary to this file")

// conformanceFloor is the strict pass rate the test must reach (the rate
// reached at the time of writing, less a small margin).
const conformanceFloor = 0.95

const suiteDir = "../../../shared/jsonschema-suite"

type suiteGroup struct {
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Tests       []struct {
		Description string          `json:"description"`
		Data        json.RawMessage `json:"data"`
		Valid       bool            `json:"valid"`
	} `json:"tests"`
}

type fileScore struct {
	name                   string
	cases, strict, lenient int
	compiled, groups       int
	badAccept              []string
}

func suiteLoader(uri string) ([]byte, error) {
	const prefix = "http://localhost:1234/"
	if !strings.HasPrefix(uri, prefix) {
		return nil, fmt.Errorf("no network: %s", uri)
	}
	return os.ReadFile(filepath.Join(suiteDir, "remotes", filepath.FromSlash(strings.TrimPrefix(uri, prefix))))
}

func suiteFiles(t testing.TB) []string {
	if _, err := os.Stat(suiteDir); err != nil {
		t.Skipf("JSON-Schema-Test-Suite not found at %s (shared data absent): %v", suiteDir, err)
	}
	core, err := filepath.Glob(filepath.Join(suiteDir, "draft2020-12", "*.json"))
	require.NoError(t, err)
	format, err := filepath.Glob(filepath.Join(suiteDir, "draft2020-12", "optional", "format", "*.json"))
	require.NoError(t, err)
	return append(core, format...)
}

func readGroups(t testing.TB, file string) []suiteGroup {
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	var groups []suiteGroup
	require.NoError(t, json.Unmarshal(data, &groups))
	return groups
}

func TestConformance(t *testing.T) {
	files := suiteFiles(t)
	var scores []fileScore
	var total fileScore
	total.name = "overall"
	for _, file := range files {
		rel, _ := filepath.Rel(filepath.Join(suiteDir, "draft2020-12"), file)
		sc := fileScore{name: rel}
		formats := strings.Contains(rel, "optional")
		for _, g := range readGroups(t, file) {
			sc.groups++
			strictG, strictErr := Compile(g.Schema, &Options{FormatAssertion: formats, Loader: suiteLoader})
			lenientG, lenientErr := Compile(g.Schema, &Options{FormatAssertion: formats, Loader: suiteLoader, Lenient: true})
			var sg, lg *gbnf.Grammar
			// A schema the compiler proves unsatisfiable has no grammar;
			// that answer is exact, so every instance counts as rejected.
			noValue := errors.Is(strictErr, ErrNoValue)
			if strictErr == nil || noValue {
				sc.compiled++
			}
			if strictErr == nil {
				sg = strictG
			} else if !noValue {
				t.Logf("%s: %q: strict: %v", rel, g.Description, strictErr)
			}
			if lenientErr == nil {
				lg = lenientG
			}
			for _, tc := range g.Tests {
				sc.cases++
				inst, err := decodeJSON(tc.Data)
				require.NoError(t, err)
				if sg != nil || noValue {
					got := !noValue && acceptsSomeOrder(sg, inst)
					if got == tc.Valid {
						sc.strict++
					} else if got {
						sc.badAccept = append(sc.badAccept, fmt.Sprintf("%s: %q / %q", rel, g.Description, tc.Description))
					} else if testing.Verbose() {
						t.Logf("%s: %q / %q: valid instance rejected", rel, g.Description, tc.Description)
					}
				}
				if (lg != nil || errors.Is(lenientErr, ErrNoValue)) && (lg != nil && acceptsSomeOrder(lg, inst)) == tc.Valid {
					sc.lenient++
				}
			}
		}
		scores = append(scores, sc)
		total.cases += sc.cases
		total.strict += sc.strict
		total.lenient += sc.lenient
		total.groups += sc.groups
		total.compiled += sc.compiled
		total.badAccept = append(total.badAccept, sc.badAccept...)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-40s %6s %16s %16s %9s\n", "file", "cases", "strict", "lenient", "compiled")
	for _, sc := range append(scores, total) {
		fmt.Fprintf(&b, "%-40s %6d %6d (%5.1f%%) %6d (%5.1f%%) %4d/%-4d\n", sc.name, sc.cases,
			sc.strict, 100*float64(sc.strict)/float64(sc.cases), sc.lenient, 100*float64(sc.lenient)/float64(sc.cases), sc.compiled, sc.groups)
	}
	t.Log("\n" + b.String())
	if *conformanceOut != "" {
		require.NoError(t, os.WriteFile(*conformanceOut, []byte(b.String()), 0o644))
	}
	rate := float64(total.strict) / float64(total.cases)
	assert.GreaterOrEqual(t, rate, conformanceFloor, "strict conformance fell below the floor")
	// Soundness: a grammar compiled in strict mode never accepts an
	// invalid instance.
	assert.Empty(t, total.badAccept, "strict grammars accepted invalid instances")
}

// canonicalJSON writes a decoded instance in the canonical compact form.
func canonicalScalar(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case json.Number:
		if r, ok := ratOf(x); ok {
			if s, ok := canonicalNumber(r); ok {
				return s
			}
		}
		return string(x)
	case string:
		return jsonQuote(x)
	}
	panic(fmt.Sprintf("canonicalScalar: %T", v))
}

// acceptsSomeOrder reports whether g accepts v written with its object
// members in some order.
func acceptsSomeOrder(g *gbnf.Grammar, v any) bool {
	budget := 200000
	return feedValue(g.NewMatcher(), v, &budget, func(m *gbnf.Matcher) bool { return m.Accepting() })
}

func feedText(m *gbnf.Matcher, s string) (*gbnf.Matcher, bool) {
	m2 := m.Clone()
	if err := m2.Feed([]byte(s)); err != nil {
		return nil, false
	}
	return m2, true
}

// feedValue feeds v to m in every member order, calling k on each
// resulting matcher until k returns true.
func feedValue(m *gbnf.Matcher, v any, budget *int, k func(*gbnf.Matcher) bool) bool {
	if *budget--; *budget < 0 {
		return false
	}
	switch x := v.(type) {
	case []any:
		m, ok := feedText(m, "[")
		if !ok {
			return false
		}
		var items func(m *gbnf.Matcher, i int) bool
		items = func(m *gbnf.Matcher, i int) bool {
			if i == len(x) {
				m2, ok := feedText(m, "]")
				return ok && k(m2)
			}
			if i > 0 {
				var ok bool
				if m, ok = feedText(m, ","); !ok {
					return false
				}
			}
			return feedValue(m, x[i], budget, func(m *gbnf.Matcher) bool { return items(m, i+1) })
		}
		return items(m, 0)
	case *jobj:
		m, ok := feedText(m, "{")
		if !ok {
			return false
		}
		var members func(m *gbnf.Matcher, rest []string) bool
		members = func(m *gbnf.Matcher, rest []string) bool {
			if len(rest) == 0 {
				m2, ok := feedText(m, "}")
				return ok && k(m2)
			}
			first := len(rest) == len(x.keys)
			for i, key := range rest {
				head := jsonQuote(key) + ":"
				if !first {
					head = "," + head
				}
				m2, ok := feedText(m, head)
				if !ok {
					continue
				}
				others := append(append([]string(nil), rest[:i]...), rest[i+1:]...)
				if feedValue(m2, x.vals[key], budget, func(m *gbnf.Matcher) bool { return members(m, others) }) {
					return true
				}
			}
			return false
		}
		return members(m, x.keys)
	default:
		m2, ok := feedText(m, canonicalScalar(v))
		return ok && k(m2)
	}
}

func TestCanonicalInstances(t *testing.T) {
	v, err := decodeJSON([]byte(`{"b":[1.0,-0,1e2,"a\"\n\u0001é"],"a":null}`))
	require.NoError(t, err)
	o := v.(*jobj)
	var parts []string
	for _, x := range o.vals["b"].([]any) {
		parts = append(parts, canonicalScalar(x))
	}
	assert.Equal(t, []string{"1", "0", "100", `"a\"\n\u0001é"`}, parts)
}
