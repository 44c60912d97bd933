package llama

/*
#include <stdlib.h>
#include "llama.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Batch is the input of one Decode: tokens with their positions, the
// sequences each belongs to, and whether its logits are wanted. It owns C
// memory; Close frees it. A Batch is not safe for concurrent use.
type Batch struct {
	c       C.struct_llama_batch
	cap     int
	nSeqMax int
	n       int
	// Go views of the C arrays.
	token  []C.llama_token
	pos    []C.llama_pos
	nSeq   []C.int32_t
	seqIDs []*C.llama_seq_id
	logits []C.int8_t
}

// NewBatch allocates a batch of up to capacity tokens, each in up to
// seqsPerToken sequences.
func NewBatch(capacity, seqsPerToken int) (*Batch, error) {
	if capacity <= 0 || capacity > MaxContextSize {
		return nil, badOption("batch capacity", capacity, fmt.Sprintf("1 to %d", MaxContextSize))
	}
	if seqsPerToken <= 0 || seqsPerToken > MaxSequences {
		return nil, badOption("sequences per token", seqsPerToken, fmt.Sprintf("1 to %d", MaxSequences))
	}
	b := &Batch{c: C.llama_batch_init(C.int32_t(capacity), 0, C.int32_t(seqsPerToken)), cap: capacity, nSeqMax: seqsPerToken}
	if b.c.token == nil {
		return nil, fmt.Errorf("llamacpp: out of memory for a batch of %d", capacity)
	}
	b.token = unsafe.Slice(b.c.token, capacity)
	b.pos = unsafe.Slice(b.c.pos, capacity)
	b.nSeq = unsafe.Slice(b.c.n_seq_id, capacity)
	b.seqIDs = unsafe.Slice(b.c.seq_id, capacity)
	b.logits = unsafe.Slice(b.c.logits, capacity)
	live.batches.Add(1)
	runtime.SetFinalizer(b, (*Batch).Close)
	return b, nil
}

// Close frees the batch. It is idempotent.
func (b *Batch) Close() error {
	if b.token == nil {
		return nil
	}
	b.c.n_tokens = 0
	C.llama_batch_free(b.c)
	live.batches.Add(-1)
	b.token, b.pos, b.nSeq, b.seqIDs, b.logits = nil, nil, nil, nil, nil
	runtime.SetFinalizer(b, nil)
	return nil
}

// Len is the number of tokens in the batch; Cap the most it holds.
func (b *Batch) Len() int { return b.n }
func (b *Batch) Cap() int { return b.cap }

// Clear empties the batch.
func (b *Batch) Clear() { b.n = 0; b.c.n_tokens = 0 }

// Add appends a token at position pos in the given sequences, with its
// logits computed when output is set. It returns the token's index in the
// batch, which Logits and Sample take.
func (b *Batch) Add(token int32, pos int, seqs []int32, output bool) (int, error) {
	if b.token == nil {
		return 0, ErrClosed
	}
	if b.n >= b.cap {
		return 0, fmt.Errorf("%w: batch full (%d tokens)", ErrBadOption, b.cap)
	}
	if len(seqs) == 0 || len(seqs) > b.nSeqMax {
		return 0, fmt.Errorf("%w: token in %d sequences, want 1 to %d", ErrBadOption, len(seqs), b.nSeqMax)
	}
	if pos < 0 {
		return 0, fmt.Errorf("%w: negative position %d", ErrBadOption, pos)
	}
	i := b.n
	b.token[i] = C.llama_token(token)
	b.pos[i] = C.llama_pos(pos)
	b.nSeq[i] = C.int32_t(len(seqs))
	ids := unsafe.Slice(b.seqIDs[i], b.nSeqMax)
	for j, s := range seqs {
		ids[j] = C.llama_seq_id(s)
	}
	if output {
		b.logits[i] = 1
	} else {
		b.logits[i] = 0
	}
	b.n++
	b.c.n_tokens = C.int32_t(b.n)
	return i, nil
}

// SetOutput marks or unmarks token i for output.
func (b *Batch) SetOutput(i int, output bool) {
	if i < 0 || i >= b.n {
		panic(fmt.Sprintf("llamacpp: SetOutput index %d out of range [0, %d)", i, b.n))
	}
	if output {
		b.logits[i] = 1
	} else {
		b.logits[i] = 0
	}
}

// check validates the batch against a context before llama_decode sees it:
// llama.cpp aborts on some bad batches instead of returning an error.
func (b *Batch) check(c *Context) error {
	if b.token == nil {
		return ErrClosed
	}
	if b.n > c.nBatch {
		return fmt.Errorf("%w: batch of %d tokens exceeds the context's batch size %d", ErrBadOption, b.n, c.nBatch)
	}
	if c.noKV && b.n > c.nUBatch {
		// An encoder evaluates a batch in one physical batch; llama.cpp
		// aborts on a larger one.
		return fmt.Errorf("%w: batch of %d tokens exceeds the physical batch size %d of a model without KV cache", ErrBadOption, b.n, c.nUBatch)
	}
	if c.embd && C.llama_pooling_type(c.c) != C.LLAMA_POOLING_TYPE_NONE {
		// Pooling multiplies the output rows by a matrix over all of the
		// batch's tokens (ollama's patch 0021 stops llama.cpp from forcing
		// every token to be an output): a token that is not one would make
		// ggml assert.
		for i := 0; i < b.n; i++ {
			if b.logits[i] == 0 {
				return fmt.Errorf("%w: with pooled embeddings on, every token of a batch must be an output (token %d is not)", ErrBadOption, i)
			}
		}
	}
	nv := C.llama_token(c.model.nVocab)
	for i := 0; i < b.n; i++ {
		if b.token[i] < 0 || b.token[i] >= nv {
			return fmt.Errorf("%w: token %d at batch index %d outside the vocabulary [0, %d)", ErrBadOption, b.token[i], i, nv)
		}
		if c.params.SplitKV && b.nSeq[i] > 1 {
			// llama.cpp cannot put one token in several streams.
			return fmt.Errorf("%w: token at batch index %d is in %d sequences; with split KV streams a token is in one", ErrBadOption, i, b.nSeq[i])
		}
		ids := unsafe.Slice(b.seqIDs[i], b.nSeq[i])
		for _, s := range ids {
			if s < 0 || int(s) >= c.nSeqMax {
				return fmt.Errorf("%w: sequence %d at batch index %d outside [0, %d)", ErrBadOption, s, i, c.nSeqMax)
			}
		}
	}
	return nil
}
