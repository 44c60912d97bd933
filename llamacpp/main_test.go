package llamacpp_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llamacpp/tinyllama"
)

// sharedDir is the project's shared test data, beside the checkout.
const sharedDir = "../../shared"

var (
	modelDir  string
	modelMu   sync.Mutex
	modelPath = map[string]string{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "locallm-test-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	modelDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// tinyModel writes (once per test binary) the deterministic tiny llama with
// the built-in vocabulary, or with a vocabulary from ../shared when vocab
// names one ("llama-spm", "gpt-2", ...), and returns its path.
func tinyModel(t testing.TB, vocab string) string {
	t.Helper()
	modelMu.Lock()
	defer modelMu.Unlock()
	if p, ok := modelPath[vocab]; ok {
		return p
	}
	cfg := tinyllama.Config{}
	name := "tiny-builtin.gguf"
	if vocab != "" {
		v := filepath.Join(sharedDir, "vocab", "ggml-vocab-"+vocab+".gguf")
		if _, err := os.Stat(v); err != nil {
			t.Skipf("vocab %s not found (the shared test data sits beside the checkout)", v)
		}
		cfg.Vocab = v
		name = "tiny-" + vocab + ".gguf"
	}
	p := filepath.Join(modelDir, name)
	require.NoError(t, tinyllama.Write(p, cfg))
	modelPath[vocab] = p
	return p
}

// exact are the context options under which llama.cpp's results can be
// compared with a reference: f32 KV cache, no flash attention.
var exact = llamacpp.ContextOptions{CacheType: llamacpp.CacheF32, FlashAttention: llamacpp.FlashOff, Threads: 1}

// exactParams are the same settings for a binding-level context.
var exactParams = llama.ContextParams{CacheType: llama.CacheF32, FlashAttention: llama.FlashOff, Threads: 1}

// openLLM opens an LLM for a test. Tests use one thread unless they ask for
// more: go test runs packages in parallel, and ggml's threads spin while
// they wait, so two test binaries with a thread per core slow each other
// down many times over on a small machine.
func openLLM(t testing.TB, path string, co llamacpp.ContextOptions) *llamacpp.LLM {
	t.Helper()
	if co.Threads == 0 {
		co.Threads = 1
	}
	l, err := llamacpp.Open(context.Background(), llamacpp.Options{ModelPath: path, Context: co})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}
