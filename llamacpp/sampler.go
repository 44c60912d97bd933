package llamacpp

/*
#include <stdlib.h>
#include <math.h>
#include "llama.h"
#include "shim.h"
*/
import "C"

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"unsafe"

	"github.com/locallm/locallm/llm"
)

// Sampler picks the next token from a Context's logits: a llama.cpp sampler
// chain built from GenerationParams, and an optional grammar. It owns C
// memory; Close frees it. A Sampler is used by one goroutine at a time.
type Sampler struct {
	chain   *C.struct_llama_sampler
	grammar *C.struct_llama_sampler
	model   *Model
	seed    uint32
}

// NewSampler builds a sampler for model from params (validated first) with
// the given seed, constrained by gbnf when it is not empty.
//
// The chain is llama.cpp's usual order: logit bias, penalties, then either
// greedy (temperature 0) or top-k, typical-p, top-p, min-p, temperature and
// a seeded draw.
func NewSampler(m *Model, params llm.GenerationParams, seed uint32, gbnf string) (*Sampler, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	p := params.WithDefaults()
	if err := m.use(); err != nil {
		return nil, err
	}
	defer m.done()
	for tok := range p.LogitBias {
		if int(tok) >= m.nVocab {
			return nil, fmt.Errorf("%w: logit_bias token %d outside the vocabulary [0, %d)", llm.ErrBadParameter, tok, m.nVocab)
		}
	}
	s := &Sampler{model: m, seed: seed}
	cp := C.llama_sampler_chain_default_params()
	cp.no_perf = true
	s.chain = C.llama_sampler_chain_init(cp)
	add := func(smpl *C.struct_llama_sampler) { C.llama_sampler_chain_add(s.chain, smpl) }

	bias := make([]C.llama_logit_bias, 0, len(p.LogitBias)+len(m.eogList))
	for tok, b := range p.LogitBias {
		v := C.float(b)
		if math.IsInf(b, -1) {
			v = C.float(math.Inf(-1))
		}
		bias = append(bias, C.llama_logit_bias{token: C.llama_token(tok), bias: v})
	}
	if p.IgnoreEOS {
		for _, tok := range m.eogList {
			bias = append(bias, C.llama_logit_bias{token: C.llama_token(tok), bias: C.float(math.Inf(-1))})
		}
	}
	if len(bias) > 0 {
		cb := (*C.llama_logit_bias)(C.malloc(C.size_t(len(bias)) * C.size_t(unsafe.Sizeof(bias[0]))))
		copy(unsafe.Slice(cb, len(bias)), bias)
		add(C.llama_sampler_init_logit_bias(C.int32_t(m.nVocab), C.int32_t(len(bias)), cb))
		C.free(unsafe.Pointer(cb)) // llama.cpp copies the biases
	}
	if p.RepeatPenalty != 1 || p.PresencePenalty != 0 || p.FrequencyPenalty != 0 {
		lastN := p.PenaltyLastN
		add(C.llama_sampler_init_penalties(C.int32_t(lastN), C.float(p.RepeatPenalty), C.float(p.FrequencyPenalty), C.float(p.PresencePenalty)))
	}
	if p.Temperature == 0 {
		add(C.llama_sampler_init_greedy())
	} else {
		if p.TopK > 0 {
			add(C.llama_sampler_init_top_k(C.int32_t(p.TopK)))
		}
		if p.TypicalP < 1 {
			add(C.llama_sampler_init_typical(C.float(p.TypicalP), 1))
		}
		if p.TopP < 1 {
			add(C.llama_sampler_init_top_p(C.float(p.TopP), 1))
		}
		if p.MinP > 0 {
			add(C.llama_sampler_init_min_p(C.float(p.MinP), 1))
		}
		add(C.llama_sampler_init_temp(C.float(p.Temperature)))
		add(C.llama_sampler_init_dist(C.uint32_t(seed)))
	}
	if gbnf != "" {
		// llama.cpp's grammar parser prints to stderr and returns NULL on
		// bad input; check it in Go first for a precise error.
		if err := checkGBNF(gbnf); err != nil {
			C.llama_sampler_free(s.chain)
			return nil, err
		}
		cg := C.CString(gbnf)
		defer C.free(unsafe.Pointer(cg))
		croot := C.CString("root")
		defer C.free(unsafe.Pointer(croot))
		done := captureLog()
		s.grammar = C.llama_sampler_init_grammar(m.vocab, cg, croot)
		lines := done()
		if s.grammar == nil {
			C.llama_sampler_free(s.chain)
			return nil, fmt.Errorf("%w: llama.cpp rejected the grammar%s", ErrGrammar, logDetail(lines))
		}
	}
	live.samplers.Add(1)
	runtime.SetFinalizer(s, (*Sampler).Close)
	return s, nil
}

// Close frees the sampler. It is idempotent.
func (s *Sampler) Close() error {
	if s.chain != nil {
		C.llama_sampler_free(s.chain)
		s.chain = nil
		live.samplers.Add(-1)
	}
	if s.grammar != nil {
		C.llama_sampler_free(s.grammar)
		s.grammar = nil
	}
	runtime.SetFinalizer(s, nil)
	return nil
}

// Seed is the seed the sampler draws with.
func (s *Sampler) Seed() uint32 { return s.seed }

// Sample picks a token from output i of the Context's last Decode. It does
// not Accept it. With a grammar, a token the grammar forbids is never returned;
// an error says when the grammar allows no token at all.
func (s *Sampler) Sample(c *Context, i int) (int32, error) {
	return s.sample(c, i, func() C.int32_t {
		return C.locallm_sample(s.chain, s.grammar, c.c, C.int32_t(i), c.sampBuf, C.int32_t(c.model.nVocab))
	})
}

// SampleFrom is Sample restricted to the candidate tokens ids: every other
// token must be one the grammar forbids (or the result would differ from
// Sample's). Masking a few hundred candidates instead of the whole
// vocabulary is what makes constrained decoding cheap where a grammar
// allows few next bytes.
func (s *Sampler) SampleFrom(c *Context, i int, ids []int32) (int32, error) {
	if len(ids) == 0 || len(ids) > s.model.nVocab {
		return 0, fmt.Errorf("%w: no token can continue the grammar", ErrGrammar)
	}
	for _, id := range ids {
		if id < 0 || int(id) >= s.model.nVocab {
			return 0, fmt.Errorf("%w: candidate token %d outside the vocabulary", ErrBadOption, id)
		}
	}
	return s.sample(c, i, func() C.int32_t {
		return C.locallm_sample_subset(s.chain, s.grammar, c.c, C.int32_t(i), c.sampBuf, (*C.int32_t)(unsafe.Pointer(&ids[0])), C.int32_t(len(ids)))
	})
}

// sample runs one of the C sampling functions with the context locked and
// maps its status to an error.
func (s *Sampler) sample(c *Context, i int, call func() C.int32_t) (int32, error) {
	if s.chain == nil {
		return 0, ErrClosed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.c == nil {
		return 0, ErrClosed
	}
	if c.model != s.model {
		return 0, fmt.Errorf("%w: sampler and context belong to different models", ErrBadOption)
	}
	switch tok := int32(call()); tok {
	case -2:
		return 0, fmt.Errorf("llamacpp: no logits for output %d of the last batch", i)
	case -1:
		if s.grammar != nil {
			return 0, fmt.Errorf("%w: no token can continue the grammar", ErrGrammar)
		}
		return 0, fmt.Errorf("llamacpp: every token was excluded by the sampler")
	default:
		return tok, nil
	}
}

// Accept records a chosen token: it advances the penalties' history and the
// grammar. End-of-generation tokens are not given to the grammar. A token
// the grammar forbids is refused with an error (llama.cpp would abort).
func (s *Sampler) Accept(tok int32) error {
	if s.chain == nil {
		return ErrClosed
	}
	if tok < 0 || int(tok) >= s.model.nVocab {
		return fmt.Errorf("%w: token %d outside the vocabulary [0, %d)", llm.ErrBadInput, tok, s.model.nVocab)
	}
	if s.grammar != nil && !s.model.IsEOG(tok) {
		if !C.locallm_grammar_allows(s.grammar, C.llama_token(tok)) {
			return fmt.Errorf("%w: token %d does not continue the grammar", ErrGrammar, tok)
		}
		C.llama_sampler_accept(s.grammar, C.llama_token(tok))
	}
	C.llama_sampler_accept(s.chain, C.llama_token(tok))
	return nil
}

// Reset forgets accepted tokens and restarts the grammar.
func (s *Sampler) Reset() {
	if s.chain != nil {
		C.llama_sampler_reset(s.chain)
	}
	if s.grammar != nil {
		C.llama_sampler_reset(s.grammar)
	}
}

// seedFor returns the seed of generation i: base+i, or a random seed when
// base is negative.
func seedFor(base int64, i int) uint32 {
	if base < 0 {
		var b [4]byte
		_, _ = rand.Read(b[:])
		return binary.LittleEndian.Uint32(b[:])
	}
	return uint32(base + int64(i))
}
