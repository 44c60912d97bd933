package llamacpp_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/locallm/locallm/hiddenstates"
	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/gguf"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llamacpp/tinyllama"
	"github.com/locallm/locallm/llm"
)

// tinyBERT writes (once per test binary) the deterministic tiny BERT with
// the shared bert-bge vocabulary and the given pooling ("mean", "cls",
// "none"), and returns its path.
func tinyBERT(t testing.TB, pooling string) string {
	t.Helper()
	modelMu.Lock()
	defer modelMu.Unlock()
	key := "bert/" + pooling
	if p, ok := modelPath[key]; ok {
		return p
	}
	v := filepath.Join(sharedDir, "vocab", "ggml-vocab-bert-bge.gguf")
	if _, err := os.Stat(v); err != nil {
		t.Skipf("vocab %s not found (the shared test data sits beside the checkout)", v)
	}
	p := filepath.Join(modelDir, "tinybert-"+pooling+".gguf")
	require.NoError(t, tinyllama.WriteBERT(p, tinyllama.BERTConfig{Vocab: v, Pooling: pooling}))
	modelPath[key] = p
	return p
}

var embedInputs = []llm.Input{
	llm.Prompt("The quick brown fox jumps over the lazy dog."),
	llm.Prompt("hello"),
	llm.Prompt(strings.Repeat("a somewhat longer input, to make the batch uneven; ", 6)),
	llm.Prompt("Embeddings of a tiny BERT"),
}

func maxAbsDiffVec(a []float32, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-b[i]))
	}
	return m
}

// TestEmbedEqualsPooledHiddenStates: the model's own pooled embedding
// (llama.cpp's pooling) is hiddenstates.Pool of its last hidden states, by
// the pooling its metadata declares, not normalised.
func TestEmbedEqualsPooledHiddenStates(t *testing.T) {
	for pooling, p := range map[string]hiddenstates.Pooling{"mean": hiddenstates.Mean, "cls": hiddenstates.First} {
		t.Run(pooling, func(t *testing.T) {
			l := openLLM(t, tinyBERT(t, pooling), exact)
			ctx := context.Background()
			emb, err := l.Embed(ctx, embedInputs)
			require.NoError(t, err)
			require.Len(t, emb, len(embedInputs))
			hs, err := l.LastHiddenStates(ctx, embedInputs)
			require.NoError(t, err)
			worst, norm := 0.0, 0.0
			for i := range embedInputs {
				require.NoError(t, hs[i].Err)
				require.Len(t, emb[i], l.Model().Info().NEmbd)
				want := hiddenstates.Pool(nil, hs[i].States[0], nil, p)
				worst = math.Max(worst, maxAbsDiffVec(emb[i], want))
				norm = math.Max(norm, math.Abs(floats.Norm(want, 2)-1))
			}
			// The two calls are batched as their goroutines arrive, so
			// the sums can differ in the last bit and meet ggml's f16
			// GELU table (see gelu16); typically they agree to 1e-6.
			assert.Less(t, worst, gelu16, "Embed vs Pool(%s) of the last hidden states", p)
			assert.Greater(t, norm, 0.1, "llama.cpp does not normalise pooled embeddings")
			t.Logf("%s: max |Embed - Pool(HiddenStates(-1))| = %.3g", pooling, worst)
		})
	}
}

// manyInputs are n prompts of 1 to 25 words.
func manyInputs(n int) []llm.Input {
	words := strings.Fields("the quick brown fox jumps over a lazy dog while seven tiny models embed short and long sentences about nothing much at all")
	var ins []llm.Input
	for i := 0; i < n; i++ {
		var w []string
		for j := 0; j < 1+(i*7)%25; j++ {
			w = append(w, words[(i*3+j*5)%len(words)])
		}
		ins = append(ins, llm.Prompt(strings.Join(w, " ")))
	}
	return ins
}

// gelu16 bounds what ggml's f16 GELU table does to a comparison: an
// activation whose input lands on the other side of an f16 rounding
// boundary (after a last-bit difference in a sum, from the batch's shape
// or from float64 in the reference) moves by an f16 step, and its token's
// state by up to about 6e-4 in these tests. Such tokens are few; the
// others agree to float32 rounding (typically, a median, below 1e-5). A
// wrong layer or pooling is off by more than 0.1.
const gelu16 = 2e-3

// TestEmbedBatchedEqualsAlone: several inputs per decode, and groups split
// by a small batch, give what one input at a time gives.
func TestEmbedBatchedEqualsAlone(t *testing.T) {
	for _, pooling := range []string{"mean", "cls"} {
		path := tinyBERT(t, pooling)
		ctx := context.Background()
		inputs := append(manyInputs(24), embedInputs...)
		alone := openLLM(t, path, exact)
		var want [][]float32
		for _, in := range inputs {
			v, err := alone.Embed(ctx, []llm.Input{in})
			require.NoError(t, err)
			want = append(want, v[0])
		}
		for _, batch := range []int{0, 96} {
			co := exact
			co.BatchSize = batch
			l := openLLM(t, path, co)
			got, err := l.Embed(ctx, inputs)
			require.NoError(t, err)
			var diffs []float64
			for i := range want {
				d := 0.0
				for j := range want[i] {
					d = math.Max(d, math.Abs(float64(want[i][j]-got[i][j])))
				}
				diffs = append(diffs, d)
			}
			worst := floats.Max(diffs)
			assert.Less(t, worst, gelu16, "%s, batch size %d", pooling, batch)
			assert.Less(t, median(diffs), 1e-5, "%s, batch size %d", pooling, batch)
			t.Logf("%s, batch size %d: |together - alone| per input: median %.3g, max %.3g", pooling, batch, median(diffs), worst)
		}
	}
}

// TestEmbedErrors: a model without pooling says to pool hidden states; an
// input that does not fit fails the call, naming it.
func TestEmbedErrors(t *testing.T) {
	ctx := context.Background()
	for _, path := range []string{tinyModel(t, ""), tinyBERT(t, "none")} {
		l := openLLM(t, path, exact)
		_, err := l.Embed(ctx, embedInputs[:1])
		require.ErrorIs(t, err, llamacpp.ErrNoPooling, path)
		assert.Contains(t, err.Error(), "pool its hidden states instead")
		_, err = l.Embed(ctx, embedInputs[:1])
		assert.ErrorIs(t, err, llamacpp.ErrNoPooling, "the second call too")
	}

	co := exact
	co.BatchSize = 32
	l := openLLM(t, tinyBERT(t, "mean"), co)
	long := llm.Prompt(strings.Repeat("word ", 40))
	_, err := l.Embed(ctx, []llm.Input{llm.Prompt("fits"), long})
	require.ErrorIs(t, err, llm.ErrContextTooLong)
	assert.Contains(t, err.Error(), "input 1")
	_, err = l.Embed(ctx, []llm.Input{llm.Prompt("")})
	assert.ErrorIs(t, err, llm.ErrEmptyInput)
	// HiddenStates of a BERT: an input longer than one ubatch is that
	// input's error, not a chunked decode (llama.cpp aborts on that).
	hs, err := l.HiddenStates(ctx, []llm.Input{long, llm.Prompt("fits")}, []int{-1})
	require.NoError(t, err)
	assert.ErrorIs(t, hs[0].Err, llm.ErrContextTooLong)
	assert.NoError(t, hs[1].Err)
	// More tokens than the model has positions.
	co.BatchSize = 1024
	l = openLLM(t, tinyBERT(t, "mean"), co)
	_, err = l.Embed(ctx, []llm.Input{llm.Prompt(strings.Repeat("word ", 600))})
	require.ErrorIs(t, err, llm.ErrContextTooLong)
	assert.Contains(t, err.Error(), "positions")

	l.Close()
	_, err = l.Embed(ctx, embedInputs[:1])
	assert.ErrorIs(t, err, llm.ErrClosed)
}

// bertRef is a float64 forward pass of the tiny BERT, read from its GGUF,
// written from Hugging Face's BertModel: hidden_states[0] is the LayerNorm
// of the token, position and token-type (0) embeddings; [i] the output of
// block i. GELU is ggml's: the tanh form, looked up in a table of f16
// inputs and outputs, which it reproduces.
type bertRef struct {
	h, heads, ff  int
	nLayer        int
	eps           float64
	tok, typ, pos []float32
	normW, normB  []float32
	layers        []bertRefLayer
}

type bertRefLayer struct {
	q, k, v, o, up, down                     []float32
	qb, kb, vb, ob, upb, downb               []float32
	attnNormW, attnNormB, outNormW, outNormB []float32
}

func newBERTRef(t *testing.T, path string, info llamacpp.ModelInfo) *bertRef {
	f, err := gguf.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	read := func(name string) []float32 {
		x, err := f.ReadTensorF32(name)
		require.NoError(t, err, name)
		return x
	}
	eps, err := f.Float("bert.attention.layer_norm_epsilon")
	require.NoError(t, err)
	ff, err := f.Uint("bert.feed_forward_length")
	require.NoError(t, err)
	r := &bertRef{h: info.NEmbd, heads: info.NHead, ff: int(ff), nLayer: info.NLayer, eps: float64(float32(eps)),
		tok: read("token_embd.weight"), typ: read("token_types.weight"), pos: read("position_embd.weight"),
		normW: read("token_embd_norm.weight"), normB: read("token_embd_norm.bias")}
	for i := 0; i < r.nLayer; i++ {
		p := fmt.Sprintf("blk.%d.", i)
		r.layers = append(r.layers, bertRefLayer{
			q: read(p + "attn_q.weight"), qb: read(p + "attn_q.bias"),
			k: read(p + "attn_k.weight"), kb: read(p + "attn_k.bias"),
			v: read(p + "attn_v.weight"), vb: read(p + "attn_v.bias"),
			o: read(p + "attn_output.weight"), ob: read(p + "attn_output.bias"),
			attnNormW: read(p + "attn_output_norm.weight"), attnNormB: read(p + "attn_output_norm.bias"),
			up: read(p + "ffn_up.weight"), upb: read(p + "ffn_up.bias"),
			down: read(p + "ffn_down.weight"), downb: read(p + "ffn_down.bias"),
			outNormW: read(p + "layer_output_norm.weight"), outNormB: read(p + "layer_output_norm.bias"),
		})
	}
	return r
}

// layerNorm normalises x in place: (x - mean) / sqrt(var + eps) * w + b.
func (r *bertRef) layerNorm(x []float64, w, b []float32) {
	mean := 0.0
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	variance := 0.0
	for _, v := range x {
		variance += (v - mean) * (v - mean)
	}
	variance /= float64(len(x))
	s := 1 / math.Sqrt(variance+r.eps)
	for i := range x {
		x[i] = (x[i]-mean)*s*float64(w[i]) + float64(b[i])
	}
}

// linear returns W x + b for a ggml [in, out] weight.
func linear(w, b []float32, x []float64, out int) []float64 {
	in := len(x)
	y := make([]float64, out)
	for o := 0; o < out; o++ {
		s := float64(b[o])
		row := w[o*in : (o+1)*in]
		for i, v := range x {
			s += float64(row[i]) * v
		}
		y[o] = s
	}
	return y
}

// ggmlGELU is ggml's CPU GELU on f32: the tanh approximation of an f16
// input, rounded to f16 (GGML_GELU_FP16), exact outside (-10, 10).
func ggmlGELU(x float64) float64 {
	switch {
	case x <= -10:
		return 0
	case x >= 10:
		return x
	}
	h := float64(gguf.F16ToF32(gguf.F32ToF16(float32(x))))
	y := 0.5 * h * (1 + math.Tanh(0.79788456080286535587989211986876*h*(1+0.044715*h*h)))
	return float64(gguf.F16ToF32(gguf.F32ToF16(float32(y))))
}

// forward returns hidden_states[0..nLayer] of one sequence, each [tokens][h].
func (r *bertRef) forward(toks []int32) [][][]float64 {
	n, h := len(toks), r.h
	x := make([][]float64, n)
	for p, tok := range toks {
		x[p] = make([]float64, h)
		for j := 0; j < h; j++ {
			x[p][j] = float64(r.tok[int(tok)*h+j]) + float64(r.typ[j]) + float64(r.pos[p*h+j])
		}
		r.layerNorm(x[p], r.normW, r.normB)
	}
	out := [][][]float64{x}
	dh := h / r.heads
	for _, L := range r.layers {
		q, k, v := make([][]float64, n), make([][]float64, n), make([][]float64, n)
		for p := range x {
			q[p], k[p], v[p] = linear(L.q, L.qb, x[p], h), linear(L.k, L.kb, x[p], h), linear(L.v, L.vb, x[p], h)
		}
		next := make([][]float64, n)
		for p := range x {
			att := make([]float64, h)
			for hd := 0; hd < r.heads; hd++ {
				lo := hd * dh
				scores := make([]float64, n)
				top := math.Inf(-1)
				for s := range x {
					d := 0.0
					for j := lo; j < lo+dh; j++ {
						d += q[p][j] * k[s][j]
					}
					scores[s] = d / math.Sqrt(float64(dh))
					top = math.Max(top, scores[s])
				}
				sum := 0.0
				for s := range scores {
					scores[s] = math.Exp(scores[s] - top)
					sum += scores[s]
				}
				for s := range scores {
					for j := lo; j < lo+dh; j++ {
						att[j] += scores[s] / sum * v[s][j]
					}
				}
			}
			a := linear(L.o, L.ob, att, h)
			for j := range a {
				a[j] += x[p][j]
			}
			r.layerNorm(a, L.attnNormW, L.attnNormB)
			u := linear(L.up, L.upb, a, r.ff)
			for j := range u {
				u[j] = ggmlGELU(u[j])
			}
			d := linear(L.down, L.downb, u, h)
			for j := range d {
				d[j] += a[j]
			}
			r.layerNorm(d, L.outNormW, L.outNormB)
			next[p] = d
		}
		x = next
		out = append(out, x)
	}
	return out
}

// TestBERTHiddenStates: the tiny BERT loads in llama.cpp, and its hidden
// states at every layer, numbered as Hugging Face numbers BertModel's
// hidden_states, match a float64 forward pass from the GGUF's tensors:
// layer 0 (the embeddings' LayerNorm, which involves nothing but the
// tensors) within 1e-5 at every token; the blocks within 1e-5 at a typical
// token and gelu16 at every token (see gelu16). Inputs evaluated together
// give the states they give alone, within the same bounds.
func TestBERTHiddenStates(t *testing.T) {
	path := tinyBERT(t, "mean")
	l := openLLM(t, path, exact)
	info := l.Model().Info()
	require.Equal(t, "bert", info.Architecture)
	require.Equal(t, 2, info.NLayer)
	ref := newBERTRef(t, path, info)
	ctx := context.Background()

	layers := []int{0, 1, -1}
	hs, err := l.HiddenStates(ctx, embedInputs, layers)
	require.NoError(t, err)
	rowsRef := make([][]float64, len(layers))   // per token, max |llama.cpp - reference|
	rowsAlone := make([][]float64, len(layers)) // per token, max |alone - batched|
	for i, in := range embedInputs {
		require.NoError(t, hs[i].Err)
		toks, err := l.Model().Tokenize(in.Prompt, true, true)
		require.NoError(t, err)
		require.Equal(t, toks, hs[i].Tokens)
		require.Equal(t, int32(101), toks[0], "[CLS] first")
		require.Equal(t, int32(102), toks[len(toks)-1], "[SEP] last")
		require.Equal(t, []int{0, 1, 2}, hs[i].Layers)
		want := ref.forward(toks)
		for k, layer := range hs[i].Layers {
			r, c := hs[i].States[k].Dims()
			require.Equal(t, len(toks), r)
			require.Equal(t, info.NEmbd, c)
			rowsRef[k] = append(rowsRef[k], rowMaxima(hs[i].States[k], rowsDense(want[layer]))...)
		}
		// Alone, each input gives the same states.
		alone, err := l.HiddenStates(ctx, []llm.Input{in}, layers)
		require.NoError(t, err)
		for k := range layers {
			rowsAlone[k] = append(rowsAlone[k], rowMaxima(alone[0].States[k], hs[i].States[k])...)
		}
	}
	for k, layer := range []int{0, 1, 2} {
		ref, alone := rowsRef[k], rowsAlone[k]
		if layer == 0 {
			// The embeddings and their LayerNorm involve nothing but the
			// tensors: every token within float32 rounding.
			assert.Less(t, floats.Max(ref), 1e-5, "layer 0: LayerNorm(token + position + type embeddings)")
			assert.Less(t, floats.Max(alone), 1e-5, "layer 0 alone")
		}
		assert.Less(t, floats.Max(ref), gelu16, "layer %d vs reference", layer)
		assert.Less(t, median(ref), 1e-5, "layer %d vs reference, typical token", layer)
		assert.Less(t, floats.Max(alone), gelu16, "layer %d alone vs batched", layer)
		assert.Less(t, median(alone), 1e-5, "layer %d alone vs batched, typical token", layer)
		t.Logf("layer %d: |llama.cpp - reference| per token: median %.3g, max %.3g; |alone - batched|: median %.3g, max %.3g",
			layer, median(ref), floats.Max(ref), median(alone), floats.Max(alone))
	}
}

// rowMaxima returns max |a - b| of each row.
func rowMaxima(a, b mat.Matrix) []float64 {
	r, c := a.Dims()
	out := make([]float64, r)
	for i := range out {
		for j := 0; j < c; j++ {
			out[i] = math.Max(out[i], math.Abs(a.At(i, j)-b.At(i, j)))
		}
	}
	return out
}

func rowsDense(rows [][]float64) *mat.Dense {
	m := mat.NewDense(len(rows), len(rows[0]), nil)
	for i, r := range rows {
		m.SetRow(i, r)
	}
	return m
}

// TestEmbedCloseFrees: the contexts Embed and HiddenStates make (kept for a
// model with pooling, closed at once for one without) are freed by Close.
func TestEmbedCloseFrees(t *testing.T) {
	before := llama.LiveObjects()
	ctx := context.Background()
	for _, path := range []string{tinyBERT(t, "cls"), tinyModel(t, "")} {
		l, err := llamacpp.Open(ctx, llamacpp.Options{ModelPath: path, Context: exact})
		require.NoError(t, err)
		_, err = l.Embed(ctx, embedInputs)
		if err != nil {
			require.ErrorIs(t, err, llamacpp.ErrNoPooling)
		}
		_, err = l.HiddenStates(ctx, embedInputs, []int{0, -1})
		require.NoError(t, err)
		require.NoError(t, l.Close())
		_, err = l.Embed(ctx, embedInputs)
		assert.ErrorIs(t, err, llm.ErrClosed)
	}
	assert.Equal(t, before, llama.LiveObjects())
}
