package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"gonum.org/v1/gonum/mat"

	"github.com/locallm/locallm/hiddenstates"
	"github.com/locallm/locallm/llm"
)

func init() {
	register(&command{
		name:    "embed",
		summary: embedSummary,
		usage:   "-model FILE -input IN.jsonl -output EMB.npy [-pooling mean] [-normalize] [-layer -1] [-plot PCA.png]",
		setup:   setupEmbed,
	})
}

const embedSummary = `Write one pooled embedding per row of a JSONL file as a float32 .npy matrix.

Each row {"id": ..., "prompt": ... | "messages": [...], "label": ...} is formatted
as for generation, its hidden states at -layer are pooled over its tokens, and
optionally L2-normalised. The outputs, rows in input order:
  EMB.npy       float32 [rows, hidden]
  EMB.ids.json  the rows' ids, a JSON array: ids[i] is row i of EMB.npy
-plot PCA.png draws the first two principal components, coloured by each row's
"label" when rows have one. Bad rows go with their line number to
EMB.npy.errors.jsonl and are left out.`

func setupEmbed(fs *flag.FlagSet) func(context.Context, []string) error {
	var mf modelFlags
	mf.register(fs)
	input := fs.String("input", "", "JSONL file of rows (required)")
	output := fs.String("output", "", ".npy file for the embeddings (required)")
	pooling := hiddenstates.Mean
	fs.TextVar(&pooling, "pooling", hiddenstates.Mean, "pooling over a row's tokens: mean, first (cls), last or max")
	normalize := fs.Bool("normalize", false, "scale each embedding to unit L2 norm")
	layer := fs.Int("layer", -1, "layer whose states are pooled, numbered as Hugging Face's hidden_states (-1: the final normed output)")
	plotPath := fs.String("plot", "", "draw a 2-D PCA scatter of the embeddings to this file (.png, .svg, .pdf)")
	batchRows := fs.Int("batch-rows", 16, "rows per hidden-state call (evaluated together, up to the batch size)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usageError("unexpected arguments %q", args)
		}
		switch {
		case *input == "":
			return usageError("-input is required")
		case *output == "":
			return usageError("-output is required")
		case pooling == hiddenstates.None:
			return usageError("-pooling none gives no embedding: use hidden for per-token states")
		case *batchRows < 1:
			return usageError("-batch-rows %d: want at least 1", *batchRows)
		}
		if _, err := os.Stat(*input); err != nil {
			return &exitError{code: 2, err: err}
		}
		opts, err := mf.options()
		if err != nil {
			return err
		}
		l, err := openForHidden(ctx, opts, []int{*layer})
		if err != nil {
			return err
		}
		defer l.Close()
		return embedRows(ctx, l, embedOptions{
			input: *input, output: *output, pooling: pooling, normalize: *normalize,
			layer: *layer, plot: *plotPath, batch: *batchRows,
		}, newProgress(stderr, *quiet))
	}
}

type embedOptions struct {
	input, output string
	pooling       hiddenstates.Pooling
	normalize     bool
	layer         int
	plot          string
	batch         int
}

// embedRows is embed once the model is loaded.
func embedRows(ctx context.Context, l llm.HiddenStater, o embedOptions, pr *progress) error {
	rows, bad, err := readRows(o.input)
	if err != nil {
		return err
	}
	ew, err := newErrorsWriter(o.output, bad)
	if err != nil {
		return err
	}
	defer ew.close()
	var vecs [][]float64
	var ids []json.RawMessage
	var labels []string
	labelled := false
	pr.begin(len(rows)+len(bad), 0, len(bad))
	err = hiddenBatches(ctx, l, rows, []int{o.layer}, o.batch, func(t task, h llm.HiddenStates) error {
		vecs = append(vecs, hiddenstates.Pool(nil, h.States[0], nil, o.pooling))
		ids = append(ids, t.id)
		labels = append(labels, t.label)
		labelled = labelled || t.label != ""
		pr.addTokens(int64(len(h.Tokens)))
		pr.addDone(1)
		return nil
	}, failRow(pr, ew))
	pr.end()
	if err != nil {
		return err
	}
	if len(vecs) == 0 {
		return fmt.Errorf("%s: no row could be embedded (see %s)", o.input, errorsPath(o.output))
	}
	emb := mat.NewDense(len(vecs), len(vecs[0]), nil)
	for i, v := range vecs {
		emb.SetRow(i, v)
	}
	if o.normalize {
		hiddenstates.Normalize(emb)
	}
	if err := writeFileAtomic(o.output, func(w io.Writer) error {
		return hiddenstates.WriteMatrix(w, emb, hiddenstates.Float32)
	}); err != nil {
		return err
	}
	if err := writeIDs(sidePath(o.output, ".ids.json"), ids); err != nil {
		return err
	}
	if o.plot != "" {
		if len(vecs) < 2 {
			return fmt.Errorf("-plot needs at least 2 embedded rows, have %d", len(vecs))
		}
		pts, err := hiddenstates.PCA(emb, 2)
		if err != nil {
			return fmt.Errorf("-plot: %w", err)
		}
		if !labelled {
			labels = nil
		}
		if err := hiddenstates.PlotPCA(o.plot, pts, labels); err != nil {
			return fmt.Errorf("-plot: %w", err)
		}
	}
	return reportBad(ew, o.output)
}
