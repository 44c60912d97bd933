package llamacpp

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp/tinyllama"
	"github.com/locallm/locallm/llm"
)

// TestDecoderEmbedPoolsLikeLlamaCpp: for a qwen2 decoder that declares its
// pooling, Embed pools the captured final hidden states in Go; the vectors
// equal llama.cpp's own pooled embeddings of the same inputs.
func TestDecoderEmbedPoolsLikeLlamaCpp(t *testing.T) {
	var inputs []llm.Input
	for i := range 6 {
		inputs = append(inputs, llm.Prompt(fmt.Sprintf("input %d:%s", i, strings.Repeat(" and more", 3*i))))
	}
	for _, pooling := range []string{"mean", "cls", "last"} {
		t.Run(pooling, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "qwen2.gguf")
			require.NoError(t, tinyllama.Write(path, tinyllama.Config{Arch: "qwen2", Pooling: pooling}))
			l, err := Open(context.Background(), Options{ModelPath: path, Context: ContextOptions{Threads: 1}})
			require.NoError(t, err)
			defer l.Close()
			info, err := l.ModelInfo()
			require.NoError(t, err)
			require.True(t, poolsInGo(info), "qwen2 with %s pooling is pooled in Go", pooling)

			got, err := l.Embed(context.Background(), inputs)
			require.NoError(t, err)
			nativeEmbed = true
			want, err := l.Embed(context.Background(), inputs)
			nativeEmbed = false
			require.NoError(t, err)
			worst := 0.0
			for i := range inputs {
				require.Len(t, got[i], len(want[i]))
				for j := range want[i] {
					worst = math.Max(worst, math.Abs(float64(got[i][j]-want[i][j])))
				}
			}
			t.Logf("%s pooling, Go against llama.cpp: max abs difference %.3g", pooling, worst)
			assert.Less(t, worst, 1e-5)
		})
	}
}

func TestPoolRows(t *testing.T) {
	rows := []float32{1, 2, 3, 4, 5, 6} // 3 rows of 2
	assert.Equal(t, []float32{3, 4}, poolRows(rows, 3, 2, "mean"))
	assert.Equal(t, []float32{1, 2}, poolRows(rows, 3, 2, "cls"))
	assert.Equal(t, []float32{5, 6}, poolRows(rows, 3, 2, "last"))
}
