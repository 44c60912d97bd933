package llamacpp

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

// setCapture chooses the layers whose hidden states the next decodes keep,
// and empties what was kept. With stopEarly the graph stops after the
// highest of them, skipping later blocks and the output matrix.
func (c *Context) setCapture(layers []int, stopEarly bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return ErrClosed
	}
	if c.capture == nil {
		return errors.New("llamacpp: context made without hidden-state capture")
	}
	ls := make([]C.int32_t, len(layers)+1)
	for i, l := range layers {
		ls[i] = C.int32_t(l)
	}
	stop := C.int32_t(0)
	if stopEarly {
		stop = 1
	}
	if C.locallm_capture_set(c.capture, &ls[0], C.int32_t(len(layers)), stop, graphKind(c.model.info.Architecture)) != 0 {
		return fmt.Errorf("%w: %d layers to capture, at most %d", ErrBadOption, len(layers), c.model.info.NLayer+1)
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

// capturedRows copies rows [row0, row0+n) kept for the i-th captured layer,
// widened to float64.
func (c *Context) capturedRows(i, row0, n int) ([]float64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return nil, ErrClosed
	}
	if n == 0 {
		return nil, nil
	}
	buf := make([]float32, n*c.nEmbd)
	got := int64(C.locallm_capture_rows(c.capture, C.int32_t(i), (*C.float)(unsafe.Pointer(&buf[0])), C.int64_t(row0), C.int64_t(n), C.int64_t(c.nEmbd)))
	switch {
	case got == -1:
		return nil, errors.New("llamacpp: hidden-state capture failed (unexpected tensor type or shape, or out of memory)")
	case got < 0:
		have := int64(C.locallm_capture_count(c.capture, C.int32_t(i)))
		return nil, fmt.Errorf("llamacpp: hidden states: want rows [%d, %d) of captured layer %d, have %d", row0, row0+n, i, have)
	}
	out := make([]float64, len(buf))
	for k, v := range buf {
		out[k] = float64(v)
	}
	return out, nil
}
