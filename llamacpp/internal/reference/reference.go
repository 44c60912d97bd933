package reference

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/locallm/locallm/llamacpp/gguf"
)

// Result holds every intermediate the binding compares with llama.cpp.
// Each matrix has one row per input token; none shares memory with the
// File or another matrix.
type Result struct {
	// Hidden has NLayer+1 matrices of shape [tokens, n_embd]: Hidden[0]
	// is the token embeddings, Hidden[i] the residual stream after block
	// i (llama.cpp's "l_out-<i-1>").
	Hidden []*mat.Dense
	// FinalNorm is Hidden[NLayer] after the output RMSNorm: llama.cpp's
	// "result_norm", what Hugging Face calls last_hidden_state.
	FinalNorm *mat.Dense
	// Logits has shape [tokens, n_vocab].
	Logits *mat.Dense
}

// ErrUnsupported is wrapped by Forward's errors for models outside what it
// implements.
var ErrUnsupported = errors.New("reference: unsupported model")

// hparams are the hyperparameters Forward uses, read as llama.cpp's
// load_hparams reads them for LLM_ARCH_LLAMA.
type hparams struct {
	nEmbd, nLayer, nHead, nHeadKV, headDim, nRot, nVocab int
	nFF                                                  []int // per layer
	ropeBase, ropeScale, eps                             float64
}

func readHParams(f *gguf.File) (hparams, error) {
	var hp hparams
	arch, err := f.String("general.architecture")
	if err != nil {
		return hp, err
	}
	if arch != "llama" {
		return hp, fmt.Errorf("%w: architecture %q, not llama", ErrUnsupported, arch)
	}
	u := func(key string, def int) (int, error) {
		v, err := f.Uint(key)
		if errors.Is(err, gguf.ErrKeyNotFound) && def >= 0 {
			return def, nil
		}
		if err != nil {
			return 0, err
		}
		if v > math.MaxInt32 {
			return 0, fmt.Errorf("reference: %s = %d is too large", key, v)
		}
		return int(v), nil
	}
	if hp.nEmbd, err = u("llama.embedding_length", -1); err != nil {
		return hp, err
	}
	if hp.nLayer, err = u("llama.block_count", -1); err != nil {
		return hp, err
	}
	if hp.nHead, err = u("llama.attention.head_count", -1); err != nil {
		return hp, err
	}
	if hp.nHeadKV, err = u("llama.attention.head_count_kv", hp.nHead); err != nil {
		return hp, err
	}
	if hp.nHead == 0 || hp.nHeadKV == 0 || hp.nEmbd%hp.nHead != 0 || hp.nHead%hp.nHeadKV != 0 {
		return hp, fmt.Errorf("reference: %d heads, %d KV heads and n_embd %d do not fit", hp.nHead, hp.nHeadKV, hp.nEmbd)
	}
	hp.headDim = hp.nEmbd / hp.nHead
	for _, k := range []string{"llama.attention.key_length", "llama.attention.value_length"} {
		n, err := u(k, hp.headDim)
		if err != nil {
			return hp, err
		}
		if n != hp.headDim {
			return hp, fmt.Errorf("%w: %s %d is not n_embd/n_head %d", ErrUnsupported, k, n, hp.headDim)
		}
	}
	// feed_forward_length is one number or one per layer, as llama.cpp's
	// get_key_or_arr reads it.
	ff, err := f.Array("llama.feed_forward_length")
	switch {
	case err == nil:
		if ff.Len() != hp.nLayer {
			return hp, fmt.Errorf("reference: llama.feed_forward_length has %d values for %d layers", ff.Len(), hp.nLayer)
		}
		for i := 0; i < ff.Len(); i++ {
			n, ok := ff.Index(i).AsUint()
			if !ok || n > math.MaxInt32 {
				return hp, fmt.Errorf("reference: llama.feed_forward_length[%d] is %v", i, ff.Index(i))
			}
			hp.nFF = append(hp.nFF, int(n))
		}
	case errors.Is(err, gguf.ErrWrongType):
		n, err := u("llama.feed_forward_length", -1)
		if err != nil {
			return hp, err
		}
		for i := 0; i < hp.nLayer; i++ {
			hp.nFF = append(hp.nFF, n)
		}
	default:
		return hp, err
	}
	if hp.nRot, err = u("llama.rope.dimension_count", hp.headDim); err != nil {
		return hp, err
	}
	if hp.nRot != hp.headDim {
		return hp, fmt.Errorf("reference: rope.dimension_count %d is not the head size %d", hp.nRot, hp.headDim)
	}
	if n, err := u("llama.expert_count", 0); err != nil || n != 0 {
		return hp, fmt.Errorf("%w: mixture of experts", ErrUnsupported)
	}
	hp.ropeBase = 10000
	if v, err := f.Float("llama.rope.freq_base"); err == nil {
		hp.ropeBase = v
	} else if !errors.Is(err, gguf.ErrKeyNotFound) {
		return hp, err
	}
	// Linear RoPE scaling: llama.cpp's freq_scale is 1/factor.
	hp.ropeScale = 1
	if s, err := f.String("llama.rope.scaling.type"); err == nil && s != "linear" && s != "none" {
		return hp, fmt.Errorf("%w: RoPE scaling %q", ErrUnsupported, s)
	}
	for _, k := range []string{"llama.rope.scaling.factor", "llama.rope.scale_linear"} {
		if v, err := f.Float(k); err == nil {
			if v != 0 {
				hp.ropeScale = 1 / v
			}
			break
		}
	}
	if hp.eps, err = f.Float("llama.attention.layer_norm_rms_epsilon"); err != nil {
		return hp, err
	}
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil {
		return hp, err
	}
	hp.nVocab = len(tokens)
	return hp, nil
}

// weights reads tensors as float64, checking their shapes (ggml order).
type weights struct {
	f   *gguf.File
	err error
}

// matrix returns the tensor of ggml dims [in, out] as a [out, in] matrix,
// or nil if it is absent and optional.
func (w *weights) matrix(name string, in, out int, optional bool) *mat.Dense {
	data := w.read(name, []uint64{uint64(in), uint64(out)}, optional)
	if data == nil {
		return nil
	}
	return mat.NewDense(out, in, data)
}

// vector returns the 1-D tensor of n elements, or nil if it is absent and
// optional.
func (w *weights) vector(name string, n int, optional bool) []float64 {
	return w.read(name, []uint64{uint64(n)}, optional)
}

func (w *weights) read(name string, dims []uint64, optional bool) []float64 {
	if w.err != nil {
		return nil
	}
	t, ok := w.f.Tensor(name)
	if !ok {
		if !optional {
			w.err = fmt.Errorf("%w: %q", gguf.ErrTensorNotFound, name)
		}
		return nil
	}
	if fmt.Sprint(t.Dims) != fmt.Sprint(dims) {
		w.err = fmt.Errorf("reference: tensor %q has dims %v, expected %v", name, t.Dims, dims)
		return nil
	}
	x, err := w.f.ReadTensorF32(name)
	if err != nil {
		w.err = err
		return nil
	}
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// Forward runs a llama-architecture model over tokens (positions 0, 1, ...,
// one sequence, causal) and returns its hidden states and logits, computed
// in float64 with llama.cpp's math for LLM_ARCH_LLAMA:
//
//   - RMSNorm: x / sqrt(mean(x²) + eps) * w;
//   - RoPE "normal": pairs (x[2i], x[2i+1]) of each head rotated by
//     pos * freq_scale * base^(-2i/n_rot), divided by rope_freqs[i] where
//     the model has that tensor;
//   - grouped-query attention, query head h reading KV head
//     h / (n_head/n_head_kv), softmax of q·k/sqrt(head_dim) over positions
//     up to its own;
//   - SwiGLU: down(silu(gate(x)) * up(x));
//   - optional biases of q, k, v, output and the FFN;
//   - logits from output.weight, or token_embd.weight when it is absent
//     (tied).
//
// Weights may be F32, F16, BF16 or Q8_0 (dequantised; llama.cpp also
// quantises the activations for Q8_0, so only F32 and F16 models can agree
// closely). Mixture-of-experts, YaRN and other RoPE scalings give
// ErrUnsupported. It holds one layer's weights at a time.
func Forward(f *gguf.File, tokens []int32) (*Result, error) {
	hp, err := readHParams(f)
	if err != nil {
		return nil, err
	}
	if len(tokens) == 0 {
		return nil, errors.New("reference: no tokens")
	}
	for i, t := range tokens {
		if t < 0 || int(t) >= hp.nVocab {
			return nil, fmt.Errorf("reference: token %d at %d is not in [0, %d)", t, i, hp.nVocab)
		}
	}
	T, E := len(tokens), hp.nEmbd
	w := &weights{f: f}

	// Embeddings: the rows of token_embd for the tokens.
	emb := w.matrix("token_embd.weight", E, hp.nVocab, false)
	if w.err != nil {
		return nil, w.err
	}
	x := mat.NewDense(T, E, nil)
	for i, t := range tokens {
		x.SetRow(i, emb.RawRowView(int(t)))
	}
	emb = nil // re-read at the end if the output is tied to it
	res := &Result{Hidden: []*mat.Dense{mat.DenseCopyOf(x)}}

	ropeFreqs := w.vector("rope_freqs.weight", hp.nRot/2, true)
	cos, sin := ropeTables(hp, T, ropeFreqs)
	kvDim := hp.nHeadKV * hp.headDim
	for l := 0; l < hp.nLayer; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		attnNorm := w.vector(p+"attn_norm.weight", E, false)
		wq := w.matrix(p+"attn_q.weight", E, E, false)
		wk := w.matrix(p+"attn_k.weight", E, kvDim, false)
		wv := w.matrix(p+"attn_v.weight", E, kvDim, false)
		wo := w.matrix(p+"attn_output.weight", E, E, false)
		bq := w.vector(p+"attn_q.bias", E, true)
		bk := w.vector(p+"attn_k.bias", kvDim, true)
		bv := w.vector(p+"attn_v.bias", kvDim, true)
		bo := w.vector(p+"attn_output.bias", E, true)
		ffnNorm := w.vector(p+"ffn_norm.weight", E, false)
		if w.err != nil {
			return nil, w.err
		}
		if _, moe := f.Tensor(p + "ffn_gate_inp.weight"); moe {
			return nil, fmt.Errorf("%w: mixture of experts in layer %d", ErrUnsupported, l)
		}

		// Attention.
		h := rmsNorm(x, attnNorm, hp.eps)
		q := linear(h, wq, bq)
		k := linear(h, wk, bk)
		v := linear(h, wv, bv)
		rope(q, hp.nHead, hp.headDim, cos, sin)
		rope(k, hp.nHeadKV, hp.headDim, cos, sin)
		att := attention(q, k, v, hp)
		x.Add(x, linear(att, wo, bo))

		// Feed-forward.
		nFF := hp.nFF[l]
		gate := w.matrix(p+"ffn_gate.weight", E, nFF, false)
		up := w.matrix(p+"ffn_up.weight", E, nFF, false)
		down := w.matrix(p+"ffn_down.weight", nFF, E, false)
		bGate := w.vector(p+"ffn_gate.bias", nFF, true)
		bUp := w.vector(p+"ffn_up.bias", nFF, true)
		bDown := w.vector(p+"ffn_down.bias", E, true)
		if w.err != nil {
			return nil, w.err
		}
		h = rmsNorm(x, ffnNorm, hp.eps)
		g := linear(h, gate, bGate)
		u := linear(h, up, bUp)
		g.Apply(func(i, j int, z float64) float64 { return z / (1 + math.Exp(-z)) * u.At(i, j) }, g)
		x.Add(x, linear(g, down, bDown))

		res.Hidden = append(res.Hidden, mat.DenseCopyOf(x))
	}

	outNorm := w.vector("output_norm.weight", E, false)
	out := w.matrix("output.weight", E, hp.nVocab, true)
	if out == nil {
		out = w.matrix("token_embd.weight", E, hp.nVocab, false) // tied
	}
	if w.err != nil {
		return nil, w.err
	}
	res.FinalNorm = rmsNorm(x, outNorm, hp.eps)
	res.Logits = linear(res.FinalNorm, out, nil)
	return res, nil
}

// rmsNorm returns x / sqrt(mean(x²) + eps) * w, row by row.
func rmsNorm(x *mat.Dense, w []float64, eps float64) *mat.Dense {
	r, c := x.Dims()
	out := mat.NewDense(r, c, nil)
	for i := 0; i < r; i++ {
		row := x.RawRowView(i)
		ss := 0.0
		for _, v := range row {
			ss += v * v
		}
		scale := 1 / math.Sqrt(ss/float64(c)+eps)
		dst := out.RawRowView(i)
		for j, v := range row {
			dst[j] = v * scale * w[j]
		}
	}
	return out
}

// linear returns x Wᵀ + b for W of shape [out, in] (b may be nil).
func linear(x, w *mat.Dense, b []float64) *mat.Dense {
	r, _ := x.Dims()
	o, _ := w.Dims()
	out := mat.NewDense(r, o, nil)
	out.Mul(x, w.T())
	if b != nil {
		for i := 0; i < r; i++ {
			row := out.RawRowView(i)
			for j := range row {
				row[j] += b[j]
			}
		}
	}
	return out
}

// ropeTables returns cos and sin of the rotation angles, [position][pair].
func ropeTables(hp hparams, T int, freqs []float64) (cos, sin [][]float64) {
	half := hp.nRot / 2
	cos, sin = make([][]float64, T), make([][]float64, T)
	for p := 0; p < T; p++ {
		cos[p], sin[p] = make([]float64, half), make([]float64, half)
		for i := 0; i < half; i++ {
			theta := float64(p) * hp.ropeScale * math.Pow(hp.ropeBase, -2*float64(i)/float64(hp.nRot))
			if freqs != nil {
				theta /= freqs[i]
			}
			cos[p][i], sin[p][i] = math.Cos(theta), math.Sin(theta)
		}
	}
	return cos, sin
}

// rope rotates the adjacent pairs of each head of each row in place
// (GGML_ROPE_TYPE_NORMAL, which LLM_ARCH_LLAMA uses).
func rope(x *mat.Dense, heads, headDim int, cos, sin [][]float64) {
	r, _ := x.Dims()
	for p := 0; p < r; p++ {
		row := x.RawRowView(p)
		for h := 0; h < heads; h++ {
			v := row[h*headDim : (h+1)*headDim]
			for i := 0; i < headDim/2; i++ {
				x0, x1 := v[2*i], v[2*i+1]
				v[2*i] = x0*cos[p][i] - x1*sin[p][i]
				v[2*i+1] = x0*sin[p][i] + x1*cos[p][i]
			}
		}
	}
}

// attention is causal multi-head attention with grouped KV heads; q is
// [T, n_head*head_dim], k and v [T, n_head_kv*head_dim].
func attention(q, k, v *mat.Dense, hp hparams) *mat.Dense {
	T, _ := q.Dims()
	hd := hp.headDim
	group := hp.nHead / hp.nHeadKV
	scale := 1 / math.Sqrt(float64(hd))
	out := mat.NewDense(T, hp.nHead*hd, nil)
	scores := make([]float64, T)
	for h := 0; h < hp.nHead; h++ {
		kh := h / group
		for t := 0; t < T; t++ {
			qt := q.RawRowView(t)[h*hd : (h+1)*hd]
			maxS := math.Inf(-1)
			for s := 0; s <= t; s++ {
				ks := k.RawRowView(s)[kh*hd : (kh+1)*hd]
				dot := 0.0
				for i := range qt {
					dot += qt[i] * ks[i]
				}
				scores[s] = dot * scale
				maxS = math.Max(maxS, scores[s])
			}
			sum := 0.0
			for s := 0; s <= t; s++ {
				scores[s] = math.Exp(scores[s] - maxS)
				sum += scores[s]
			}
			dst := out.RawRowView(t)[h*hd : (h+1)*hd]
			for s := 0; s <= t; s++ {
				vs := v.RawRowView(s)[kh*hd : (kh+1)*hd]
				p := scores[s] / sum
				for i := range dst {
					dst[i] += p * vs[i]
				}
			}
		}
	}
	return out
}
