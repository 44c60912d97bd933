package npyout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/locallm/locallm/cmd/locallm/internal/job"
	"github.com/locallm/locallm/hiddenstates"
	"github.com/locallm/locallm/llm"
)

const (
	testLayers = 3
	testHidden = 5
)

// fakeStates are a row's hidden states without a model: a token per word,
// each value a hash of the word, the layer and the column.
func fakeStates(text string) llm.HiddenStates {
	words := strings.Fields(text)
	var h llm.HiddenStates
	for i, w := range words {
		f := fnv.New32a()
		f.Write([]byte(w))
		h.Tokens = append(h.Tokens, int32(f.Sum32()%1000)+int32(i))
	}
	for k := range testLayers {
		m := mat.NewDense(len(words), testHidden, nil)
		for i, w := range words {
			for j := range testHidden {
				f := fnv.New32a()
				fmt.Fprintf(f, "%s/%d/%d", w, k, j)
				m.Set(i, j, float64(f.Sum32()%10000)/1000-5)
			}
		}
		h.States = append(h.States, m)
	}
	return h
}

// testRun runs a kind of job over in into out with the fake states. Rows
// whose text is FAIL fail; BLOCK blocks until cancelled.
func testRun(ctx context.Context, kind Kind, in, out string, shard job.Shard, calls *atomic.Int64, started chan<- struct{}) (job.Summary, error) {
	s := job.Spec[string]{
		Input: in, Shard: shard, Errors: job.ErrorsPath(out), Batch: 2,
		Parse: func(line []byte) (string, error) {
			var r struct{ Text string }
			if err := json.Unmarshal(line, &r); err != nil || r.Text == "" {
				return "", errors.New("no text")
			}
			return r.Text, nil
		},
		Process: func(ctx context.Context, rows []job.Task[string]) ([]job.Result, error) {
			var res []job.Result
			for _, r := range rows {
				if calls != nil {
					calls.Add(1)
				}
				if started != nil {
					started <- struct{}{}
				}
				switch r.Row {
				case "FAIL":
					res = append(res, job.Result{Err: errors.New("failed")})
					continue
				case "BLOCK":
					<-ctx.Done()
					return nil, ctx.Err()
				}
				h := fakeStates(r.Row)
				rec := HiddenRecord(h)
				if kind == Embed {
					rec = EmbedRecord(hiddenstates.Pool(nil, h.States[1], nil, hiddenstates.Mean))
				}
				res = append(res, job.Result{Record: rec})
			}
			return res, nil
		},
	}
	return Run(ctx, Options{Kind: kind, Output: out, Meta: []byte(`{"test":1}`), Layers: testLayers, Hidden: testHidden}, s)
}

func testInput(t *testing.T, dir string, n int) (string, []string) {
	t.Helper()
	var lines []string
	for i := range n {
		lines = append(lines, fmt.Sprintf(`{"id": "r%d", "text": "%s"}`, i, strings.Repeat(fmt.Sprintf("w%d ", i%7), 1+i%4)))
	}
	return writeLines(t, filepath.Join(dir, "in.jsonl"), lines), lines
}

func writeLines(t *testing.T, path string, lines []string) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	return path
}

// readFiles reads an output's files, by their suffix (".npy",
// ".ids.json", ...).
func readFiles(t *testing.T, kind Kind, out string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, f := range kind.Files(out) {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		files[strings.TrimPrefix(f, strings.TrimSuffix(out, ".npy"))] = data
	}
	return files
}

// The outputs hold each row in input order, as the fake states give them.
func TestRunWritesRowsInInputOrder(t *testing.T) {
	for _, kind := range []Kind{Embed, Hidden} {
		t.Run(kind.String(), func(t *testing.T) {
			dir := t.TempDir()
			in, lines := testInput(t, dir, 9)
			lines[4] = `{"id": "r4", "text": "FAIL"}`
			lines[6] = `{"id": 6}`
			writeLines(t, in, lines)
			out := filepath.Join(dir, "out.npy")
			sum, err := testRun(context.Background(), kind, in, out, job.Shard{}, nil, nil)
			require.NoError(t, err)
			assert.Equal(t, 7, sum.Done)
			assert.Equal(t, 2, sum.Failed)
			assert.NoFileExists(t, PartPath(out), "the part log goes once joined")

			var want []llm.HiddenStates
			var ids []string
			for i, l := range lines {
				if i == 4 || i == 6 {
					continue
				}
				var r struct{ Text string }
				require.NoError(t, json.Unmarshal([]byte(l), &r))
				want = append(want, fakeStates(r.Text))
				ids = append(ids, fmt.Sprintf("%q", fmt.Sprintf("r%d", i)))
			}
			idData, err := os.ReadFile(SidePath(out, ".ids.json"))
			require.NoError(t, err)
			assert.JSONEq(t, "["+strings.Join(ids, ",")+"]", string(idData))
			shape, data := readNPY[float32](t, out)
			if kind == Embed {
				require.Equal(t, []int{7, testHidden}, shape)
				for r, h := range want {
					v := hiddenstates.Pool(nil, h.States[1], nil, hiddenstates.Mean)
					for j := range testHidden {
						assert.Equal(t, float32(v[j]), data[r*testHidden+j])
					}
				}
				return
			}
			_, toks := readNPY[int32](t, SidePath(out, ".tokens.npy"))
			_, offs := readNPY[int64](t, SidePath(out, ".offsets.npy"))
			total := int(offs[len(offs)-1])
			require.Equal(t, []int{testLayers, total, testHidden}, shape)
			require.Len(t, offs, 8)
			for r, h := range want {
				assert.Equal(t, h.Tokens, toks[offs[r]:offs[r+1]])
				for k := range testLayers {
					for i := range len(h.Tokens) {
						for j := range testHidden {
							assert.Equal(t, float32(h.States[k].At(i, j)), data[(k*total+int(offs[r])+i)*testHidden+j])
						}
					}
				}
			}
		})
	}
}

func readNPY[T hiddenstates.Elem](t *testing.T, path string) ([]int, []T) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	shape, data, err := hiddenstates.ReadNPY[T](f)
	require.NoError(t, err)
	return shape, data
}

// Interrupted at any moment, with any torn tail in its part log, a job
// resumed to the end writes the same bytes as one run without a stop, and
// runs each row once.
func TestResumeGivesTheSameFiles(t *testing.T) {
	for _, kind := range []Kind{Embed, Hidden} {
		t.Run(kind.String(), func(t *testing.T) {
			dir := t.TempDir()
			in, lines := testInput(t, dir, 30)
			whole := filepath.Join(dir, "whole.npy")
			_, err := testRun(context.Background(), kind, in, whole, job.Shard{}, nil, nil)
			require.NoError(t, err)
			want := readFiles(t, kind, whole)

			for _, stopAt := range []int{1, 7, 29} {
				out := filepath.Join(dir, fmt.Sprintf("out%d.npy", stopAt))
				blocked := append([]string(nil), lines...)
				blocked[stopAt] = fmt.Sprintf(`{"id": "r%d", "text": "BLOCK"}`, stopAt)
				writeLines(t, in, blocked)
				ctx, cancel := context.WithCancel(context.Background())
				started := make(chan struct{}, 100)
				go func() {
					for range stopAt + 1 {
						<-started
					}
					cancel()
				}()
				_, err := testRun(ctx, kind, in, out, job.Shard{}, nil, started)
				require.ErrorIs(t, err, context.Canceled)
				assert.NoFileExists(t, out, "no output before the end")
				// Tear the part log's last record, as a kill mid-write would.
				part := PartPath(out)
				st, err := os.Stat(part)
				require.NoError(t, err)
				require.NoError(t, os.Truncate(part, st.Size()-3))

				writeLines(t, in, lines)
				var calls atomic.Int64
				sum, err := testRun(context.Background(), kind, in, out, job.Shard{}, &calls, nil)
				require.NoError(t, err)
				assert.Equal(t, 30, sum.Skipped+sum.Done)
				assert.Equal(t, int64(sum.Done), calls.Load(), "rows kept are not run again")
				if stopAt > 2 {
					assert.Equal(t, stopAt-stopAt%2-1, sum.Skipped, "whole batches before the stop, less the torn one")
				}
				assert.Equal(t, want, readFiles(t, kind, out), "stopped at row %d", stopAt)
			}
		})
	}
}

// Shards' outputs written together equal one run over the whole input;
// an unfinished shard is refused.
func TestShardsWriteTogether(t *testing.T) {
	for _, kind := range []Kind{Embed, Hidden} {
		t.Run(kind.String(), func(t *testing.T) {
			dir := t.TempDir()
			in, _ := testInput(t, dir, 40)
			whole := filepath.Join(dir, "whole.npy")
			_, err := testRun(context.Background(), kind, in, whole, job.Shard{}, nil, nil)
			require.NoError(t, err)
			at := map[string]Ref{}
			for i := range 3 {
				out := filepath.Join(dir, fmt.Sprintf("shard%d.npy", i))
				_, err := testRun(context.Background(), kind, in, out, job.Shard{Index: i, Count: 3}, nil, nil)
				require.NoError(t, err)
				o, err := OpenOutput(out)
				require.NoError(t, err)
				defer o.Close()
				assert.Equal(t, kind, o.Kind)
				for r := range o.Len() {
					at[o.Key(r)] = o.Ref(r)
				}
			}
			keys, err := job.InputKeys(in, job.Shard{})
			require.NoError(t, err)
			var refs []Ref
			for _, k := range keys {
				refs = append(refs, at[k])
			}
			merged := filepath.Join(dir, "merged.npy")
			layers := testLayers
			if kind == Embed {
				layers = 1
			}
			require.NoError(t, Write(kind, merged, refs, layers, testHidden))
			assert.Equal(t, readFiles(t, kind, whole), readFiles(t, kind, merged))

			require.NoError(t, os.WriteFile(PartPath(filepath.Join(dir, "shard1.npy")), nil, 0o644))
			_, err = OpenOutput(filepath.Join(dir, "shard1.npy"))
			assert.ErrorContains(t, err, "has not finished")
		})
	}
}

// A finished output is kept when the job runs again: only rows it lacks
// run, and the result equals one run over the new input.
func TestRunKeepsAFinishedOutput(t *testing.T) {
	for _, kind := range []Kind{Embed, Hidden} {
		t.Run(kind.String(), func(t *testing.T) {
			dir := t.TempDir()
			in, lines := testInput(t, dir, 12)
			out := filepath.Join(dir, "out.npy")
			failing := append([]string(nil), lines...)
			failing[5] = `{"id": "r5", "text": "FAIL"}`
			writeLines(t, in, failing)
			_, err := testRun(context.Background(), kind, in, out, job.Shard{}, nil, nil)
			require.NoError(t, err)

			writeLines(t, in, append(lines, `{"id": "new", "text": "a new row"}`))
			var calls atomic.Int64
			sum, err := testRun(context.Background(), kind, in, out, job.Shard{}, &calls, nil)
			require.NoError(t, err)
			assert.Equal(t, int64(2), calls.Load(), "the failed row and the new one")
			assert.Equal(t, 11, sum.Skipped)

			whole := filepath.Join(dir, "whole.npy")
			_, err = testRun(context.Background(), kind, in, whole, job.Shard{}, nil, nil)
			require.NoError(t, err)
			assert.Equal(t, readFiles(t, kind, whole), readFiles(t, kind, out))
		})
	}
}

func TestRunRefusesOtherSettings(t *testing.T) {
	dir := t.TempDir()
	in, _ := testInput(t, dir, 3)
	out := filepath.Join(dir, "out.npy")
	log, err := job.OpenRecords(PartPath(out), []byte(`{"test":2}`))
	require.NoError(t, err)
	require.NoError(t, log.Close())
	_, err = testRun(context.Background(), Hidden, in, out, job.Shard{}, nil, nil)
	assert.ErrorIs(t, err, job.ErrMeta)
}

// A shard without a good row still writes its (empty) outputs, of the
// right shape, so that merge finds every shard finished.
func TestRunWithoutRows(t *testing.T) {
	for _, kind := range []Kind{Embed, Hidden} {
		t.Run(kind.String(), func(t *testing.T) {
			dir := t.TempDir()
			in := writeLines(t, filepath.Join(dir, "in.jsonl"), []string{`{"id": 1, "text": "FAIL"}`})
			out := filepath.Join(dir, "out.npy")
			sum, err := testRun(context.Background(), kind, in, out, job.Shard{}, nil, nil)
			require.NoError(t, err)
			assert.Equal(t, 1, sum.Failed)
			o, err := OpenOutput(out)
			require.NoError(t, err)
			defer o.Close()
			assert.Zero(t, o.Len())
			shape, _ := readNPY[float32](t, out)
			if kind == Embed {
				assert.Equal(t, []int{0, testHidden}, shape)
			} else {
				assert.Equal(t, []int{testLayers, 0, testHidden}, shape)
			}
		})
	}
}

// An output of the other kind is refused, every time, and left as it is.
func TestRunRefusesAnOutputOfAnotherKind(t *testing.T) {
	dir := t.TempDir()
	in, _ := testInput(t, dir, 4)
	out := filepath.Join(dir, "out.npy")
	_, err := testRun(context.Background(), Embed, in, out, job.Shard{}, nil, nil)
	require.NoError(t, err)
	before := readFiles(t, Embed, out)
	for range 2 {
		_, err = testRun(context.Background(), Hidden, in, out, job.Shard{}, nil, nil)
		require.ErrorContains(t, err, "is the output of embed, not hidden")
		assert.NoFileExists(t, PartPath(out))
	}
	assert.Equal(t, before, readFiles(t, Embed, out))
}
