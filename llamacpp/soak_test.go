package llamacpp_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llm"
)

func rssBytes(t *testing.T) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			v, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return v * 1024
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// TestSoakNoLeak runs 10,000 short generations (some structured, some
// cancelled, some streamed) and checks that live C objects return to their
// starting count and that neither the C heap nor the RSS grows with the
// number of calls.
func TestSoakNoLeak(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	before := llama.LiveObjects()
	l := openLLM(t, tinyModel(t, ""), llamacpp.ContextOptions{Sequences: 16, ContextSize: 2048})
	gbnf := &llm.StructuredOutput{GBNF: `root ::= [a-z]+ " " [0-9]`}
	run := func(count int) {
		var wg sync.WaitGroup
		work := make(chan int)
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					in := llm.Prompt("soak " + strconv.Itoa(i%97))
					ctx := context.Background()
					var cancel context.CancelFunc
					switch i % 5 {
					case 1:
						in.Structured = gbnf
					case 2:
						ctx, cancel = context.WithCancel(ctx)
						cancel()
					}
					var err error
					if i%5 == 3 {
						_, err = l.GenerateStream(ctx, []llm.Input{in}, 2, llm.GenerationParams{MaxNewTokens: 3, Temperature: 1, Seed: int64(i)}, func(llm.Chunk) {})
					} else {
						_, err = l.Generate(ctx, []llm.Input{in}, 1, llm.GenerationParams{MaxNewTokens: 3, Temperature: 1, Seed: int64(i)})
					}
					if i%5 != 2 {
						assert.NoError(t, err)
					}
				}
			}()
		}
		for i := 0; i < count; i++ {
			work <- i
		}
		close(work)
		wg.Wait()
	}
	run(n / 10) // warm up: buffers, caches, the Go heap's size
	runtime.GC()
	rss0, heap0 := rssBytes(t), llama.CHeapInUse()
	live0 := llama.LiveObjects()
	run(n)
	runtime.GC()
	runtime.GC()
	rss1, heap1 := rssBytes(t), llama.CHeapInUse()
	live1 := llama.LiveObjects()
	t.Logf("%d generations: RSS %.1f -> %.1f MB, C heap %.2f -> %.2f MB, live objects %v -> %v",
		n, rss0/1e6, rss1/1e6, float64(heap0)/1e6, float64(heap1)/1e6, live0, live1)
	assert.Equal(t, live0, live1, "C objects leaked")
	assert.Less(t, float64(heap1)-float64(heap0), 4e6, "C heap grew")
	assert.Less(t, rss1-rss0, 32e6, "RSS grew")
	require.NoError(t, l.Close())
	assert.Equal(t, before, llama.LiveObjects(), "Close must free every C object (before: %v)", before)
}
