package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/mat"

	"github.com/locallm/locallm/cmd/locallm/internal/job"
	"github.com/locallm/locallm/cmd/locallm/internal/npyout"
	"github.com/locallm/locallm/hiddenstates"
	"github.com/locallm/locallm/llm"
)

const embedSummary = `Write one pooled embedding per row of a JSONL file as a float32 .npy matrix.

Each row {"id": ..., "prompt": ... | "messages": [...], "label": ...} is formatted
as for generation, its hidden states at --layer are pooled over its tokens, and
optionally L2-normalised. The outputs, rows in input order:
  EMB.npy       float32 [rows, hidden]
  EMB.ids.json  the rows' ids, a JSON array: ids[i] is row i of EMB.npy
--plot PCA.png draws the first two principal components, coloured by each row's
"label" when rows have one. Bad rows go with their line number to
EMB.npy.errors.jsonl and are left out.
Rows are kept as they finish in EMB.npy.part, which a finished run joins into
the outputs: run the same command again after a crash to resume. --shard I/N
runs one part of the rows; merge joins the parts.`

func embedCmd() *cobra.Command {
	var mf modelFlags
	var sf shardFlags
	var input, output, plotPath string
	var normalize, quiet bool
	var layer, batchRows int
	pooling := hiddenstates.Mean
	c := newCommand(&cobra.Command{
		Use:   "embed --model FILE --input IN.jsonl --output EMB.npy [flags]",
		Short: "Write one pooled embedding per row of a JSONL file as a float32 .npy matrix",
		Long:  embedSummary,
	}, func(ctx context.Context, args []string) error {
		switch {
		case input == "":
			return usageError("--input is required: the JSONL rows to embed")
		case output == "":
			return usageError("--output is required: the .npy file to write")
		case pooling == hiddenstates.None:
			return usageError("--pooling none gives no embedding: use hidden for per-token states")
		}
		if plotPath != "" {
			switch strings.ToLower(filepath.Ext(plotPath)) {
			case ".png", ".svg", ".pdf":
			default:
				return flagError("plot", plotPath, "a .png, .svg or .pdf file")
			}
			if err := checkOutputPath("--plot", plotPath); err != nil {
				return err
			}
		}
		sh, err := sf.resolve()
		if err != nil {
			return err
		}
		if err := checkInput(input, output); err != nil {
			return err
		}
		if err := checkOutputPath("--output", output); err != nil {
			return err
		}
		opts, err := mf.options()
		if err != nil {
			return err
		}
		l, err := openForHidden(ctx, opts, []int{layer}, fmt.Sprintf("--layer %d", layer))
		if err != nil {
			return err
		}
		defer l.Close()
		return embedRows(ctx, l, embedOptions{
			input: input, output: output, pooling: pooling, normalize: normalize,
			layer: layer, plot: plotPath, batch: batchRows, shard: sh,
			hidden: l.Model().Info().NEmbd, quiet: quiet,
		})
	}, &mf, &sf)
	fs := c.Flags()
	fs.StringVarP(&input, "input", "i", "", "JSONL `FILE` of rows (required)")
	fs.StringVarP(&output, "output", "o", "", ".npy `FILE` for the embeddings (required)")
	fs.Var(&poolingFlag{&pooling}, "pooling", "`POOLING` over a row's tokens: mean, first (cls), last or max")
	fs.SetAnnotation("pooling", wantAnnotation, []string{"one of mean, first, cls, last, max"})
	fs.SetAnnotation("pooling", badAnnotation, []string{"none", "bogus", ""})
	fs.BoolVar(&normalize, "normalize", false, "scale each embedding to unit L2 norm")
	fs.IntVar(&layer, "layer", -1, "`LAYER` whose states are pooled, numbered as Hugging Face's hidden_states (-1: the final normed output)")
	fs.StringVar(&plotPath, "plot", "", "draw a 2-D PCA scatter of the embeddings to this `FILE` (.png, .svg, .pdf)")
	intFlag(fs, &batchRows, "batch-rows", "", 16, "`N` rows per hidden-state call (evaluated together, up to the batch size)", ruleBatchRows)
	fs.BoolVarP(&quiet, "quiet", "q", false, "no progress on stderr")
	c.RegisterFlagCompletionFunc("pooling", fixedValues("mean", "first", "cls", "last", "max"))
	c.RegisterFlagCompletionFunc("plot", fileExts("png", "svg", "pdf"))
	return c
}

// poolingFlag is --pooling: a pooling that gives one vector per row.
type poolingFlag struct{ p *hiddenstates.Pooling }

func (f *poolingFlag) String() string { return f.p.String() }
func (f *poolingFlag) Type() string   { return "string" }
func (f *poolingFlag) Set(s string) error {
	var p hiddenstates.Pooling
	if err := p.UnmarshalText([]byte(s)); err != nil || p == hiddenstates.None {
		return errors.New("bad pooling")
	}
	*f.p = p
	return nil
}

type embedOptions struct {
	input, output string
	pooling       hiddenstates.Pooling
	normalize     bool
	layer         int
	plot          string
	batch         int
	shard         job.Shard
	hidden        int // the model's, for an output without rows
	quiet         bool
}

// embedRows is embed once the model is loaded: each row's pooled (and
// normalised) embedding is a record of the part log as soon as its batch
// is evaluated.
func embedRows(ctx context.Context, l llm.HiddenStater, o embedOptions) error {
	meta, _ := json.Marshal(map[string]any{"command": "embed", "layer": o.layer, "pooling": o.pooling, "normalize": o.normalize})
	encode := func(h llm.HiddenStates) []byte {
		v := hiddenstates.Pool(nil, h.States[0], nil, o.pooling)
		if o.normalize {
			hiddenstates.Normalize(mat.NewDense(1, len(v), v))
		}
		return npyout.EmbedRecord(v)
	}
	err := runStates(ctx, l, []int{o.layer}, encode, npyout.Options{
		Kind: npyout.Embed, Output: o.output, Meta: meta, Layers: 1, Hidden: o.hidden,
	}, o.input, o.shard, o.batch, o.quiet)
	if err != nil || o.plot == "" {
		return err
	}
	return plotEmbeddings(o.output, o.input, o.plot)
}

// plotEmbeddings draws the principal components of a finished output,
// coloured by its rows' labels when they have some.
func plotEmbeddings(output, input, plot string) error {
	f, err := os.Open(output)
	if err != nil {
		return err
	}
	emb, err := hiddenstates.ReadMatrix(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("--plot: %s: %w", output, err)
	}
	if r, _ := emb.Dims(); r < 2 {
		return fmt.Errorf("--plot needs at least 2 embedded rows, have %d", r)
	}
	labels, err := rowLabels(input, npyout.SidePath(output, ".ids.json"))
	if err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	pts, err := hiddenstates.PCA(emb, 2)
	if err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	if err := hiddenstates.PlotPCA(plot, pts, labels); err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	return nil
}

// rowLabels returns the label of each id of an ids file, from the input
// rows, or nil when no row has one.
func rowLabels(input, idsPath string) ([]string, error) {
	data, err := os.ReadFile(idsPath)
	if err != nil {
		return nil, err
	}
	var ids []json.RawMessage
	if err := json.Unmarshal(data, &ids); err != nil {
		return nil, fmt.Errorf("%s: %w", idsPath, err)
	}
	byKey := map[string]string{}
	f, err := os.Open(input)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lr := job.NewLineReader(f)
	labelled := false
	for {
		b, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		key, _, err := job.RowID(b)
		if err != nil {
			continue
		}
		if t, err := parseRow(b, llm.GenerationParams{}, 1); err == nil && t.label != "" {
			byKey[key] = t.label
			labelled = true
		}
	}
	if !labelled {
		return nil, nil
	}
	labels := make([]string, len(ids))
	for i, id := range ids {
		k, _ := job.IDKey(id)
		labels[i] = byKey[k]
	}
	return labels, nil
}
