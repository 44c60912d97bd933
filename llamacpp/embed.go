package llamacpp

/*
#include "llama.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/locallm/locallm/llm"
)

// ErrNoPooling is returned by Embed for a model whose metadata declares no
// pooling ({arch}.pooling_type absent or none), such as a generative llama:
// it has no embedding of its own, and its hidden states must be pooled by
// the caller instead.
var ErrNoPooling = errors.New("llamacpp: the model declares no pooling, so it has no embedding of its own; pool its hidden states instead (HiddenStates or LastHiddenStates, then hiddenstates.Pool)")

// embedder is the context Embed evaluates with: embeddings on and the
// model's own pooling. It is made on the first Embed and kept, except for a
// model without pooling, whose context is closed at once (pooling records
// why).
type embedder struct {
	mu      sync.Mutex // held while c and b are made and used
	c       *Context
	b       *Batch
	pooling string // the context's PoolingType, once made
	closed  bool
}

func (e *embedder) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	if e.b != nil {
		e.b.Close()
	}
	if e.c != nil {
		e.c.Close()
	}
}

// makeLocked makes the embedding context on first use; e.mu is held.
func (e *embedder) makeLocked(m *Model, o ContextOptions) error {
	if e.closed {
		return ErrClosed
	}
	if e.c != nil || e.pooling != "" {
		return nil
	}
	o.Embeddings = true
	c, err := m.NewContext(&o)
	if err != nil {
		return err
	}
	e.pooling = c.PoolingType()
	if e.pooling == "none" || e.pooling == "rank" {
		c.Close()
		return nil
	}
	b, err := NewBatch(c.BatchSize(), 1)
	if err != nil {
		c.Close()
		e.pooling = ""
		return err
	}
	e.c, e.b = c, b
	return nil
}

// Embed returns each input's embedding as the model itself computes it:
// llama.cpp pools the final hidden states by the model's pooling_type
// (mean over the tokens, the first ([CLS]) token, or the last). The
// vectors are not normalised (llama.cpp's llama-embedding normalises in
// the tool, not the library); hiddenstates.Normalize does that. Each vector
// has n_embd elements and is owned by the caller.
//
// Inputs are formatted as for generation (chat template or raw prompt,
// special tokens added: [CLS] ... [SEP] for a WordPiece vocabulary) and
// evaluated several per decode, each its own sequence, up to the batch
// size; the result is the same as one at a time. Every input must fit one
// ubatch (ContextOptions.UBatchSize, which defaults to BatchSize): an
// encoder attends over the whole sequence at once, and llama.cpp pools per
// ubatch. A BERT also takes at most its context_length tokens (its learned
// positions).
//
// A model without pooling gives ErrNoPooling; a reranker (pooling "rank",
// whose output is a score) an error too. An input that cannot be embedded
// (empty, too long) fails the call before anything is evaluated, with an
// error that names its index and wraps the cause (llm.ErrEmptyInput,
// llm.ErrContextTooLong, ...).
func (l *LLM) Embed(ctx context.Context, inputs []llm.Input) ([][]float32, error) {
	h, m, err := l.hiddenCtx()
	if err != nil {
		return nil, err
	}
	e := &h.emb
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.makeLocked(m, l.opts.Context); err != nil {
		return nil, err
	}
	switch e.pooling {
	case "none":
		return nil, fmt.Errorf("%w (%s)", ErrNoPooling, m.info.Architecture)
	case "rank":
		return nil, fmt.Errorf("%w: the model is a reranker (pooling rank): its pooled output is a relevance score, not an embedding", llm.ErrBadInput)
	}
	c := e.c
	if c.c == nil {
		return nil, ErrClosed
	}
	toks := make([][]int32, len(inputs))
	for i, in := range inputs {
		t, err := l.prompt(m, in)
		if err == nil {
			err = c.fits(len(t))
		}
		if err == nil && len(t) > c.ubatchSize() {
			err = fmt.Errorf("%w: %d tokens > ubatch_size %d (a pooled sequence is evaluated in one ubatch)", llm.ErrContextTooLong, len(t), c.ubatchSize())
		}
		if err != nil {
			return nil, fmt.Errorf("llamacpp: embed input %d: %w", i, err)
		}
		toks[i] = t
	}

	out := make([][]float32, len(inputs))
	limit := min(c.ubatchSize(), c.BatchSize())
	var group []int
	used := 0
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		defer func() { group, used = group[:0], 0 }()
		c.ClearKV()
		e.b.Clear()
		for s, i := range group {
			// Every token is an output: pooling reads all of a sequence's rows.
			for p, tok := range toks[i] {
				if _, err := e.b.Add(tok, p, []int32{int32(s)}, true); err != nil {
					return err
				}
			}
		}
		if err := c.Decode(ctx, e.b); err != nil {
			return err
		}
		for s, i := range group {
			v, err := c.SequenceEmbedding(int32(s))
			if err != nil {
				return fmt.Errorf("llamacpp: embed input %d: %w", i, err)
			}
			out[i] = v
		}
		return nil
	}
	for i, t := range toks {
		if used+len(t) > limit || len(group) == c.Sequences() {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		group = append(group, i)
		used += len(t)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	c.ClearKV()
	return out, nil
}

// hasMemory says whether the context keeps a KV cache. One without (an
// encoder such as BERT, where llama_decode runs llama_encode) evaluates
// every decode in a single ubatch, and llama.cpp aborts the process when a
// batch is larger.
func (c *Context) hasMemory() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c != nil && C.llama_get_memory(c.c) != nil
}

// ubatchSize is the context's n_ubatch.
func (c *Context) ubatchSize() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return 0
	}
	return int(C.llama_n_ubatch(c.c))
}

// decodeLimit is the most tokens one Decode of this context may take
// without aborting: n_batch, or n_ubatch for a context without memory.
func (c *Context) decodeLimit() int {
	if c.hasMemory() {
		return c.BatchSize()
	}
	return min(c.BatchSize(), c.ubatchSize())
}

// fits reports, as an error wrapping llm.ErrContextTooLong, why one input
// of n tokens cannot be evaluated in this context: more than its KV cache
// holds; or, without memory, more than one ubatch, or more than a BERT's
// learned positions (llama.cpp would abort reading past position_embd).
func (c *Context) fits(n int) error {
	if c.hasMemory() {
		if n > c.Size() {
			return fmt.Errorf("%w: %d tokens > context size %d", llm.ErrContextTooLong, n, c.Size())
		}
		return nil
	}
	if lim := c.decodeLimit(); n > lim {
		return fmt.Errorf("%w: %d tokens > %d, the most an encoder takes in one batch (ubatch_size)", llm.ErrContextTooLong, n, lim)
	}
	if info := c.model.info; info.Architecture == "bert" && n > info.NCtxTrain {
		return fmt.Errorf("%w: %d tokens > the model's %d positions (bert.context_length)", llm.ErrContextTooLong, n, info.NCtxTrain)
	}
	return nil
}
