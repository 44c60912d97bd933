package llamacpp

import (
	"fmt"
	"runtime"
	"strconv"

	"github.com/locallm/locallm/llamacpp/engine"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llm"
)

// Options configure an LLM. Only ModelPath is required; every other field's
// zero value is the documented default of its type.
type Options struct {
	// ModelPath is the GGUF file to load.
	ModelPath string         `json:"model_path" yaml:"model_path"`
	Model     ModelOptions   `json:"model,omitempty" yaml:"model,omitempty"`
	Context   ContextOptions `json:"context,omitempty" yaml:"context,omitempty"`
	// ChatTemplate chooses how chat inputs are formatted: the name of one
	// of the model's own tokenizer.chat_template.NAME templates (such as
	// "tool_use"), the name of a llama.cpp built-in template ("chatml",
	// "llama3", ...; see ChatTemplates), formatted by llama.cpp's
	// llama_chat_apply_template, or else Jinja text. Jinja templates are
	// rendered as Hugging Face transformers renders them (package
	// chattemplate), and parsed at Load, so that a bad one fails there.
	// Default: the model's tokenizer.chat_template, as Jinja; without one,
	// chat inputs fail with llm.ErrNoChatTemplate.
	ChatTemplate string `json:"chat_template,omitempty" yaml:"chat_template,omitempty"`
	// Structured constrains every input that has no structured output of its own.
	Structured *llm.StructuredOutput `json:"structured_output,omitempty" yaml:"structured_output,omitempty"`
}

// ModelOptions configure the model's loading (llama.cpp's model
// parameters); see llama.ModelParams.
type ModelOptions = llama.ModelParams

// ContextOptions configure the LLM's one llama.cpp context, which its
// scheduler shares among all generations, hidden-state and embedding
// requests. The zero value works: up to 4096 KV cells shared by up to 16
// sequences, 512-token batches, f16 cache, flash attention chosen by
// llama.cpp, one thread per physical core.
//
// The context is made when the first work arrives, at the size that work
// needs (rounded up to a power of two, at least 256 cells), and made again,
// larger, when waiting work needs more, up to ContextSize: a short prompt
// or a hidden-state request does not pay for a large ContextSize.
type ContextOptions struct {
	// ContextSize is the most KV cells the context may grow to, shared by
	// all sequences: a generation needs its prompt plus MaxNewTokens per
	// generation, a hidden-state or embedding input its tokens. Default 4096.
	ContextSize int `json:"context_size,omitempty" yaml:"context_size,omitempty"`
	// Preallocate makes the context ContextSize cells at once, for
	// servers that want their memory taken at start. Default false.
	Preallocate bool `json:"preallocate,omitempty" yaml:"preallocate,omitempty"`
	// BatchSize is the most tokens given to one decode (n_batch); llama.cpp
	// also caps it at the context's current size. Default 512.
	BatchSize int `json:"batch_size,omitempty" yaml:"batch_size,omitempty"`
	// UBatchSize is the physical batch size (n_ubatch). An embedding input,
	// and any input of an encoder (BERT), must fit one. Default BatchSize.
	UBatchSize int `json:"ubatch_size,omitempty" yaml:"ubatch_size,omitempty"`
	// Sequences is the most sequences in flight (n_seq_max): generations,
	// hidden-state and embedding inputs. Default 16; at most 256.
	Sequences int `json:"sequences,omitempty" yaml:"sequences,omitempty"`
	// Threads is the number of threads for generation; BatchThreads for
	// prompt processing. Default: the number of physical cores (as
	// llama.cpp's tools do); BatchThreads defaults to Threads. In a build
	// without OpenMP (the default; see llama.OpenMP) both are capped at
	// the machine's CPU count: ggml's own thread pool spins while it waits,
	// and more threads than CPUs make a decode many times slower.
	Threads      int `json:"threads,omitempty" yaml:"threads,omitempty"`
	BatchThreads int `json:"batch_threads,omitempty" yaml:"batch_threads,omitempty"`
	// KVLayout is how the KV cache is laid out: "auto" (the default), the
	// engine's choice per context (see engine.KVLayout); "unified", one
	// cache shared by all sequences; "split", a stream per sequence, for
	// many independent generations (no hidden states or embeddings).
	KVLayout string `json:"kv_layout,omitempty" yaml:"kv_layout,omitempty"`
	// CacheType is the KV cache element type. Default CacheF16. An f16
	// cache or flash attention each move hidden states and logits by about
	// 1e-3; exact comparisons need CacheF32 and FlashOff.
	CacheType CacheType `json:"cache_type,omitempty" yaml:"cache_type,omitempty"`
	// FlashAttention defaults to FlashAuto.
	FlashAttention FlashAttention `json:"flash_attention,omitempty" yaml:"flash_attention,omitempty"`
}

// Defaults and limits of ContextOptions.
const (
	DefaultContextSize = llama.DefaultContextSize
	DefaultBatchSize   = llama.DefaultBatchSize
	DefaultSequences   = llama.DefaultSequences
	MaxSequences       = llama.MaxSequences
)

// params are the binding's parameters for these options, with ContextSize
// the largest context.
func (o ContextOptions) params() llama.ContextParams {
	return llama.ContextParams{
		ContextSize: o.ContextSize, BatchSize: o.BatchSize, UBatchSize: o.UBatchSize,
		Sequences: o.Sequences, Threads: o.Threads, BatchThreads: o.BatchThreads,
		CacheType: o.CacheType, FlashAttention: o.FlashAttention,
	}
}

// capThreads caps the thread counts at the CPU count in a build without
// OpenMP, whose thread pool spins while it waits.
func capThreads(p llama.ContextParams) llama.ContextParams {
	if !llama.OpenMP() {
		cpus := runtime.NumCPU()
		p.Threads, p.BatchThreads = min(p.Threads, cpus), min(p.BatchThreads, cpus)
	}
	return p
}

// kvLayout maps KVLayout to the engine's.
func (o ContextOptions) kvLayout() (engine.KVLayout, error) {
	switch o.KVLayout {
	case "", "auto":
		return engine.KVAuto, nil
	case "unified":
		return engine.KVUnified, nil
	case "split":
		return engine.KVSplit, nil
	}
	return "", fmt.Errorf("%w: kv_layout = %q, want auto, unified or split", ErrBadOption, o.KVLayout)
}

// Validate reports the first option that is out of range, naming it; the
// model-dependent checks are made by Load.
func (o ContextOptions) Validate() error {
	if _, err := o.kvLayout(); err != nil {
		return err
	}
	return o.params().Validate()
}

// checkAgainst checks the options against the model's metadata, in Go,
// instead of making a llama.cpp context to see whether it fails: the KV
// cache of the largest context must be possible on this machine.
func (o ContextOptions) checkAgainst(info llama.ModelInfo) error {
	p := o.params().WithDefaults()
	if info.NLayer == 0 {
		return fmt.Errorf("%w: %s has no layers (vocab-only?)", ErrBadOption, info.Path)
	}
	perCell := kvBytesPerCell(info, p.CacheType)
	total := uint64(p.ContextSize) * perCell
	if mem := physicalMemory(); mem > 0 && total > mem {
		return fmt.Errorf("%w: context_size %d needs a KV cache of %.1f GiB (%d bytes per cell), more than this machine's %.1f GiB of memory",
			ErrBadOption, p.ContextSize, float64(total)/(1<<30), perCell, float64(mem)/(1<<30))
	}
	return nil
}

// kvBytesPerCell estimates one KV cell's size: keys and values of every
// layer, n_embd/n_head*n_head_kv values each.
func kvBytesPerCell(info llama.ModelInfo, t CacheType) uint64 {
	kv := uint64(info.NEmbd)
	if info.NHead > 0 && info.NHeadKV > 0 {
		kv = uint64(info.NEmbd / info.NHead * info.NHeadKV)
	}
	bytes := 2.0 // f16
	switch t {
	case CacheF32:
		bytes = 4
	case CacheQ8_0:
		bytes = 34.0 / 32
	}
	return uint64(float64(2*uint64(info.NLayer)*kv) * bytes)
}

// declaredPooling is the pooling the model's metadata declares
// ({arch}.pooling_type): "none" when absent.
func declaredPooling(info llama.ModelInfo) string {
	v, ok := info.Metadata[info.Architecture+".pooling_type"]
	if !ok {
		return "none"
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return "none"
	}
	switch n {
	case 1:
		return "mean"
	case 2:
		return "cls"
	case 3:
		return "last"
	case 4:
		return "rank"
	}
	return "none"
}
