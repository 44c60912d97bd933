package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/locallm/locallm/cmd/locallm/internal/job"
	"github.com/locallm/locallm/cmd/locallm/internal/npyout"
	"github.com/locallm/locallm/hiddenstates"
	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llm"
)

const hiddenSummary = `Write the hidden states of a prompt, or of every row of a JSONL file, as .npy arrays.

Layers are numbered as Hugging Face numbers hidden_states: 0 is the token
embeddings, i the output of block i, n_layer the final normed output (the
last_hidden_state); negative numbers count from the end, so -1 is the last.
For results that agree with a float32 reference use --cache-type f32 --flash-attn off.

With --prompt TEXT (special tokens added, as for generation):
  FILE.npy         float32 [len(layers), tokens, hidden], layers in the order given
  FILE.tokens.npy  int32 [tokens], the token ids
With --input IN.jsonl (rows {"id": ..., "prompt": ... | "messages": [...]}), the
rows' tokens are concatenated, in input order:
  FILE.npy         float32 [len(layers), total_tokens, hidden]
  FILE.tokens.npy  int32 [total_tokens]
  FILE.offsets.npy int64 [rows+1]: row i is tokens offsets[i]:offsets[i+1]
  FILE.ids.json    the rows' ids, a JSON array in row order
so that in Python, with h = np.load("FILE.npy", mmap_mode="r"),
  h[k, off[i]:off[i+1]] is row i's [tokens, hidden] states at the k-th layer given.
Bad rows go with their line number to FILE.npy.errors.jsonl and are left out.
Rows are kept as they finish in FILE.npy.part, which a finished run joins into
the outputs: run the same command again after a crash to resume. --shard I/N
runs one part of the rows; merge joins the parts.`

func hiddenCmd() *cobra.Command {
	var mf modelFlags
	var sf shardFlags
	var prompt, input, output, layersFlag string
	var batchRows int
	var quiet bool
	c := newCommand(&cobra.Command{
		Use:   "hidden --model FILE (--prompt TEXT | --input IN.jsonl) --output FILE.npy [flags]",
		Short: "Write the hidden states of a prompt, or of every row of a JSONL file, as .npy arrays",
		Long:  hiddenSummary,
	}, func(ctx context.Context, args []string) error {
		layers, err := parseLayers(layersFlag)
		if err != nil {
			return flagError("layers", layersFlag, "comma-separated layer numbers, as -1,0,2")
		}
		switch {
		case output == "":
			return usageError("--output is required: the .npy file to write")
		case prompt != "" && input != "":
			return usageError("give --prompt or --input, not both")
		case prompt == "" && input == "":
			return usageError("--prompt or --input is required")
		}
		sh, err := sf.resolve()
		if err != nil {
			return err
		}
		if input != "" {
			if err := checkInput(input, output); err != nil {
				return err
			}
		} else if !sh.Whole() {
			return usageError("--shard is for --input jobs")
		}
		if prompt != "" {
			if prompt, err = readTextArg(prompt); err != nil {
				return usageError("--prompt -: %v", err)
			}
		}
		if err := checkOutputPath("--output", output); err != nil {
			return err
		}
		opts, err := mf.options()
		if err != nil {
			return err
		}
		l, err := openForHidden(ctx, opts, layers, "--layers "+layersFlag)
		if err != nil {
			return err
		}
		defer l.Close()
		if prompt != "" {
			return writePromptStates(ctx, l, prompt, layers, output)
		}
		meta, _ := json.Marshal(map[string]any{"command": "hidden", "layers": layers})
		return runStates(ctx, l, layers, npyout.HiddenRecord, npyout.Options{
			Kind: npyout.Hidden, Output: output, Meta: meta, Layers: len(layers), Hidden: l.Model().Info().NEmbd,
		}, input, sh, batchRows, quiet)
	}, &mf, &sf)
	fs := c.Flags()
	fs.StringVarP(&prompt, "prompt", "p", "", "raw prompt `TEXT`; - reads it from standard input")
	fs.StringVarP(&input, "input", "i", "", "JSONL `FILE` of rows {\"id\": ..., \"prompt\": ... | \"messages\": [...]}")
	fs.StringVarP(&output, "output", "o", "", ".npy `FILE` for the states (required); the other files are named after it")
	fs.StringVar(&layersFlag, "layers", "-1", "comma-separated layer `NUMBERS`, in the order the output holds them")
	intFlag(fs, &batchRows, "batch-rows", "", 16, "`N` rows per hidden-state call (evaluated together, up to the batch size)", ruleBatchRows)
	fs.BoolVarP(&quiet, "quiet", "q", false, "no progress on stderr")
	return c
}

// openForHidden loads the model and checks the layers against it, so that a
// bad layer fails before any row is read; flag ("--layers -1,99") names
// them in the error.
func openForHidden(ctx context.Context, opts llamacpp.Options, layers []int, flag string) (*llamacpp.LLM, error) {
	if _, err := llamacpp.New(opts); err != nil {
		return nil, asUsage(err)
	}
	l, err := llamacpp.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	n := l.Model().Info().NLayer
	if _, err := llamacpp.ResolveLayers(layers, n); err != nil {
		l.Close()
		return nil, usageError("%s: want layer numbers from %d to %d: this model has %d blocks; 0 is the token embeddings, %d (or -1) the final normed output", flag, -(n + 1), n, n, n)
	}
	return l, nil
}

// parseLayers reads "-1,0,3".
func parseLayers(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, errors.New("an empty layer number")
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

// writePromptStates is `hidden --prompt`.
func writePromptStates(ctx context.Context, l llm.HiddenStater, prompt string, layers []int, out string) error {
	hs, err := l.HiddenStates(ctx, []llm.Input{llm.Prompt(prompt)}, layers)
	if err != nil {
		return err
	}
	h := hs[0]
	_, hidden := h.States[0].Dims()
	err = job.WriteFileAtomic(out, func(w io.Writer) error {
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
	return job.WriteFileAtomic(npyout.SidePath(out, ".tokens.npy"), func(w io.Writer) error {
		return hiddenstates.WriteNPY(w, []int{len(h.Tokens)}, h.Tokens)
	})
}

// checkInput checks, before the model loads, that the input is there and
// is not the output.
func checkInput(input, output string) error {
	if err := checkInputPath("--input", input); err != nil {
		return err
	}
	return samePath(input, output)
}

// runStates is embed and hidden over a JSONL input: rows are evaluated
// batch rows at a time, in input order, each finished row encoded (by
// encode) as a record of the output's part log, and the output joined once
// every row has run (internal/npyout). Bad rows go to the errors file.
func runStates(ctx context.Context, l llm.HiddenStater, layers []int, encode func(llm.HiddenStates) []byte,
	o npyout.Options, input string, shard job.Shard, batch int, quiet bool) error {
	pr := job.NewProgress(stderr, quiet)
	sum, err := npyout.Run(ctx, o, job.Spec[task]{
		Input: input, Shard: shard,
		Parse:  func(b []byte) (task, error) { return parseRow(b, llm.GenerationParams{}, 1) },
		Errors: job.ErrorsPath(o.Output), Batch: batch,
		Process:  statesRows(l, layers, encode, pr),
		Progress: pr, Messages: stderr, ResumeHint: shellQuote(os.Args),
	})
	if err != nil {
		return err
	}
	if !quiet || sum.Failed > 0 {
		fmt.Fprintln(stderr, "locallm: "+sum.String(o.Output, job.ErrorsPath(o.Output)))
	}
	return nil
}

// statesRows returns the job's Process for embed and hidden: one
// hidden-state call for the batch; a row the LLM could not evaluate (a
// prompt over the context, say) has its own error and fails alone.
func statesRows(l llm.HiddenStater, layers []int, encode func(llm.HiddenStates) []byte, pr *job.Progress) func(context.Context, []job.Task[task]) ([]job.Result, error) {
	return func(ctx context.Context, rows []job.Task[task]) ([]job.Result, error) {
		ins := make([]llm.Input, len(rows))
		for i, r := range rows {
			ins[i] = r.Row.in
		}
		hs, err := l.HiddenStates(ctx, ins, layers)
		if err != nil {
			return nil, err
		}
		if len(hs) != len(rows) {
			return nil, fmt.Errorf("the LLM returned hidden states for %d of %d inputs", len(hs), len(rows))
		}
		res := make([]job.Result, len(rows))
		for i, h := range hs {
			if h.Err != nil {
				res[i].Err = h.Err
				continue
			}
			n := int64(len(h.Tokens))
			res[i] = job.Result{Record: encode(h), Tokens: n}
			pr.AddTokens(n)
		}
		return res, nil
	}
}
