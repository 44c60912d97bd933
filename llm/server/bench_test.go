//go:build cgo

package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/tinyllama"
	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/server"
)

// benchThreads is $LOCALLM_BENCH_THREADS or one per physical core, as the
// llamacpp benchmarks use.
func benchThreads() int {
	if n := os.Getenv("LOCALLM_BENCH_THREADS"); n != "" {
		if v, err := strconv.Atoi(n); err == nil && v > 0 {
			return v
		}
	}
	return llamacpp.PhysicalCores()
}

const benchPrompt = "The history of the printing press begins in the fifteenth century, when a goldsmith in Mainz"

// BenchmarkServerOverhead: 16 clients each stream chat completions of 64
// tokens (greedy, end of generation ignored) from the server over HTTP on
// loopback, and the same 16 generations run through the library in the
// same process (GenerateStream with a callback), alternately. It reports
// each side's aggregate tokens/s and per-request p50/p99 latency, and the
// ratio server/library as the median of the pairs. Models: the tiny llama
// (where the decode is cheapest, so the server's share is largest) and,
// when make bench's llamacpp benchmarks have written it, the 134M q8_0
// bench model. Each model runs with the default stream interval and with
// every token written as it comes.
func BenchmarkServerOverhead(b *testing.B) {
	dir := b.TempDir()
	tinyPath := filepath.Join(dir, "tiny.gguf")
	require.NoError(b, tinyllama.Write(tinyPath, tinyllama.Config{}))
	models := []struct{ name, path string }{{"tiny", tinyPath}}
	if p := filepath.Join("..", "..", ".models", "bench-134m-q8_0.gguf"); fileExists(p) {
		models = append(models, struct{ name, path string }{"134m-q8_0", p})
	}
	for _, m := range models {
		b.Run(m.name, func(b *testing.B) { benchOverhead(b, m.path, 0) })
		b.Run(m.name+"/every-token", func(b *testing.B) { benchOverhead(b, m.path, -1) })
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// benchOverhead measures one model; interval is Options.StreamInterval.
func benchOverhead(b *testing.B, path string, interval time.Duration) {
	const clients, perClient, tokens = 16, 4, 64
	// chatml: the benchmark model has no chat template of its own.
	l, err := llamacpp.Open(context.Background(), llamacpp.Options{ModelPath: path, ChatTemplate: "chatml",
		Context: llamacpp.ContextOptions{Threads: benchThreads(), Sequences: clients, ContextSize: 8192}})
	require.NoError(b, err)
	defer l.Close()
	s, err := server.New(l, server.Options{StreamInterval: interval})
	require.NoError(b, err)
	s.MarkReady()
	ts := httptest.NewServer(s)
	defer ts.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}}

	prompt := func(c int) string { return fmt.Sprintf("%d. %s", c, benchPrompt) }
	params := llm.GenerationParams{MaxNewTokens: tokens, IgnoreEOS: true, Seed: 1}
	library := func() (float64, []time.Duration) {
		return drive(b, clients, perClient, func(c int) int {
			n := 0
			outs, err := l.GenerateStream(context.Background(), []llm.Input{llm.Chat(llm.Message{Role: "user", Content: prompt(c)})}, 1, params,
				func(ch llm.Chunk) { n += len(ch.Text) })
			require.NoError(b, err)
			require.NoError(b, outs[0].Err)
			return outs[0].Statistics.OutputTokens[0] + 0*n
		})
	}
	overHTTP := func() (float64, []time.Duration) {
		return drive(b, clients, perClient, func(c int) int {
			body := fmt.Sprintf(`{"messages":[{"role":"user","content":%q}],"max_tokens":%d,"temperature":0,"seed":1,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}`, prompt(c), tokens)
			resp, err := hc.Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
			require.NoError(b, err)
			defer resp.Body.Close()
			require.Equal(b, http.StatusOK, resp.StatusCode)
			return streamedTokens(b, resp)
		})
	}
	var libTPS, srvTPS, ratios []float64
	var libLat, srvLat []time.Duration
	pairs := max(b.N, 5)
	overHTTP() // warm the connections and the scheduler
	for i := 0; i < pairs; i++ {
		var lt, st float64
		var ll, sl []time.Duration
		if i%2 == 0 {
			lt, ll = library()
			st, sl = overHTTP()
		} else {
			st, sl = overHTTP()
			lt, ll = library()
		}
		libTPS, srvTPS, ratios = append(libTPS, lt), append(srvTPS, st), append(ratios, st/lt)
		libLat, srvLat = append(libLat, ll...), append(srvLat, sl...)
	}
	b.ReportMetric(median(libTPS), "lib_tok/s")
	b.ReportMetric(median(srvTPS), "server_tok/s")
	b.ReportMetric(median(ratios), "server/lib")
	b.ReportMetric(ms(percentile(libLat, 50)), "lib_p50_ms")
	b.ReportMetric(ms(percentile(libLat, 99)), "lib_p99_ms")
	b.ReportMetric(ms(percentile(srvLat, 50)), "server_p50_ms")
	b.ReportMetric(ms(percentile(srvLat, 99)), "server_p99_ms")
}

// drive runs perClient requests from each of clients goroutines and
// returns the aggregate tokens/s and each request's latency.
func drive(b *testing.B, clients, perClient int, request func(client int) int) (float64, []time.Duration) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	var lat []time.Duration
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perClient {
				t0 := time.Now()
				n := request(c)
				d := time.Since(t0)
				mu.Lock()
				total += n
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(lat) < clients*perClient {
		b.Fatalf("%d of %d requests failed", clients*perClient-len(lat), clients*perClient)
	}
	return float64(total) / time.Since(start).Seconds(), lat
}

// streamedTokens reads a chat stream to its end and returns the usage's
// completion tokens, as a client that reads every event would.
func streamedTokens(b *testing.B, resp *http.Response) int {
	r := bufio.NewReader(resp.Body)
	var last []byte
	for {
		line, err := r.ReadBytes('\n')
		if bytes.HasPrefix(line, []byte("data: {")) {
			last = line
		}
		if bytes.Equal(line, []byte("data: [DONE]\n")) || err != nil {
			break
		}
	}
	var u struct {
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	require.NoError(b, json.Unmarshal(bytes.TrimPrefix(last, []byte("data: ")), &u))
	return u.Usage.CompletionTokens
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
