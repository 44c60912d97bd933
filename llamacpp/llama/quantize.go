package llama

/*
#include <stdlib.h>
#include "llama.h"
*/
import "C"

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"unsafe"

	"github.com/locallm/locallm/llamacpp/gguf"
)

// QuantizeOptions configure Quantize.
type QuantizeOptions struct {
	// Type is the target type: a name of QuantTypes ("q8_0", "q4_k_m", ...).
	Type string
	// Threads defaults to the number of physical cores.
	Threads int
	// AllowRequantize permits quantising tensors that are already quantised.
	AllowRequantize bool
	// LeaveOutput keeps output.weight unquantised. Default false.
	LeaveOutput bool
}

// quantTypes maps names (as llama-quantize spells them, lower case) to llama_ftype.
var quantTypes = map[string]C.enum_llama_ftype{
	"f32":    C.LLAMA_FTYPE_ALL_F32,
	"f16":    C.LLAMA_FTYPE_MOSTLY_F16,
	"bf16":   C.LLAMA_FTYPE_MOSTLY_BF16,
	"q8_0":   C.LLAMA_FTYPE_MOSTLY_Q8_0,
	"q4_0":   C.LLAMA_FTYPE_MOSTLY_Q4_0,
	"q4_1":   C.LLAMA_FTYPE_MOSTLY_Q4_1,
	"q5_0":   C.LLAMA_FTYPE_MOSTLY_Q5_0,
	"q5_1":   C.LLAMA_FTYPE_MOSTLY_Q5_1,
	"q2_k":   C.LLAMA_FTYPE_MOSTLY_Q2_K,
	"q3_k_s": C.LLAMA_FTYPE_MOSTLY_Q3_K_S,
	"q3_k_m": C.LLAMA_FTYPE_MOSTLY_Q3_K_M,
	"q3_k_l": C.LLAMA_FTYPE_MOSTLY_Q3_K_L,
	"q4_k_s": C.LLAMA_FTYPE_MOSTLY_Q4_K_S,
	"q4_k_m": C.LLAMA_FTYPE_MOSTLY_Q4_K_M,
	"q5_k_s": C.LLAMA_FTYPE_MOSTLY_Q5_K_S,
	"q5_k_m": C.LLAMA_FTYPE_MOSTLY_Q5_K_M,
	"q6_k":   C.LLAMA_FTYPE_MOSTLY_Q6_K,
	"iq4_nl": C.LLAMA_FTYPE_MOSTLY_IQ4_NL,
	"iq4_xs": C.LLAMA_FTYPE_MOSTLY_IQ4_XS,
	"tq1_0":  C.LLAMA_FTYPE_MOSTLY_TQ1_0,
	"tq2_0":  C.LLAMA_FTYPE_MOSTLY_TQ2_0,
}

// noFallback are the target types llama.cpp has no fallback for: a tensor
// to quantise whose rows are not a multiple of their block (32 elements)
// makes it fail ("Unsupported tensor size"). The k-quants and ternary types
// fall back to smaller blocks, then f16; but output.weight (token_embd.weight
// when it stands for it) falls back to q8_0, which then must fit.
var noFallback = map[string]bool{"q4_0": true, "q4_1": true, "q5_0": true, "q5_1": true, "q8_0": true, "iq4_nl": true}

// plainTypes are the types whose block is one element.
var plainTypes = map[string]bool{"f32": true, "f16": true, "bf16": true}

// checkQuantizable finds, before llama.cpp reads the file, a tensor that
// llama.cpp would fail to quantise to typ, and names it with its shape and
// the block size. Which tensors are quantised follows llama.cpp's
// llama_model_quantize_impl: 2-D or larger weights, norms, position and
// token-type embeddings and (with leaveOutput) output.weight excepted.
func checkQuantizable(path, typ string, leaveOutput bool) error {
	if plainTypes[typ] {
		return nil
	}
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, hasOutput := f.Tensor("output.weight")
	const block = 32
	for _, t := range f.Tensors {
		name := t.Name
		quantised := strings.HasSuffix(name, "weight") && len(t.Dims) >= 2 &&
			!strings.Contains(name, "_norm.weight") && !strings.Contains(name, "ffn_gate_inp.weight") &&
			!strings.Contains(name, "position_embd") && !strings.Contains(name, "token_types") &&
			!(leaveOutput && name == "output.weight")
		if !quantised || t.Dims[0]%block == 0 {
			continue
		}
		output := name == "output.weight" || (!hasOutput && name == "token_embd.weight")
		if noFallback[typ] || output {
			return fmt.Errorf("%w: quantize to %s: tensor %q of shape %v has rows of %d elements, not a multiple of the block size %d",
				ErrBadOption, typ, name, t.Dims, t.Dims[0], block)
		}
	}
	return nil
}

// QuantTypes lists the target types Quantize accepts, sorted.
func QuantTypes() []string {
	names := make([]string, 0, len(quantTypes))
	for n := range quantTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Quantize writes a quantised copy of the GGUF model in to out, with
// llama.cpp's own quantiser (what llama-quantize runs). The input is checked
// like LoadModel's before llama.cpp reads it. Types that need an importance
// matrix (the IQ1/IQ2 families) are not offered. Tensors whose row size is
// not a multiple of the type's block size fall back to a compatible type,
// as llama.cpp decides, where it has one; where it has none (rows not a
// multiple of 32 for q8_0, q4_0, ...), Quantize fails before llama.cpp is
// called, with an error wrapping ErrBadOption that names the tensor.
func Quantize(ctx context.Context, in, out string, opts QuantizeOptions) error {
	ft, ok := quantTypes[strings.ToLower(opts.Type)]
	if !ok {
		return badOption("quantize type", opts.Type, strings.Join(QuantTypes(), ", "))
	}
	if opts.Threads < 0 {
		return badOption("threads", opts.Threads, ">= 0")
	}
	if in == out {
		return fmt.Errorf("%w: quantize input and output are the same file %s", ErrBadOption, in)
	}
	if err := checkModelFile(in); err != nil {
		return err
	}
	if err := checkQuantizable(in, strings.ToLower(opts.Type), opts.LeaveOutput); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	initBackend()
	p := C.llama_model_quantize_default_params()
	p.ftype = ft
	p.nthread = C.int32_t(opts.Threads)
	if opts.Threads == 0 {
		p.nthread = C.int32_t(PhysicalCores())
	}
	p.allow_requantize = C.bool(opts.AllowRequantize)
	p.quantize_output_tensor = C.bool(!opts.LeaveOutput)
	cin := C.CString(in)
	defer C.free(unsafe.Pointer(cin))
	cout := C.CString(out)
	defer C.free(unsafe.Pointer(cout))
	done := captureLog()
	rc := C.llama_model_quantize(cin, cout, &p)
	lines := done()
	if rc != 0 {
		os.Remove(out)
		return fmt.Errorf("llamacpp: quantize %s to %s failed%s", in, opts.Type, logDetail(lines))
	}
	return nil
}
