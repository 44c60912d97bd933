package llamacpp

import (
	"context"
	"fmt"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llm"
)

// LastHiddenStates implements llm.HiddenStater: the final normed hidden
// states of each input (layer n_layer).
func (l *LLM) LastHiddenStates(ctx context.Context, inputs []llm.Input) ([]llm.HiddenStates, error) {
	return l.HiddenStates(ctx, inputs, []int{-1})
}

// ResolveLayers turns Hugging Face layer numbers (negative from the end)
// into 0..nLayer, checking the range.
func ResolveLayers(layers []int, nLayer int) ([]int, error) {
	if len(layers) == 0 {
		return nil, fmt.Errorf("%w: no layers asked for", llm.ErrBadParameter)
	}
	out := make([]int, len(layers))
	for i, l := range layers {
		r := l
		if l < 0 {
			r = nLayer + 1 + l
		}
		if r < 0 || r > nLayer {
			return nil, fmt.Errorf("%w: layer %d outside [-%d, %d] (the model has %d blocks)", llm.ErrBadParameter, l, nLayer+1, nLayer, nLayer)
		}
		out[i] = r
	}
	return out, nil
}

// HiddenStates implements llm.HiddenStater. Inputs are formatted as for
// generation (chat template or raw prompt, special tokens added) and
// evaluated by the engine's scheduler in the same decodes as whatever else
// is running, several inputs per decode; the result is the same as
// evaluating them one at a time, up to float rounding. Each state matrix is
// [tokens, n_embd], float64, owned by the caller. An input that cannot be
// evaluated (empty, longer than the context) has its Err set; the returned
// error is for the call as a whole.
//
// No KV cache is sized for this beyond what the inputs need: an input of
// n tokens takes n cells while it is evaluated (see ContextOptions).
//
// An encoder of the BERT family (architectures bert, nomic-bert,
// jina-bert-v2/v3) is numbered as Hugging Face's BertModel numbers it: 0 is
// the embeddings after their LayerNorm, i the output of block i, and
// n_layer the last block's output (there is no final norm). Each of its
// inputs must fit one ubatch (and a bert its context_length positions),
// since an encoder attends over the whole sequence at once. Its blocks use
// ggml's f16 GELU table, so a token's states can differ from one batch
// shape to another by an f16 step of one activation (about 1e-4), not only
// by float32 rounding.
func (l *LLM) HiddenStates(ctx context.Context, inputs []llm.Input, layers []int) ([]llm.HiddenStates, error) {
	eng, m, cctx, release, err := l.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	info := m.Info()
	resolved, err := ResolveLayers(layers, info.NLayer)
	if err != nil {
		return nil, err
	}
	// Capture each distinct layer once.
	var uniq []int
	pos := map[int]int{}
	for _, r := range resolved {
		if _, ok := pos[r]; !ok {
			pos[r] = len(uniq)
			uniq = append(uniq, r)
		}
	}
	out := make([]llm.HiddenStates, len(inputs))
	var wg sync.WaitGroup
	for i, in := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := l.prompt(m, in)
			if err == nil {
				err = l.encoderFits(info, len(p.tokens))
			}
			if err != nil {
				out[i].Err = err
				return
			}
			rows, err := eng.Capture(cctx, p.tokens, uniq)
			if err != nil {
				out[i].Err = err
				return
			}
			n := len(p.tokens)
			hs := llm.HiddenStates{Tokens: p.tokens, Layers: append([]int(nil), resolved...)}
			for _, r := range resolved {
				data := make([]float64, n*info.NEmbd)
				for k, v := range rows[pos[r]] {
					data[k] = float64(v)
				}
				hs.States = append(hs.States, mat.NewDense(n, info.NEmbd, data))
			}
			out[i] = hs
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return out, err
	}
	if l.isClosed() {
		return out, ErrClosed
	}
	return out, nil
}

// encoderFits reports why an input of n tokens cannot go through a BERT:
// llama.cpp would abort reading past its learned positions.
func (l *LLM) encoderFits(info llama.ModelInfo, n int) error {
	if info.Architecture == "bert" && n > info.NCtxTrain {
		return fmt.Errorf("%w: %d tokens > the model's %d positions (bert.context_length)", llm.ErrContextTooLong, n, info.NCtxTrain)
	}
	return nil
}
