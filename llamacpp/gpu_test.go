package llamacpp_test

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llm"
)

// gpuOrSkip loads the GPU backends named by $LOCALLM_BACKEND_DIR (built by
// `make cuda`) and skips when there is no GPU: CI is CPU only.
func gpuOrSkip(t *testing.T) {
	dir := os.Getenv(llamacpp.BackendDirEnv)
	if dir == "" {
		t.Skipf("no GPU backend: set %s to the directory `make cuda` builds (build/cuda/backends)", llamacpp.BackendDirEnv)
	}
	_, err := llamacpp.LoadBackends(dir)
	require.NoError(t, err)
	for _, d := range llamacpp.Devices() {
		if d.Type == "gpu" || d.Type == "igpu" {
			t.Logf("GPU: %s (%s), %.1f of %.1f GiB free", d.Name, d.Description, float64(d.FreeMemory)/(1<<30), float64(d.TotalMemory)/(1<<30))
			return
		}
	}
	t.Skipf("%s loaded no GPU device", dir)
}

// TestGPUMatchesCPU offloads every layer and compares hidden states (every
// layer, read back through the backend API) and greedy generations with the
// CPU's.
func TestGPUMatchesCPU(t *testing.T) {
	gpuOrSkip(t)
	path := tinyModel(t, "llama-spm")
	cpu := openLLM(t, path, exact)
	gpu, err := llamacpp.Open(context.Background(), llamacpp.Options{ModelPath: path, Model: llamacpp.ModelOptions{GPULayers: -1}, Context: exact})
	require.NoError(t, err)
	defer gpu.Close()
	in := []llm.Input{llm.Prompt("The quick brown fox jumps over the lazy dog"), llm.Prompt("GPU")}
	layers := []int{0, 1, -1}
	hc, err := cpu.HiddenStates(context.Background(), in, layers)
	require.NoError(t, err)
	hg, err := gpu.HiddenStates(context.Background(), in, layers)
	require.NoError(t, err)
	worst := 0.0
	for i := range in {
		for k := range layers {
			d := maxAbsDiff(hc[i].States[k], hg[i].States[k])
			worst = math.Max(worst, d)
			assert.Less(t, d, 1e-3, "input %d layer %d", i, layers[k])
		}
	}
	t.Logf("hidden states, CPU vs GPU: max abs difference %.3g", worst)
	p := llm.GenerationParams{MaxNewTokens: 16, IgnoreEOS: true}
	oc, err := cpu.Generate(context.Background(), in, 1, p)
	require.NoError(t, err)
	og, err := gpu.Generate(context.Background(), in, 1, p)
	require.NoError(t, err)
	for i := range in {
		assert.Equal(t, oc[i].Generations, og[i].Generations, "input %d", i)
	}
}
