package llama

/*
#include "llama.h"
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Hidden states are read through llama.cpp's graph-evaluation callback
// (ContextParams.HiddenStates installs it). Layers use Hugging Face's
// numbering of hidden_states: 0 the token embeddings, i the output of block
// i, n_layer the final normed output (for encoders of the BERT family, the
// last block's output).
//
// What a decode captures, per layer, is one row per token of the batch in
// batch order (llama.cpp evaluates a batch in ubatches, consecutive slices
// of it, with a unified KV cache), except for layer n_layer of a decoder:
// llama.cpp computes the final norm only for the tokens marked for output,
// so that layer has one row per output token, in batch order.

// SetCapture chooses the layers (0..n_layer, each at most once) whose hidden
// states the following decodes keep, and empties what was kept; no layers
// turns capture off. With stopEarly a decode stops after the highest of
// them, skipping later blocks and the output matrix: use it only for
// batches whose logits and later layers no one needs.
func (c *Context) SetCapture(layers []int, stopEarly bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return ErrClosed
	}
	if c.capture == nil {
		return errors.New("llamacpp: context made without HiddenStates: nothing can be captured")
	}
	nl := c.model.info.NLayer
	if len(layers) > nl+1 {
		return fmt.Errorf("%w: %d layers to capture, at most %d", ErrBadOption, len(layers), nl+1)
	}
	ls := make([]C.int32_t, len(layers)+1)
	seen := map[int]bool{}
	for i, l := range layers {
		if l < 0 || l > nl || seen[l] {
			return fmt.Errorf("%w: capture layer %d: want distinct layers in [0, %d]", ErrBadOption, l, nl)
		}
		seen[l] = true
		ls[i] = C.int32_t(l)
	}
	stop := C.int32_t(0)
	if stopEarly && len(layers) > 0 {
		stop = 1
	}
	if C.locallm_capture_set(c.capture, &ls[0], C.int32_t(len(layers)), stop, graphKind(c.model.info.Architecture)) != 0 {
		return fmt.Errorf("%w: bad capture request", ErrBadOption)
	}
	return nil
}

// graphKind says how the capture finds hidden states in the architecture's
// graph: the architectures llama.cpp builds with llm_build_bert name their
// layers differently from decoders (see layer_of in shim.c).
func graphKind(arch string) C.int32_t {
	switch arch {
	case "bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "jina-bert-v3":
		return C.LOCALLM_GRAPH_BERT
	}
	return C.LOCALLM_GRAPH_DECODER
}

// CapturedRows reports how many rows the last decodes captured for the i-th
// layer given to SetCapture.
func (c *Context) CapturedRows(i int) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return 0, ErrClosed
	}
	if c.capture == nil {
		return 0, nil
	}
	n := int64(C.locallm_capture_count(c.capture, C.int32_t(i)))
	if n < 0 {
		return 0, fmt.Errorf("%w: no captured layer %d", ErrBadOption, i)
	}
	return int(n), nil
}

// CopyCaptured copies rows [row0, row0+n) captured for the i-th layer given
// to SetCapture into dst, which must hold n*n_embd values.
func (c *Context) CopyCaptured(i, row0, n int, dst []float32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return ErrClosed
	}
	if c.capture == nil {
		return errors.New("llamacpp: context made without HiddenStates: nothing was captured")
	}
	nEmbd := c.model.info.NEmbd
	if n < 0 || row0 < 0 || len(dst) != n*nEmbd {
		return fmt.Errorf("%w: copy of %d captured rows from %d into %d values (n_embd %d)", ErrBadOption, n, row0, len(dst), nEmbd)
	}
	if n == 0 {
		return nil
	}
	got := int64(C.locallm_capture_rows(c.capture, C.int32_t(i), (*C.float)(unsafe.Pointer(&dst[0])), C.int64_t(row0), C.int64_t(n), C.int64_t(nEmbd)))
	switch {
	case got == -1:
		return errors.New("llamacpp: hidden-state capture failed (unexpected tensor type or shape, or out of memory)")
	case got < 0:
		have := int64(C.locallm_capture_count(c.capture, C.int32_t(i)))
		return fmt.Errorf("llamacpp: hidden states: want rows [%d, %d) of captured layer %d, have %d", row0, row0+n, i, have)
	}
	return nil
}
