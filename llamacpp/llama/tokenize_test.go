package llama_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp/llama"
)

// sharedDir is the project's shared test data, beside the checkout.
const sharedDir = "../../../shared"

func vocabFiles(t testing.TB) []string {
	dir := filepath.Join(sharedDir, "vocab")
	files, _ := filepath.Glob(filepath.Join(dir, "*.gguf"))
	if len(files) == 0 {
		t.Skipf("no vocab files in %s (the shared test data sits beside the checkout; absent for go get users)", dir)
	}
	return files
}

// readVectors reads llama.cpp's tokenizer test vectors: inputs separated by
// "\n__ggml_vocab_test__\n", and one line of space-separated IDs per input.
func readVectors(t *testing.T, vocab string) (inputs []string, want [][]int32, ok bool) {
	inp, err1 := os.ReadFile(vocab + ".inp")
	out, err2 := os.ReadFile(vocab + ".out")
	if err1 != nil || err2 != nil {
		return nil, nil, false
	}
	const sep = "\n__ggml_vocab_test__\n"
	inputs = strings.Split(string(inp), sep)
	if inputs[len(inputs)-1] == "" {
		inputs = inputs[:len(inputs)-1]
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	require.Equal(t, len(inputs), len(lines), "%s: inputs and expected lines differ in count", vocab)
	for _, line := range lines {
		var ids []int32
		for _, f := range strings.Fields(line) {
			id, err := strconv.ParseInt(f, 10, 32)
			require.NoError(t, err)
			ids = append(ids, int32(id))
		}
		want = append(want, ids)
	}
	return inputs, want, true
}

// TestTokenizeVectors checks tokenisation of every real vocabulary in
// ../shared/vocab against the IDs llama.cpp's own test produced, without
// special tokens added or parsed (as llama.cpp's test-tokenizer-0 does).
func TestTokenizeVectors(t *testing.T) {
	tested := 0
	for _, vocab := range vocabFiles(t) {
		inputs, want, ok := readVectors(t, vocab)
		if !ok {
			continue
		}
		tested++
		t.Run(filepath.Base(vocab), func(t *testing.T) {
			m, err := llama.LoadModel(context.Background(), vocab, &llama.ModelParams{VocabOnly: true})
			require.NoError(t, err)
			defer m.Close()
			for i, in := range inputs {
				got, err := m.Tokenize(in, false, false)
				require.NoError(t, err)
				if len(want[i]) == 0 {
					assert.Empty(t, got, "input %d %q", i, in)
					continue
				}
				assert.Equal(t, want[i], got, "input %d %q", i, in)
			}
		})
	}
	require.NotZero(t, tested, "no vocabulary had test vectors")
}

// TestDetokenizeRoundTrip checks that detokenising the expected IDs gives
// back the input for vocabularies whose normalisation is reversible.
func TestDetokenizeRoundTrip(t *testing.T) {
	for _, vocab := range vocabFiles(t) {
		inputs, want, ok := readVectors(t, vocab)
		if !ok {
			continue
		}
		t.Run(filepath.Base(vocab), func(t *testing.T) {
			m, err := llama.LoadModel(context.Background(), vocab, &llama.ModelParams{VocabOnly: true})
			require.NoError(t, err)
			defer m.Close()
			if m.Info().VocabType == "wpm" {
				t.Skip("WordPiece lower-cases and splits on punctuation: not reversible")
			}
			same := 0
			for i, in := range inputs {
				text, err := m.Detokenize(want[i], false, false)
				require.NoError(t, err)
				if text == in {
					same++
				}
			}
			// Some tokenizers normalise spaces (a leading space, NFC); most
			// inputs still round-trip exactly.
			assert.Greater(t, same, len(inputs)/2, "only %d of %d inputs round-trip", same, len(inputs))
		})
	}
}
