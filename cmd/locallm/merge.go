package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func init() {
	register(&command{
		name: "merge",
		summary: `Join the outputs of a sharded generate job into one JSONL file.

Every id must appear exactly once across the shards, and each shard's output
must be whole (a torn last line means that shard has not finished: run it
again to resume it). With -input, every input id must be present too, no
other id may be, and the rows are written in input order; without it, in
the order of the files given. The output is written to a temporary file and
renamed, so it appears only when complete.`,
		usage: "-o OUT.jsonl [-input IN.jsonl] [-allow-missing] SHARD.jsonl...",
		setup: setupMerge,
	})
}

func setupMerge(fs *flag.FlagSet) func(context.Context, []string) error {
	out := fs.String("o", "", "merged output file (required)")
	fs.StringVar(out, "output", "", "same as -o")
	input := fs.String("input", "", "the job's input: check that each of its ids is present, and keep its order")
	allowMissing := fs.Bool("allow-missing", false, "with -input, report input ids that no shard holds (failed rows) instead of failing")
	return func(ctx context.Context, args []string) error {
		// Flags may follow the shard files too: `merge shard*.jsonl -o out.jsonl`.
		var files []string
		for len(args) > 0 {
			files = append(files, args[0])
			if err := fs.Parse(args[1:]); err != nil {
				return &exitError{code: 2, err: err}
			}
			args = fs.Args()
		}
		if *out == "" {
			return usageError("-o is required")
		}
		if len(files) == 0 {
			return usageError("no shard outputs given")
		}
		res, err := mergeShards(*out, files, *input, *allowMissing)
		if err != nil {
			return err
		}
		msg := fmt.Sprintf("locallm: merged %d rows from %d files into %s", res.rows, len(files), *out)
		if len(res.missing) > 0 {
			msg += fmt.Sprintf("; %d input ids are missing: %s", len(res.missing), listSome(res.missing, 10))
		}
		fmt.Fprintln(stderr, msg)
		return nil
	}
}

// shardRow is where one row lies in the shard outputs.
type shardRow struct {
	file   int
	off    int64
	length int
}

type mergeResult struct {
	rows    int
	missing []string
}

// mergeShards checks the shard outputs and writes their rows to out.
func mergeShards(out string, files []string, input string, allowMissing bool) (mergeResult, error) {
	var res mergeResult
	rows := map[string]shardRow{}
	where := map[string]string{} // id key → "file:line", for messages
	var order []string
	var problems []string
	ndup := 0
	var stats []os.FileInfo
	for fi, name := range files {
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
		f, err := os.Open(name)
		if err != nil {
			return res, err
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
				return res, fmt.Errorf("%s: %w", name, err)
			}
			if err == io.EOF {
				f.Close()
				return res, fmt.Errorf("%s: line %d is incomplete: that shard has not finished; run it again to resume it, then merge", name, line)
			}
			start := off
			off += int64(len(b))
			if isBlank(b) {
				continue
			}
			var row struct {
				ID json.RawMessage `json:"id"`
			}
			key := ""
			if json.Unmarshal(b, &row) == nil {
				key, _ = idKey(row.ID)
			}
			if key == "" {
				f.Close()
				return res, fmt.Errorf("%s: line %d is not a JSON row with an id", name, line)
			}
			pos := fmt.Sprintf("%s:%d", name, line)
			if first, dup := where[key]; dup {
				ndup++
				if len(problems) < 10 {
					problems = append(problems, fmt.Sprintf("id %s in %s and %s", row.ID, first, pos))
				}
				continue
			}
			where[key] = pos
			rows[key] = shardRow{file: fi, off: start, length: len(b)}
			order = append(order, key)
		}
		f.Close()
	}
	if ndup > 0 {
		return res, fmt.Errorf("%d ids appear more than once (were two shards given the same index, or one output merged twice?): %s", ndup, strings.Join(problems, "; "))
	}
	if input != "" {
		inOrder, err := inputIDs(input)
		if err != nil {
			return res, err
		}
		inSet := make(map[string]bool, len(inOrder))
		var kept []string
		for _, k := range inOrder {
			inSet[k] = true
			if _, ok := rows[k]; ok {
				kept = append(kept, k)
			} else {
				res.missing = append(res.missing, k)
			}
		}
		var extra []string
		for _, k := range order {
			if !inSet[k] {
				extra = append(extra, k)
			}
		}
		if len(extra) > 0 {
			return res, fmt.Errorf("%d ids are not in %s (outputs of another job?): %s", len(extra), input, listSome(extra, 10))
		}
		if len(res.missing) > 0 && !allowMissing {
			return res, fmt.Errorf("%d ids of %s are in no shard output: %s; a shard may not have run or finished (run it again), or the rows failed (see the shards' .errors.jsonl files; -allow-missing merges without them)", len(res.missing), input, listSome(res.missing, 10))
		}
		order = kept
	}
	if err := writeMerged(out, files, rows, order); err != nil {
		return res, err
	}
	res.rows = len(order)
	return res, nil
}

// inputIDs lists the id keys of an input file in order. Lines without a
// usable id are left out: a job reports them in its errors file.
func inputIDs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var keys []string
	seen := map[string]bool{}
	lr := newLineReader(f)
	for {
		b, err := lr.next()
		if err == io.EOF {
			return keys, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		var row struct {
			ID json.RawMessage `json:"id"`
		}
		if isBlank(b) || json.Unmarshal(b, &row) != nil {
			continue
		}
		k, err := idKey(row.ID)
		if err != nil {
			continue
		}
		if seen[k] {
			return nil, fmt.Errorf("%s: id %s appears more than once", path, row.ID)
		}
		seen[k] = true
		keys = append(keys, k)
	}
}

// writeMerged copies the rows, in order, to a temporary file beside out and
// renames it to out.
func writeMerged(out string, files []string, rows map[string]shardRow, order []string) (err error) {
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
	return writeFileAtomic(out, func(w io.Writer) error {
		var buf []byte
		for _, k := range order {
			r := rows[k]
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
	same, err := sameFile(shardFile, out)
	if same {
		return usageError("-o %s is one of the shard outputs", out)
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
