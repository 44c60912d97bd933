package jsonschema

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

type benchSchema struct {
	schema []byte
	opts   *Options
}

func suiteSchemas(b testing.TB) []benchSchema {
	var out []benchSchema
	for _, file := range suiteFiles(b) {
		formats := strings.Contains(filepath.ToSlash(file), "optional/format")
		for _, g := range readGroups(b, file) {
			out = append(out, benchSchema{schema: []byte(g.Schema), opts: &Options{FormatAssertion: formats, Loader: suiteLoader}})
		}
	}
	return out
}

// BenchmarkCompileSuite compiles every schema of the test suite and
// reports the median and 99th percentile of one compilation (schemas the
// compiler rejects are timed too: rejecting is work as well). Automata of
// formats are built once per process; the warm-up pass builds them.
func BenchmarkCompileSuite(b *testing.B) {
	schemas := suiteSchemas(b)
	for _, s := range schemas { // warm-up
		_, _ = Compile(s.schema, s.opts)
	}
	var times []time.Duration
	b.ResetTimer()
	for b.Loop() {
		for _, s := range schemas {
			start := time.Now()
			_, _ = Compile(s.schema, s.opts)
			times = append(times, time.Since(start))
		}
	}
	b.StopTimer()
	slices.Sort(times)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(times[len(times)/2]), "p50-ms")
	b.ReportMetric(ms(times[len(times)*99/100]), "p99-ms")
	b.ReportMetric(ms(times[len(times)-1]), "max-ms")
	b.ReportMetric(float64(len(schemas)), "schemas")
}

// BenchmarkCompileLarge compiles a schema with bounds far above llama.cpp's
// repetition limit.
func BenchmarkCompileLarge(b *testing.B) {
	schema := []byte(`{"type":"object","properties":{"text":{"type":"string","maxLength":100000},"items":{"type":"array","items":{"type":"integer","minimum":0,"maximum":1000000},"maxItems":5000}},"required":["text","items"]}`)
	for b.Loop() {
		if _, err := Compile(schema, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompilePatternProperties compiles an object whose keys fall
// under eight overlapping patterns with Unicode classes, as schemas of
// tuple-keyed maps write them: every subset of the patterns is a region of
// keys, and the compiler intersects their automata.
func BenchmarkCompilePatternProperties(b *testing.B) {
	props := map[string]any{}
	for k := 1; k <= 4; k++ {
		props[fmt.Sprintf(`^\(\s*('[^']*'\s*,\s*){%d}'[^']*'\s*\)$`, k-1)] = map[string]any{"type": "number"}
		props[fmt.Sprintf(`^\(\s*('[^']*'\s*,\s*){%d}'[^']*'(\s*,\s*'[IR]{%d}')?\s*,?\s*\)$`, k-1, k)] = map[string]any{"type": "number", "minimum": 0}
	}
	schema, err := json.Marshal(map[string]any{"type": "object", "patternProperties": props, "additionalProperties": false})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Compile(schema, GenerationOptions()); err != nil {
			b.Fatal(err)
		}
	}
}
