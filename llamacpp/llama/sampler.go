package llama

/*
#include <stdlib.h>
#include <math.h>
#include "llama.h"
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"math"
	"runtime"
	"unsafe"

	"github.com/locallm/locallm/llm"
)

// SamplerParams are the settings of a llama.cpp sampler chain. The zero
// value is greedy decoding with no penalties.
type SamplerParams struct {
	// Temperature 0 is greedy: the chain is then logit bias, penalties and
	// arg-max, and the truncations below are not used.
	Temperature float64
	TopK        int     // 0 disables
	TopP        float64 // 0 or 1 disables
	MinP        float64 // 0 disables
	TypicalP    float64 // 0 or 1 disables
	// Penalties look at the last PenaltyLastN accepted tokens (-1: all,
	// 0: 64).
	RepeatPenalty    float64 // 0 or 1 disables
	PresencePenalty  float64
	FrequencyPenalty float64
	PenaltyLastN     int
	// LogitBias is added to the logits of the given tokens; -Inf bans one.
	LogitBias map[int32]float64
	Seed      uint32
}

// SamplerParamsFrom maps generation parameters (their defaults applied)
// onto a chain with the given seed. IgnoreEOS is NewSampler's banEOG.
func SamplerParamsFrom(p llm.GenerationParams, seed uint32) SamplerParams {
	p = p.WithDefaults()
	return SamplerParams{
		Temperature: p.Temperature, TopK: p.TopK, TopP: p.TopP, MinP: p.MinP, TypicalP: p.TypicalP,
		RepeatPenalty: p.RepeatPenalty, PresencePenalty: p.PresencePenalty, FrequencyPenalty: p.FrequencyPenalty,
		PenaltyLastN: p.PenaltyLastN, LogitBias: p.LogitBias, Seed: seed,
	}
}

// Sampler picks the next token from a Context's logits with a llama.cpp
// sampler chain. It owns C memory; Close frees it. A Sampler is used by one
// goroutine at a time.
type Sampler struct {
	chain *C.struct_llama_sampler
	model *Model
	seed  uint32
}

// NewSampler builds a sampler chain for model: logit bias (and a ban of the
// end-of-generation tokens when banEOG is set), penalties, then either
// greedy (temperature 0) or top-k, typical-p, top-p, min-p, temperature and
// a seeded draw, in llama.cpp's usual order.
func NewSampler(m *Model, p SamplerParams, banEOG bool) (*Sampler, error) {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case !finite(p.Temperature) || p.Temperature < 0:
		return nil, badOption("temperature", p.Temperature, "a finite number >= 0")
	case p.TopK < 0:
		return nil, badOption("top_k", p.TopK, ">= 0")
	case !finite(p.TopP) || p.TopP < 0 || p.TopP > 1:
		return nil, badOption("top_p", p.TopP, "in [0, 1]")
	case !finite(p.MinP) || p.MinP < 0 || p.MinP > 1:
		return nil, badOption("min_p", p.MinP, "in [0, 1]")
	case !finite(p.TypicalP) || p.TypicalP < 0 || p.TypicalP > 1:
		return nil, badOption("typical_p", p.TypicalP, "in [0, 1]")
	case !finite(p.RepeatPenalty) || p.RepeatPenalty < 0:
		return nil, badOption("repeat_penalty", p.RepeatPenalty, ">= 0")
	case !finite(p.PresencePenalty) || !finite(p.FrequencyPenalty):
		return nil, badOption("presence_penalty/frequency_penalty", []float64{p.PresencePenalty, p.FrequencyPenalty}, "finite numbers")
	case p.PenaltyLastN < -1:
		return nil, badOption("penalty_last_n", p.PenaltyLastN, ">= -1")
	}
	if err := m.use(); err != nil {
		return nil, err
	}
	defer m.done()
	for tok, b := range p.LogitBias {
		if tok < 0 || int(tok) >= m.nVocab {
			return nil, fmt.Errorf("%w: logit_bias token %d outside the vocabulary [0, %d)", llm.ErrBadParameter, tok, m.nVocab)
		}
		if math.IsNaN(b) || math.IsInf(b, 1) {
			return nil, fmt.Errorf("%w: logit_bias[%d] = %v, want a number or -inf", llm.ErrBadParameter, tok, b)
		}
	}
	s := &Sampler{model: m, seed: p.Seed}
	cp := C.llama_sampler_chain_default_params()
	cp.no_perf = true
	s.chain = C.llama_sampler_chain_init(cp)
	add := func(smpl *C.struct_llama_sampler) { C.llama_sampler_chain_add(s.chain, smpl) }

	bias := make([]C.llama_logit_bias, 0, len(p.LogitBias)+len(m.eogList))
	for tok, b := range p.LogitBias {
		bias = append(bias, C.llama_logit_bias{token: C.llama_token(tok), bias: C.float(b)})
	}
	if banEOG {
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
	lastN := p.PenaltyLastN
	if lastN == 0 {
		lastN = 64
	}
	rep := p.RepeatPenalty
	if rep == 0 {
		rep = 1
	}
	if rep != 1 || p.PresencePenalty != 0 || p.FrequencyPenalty != 0 {
		add(C.llama_sampler_init_penalties(C.int32_t(lastN), C.float(rep), C.float(p.FrequencyPenalty), C.float(p.PresencePenalty)))
	}
	if p.Temperature == 0 {
		add(C.llama_sampler_init_greedy())
	} else {
		if p.TopK > 0 {
			add(C.llama_sampler_init_top_k(C.int32_t(p.TopK)))
		}
		if p.TypicalP > 0 && p.TypicalP < 1 {
			add(C.llama_sampler_init_typical(C.float(p.TypicalP), 1))
		}
		if p.TopP > 0 && p.TopP < 1 {
			add(C.llama_sampler_init_top_p(C.float(p.TopP), 1))
		}
		if p.MinP > 0 {
			add(C.llama_sampler_init_min_p(C.float(p.MinP), 1))
		}
		add(C.llama_sampler_init_temp(C.float(p.Temperature)))
		add(C.llama_sampler_init_dist(C.uint32_t(p.Seed)))
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
	runtime.SetFinalizer(s, nil)
	return nil
}

// Seed is the seed the sampler draws with.
func (s *Sampler) Seed() uint32 { return s.seed }

// Sample picks a token from output i of the Context's last Decode (i is the
// batch index of a token marked for output). It does not Accept it.
func (s *Sampler) Sample(c *Context, i int) (int32, error) {
	return s.sample(c, i, func() C.int32_t {
		return C.locallm_sample(s.chain, c.c, C.int32_t(i), c.sampBuf, C.int32_t(c.model.nVocab))
	})
}

// SampleFrom is Sample restricted to the candidate tokens ids: the chain
// sees only them, with their logits. A caller that knows the other tokens
// are forbidden (by a grammar) gets the same draw as masking them, for a
// fraction of the work.
func (s *Sampler) SampleFrom(c *Context, i int, ids []int32) (int32, error) {
	if len(ids) == 0 || len(ids) > s.model.nVocab {
		return 0, fmt.Errorf("%w: %d candidate tokens, want 1 to %d", ErrBadOption, len(ids), s.model.nVocab)
	}
	for _, id := range ids {
		if id < 0 || int(id) >= s.model.nVocab {
			return 0, fmt.Errorf("%w: candidate token %d outside the vocabulary", ErrBadOption, id)
		}
	}
	return s.sample(c, i, func() C.int32_t {
		return C.locallm_sample_subset(s.chain, c.c, C.int32_t(i), c.sampBuf, (*C.int32_t)(unsafe.Pointer(&ids[0])), C.int32_t(len(ids)))
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
		return 0, ErrNoToken
	default:
		return tok, nil
	}
}

// Accept records a chosen token in the chain's history (the penalties').
func (s *Sampler) Accept(tok int32) error {
	if s.chain == nil {
		return ErrClosed
	}
	if tok < 0 || int(tok) >= s.model.nVocab {
		return fmt.Errorf("%w: token %d outside the vocabulary [0, %d)", llm.ErrBadInput, tok, s.model.nVocab)
	}
	C.llama_sampler_accept(s.chain, C.llama_token(tok))
	return nil
}

// Reset forgets accepted tokens.
func (s *Sampler) Reset() {
	if s.chain != nil {
		C.llama_sampler_reset(s.chain)
	}
}
