package llamacpp

import (
	"context"
	"log/slog"

	"github.com/locallm/locallm/llamacpp/engine"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llm"
)

// The binding's user-level pieces, so that programs that use an LLM need
// only this package. The low-level types (Model, Context, Batch, Sampler)
// are in package llama.

// CacheType is the element type of the KV cache.
type CacheType = llama.CacheType

// FlashAttention says whether llama.cpp uses flash attention.
type FlashAttention = llama.FlashAttention

// KV cache types and flash attention modes.
const (
	CacheF16  = llama.CacheF16 // the default
	CacheF32  = llama.CacheF32 // exact; for comparisons with a reference
	CacheQ8_0 = llama.CacheQ8_0
	FlashAuto = llama.FlashAuto // the default: llama.cpp decides
	FlashOn   = llama.FlashOn
	FlashOff  = llama.FlashOff
)

// MaxGenerations bounds numGenerations.
const MaxGenerations = llm.MaxGenerations

// Device is a compute device known to ggml.
type Device = llama.Device

// ModelInfo is a model's metadata.
type ModelInfo = llama.ModelInfo

// QuantizeOptions configure Quantize.
type QuantizeOptions = llama.QuantizeOptions

// BackendDirEnv names the environment variable that points at a directory
// of ggml GPU backends (libggml-cuda.so, built by `make cuda`), loaded at
// the first model load when ModelOptions.BackendDir is empty.
const BackendDirEnv = llama.BackendDirEnv

// Errors; test with errors.Is.
var (
	// ErrClosed: the LLM (or a binding object) was used after Close. It
	// wraps llm.ErrClosed.
	ErrClosed = llama.ErrClosed
	// ErrBadOption: an option is out of range.
	ErrBadOption = llama.ErrBadOption
	// ErrLoad: the model could not be loaded.
	ErrLoad = llama.ErrLoad
	// ErrNoPooling is returned by Embed for a model whose metadata declares
	// no pooling ({arch}.pooling_type absent or none), such as a generative
	// llama: its hidden states must be pooled by the caller instead
	// (HiddenStates or LastHiddenStates, then hiddenstates.Pool).
	ErrNoPooling = engine.ErrNoPooling
)

// SetLogger sends llama.cpp's log to logger, dropping records below level.
// A nil logger (the default) silences it.
func SetLogger(logger *slog.Logger, level slog.Level) { llama.SetLogger(logger, level) }

// Devices lists the compute devices of the loaded backends.
func Devices() []Device { return llama.Devices() }

// LoadBackends loads the ggml backends (GPU libraries) found in dir and
// reports how many devices there are afterwards.
func LoadBackends(dir string) (int, error) { return llama.LoadBackends(dir) }

// SystemInfo is llama.cpp's description of the CPU features it was built with.
func SystemInfo() string { return llama.SystemInfo() }

// PhysicalCores counts physical CPU cores, the default thread count.
func PhysicalCores() int { return llama.PhysicalCores() }

// ChatTemplates lists the chat template names llama.cpp knows.
func ChatTemplates() []string { return llama.ChatTemplates() }

// Quantize writes a quantised copy of the model at in to out.
func Quantize(ctx context.Context, in, out string, opts QuantizeOptions) error {
	return llama.Quantize(ctx, in, out, opts)
}

// QuantTypes lists the types Quantize takes.
func QuantTypes() []string { return llama.QuantTypes() }

// ReadModelInfo loads a model's vocabulary only (no weights) and returns
// its metadata.
func ReadModelInfo(ctx context.Context, path string, opts ModelOptions) (ModelInfo, error) {
	opts.VocabOnly = true
	m, err := llama.LoadModel(ctx, path, &opts)
	if err != nil {
		return ModelInfo{}, err
	}
	defer m.Close()
	return m.Info(), nil
}
