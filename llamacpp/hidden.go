package llamacpp

import (
	"context"
	"fmt"
	"sync"

	"gonum.org/v1/gonum/mat"

	"github.com/locallm/locallm/llm"
)

// hiddenContext holds the contexts made for reading a model's states
// rather than generating, each made on first use: c, whose graph
// evaluations report hidden states (separate from the generation context so
// that generation pays nothing for the callback), and emb, with embeddings
// on, for Embed.
type hiddenContext struct {
	mu     sync.Mutex // held while c and b are made and used
	c      *Context
	b      *Batch
	closed bool
	emb    embedder
}

func (h *hiddenContext) close() {
	h.mu.Lock()
	h.closed = true
	if h.b != nil {
		h.b.Close()
	}
	if h.c != nil {
		h.c.Close()
	}
	h.mu.Unlock()
	h.emb.close()
}

// captureLocked makes the hidden-state context on first use; h.mu is held.
func (h *hiddenContext) captureLocked(m *Model, o ContextOptions) error {
	if h.closed {
		return ErrClosed
	}
	if h.c != nil {
		return nil
	}
	c, err := m.newContext(&o, true)
	if err != nil {
		return err
	}
	b, err := NewBatch(c.BatchSize(), 1)
	if err != nil {
		c.Close()
		return err
	}
	h.c, h.b = c, b
	return nil
}

// hiddenCtx returns the holder of the hidden-state and embedding contexts,
// making it (but not its contexts) on first use.
func (l *LLM) hiddenCtx() (*hiddenContext, *Model, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, nil, ErrClosed
	}
	if l.model == nil {
		return nil, nil, fmt.Errorf("llamacpp: %w: call Load first", llm.ErrNotLoaded)
	}
	if l.hidden == nil {
		l.hidden = &hiddenContext{}
	}
	return l.hidden, l.model, nil
}

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
// evaluated several per decode, up to the batch size; the result is the same
// as evaluating them one at a time. Each state matrix is [tokens, n_embd],
// float64, owned by the caller. An input that cannot be evaluated (empty,
// longer than the context) has its Err set; the returned error is for the
// call as a whole.
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
	h, m, err := l.hiddenCtx()
	if err != nil {
		return nil, err
	}
	resolved, err := ResolveLayers(layers, m.info.NLayer)
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
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.captureLocked(m, l.opts.Context); err != nil {
		return nil, err
	}
	if h.c.c == nil {
		return nil, ErrClosed
	}
	out := make([]llm.HiddenStates, len(inputs))
	toks := make([][]int32, len(inputs))
	var valid []int // the inputs that can be evaluated
	for i, in := range inputs {
		t, err := l.prompt(m, in)
		if err == nil {
			err = h.c.fits(len(t))
		}
		if err != nil {
			out[i].Err = err
			continue
		}
		toks[i] = t
		valid = append(valid, i)
	}
	// The final norm is taken over output rows only, so every token is an
	// output when it is asked for.
	_, allOutputs := pos[m.info.NLayer]

	// A context without memory (an encoder such as BERT) evaluates each
	// decode in one ubatch, so its groups are bounded by that.
	cap := h.c.decodeLimit()
	var group []int
	used := 0
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		defer func() { group, used = group[:0], 0 }()
		h.c.ClearKV()
		if err := h.c.setCapture(uniq, true); err != nil {
			return err
		}
		// One input longer than a batch is decoded in chunks; otherwise the
		// group's inputs share one decode, each its own sequence.
		if len(group) == 1 && len(toks[group[0]]) > cap {
			t := toks[group[0]]
			for start := 0; start < len(t); start += cap {
				h.b.Clear()
				end := min(start+cap, len(t))
				for p := start; p < end; p++ {
					if _, err := h.b.Add(t[p], p, []int32{0}, allOutputs || p == len(t)-1); err != nil {
						return err
					}
				}
				if err := h.c.Decode(ctx, h.b); err != nil {
					return err
				}
			}
		} else {
			h.b.Clear()
			for s, i := range group {
				t := toks[i]
				for p, tok := range t {
					if _, err := h.b.Add(tok, p, []int32{int32(s % h.c.Sequences())}, allOutputs || p == len(t)-1); err != nil {
						return err
					}
				}
			}
			if err := h.c.Decode(ctx, h.b); err != nil {
				return err
			}
		}
		row := 0
		for _, i := range group {
			n := len(toks[i])
			hs := llm.HiddenStates{Tokens: append([]int32(nil), toks[i]...), Layers: append([]int(nil), resolved...)}
			for _, r := range resolved {
				data, err := h.c.capturedRows(pos[r], row, n)
				if err != nil {
					return fmt.Errorf("input %d layer %d: %w", i, r, err)
				}
				hs.States = append(hs.States, mat.NewDense(n, m.info.NEmbd, data))
			}
			out[i] = hs
			row += n
		}
		return nil
	}
	for _, i := range valid {
		t := toks[i]
		if used+len(t) > cap || len(group) == h.c.Sequences() || (len(group) > 0 && len(t) > cap) {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		group = append(group, i)
		used += len(t)
		if used >= cap {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	h.c.ClearKV()
	return out, nil
}
