// Package testmodel writes the models the llamacpp packages' tests and
// benchmarks run on: the deterministic tiny llama, and a benchmark model of
// about 134M parameters with a real vocabulary from the shared test data.
// It is internal: tests and benchmarks only.
package testmodel

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llamacpp/tinyllama"
)

// Root is the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// SharedDir is the project's shared test data, beside the checkout.
func SharedDir() string { return filepath.Join(Root(), "..", "shared") }

// Vocab is the path of a vocab-only GGUF of the shared data
// ("llama-spm", "gpt-2", ...), or an error saying it is absent.
func Vocab(name string) (string, error) {
	p := filepath.Join(SharedDir(), "vocab", "ggml-vocab-"+name+".gguf")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("vocab %s not found (the shared test data sits beside the checkout; absent for go get users): %w", p, err)
	}
	return p, nil
}

// BenchConfig is the benchmark model: about 134M parameters with
// llama.cpp's llama-spm vocabulary (32,000 tokens) and seeded random
// weights.
var BenchConfig = tinyllama.Config{Layers: 12, Hidden: 768, Heads: 12, KVHeads: 12, FF: 2048, CtxLen: 4096, Type: "f16", Name: "bench-134m"}

// BenchConfig1B is the larger benchmark model for GPU runs: about 1.1B
// parameters in the shape of a 1B Llama 3 (16 layers, hidden 2048, grouped
// KV heads), with the same 32,000-token vocabulary and seeded random
// weights.
var BenchConfig1B = tinyllama.Config{Layers: 16, Hidden: 2048, Heads: 32, KVHeads: 8, FF: 8192, CtxLen: 4096, Type: "f16", Name: "bench-1b"}

var (
	benchMu    sync.Mutex
	benchPaths = map[string]string{}
)

// Bench returns the benchmark model in type typ ("f16", or "q8_0" made with
// llama.cpp's quantiser), written on first use to .models/ at the
// repository's root (ignored by git) and kept there between runs. The
// types "qwen2-f16" and "qwen2-q8_0" are the same shapes as a qwen2 model
// that declares mean pooling: a decoder that generates and embeds. The
// prefix "1b-" ("1b-f16", "1b-q8_0") selects BenchConfig1B.
func Bench(typ string) (string, error) {
	benchMu.Lock()
	defer benchMu.Unlock()
	if p, ok := benchPaths[typ]; ok {
		return p, nil
	}
	key := typ
	vocab, err := Vocab("llama-spm")
	if err != nil {
		return "", err
	}
	dir := filepath.Join(Root(), ".models")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cfg := BenchConfig
	cfg.Vocab = vocab
	name := "bench-134m"
	if rest, ok := strings.CutPrefix(typ, "qwen2-"); ok {
		cfg.Arch, cfg.Pooling, cfg.Name = "qwen2", "mean", "bench-134m-qwen2"
		name, typ = "bench-134m-qwen2", rest
	} else if rest, ok := strings.CutPrefix(typ, "1b-"); ok {
		cfg = BenchConfig1B
		cfg.Vocab = vocab
		name, typ = "bench-1b", rest
	}
	f16 := filepath.Join(dir, name+"-f16.gguf")
	if _, err := os.Stat(f16); err != nil {
		if err := tinyllama.Write(f16+".tmp", cfg); err != nil {
			return "", err
		}
		if err := os.Rename(f16+".tmp", f16); err != nil {
			return "", err
		}
	}
	p := f16
	if typ != "f16" {
		p = filepath.Join(dir, name+"-"+typ+".gguf")
		if _, err := os.Stat(p); err != nil {
			if err := llama.Quantize(context.Background(), f16, p+".tmp", llama.QuantizeOptions{Type: typ}); err != nil {
				return "", err
			}
			if err := os.Rename(p+".tmp", p); err != nil {
				return "", err
			}
		}
	}
	benchPaths[key] = p
	return p, nil
}
