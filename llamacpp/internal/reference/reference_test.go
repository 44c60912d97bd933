package reference_test

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/locallm/locallm/llamacpp/gguf"
	"github.com/locallm/locallm/llamacpp/internal/reference"
	"github.com/locallm/locallm/llamacpp/tinyllama"
)

func model(t testing.TB, c tinyllama.Config) *gguf.File {
	t.Helper()
	var buf bytes.Buffer
	_, err := tinyllama.WriteTo(&buf, c)
	require.NoError(t, err)
	return read(t, buf.Bytes())
}

func read(t testing.TB, b []byte) *gguf.File {
	t.Helper()
	f, err := gguf.Read(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	return f
}

func maxDiff(a, b mat.Matrix) float64 {
	r, c := a.Dims()
	m := 0.0
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			m = math.Max(m, math.Abs(a.At(i, j)-b.At(i, j)))
		}
	}
	return m
}

var someTokens = []int32{1, 300, 17, 999, 42, 42, 5, 2000, 13, 7}

// TestAgainstLlamaCPP compares with logits llama.cpp computed for the tiny
// model of tinyllama.Config{FF: 176}, the default when they were computed
// (testdata/llamacpp_logits.txt; a change of that model's bytes means
// regenerating them with llama.cpp).
func TestAgainstLlamaCPP(t *testing.T) {
	fh, err := os.Open("testdata/llamacpp_logits.txt")
	require.NoError(t, err)
	defer fh.Close()
	var tokens []int32
	type want struct {
		pos, id int
		logit   float64
	}
	var wants []want
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "tokens "):
			for _, s := range strings.Fields(line)[1:] {
				n, err := strconv.Atoi(s)
				require.NoError(t, err)
				tokens = append(tokens, int32(n))
			}
		default:
			var w want
			_, err := fmt.Sscan(line, &w.pos, &w.id, &w.logit)
			require.NoError(t, err, line)
			wants = append(wants, w)
		}
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, tokens)
	require.Greater(t, len(wants), 900)

	res, err := reference.Forward(model(t, tinyllama.Config{FF: 176}), tokens)
	require.NoError(t, err)
	worst := 0.0
	for _, w := range wants {
		worst = math.Max(worst, math.Abs(res.Logits.At(w.pos, w.id)-w.logit))
	}
	// llama.cpp computes in float32: about 1e-6 on logits of order 1.
	assert.Less(t, worst, 1e-5)
	t.Logf("max |reference - llama.cpp| over %d logits: %.3g", len(wants), worst)
}

// naive is a second, loop-only implementation of the same model for the
// default Config, written from the formulas without gonum or shared code.
func naive(t *testing.T, f *gguf.File, tokens []int32) (hidden [][][]float64, logits [][]float64) {
	get := func(name string) []float64 {
		x, err := f.ReadTensorF32(name)
		require.NoError(t, err)
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = float64(v)
		}
		return out
	}
	const E, H, KV, D, FF, L = 64, 4, 2, 16, 192, 2
	eps := float64(float32(1e-5))
	T := len(tokens)
	emb := get("token_embd.weight")
	nv := len(emb) / E
	x := make([][]float64, T)
	for i, tok := range tokens {
		x[i] = append([]float64(nil), emb[int(tok)*E:int(tok+1)*E]...)
	}
	snapshot := func() [][]float64 {
		s := make([][]float64, T)
		for i := range x {
			s[i] = append([]float64(nil), x[i]...)
		}
		return s
	}
	hidden = append(hidden, snapshot())
	norm := func(v, w []float64) []float64 {
		ss := 0.0
		for _, a := range v {
			ss += a * a
		}
		r := 1 / math.Sqrt(ss/float64(len(v))+eps)
		out := make([]float64, len(v))
		for i := range v {
			out[i] = v[i] * r * w[i]
		}
		return out
	}
	// W has ggml dims [in, out]: element (o, i) at o*in + i.
	matvec := func(W []float64, in, out int, v []float64) []float64 {
		r := make([]float64, out)
		for o := 0; o < out; o++ {
			for i := 0; i < in; i++ {
				r[o] += W[o*in+i] * v[i]
			}
		}
		return r
	}
	for l := 0; l < L; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		wq, wk, wv, wo := get(p+"attn_q.weight"), get(p+"attn_k.weight"), get(p+"attn_v.weight"), get(p+"attn_output.weight")
		an, fn := get(p+"attn_norm.weight"), get(p+"ffn_norm.weight")
		wg, wu, wd := get(p+"ffn_gate.weight"), get(p+"ffn_up.weight"), get(p+"ffn_down.weight")
		q, k, v := make([][]float64, T), make([][]float64, T), make([][]float64, T)
		for i := range x {
			h := norm(x[i], an)
			q[i], k[i], v[i] = matvec(wq, E, E, h), matvec(wk, E, KV*D, h), matvec(wv, E, KV*D, h)
			for _, vec := range [][]float64{q[i], k[i]} {
				for j := 0; j+1 < len(vec); j += 2 {
					pair := (j % D) / 2
					theta := float64(i) * math.Pow(10000, -2*float64(pair)/D)
					a, b := vec[j], vec[j+1]
					vec[j], vec[j+1] = a*math.Cos(theta)-b*math.Sin(theta), a*math.Sin(theta)+b*math.Cos(theta)
				}
			}
		}
		for i := range x {
			att := make([]float64, E)
			for h := 0; h < H; h++ {
				kvh := h * KV / H
				w := make([]float64, i+1)
				sum := 0.0
				for s := 0; s <= i; s++ {
					dot := 0.0
					for d := 0; d < D; d++ {
						dot += q[i][h*D+d] * k[s][kvh*D+d]
					}
					w[s] = math.Exp(dot / math.Sqrt(D))
					sum += w[s]
				}
				for s := 0; s <= i; s++ {
					for d := 0; d < D; d++ {
						att[h*D+d] += w[s] / sum * v[s][kvh*D+d]
					}
				}
			}
			o := matvec(wo, E, E, att)
			for j := range x[i] {
				x[i][j] += o[j]
			}
		}
		for i := range x {
			h := norm(x[i], fn)
			g, u := matvec(wg, E, FF, h), matvec(wu, E, FF, h)
			for j := range g {
				g[j] = g[j] / (1 + math.Exp(-g[j])) * u[j]
			}
			d := matvec(wd, FF, E, g)
			for j := range x[i] {
				x[i][j] += d[j]
			}
		}
		hidden = append(hidden, snapshot())
	}
	on, out := get("output_norm.weight"), get("output.weight")
	for i := range x {
		logits = append(logits, matvec(out, E, nv, norm(x[i], on)))
	}
	return hidden, logits
}

func TestAgainstNaive(t *testing.T) {
	f := model(t, tinyllama.Config{})
	res, err := reference.Forward(f, someTokens)
	require.NoError(t, err)
	hidden, logits := naive(t, f, someTokens)
	require.Len(t, res.Hidden, 3)
	for l := range hidden {
		r, c := res.Hidden[l].Dims()
		require.Equal(t, []int{len(someTokens), 64}, []int{r, c})
		assert.Less(t, maxDiff(res.Hidden[l], mat.NewDense(r, c, flat(hidden[l]))), 1e-12, "layer %d", l)
	}
	r, c := res.Logits.Dims()
	require.Equal(t, len(someTokens), r)
	assert.Less(t, maxDiff(res.Logits, mat.NewDense(r, c, flat(logits))), 1e-11)

	// Hidden[0] is exactly the embedding rows.
	emb, err := f.ReadTensorF32("token_embd.weight")
	require.NoError(t, err)
	for i, tok := range someTokens {
		for j := 0; j < 64; j++ {
			require.Equal(t, float64(emb[int(tok)*64+j]), res.Hidden[0].At(i, j))
		}
	}
	// FinalNorm rows have RMS near the mean norm weight (about 1).
	for i := 0; i < r; i++ {
		row := res.FinalNorm.RawRowView(i)
		ss := 0.0
		for _, v := range row {
			ss += v * v
		}
		assert.InDelta(t, 1, math.Sqrt(ss/64), 0.2)
	}
}

func flat(rows [][]float64) []float64 {
	var out []float64
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// A token's states do not depend on the tokens after it.
func TestCausal(t *testing.T) {
	f := model(t, tinyllama.Config{Layers: 3, Hidden: 32, Heads: 4, KVHeads: 1, FF: 64})
	full, err := reference.Forward(f, someTokens)
	require.NoError(t, err)
	prefix, err := reference.Forward(f, someTokens[:4])
	require.NoError(t, err)
	for l := range full.Hidden {
		assert.Less(t, maxDiff(prefix.Hidden[l], full.Hidden[l].Slice(0, 4, 0, 32)), 1e-12, "layer %d", l)
	}
	_, nv := full.Logits.Dims()
	assert.Less(t, maxDiff(prefix.Logits, full.Logits.Slice(0, 4, 0, nv)), 1e-12)
}

// rewrite copies f into a new file with the pairs of kv replacing or
// added to f's, letting edit replace or drop (nil) each tensor's data and
// change its dims.
func rewrite(t *testing.T, f *gguf.File, kv map[string]any, edit func(name string, dims []uint64, data []float32) ([]uint64, []float32)) *gguf.File {
	w := gguf.NewWriter()
	done := map[string]bool{}
	for _, p := range f.KVs {
		v := any(p.Value)
		if x, ok := kv[p.Key]; ok {
			v = x
			done[p.Key] = true
		}
		require.NoError(t, w.AddKV(p.Key, v))
	}
	for k, v := range kv {
		if !done[k] {
			require.NoError(t, w.AddKV(k, v))
		}
	}
	for _, ti := range f.Tensors {
		data, err := f.ReadTensorF32(ti.Name)
		require.NoError(t, err)
		dims, data := edit(ti.Name, ti.Dims, data)
		if data != nil {
			require.NoError(t, w.AddTensorF32(ti.Name, gguf.TypeF32, dims, data))
		}
	}
	var buf bytes.Buffer
	_, err := w.WriteTo(&buf)
	require.NoError(t, err)
	return read(t, buf.Bytes())
}

// Grouped-query attention: query head h reads KV head h/(heads/kv_heads).
// A model whose KV heads are copied out to one per query head, in that
// order, computes the same.
func TestGQAMapping(t *testing.T) {
	gqa := model(t, tinyllama.Config{Heads: 4, KVHeads: 2})
	const E, D = 64, 16
	mha := rewrite(t, gqa, map[string]any{"llama.attention.head_count_kv": uint32(4)},
		func(name string, dims []uint64, data []float32) ([]uint64, []float32) {
			if !strings.HasSuffix(name, "attn_k.weight") && !strings.HasSuffix(name, "attn_v.weight") {
				return dims, data
			}
			// Rows (outputs) of KV head g are rows g*D..(g+1)*D; query
			// heads 2g and 2g+1 read it.
			out := make([]float32, 0, 4*D*E)
			for h := 0; h < 4; h++ {
				g := h / 2
				out = append(out, data[g*D*E:(g+1)*D*E]...)
			}
			return []uint64{E, 4 * D}, out
		})
	a, err := reference.Forward(gqa, someTokens)
	require.NoError(t, err)
	b, err := reference.Forward(mha, someTokens)
	require.NoError(t, err)
	assert.Less(t, maxDiff(a.Logits, b.Logits), 1e-12)
}

// Without output.weight, the logits use the token embeddings (tied).
func TestTiedOutput(t *testing.T) {
	f := model(t, tinyllama.Config{})
	tied := rewrite(t, f, nil, func(name string, dims []uint64, data []float32) ([]uint64, []float32) {
		if name == "output.weight" {
			return nil, nil
		}
		return dims, data
	})
	_, ok := tied.Tensor("output.weight")
	require.False(t, ok)
	res, err := reference.Forward(tied, someTokens)
	require.NoError(t, err)
	emb, err := f.ReadTensorF32("token_embd.weight")
	require.NoError(t, err)
	for i := range someTokens {
		for _, v := range []int{0, 5, 1000, 2214} {
			dot := 0.0
			for j := 0; j < 64; j++ {
				dot += res.FinalNorm.At(i, j) * float64(emb[v*64+j])
			}
			assert.InDelta(t, dot, res.Logits.At(i, v), 1e-12)
		}
	}
}

// F16 weights are read exactly: the reference of an f16 model is the
// reference of the f32 model whose weights are rounded to f16.
func TestF16(t *testing.T) {
	f16 := model(t, tinyllama.Config{Type: "f16"})
	rounded := rewrite(t, model(t, tinyllama.Config{}), nil, func(name string, dims []uint64, data []float32) ([]uint64, []float32) {
		if len(dims) == 1 {
			return dims, data // norms stay f32
		}
		out := make([]float32, len(data))
		for i, x := range data {
			out[i] = gguf.F16ToF32(gguf.F32ToF16(x))
		}
		return dims, out
	})
	a, err := reference.Forward(f16, someTokens)
	require.NoError(t, err)
	b, err := reference.Forward(rounded, someTokens)
	require.NoError(t, err)
	assert.Zero(t, maxDiff(a.Logits, b.Logits))
}

func TestErrors(t *testing.T) {
	f := model(t, tinyllama.Config{})
	_, err := reference.Forward(f, nil)
	assert.Error(t, err)
	_, err = reference.Forward(f, []int32{0, 2215})
	assert.ErrorContains(t, err, "not in [0, 2215)")
	_, err = reference.Forward(f, []int32{-1})
	assert.Error(t, err)

	other := rewrite(t, f, map[string]any{"general.architecture": "gpt2"}, func(_ string, d []uint64, x []float32) ([]uint64, []float32) { return d, x })
	_, err = reference.Forward(other, someTokens)
	assert.ErrorIs(t, err, reference.ErrUnsupported)

	same := func(_ string, d []uint64, x []float32) ([]uint64, []float32) { return d, x }
	yarn := rewrite(t, f, map[string]any{"llama.rope.scaling.type": "yarn"}, same)
	_, err = reference.Forward(yarn, someTokens)
	assert.ErrorIs(t, err, reference.ErrUnsupported)
	moe := rewrite(t, f, map[string]any{"llama.expert_count": uint32(8)}, same)
	_, err = reference.Forward(moe, someTokens)
	assert.ErrorIs(t, err, reference.ErrUnsupported)
	perLayer := rewrite(t, f, map[string]any{"llama.feed_forward_length": []uint32{192, 192}}, same)
	a, err := reference.Forward(perLayer, someTokens)
	require.NoError(t, err, "feed_forward_length per layer")
	b, err := reference.Forward(f, someTokens)
	require.NoError(t, err)
	assert.Zero(t, maxDiff(a.Logits, b.Logits))
	missing := rewrite(t, f, nil, func(name string, d []uint64, x []float32) ([]uint64, []float32) {
		if name == "blk.1.ffn_up.weight" {
			return nil, nil
		}
		return d, x
	})
	_, err = reference.Forward(missing, someTokens)
	assert.ErrorIs(t, err, gguf.ErrTensorNotFound)

	wrongShape := rewrite(t, f, map[string]any{"llama.attention.head_count_kv": uint32(4)}, func(_ string, d []uint64, x []float32) ([]uint64, []float32) { return d, x })
	_, err = reference.Forward(wrongShape, someTokens)
	assert.ErrorContains(t, err, "has dims")
}
