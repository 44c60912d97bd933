package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMerge(t *testing.T) {
	row := func(id string) string {
		return `{"id":` + id + `,"generations":["g"],"finish_reasons":["eos"],"statistics":{"input_tokens":1,"output_tokens":[1]}}`
	}
	for _, tc := range []struct {
		name         string
		shards       [][]string // lines of each shard file
		raw          []string   // the whole text of a shard, where lines cannot say it
		input        []string
		allowMissing bool
		want         []string // ids of the merged rows, in order
		missing      []string
		err          string
	}{
		{
			name:   "two shards",
			shards: [][]string{{row(`"b"`), row(`"a"`)}, {row(`3`)}},
			want:   []string{`"b"`, `"a"`, `3`},
		},
		{
			name:   "input order",
			shards: [][]string{{row(`"b"`), row(`"a"`)}, {row(`3`)}},
			input:  []string{`{"id": 3, "prompt": "x"}`, `{"id": "a", "prompt": "x"}`, `bad line`, `{"id": "b", "prompt": "x"}`},
			want:   []string{`3`, `"a"`, `"b"`},
		},
		{
			name:   "duplicate across shards",
			shards: [][]string{{row(`"a"`)}, {row(`"a"`)}},
			err:    `1 ids appear more than once`,
		},
		{
			name:   "numeric and string id are one id",
			shards: [][]string{{row(`7`)}, {row(`"7"`)}},
			err:    `more than once`,
		},
		{
			name:   "missing input id",
			shards: [][]string{{row(`"a"`)}},
			input:  []string{`{"id": "a", "prompt": "x"}`, `{"id": "b", "prompt": "x"}`},
			err:    `1 ids of`,
		},
		{
			name:         "missing input id allowed",
			shards:       [][]string{{row(`"a"`)}},
			input:        []string{`{"id": "a", "prompt": "x"}`, `{"id": "b", "prompt": "x"}`},
			allowMissing: true,
			want:         []string{`"a"`},
			missing:      []string{"b"},
		},
		{
			name:   "id not in the input",
			shards: [][]string{{row(`"a"`), row(`"z"`)}},
			input:  []string{`{"id": "a", "prompt": "x"}`},
			err:    `1 ids are not in`,
		},
		{
			name: "torn shard",
			raw:  []string{row(`"a"`) + "\n" + `{"id":"b","gen`},
			err:  "line 2 is incomplete",
		},
		{
			name:   "not a row",
			shards: [][]string{{row(`"a"`), `{"generations": []}`}},
			err:    "line 2 is not a JSON row",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var files []string
			for i, lines := range tc.shards {
				p := filepath.Join(dir, "shard"+string(rune('0'+i))+".jsonl")
				writeLines(t, p, lines...)
				files = append(files, p)
			}
			for i, text := range tc.raw {
				p := filepath.Join(dir, "raw"+string(rune('0'+i))+".jsonl")
				require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
				files = append(files, p)
			}
			input := ""
			if tc.input != nil {
				input = filepath.Join(dir, "in.jsonl")
				writeLines(t, input, tc.input...)
			}
			out := filepath.Join(dir, "merged.jsonl")
			res, err := mergeShards(out, files, input, tc.allowMissing)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				assert.NoFileExists(t, out, "nothing is written on failure")
				left, _ := filepath.Glob(filepath.Join(dir, ".merged*"))
				assert.Empty(t, left, "no temporary file is left")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.missing, res.missing)
			data, err := os.ReadFile(out)
			require.NoError(t, err)
			var want bytes.Buffer
			for _, id := range tc.want {
				want.WriteString(row(id) + "\n")
			}
			assert.Equal(t, want.String(), string(data))
		})
	}
}

func TestMergeCommand(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	writeLines(t, a, `{"id":"x","generations":[]}`)
	writeLines(t, b, `{"id":"y","generations":[]}`)
	out := filepath.Join(dir, "out.jsonl")
	var o, e bytes.Buffer
	// Flags after the files are read too.
	code := run([]string{"merge", a, b, "-o", out}, &o, &e)
	require.Equal(t, 0, code, e.String())
	assert.Contains(t, e.String(), "merged 2 rows from 2 files")
	assert.FileExists(t, out)

	e.Reset()
	assert.Equal(t, 2, run([]string{"merge", a, a, "-o", out}, &o, &e))
	assert.Contains(t, e.String(), "given twice")
	e.Reset()
	assert.Equal(t, 2, run([]string{"merge", a, "-o", a}, &o, &e))
	assert.Contains(t, e.String(), "is one of the shard outputs")
	e.Reset()
	assert.Equal(t, 2, run([]string{"merge", a}, &o, &e))
	assert.Contains(t, e.String(), "--output is required")
}
