package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/locallm/locallm/hiddenstates"
	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llm"
)

func init() {
	register(&command{
		name:    "hidden",
		summary: hiddenSummary,
		usage:   "-model FILE (-prompt TEXT | -input IN.jsonl) [-layers -1,0,...] -output FILE.npy",
		setup:   setupHidden,
	})
}

const hiddenSummary = `Write the hidden states of a prompt, or of every row of a JSONL file, as .npy arrays.

Layers are numbered as Hugging Face numbers hidden_states: 0 is the token
embeddings, i the output of block i, n_layer the final normed output (the
last_hidden_state); negative numbers count from the end, so -1 is the last.
For results that agree with a float32 reference use -cache-type f32 -flash-attn off.

With -prompt TEXT (special tokens added, as for generation):
  FILE.npy         float32 [len(layers), tokens, hidden], layers in the order given
  FILE.tokens.npy  int32 [tokens], the token ids
With -input IN.jsonl (rows {"id": ..., "prompt": ... | "messages": [...]}), the
rows' tokens are concatenated, in input order:
  FILE.npy         float32 [len(layers), total_tokens, hidden]
  FILE.tokens.npy  int32 [total_tokens]
  FILE.offsets.npy int64 [rows+1]: row i is tokens offsets[i]:offsets[i+1]
  FILE.ids.json    the rows' ids, a JSON array in row order
so that in Python, with h = np.load("FILE.npy", mmap_mode="r"),
  h[k, off[i]:off[i+1]] is row i's [tokens, hidden] states at the k-th layer given.
Bad rows go with their line number to FILE.npy.errors.jsonl and are left out.`

func setupHidden(fs *flag.FlagSet) func(context.Context, []string) error {
	var mf modelFlags
	mf.register(fs)
	prompt := fs.String("prompt", "", "raw prompt")
	input := fs.String("input", "", "JSONL file of rows {\"id\": ..., \"prompt\": ... | \"messages\": [...]}")
	output := fs.String("output", "", ".npy file for the states (required); the other files are named after it")
	layersFlag := fs.String("layers", "-1", "comma-separated layer numbers, in the order the output holds them")
	batchRows := fs.Int("batch-rows", 16, "rows per hidden-state call (evaluated together, up to the batch size)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usageError("unexpected arguments %q", args)
		}
		layers, err := parseLayers(*layersFlag)
		if err != nil {
			return usageError("-layers: %v", err)
		}
		switch {
		case *output == "":
			return usageError("-output is required")
		case (*prompt == "") == (*input == ""):
			return usageError("give -prompt or -input")
		case *batchRows < 1:
			return usageError("-batch-rows %d: want at least 1", *batchRows)
		}
		if *input != "" {
			if _, err := os.Stat(*input); err != nil {
				return &exitError{code: 2, err: err}
			}
		}
		opts, err := mf.options()
		if err != nil {
			return err
		}
		l, err := openForHidden(ctx, opts, layers)
		if err != nil {
			return err
		}
		defer l.Close()
		if *prompt != "" {
			return writePromptStates(ctx, l, *prompt, layers, *output)
		}
		return writeRowStates(ctx, l, *input, layers, *output, *batchRows, newProgress(stderr, *quiet))
	}
}

// openForHidden loads the model and checks the layers against it, so that a
// bad layer fails before any row is read.
func openForHidden(ctx context.Context, opts llamacpp.Options, layers []int) (*llamacpp.LLM, error) {
	if _, err := llamacpp.New(opts); err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	l, err := llamacpp.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	if _, err := llamacpp.ResolveLayers(layers, l.Model().Info().NLayer); err != nil {
		l.Close()
		return nil, &exitError{code: 2, err: err}
	}
	return l, nil
}

// parseLayers reads "-1,0,3".
func parseLayers(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a layer number", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("no layers")
	}
	return out, nil
}

// sidePath names a file written beside an .npy output: out without its
// .npy extension, then suffix (".tokens.npy", ".ids.json").
func sidePath(out, suffix string) string {
	return strings.TrimSuffix(out, ".npy") + suffix
}

// writePromptStates is `hidden -prompt`.
func writePromptStates(ctx context.Context, l llm.HiddenStater, prompt string, layers []int, out string) error {
	hs, err := l.HiddenStates(ctx, []llm.Input{llm.Prompt(prompt)}, layers)
	if err != nil {
		return err
	}
	h := hs[0]
	_, hidden := h.States[0].Dims()
	err = writeFileAtomic(out, func(w io.Writer) error {
		e, err := hiddenstates.NewEncoder(w, hiddenstates.Float32, []int{len(h.States), len(h.Tokens), hidden})
		if err != nil {
			return err
		}
		for _, m := range h.States {
			if err := e.WriteMatrix(m); err != nil {
				return err
			}
		}
		return e.Close()
	})
	if err != nil {
		return err
	}
	return writeFileAtomic(sidePath(out, ".tokens.npy"), func(w io.Writer) error {
		return hiddenstates.WriteNPY(w, []int{len(h.Tokens)}, h.Tokens)
	})
}

// writeRowStates is `hidden -input`. Each layer's states go to a temporary
// file as rows finish, since the layer-major array can only be written when
// the total number of tokens is known.
func writeRowStates(ctx context.Context, l llm.HiddenStater, input string, layers []int, out string, batch int, pr *progress) error {
	rows, bad, err := readRows(input)
	if err != nil {
		return err
	}
	ew, err := newErrorsWriter(out, bad)
	if err != nil {
		return err
	}
	defer ew.close()

	dir := filepath.Dir(out)
	tmps := make([]*os.File, len(layers))
	bufs := make([]*bufio.Writer, len(layers))
	defer func() {
		for _, f := range tmps {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
		}
	}()
	for i := range layers {
		if tmps[i], err = os.CreateTemp(dir, "."+filepath.Base(out)+".layer-*"); err != nil {
			return err
		}
		bufs[i] = bufio.NewWriterSize(tmps[i], 1<<20)
	}
	var tokens []int32
	offsets := []int64{0}
	var ids []json.RawMessage
	hidden := 0
	var f32 []byte
	pr.begin(len(rows)+len(bad), 0, len(bad))
	err = hiddenBatches(ctx, l, rows, layers, batch, func(t task, h llm.HiddenStates) error {
		for i, m := range h.States {
			r, c := m.Dims()
			hidden = c
			for k := 0; k < r; k++ {
				f32 = appendFloat32s(f32[:0], m.RawRowView(k))
				if _, err := bufs[i].Write(f32); err != nil {
					return err
				}
			}
		}
		tokens = append(tokens, h.Tokens...)
		offsets = append(offsets, int64(len(tokens)))
		ids = append(ids, t.id)
		pr.addTokens(int64(len(h.Tokens)))
		pr.addDone(1)
		return nil
	}, failRow(pr, ew))
	pr.end()
	if err != nil {
		return err
	}
	for i := range bufs {
		if err := bufs[i].Flush(); err != nil {
			return err
		}
	}
	if len(ids) == 0 {
		return fmt.Errorf("%s: no row could be evaluated (see %s)", input, errorsPath(out))
	}
	err = writeFileAtomic(out, func(w io.Writer) error {
		e, err := hiddenstates.NewEncoder(w, hiddenstates.Float32, []int{len(layers), len(tokens), hidden})
		if err != nil {
			return err
		}
		chunk := make([]float32, 1<<14)
		raw := make([]byte, 4*len(chunk))
		for _, f := range tmps {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			r := bufio.NewReaderSize(f, 1<<20)
			for {
				n, err := io.ReadFull(r, raw)
				if n%4 != 0 {
					return fmt.Errorf("%s: torn temporary file", f.Name())
				}
				for k := 0; k < n/4; k++ {
					chunk[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
				}
				if n > 0 {
					if werr := e.WriteFloat32s(chunk[:n/4]); werr != nil {
						return werr
					}
				}
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					break
				}
				if err != nil {
					return err
				}
			}
		}
		return e.Close()
	})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(sidePath(out, ".tokens.npy"), func(w io.Writer) error {
		return hiddenstates.WriteNPY(w, []int{len(tokens)}, tokens)
	}); err != nil {
		return err
	}
	if err := writeFileAtomic(sidePath(out, ".offsets.npy"), func(w io.Writer) error {
		return hiddenstates.WriteNPY(w, []int{len(offsets)}, offsets)
	}); err != nil {
		return err
	}
	if err := writeIDs(sidePath(out, ".ids.json"), ids); err != nil {
		return err
	}
	return reportBad(ew, out)
}

func appendFloat32s(dst []byte, v []float64) []byte {
	for _, x := range v {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(x)))
	}
	return dst
}

// readRows reads a whole input for hidden and embed: the good rows in
// order, and the bad ones. Duplicate ids are an error, as for generate.
func readRows(path string) ([]task, []rowError, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var rows []task
	var bad []rowError
	seen := map[string]int{}
	lr := newLineReader(f)
	for {
		b, err := lr.next()
		if err == io.EOF {
			return rows, bad, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		if isBlank(b) {
			continue
		}
		t, perr := parseRow(lr.line, b, llm.GenerationParams{}, 1)
		if t.key != "" {
			if first, dup := seen[t.key]; dup {
				return nil, nil, fmt.Errorf("%s: ids must be unique: id %s on lines %d and %d", path, t.id, first, lr.line)
			}
			seen[t.key] = lr.line
		}
		if perr != nil {
			bad = append(bad, rowError{Line: lr.line, ID: t.id, Error: perr.Error()})
			continue
		}
		rows = append(rows, t)
	}
}

// hiddenBatches evaluates rows batch at a time, in order, and calls good or
// bad for each: a row the LLM could not evaluate (a prompt over the context,
// say) has its own error and fails alone.
func hiddenBatches(ctx context.Context, l llm.HiddenStater, rows []task, layers []int, batch int,
	good func(task, llm.HiddenStates) error, bad func(task, error) error) error {
	for start := 0; start < len(rows); start += batch {
		ts := rows[start:min(start+batch, len(rows))]
		ins := make([]llm.Input, len(ts))
		for i, t := range ts {
			ins[i] = t.in
		}
		hs, err := l.HiddenStates(ctx, ins, layers)
		if err != nil {
			return err
		}
		for i, t := range ts {
			if hs[i].Err != nil {
				err = bad(t, hs[i].Err)
			} else {
				err = good(t, hs[i])
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// failRow records a row the LLM could not evaluate: counted as failed, and
// written with its line number to the errors file.
func failRow(pr *progress, ew *lineWriter) func(task, error) error {
	return func(t task, err error) error {
		pr.addFailed(1)
		return ew.write(rowError{Line: t.line, ID: t.id, Error: err.Error()})
	}
}

// newErrorsWriter starts out's errors file afresh with the rows already
// known to be bad; it is created only if some row is.
func newErrorsWriter(out string, bad []rowError) (*lineWriter, error) {
	path := errorsPath(out)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ew := newLineWriter(nil, path, 0, 1<<62)
	ew.open = func() (*os.File, error) { return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644) }
	for _, e := range bad {
		if err := ew.write(e); err != nil {
			return nil, err
		}
	}
	return ew, nil
}

// reportBad closes the errors file and says on stderr how many rows failed.
func reportBad(ew *lineWriter, out string) error {
	n := ew.lines()
	if err := ew.close(); err != nil {
		return err
	}
	if n > 0 {
		fmt.Fprintf(stderr, "locallm: %d rows failed and were left out; see %s\n", n, errorsPath(out))
	}
	return nil
}

// writeIDs writes ids as a JSON array, one per line.
func writeIDs(path string, ids []json.RawMessage) error {
	return writeFileAtomic(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		bw.WriteString("[")
		for i, id := range ids {
			if i > 0 {
				bw.WriteString(",")
			}
			bw.WriteString("\n  ")
			bw.Write(id)
		}
		bw.WriteString("\n]\n")
		return bw.Flush()
	})
}

// writeFileAtomic writes path through a temporary file beside it, renamed
// into place once written and synced, so that path is never half written.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
