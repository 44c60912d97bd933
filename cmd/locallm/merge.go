package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/locallm/locallm/cmd/locallm/internal/job"
	"github.com/locallm/locallm/cmd/locallm/internal/npyout"
)

const mergeSummary = `Join the outputs of a sharded generate, embed or hidden job into one.

Every id must appear exactly once across the shards, and each shard's output
must be whole (a torn last line, or a .npy.part file beside an .npy, means
that shard has not finished: run it again to resume it). With --input, every
input id must be present too, no other id may be, and the rows are written in
input order; without it, in the order of the files given. Shards of embed
and hidden (SHARD.npy, with their .ids.json, and for hidden .tokens.npy and
.offsets.npy) are joined into OUT.npy and its side files, as one run writes
them. The output is written to temporary files and renamed, so it appears
only when complete.`

func mergeCmd() *cobra.Command {
	var out, input string
	var allowMissing bool
	c := newCommand(&cobra.Command{
		Use:   "merge --output OUT.jsonl|OUT.npy [--input IN.jsonl] [--allow-missing] SHARD.jsonl...|SHARD.npy...",
		Short: "Join the outputs of a sharded generate, embed or hidden job into one",
		Long:  mergeSummary,
		Args:  cobra.ArbitraryArgs,
	}, func(ctx context.Context, files []string) error {
		if out == "" {
			return usageError("--output is required")
		}
		if len(files) == 0 {
			return usageError("no shard outputs given: name them after the flags")
		}
		if err := checkOutputPath("--output", out); err != nil {
			return err
		}
		if input != "" {
			if err := checkInputPath("--input", input); err != nil {
				return err
			}
		}
		for _, f := range files {
			if err := checkInputPath("shard output", f); err != nil {
				return err
			}
		}
		res, err := mergeShards(out, files, input, allowMissing)
		if err != nil {
			return err
		}
		msg := fmt.Sprintf("locallm: merged %d rows from %d files into %s", res.rows, len(files), out)
		if len(res.missing) > 0 {
			msg += fmt.Sprintf("; %d input ids are missing: %s", len(res.missing), listSome(res.missing, 10))
		}
		fmt.Fprintln(stderr, msg)
		return nil
	})
	fs := c.Flags()
	fs.StringVarP(&out, "output", "o", "", "merged output `FILE` (required)")
	fs.StringVarP(&input, "input", "i", "", "the job's input `FILE`: check that each of its ids is present, and keep its order")
	fs.BoolVar(&allowMissing, "allow-missing", false, "with --input, report input ids that no shard holds (failed rows) instead of failing")
	return c
}

// mergeRow is one row of one shard output.
type mergeRow struct {
	key  string
	id   string // as written, for messages
	pos  string // "file:line" or "file row i", for messages
	file int
	// A JSONL row lies at off, length bytes; an .npy row is row i.
	off    int64
	length int
	i      int
}

type mergeResult struct {
	rows    int
	missing []string
}

// mergeShards checks the shard outputs and writes their rows to out: JSONL
// lines, or .npy arrays when the shards are .npy files.
func mergeShards(out string, files []string, input string, allowMissing bool) (mergeResult, error) {
	var res mergeResult
	var stats []os.FileInfo
	arrays := 0
	for _, name := range files {
		if err := samePathAs(name, out); err != nil {
			return res, err
		}
		st, err := os.Stat(name)
		if err != nil {
			return res, err
		}
		for k, prev := range stats {
			if os.SameFile(st, prev) {
				return res, usageError("%s is given twice (as %s too)", name, files[k])
			}
		}
		stats = append(stats, st)
		if strings.HasSuffix(name, ".npy") {
			arrays++
		}
	}
	switch {
	case arrays == 0 && strings.HasSuffix(out, ".npy"):
		return res, usageError("--output %s is an .npy file but the shards are not", out)
	case arrays == 0:
		return mergeLines(out, files, input, allowMissing)
	case arrays < len(files):
		return res, usageError("give the .npy outputs of embed or hidden, or the JSONL outputs of generate, not both")
	case !strings.HasSuffix(out, ".npy"):
		return res, usageError("--output %s: the shards are .npy files, so must the output be", out)
	}
	return mergeArrays(out, files, input, allowMissing)
}

// mergeLines merges generate's JSONL shard outputs.
func mergeLines(out string, files []string, input string, allowMissing bool) (mergeResult, error) {
	var rows []mergeRow
	for fi, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return mergeResult{}, err
		}
		r := bufio.NewReaderSize(f, 1<<20)
		var off int64
		for line := 1; ; line++ {
			b, err := r.ReadBytes('\n')
			if len(b) == 0 && err == io.EOF {
				break
			}
			if err != nil && err != io.EOF {
				f.Close()
				return mergeResult{}, fmt.Errorf("%s: %w", name, err)
			}
			if err == io.EOF {
				f.Close()
				return mergeResult{}, fmt.Errorf("%s: line %d is incomplete: that shard has not finished; run it again to resume it, then merge", name, line)
			}
			start := off
			off += int64(len(b))
			if job.IsBlank(b) {
				continue
			}
			key, id, err := job.RowID(b)
			if err != nil {
				f.Close()
				return mergeResult{}, fmt.Errorf("%s: line %d is not a JSON row with an id", name, line)
			}
			rows = append(rows, mergeRow{key: key, id: string(id), pos: fmt.Sprintf("%s:%d", name, line), file: fi, off: start, length: len(b)})
		}
		f.Close()
	}
	order, res, err := mergeOrder(rows, input, allowMissing)
	if err != nil {
		return res, err
	}
	if err := writeMerged(out, files, order); err != nil {
		return res, err
	}
	res.rows = len(order)
	return res, nil
}

// mergeArrays merges the .npy outputs of embed or hidden shards.
func mergeArrays(out string, files []string, input string, allowMissing bool) (mergeResult, error) {
	var outs []*npyout.Output
	defer func() {
		for _, o := range outs {
			o.Close()
		}
	}()
	var rows []mergeRow
	for fi, name := range files {
		o, err := npyout.OpenOutput(name)
		if err != nil {
			return mergeResult{}, err
		}
		outs = append(outs, o)
		if o.Kind != outs[0].Kind {
			return mergeResult{}, fmt.Errorf("%s is the output of %s, %s of %s", name, o.Kind, files[0], outs[0].Kind)
		}
		if l, h := o.Dims(); fi > 0 {
			if l0, h0 := outs[0].Dims(); l != l0 || h != h0 {
				return mergeResult{}, fmt.Errorf("%s has %d layers of %d, %s %d of %d: were the shards run with other settings?", name, l, h, files[0], l0, h0)
			}
		}
		for i := range o.Len() {
			rows = append(rows, mergeRow{key: o.Key(i), id: fmt.Sprintf("%q", o.Key(i)), pos: fmt.Sprintf("%s row %d", name, i), file: fi, i: i})
		}
	}
	order, res, err := mergeOrder(rows, input, allowMissing)
	if err != nil {
		return res, err
	}
	refs := make([]npyout.Ref, len(order))
	for k, r := range order {
		refs[k] = outs[r.file].Ref(r.i)
	}
	layers, hidden := outs[0].Dims()
	if err := npyout.Write(outs[0].Kind, out, refs, layers, hidden); err != nil {
		return res, err
	}
	res.rows = len(order)
	return res, nil
}

// mergeOrder checks that no id is in two shards and, with an input, that
// the shards hold exactly its ids (or a part of them, with allowMissing),
// and returns the rows to write: in input order, or as given.
func mergeOrder(rows []mergeRow, input string, allowMissing bool) ([]mergeRow, mergeResult, error) {
	var res mergeResult
	byKey := make(map[string]int, len(rows))
	var problems []string
	ndup := 0
	order := rows[:0:0]
	for k, r := range rows {
		if first, dup := byKey[r.key]; dup {
			ndup++
			if len(problems) < 10 {
				problems = append(problems, fmt.Sprintf("id %s in %s and %s", r.id, rows[first].pos, r.pos))
			}
			continue
		}
		byKey[r.key] = k
		order = append(order, r)
	}
	if ndup > 0 {
		return nil, res, fmt.Errorf("%d ids appear more than once (were two shards given the same index, or one output merged twice?): %s", ndup, strings.Join(problems, "; "))
	}
	if input == "" {
		return order, res, nil
	}
	inOrder, err := job.InputKeys(input, job.Shard{})
	if err != nil {
		return nil, res, err
	}
	inSet := make(map[string]bool, len(inOrder))
	var kept []mergeRow
	for _, k := range inOrder {
		inSet[k] = true
		if i, ok := byKey[k]; ok {
			kept = append(kept, rows[i])
		} else {
			res.missing = append(res.missing, k)
		}
	}
	var extra []string
	for _, r := range order {
		if !inSet[r.key] {
			extra = append(extra, r.key)
		}
	}
	if len(extra) > 0 {
		return nil, res, fmt.Errorf("%d ids are not in %s (outputs of another job?): %s", len(extra), input, listSome(extra, 10))
	}
	if len(res.missing) > 0 && !allowMissing {
		return nil, res, fmt.Errorf("%d ids of %s are in no shard output: %s; a shard may not have run or finished (run it again), or the rows failed (see the shards' .errors.jsonl files; --allow-missing merges without them)", len(res.missing), input, listSome(res.missing, 10))
	}
	return kept, res, nil
}

// writeMerged copies the JSONL rows, in order, to a temporary file beside
// out and renames it to out.
func writeMerged(out string, files []string, order []mergeRow) (err error) {
	srcs := make([]*os.File, len(files))
	defer func() {
		for _, f := range srcs {
			if f != nil {
				f.Close()
			}
		}
	}()
	for i, name := range files {
		if srcs[i], err = os.Open(name); err != nil {
			return err
		}
	}
	return job.WriteFileAtomic(out, func(w io.Writer) error {
		var buf []byte
		for _, r := range order {
			if cap(buf) < r.length {
				buf = make([]byte, r.length)
			}
			b := buf[:r.length]
			if _, err := srcs[r.file].ReadAt(b, r.off); err != nil {
				return fmt.Errorf("%s: %w", files[r.file], err)
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// samePathAs refuses to overwrite a shard output with the merge.
func samePathAs(shardFile, out string) error {
	same, err := job.SameFile(shardFile, out)
	if same {
		return usageError("--output %s is one of the shard outputs", out)
	}
	return err
}

// listSome lists the first n keys, quoted, and how many more there are.
func listSome(keys []string, n int) string {
	var q []string
	for _, k := range keys[:min(n, len(keys))] {
		q = append(q, fmt.Sprintf("%q", k))
	}
	s := strings.Join(q, ", ")
	if len(keys) > n {
		s += fmt.Sprintf(" and %d more", len(keys)-n)
	}
	return s
}
