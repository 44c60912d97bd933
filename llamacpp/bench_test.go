package llamacpp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/internal/testmodel"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llm"
)

func benchModel(b *testing.B, typ string) string {
	b.Helper()
	p, err := testmodel.Bench(typ)
	if err != nil && strings.Contains(err.Error(), "not found") {
		b.Skip(err)
	}
	require.NoError(b, err)
	return p
}

const benchPrompt = "The history of the printing press begins in the fifteenth century, when a goldsmith in Mainz"

// benchThreads is $LOCALLM_BENCH_THREADS or one per physical core, as
// llama.cpp's tools use (openLLM's test default of one thread is not for
// benchmarks).
func benchThreads() int {
	if n := os.Getenv("LOCALLM_BENCH_THREADS"); n != "" {
		if v, err := strconv.Atoi(n); err == nil && v > 0 {
			return v
		}
	}
	return llamacpp.PhysicalCores()
}

// benchGPU is $LOCALLM_BENCH_GPU_LAYERS: the layers BenchmarkDecode,
// BenchmarkParallel and BenchmarkNumGenerations offload (-1: all) to the
// backends $LOCALLM_BACKEND_DIR names (make cuda; loaded at the first
// model load). Default 0, the CPU. With
// $LOCALLM_BENCH_MODEL=1b those benchmarks run the 1.1B model instead of
// the 134M one.
func benchGPU(b *testing.B) llamacpp.ModelOptions {
	v := os.Getenv("LOCALLM_BENCH_GPU_LAYERS")
	if v == "" {
		return llamacpp.ModelOptions{}
	}
	n, err := strconv.Atoi(v)
	require.NoError(b, err, "LOCALLM_BENCH_GPU_LAYERS")
	return llamacpp.ModelOptions{GPULayers: n}
}

// benchSized is benchModel of the size $LOCALLM_BENCH_MODEL selects.
func benchSized(b *testing.B, typ string) string {
	if os.Getenv("LOCALLM_BENCH_MODEL") == "1b" {
		typ = "1b-" + typ
	}
	return benchModel(b, typ)
}

// openBench opens a benchmark's LLM with benchGPU's offload.
func openBench(b *testing.B, path string, co llamacpp.ContextOptions) *llamacpp.LLM {
	b.Helper()
	l, err := llamacpp.Open(context.Background(), llamacpp.Options{ModelPath: path, Model: benchGPU(b), Context: co})
	require.NoError(b, err)
	b.Cleanup(func() { l.Close() })
	return l
}

// BenchmarkDecode: one sequence, greedy, end-of-generation ignored: the
// figure llama-bench's tg test measures. Reports prefill and decode tok/s.
func BenchmarkDecode(b *testing.B) {
	for _, typ := range []string{"f16", "q8_0"} {
		b.Run(typ, func(b *testing.B) {
			l := openBench(b, benchSized(b, typ), llamacpp.ContextOptions{Threads: benchThreads(), Sequences: 1})
			const n = 64
			var pre, dec float64
			for i := 0; i < b.N; i++ {
				out, err := l.Generate(context.Background(), []llm.Input{llm.Prompt(benchPrompt)}, 1, llm.GenerationParams{MaxNewTokens: n, IgnoreEOS: true})
				require.NoError(b, err)
				require.NoError(b, out[0].Err)
				st := out[0].Statistics
				pre += float64(st.InputTokens) / st.PromptSeconds
				dec += float64(st.OutputTokens[0]-1) / st.GenerationSeconds
			}
			b.ReportMetric(pre/float64(b.N), "prefill_tok/s")
			b.ReportMetric(dec/float64(b.N), "decode_tok/s")
		})
	}
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// BenchmarkParallel: P goroutines generate at once; their sequences share
// each decode step. Reports the aggregate decode rate (all generated tokens
// over the wall time), the figure llama-batched-bench reports.
func BenchmarkParallel(b *testing.B) {
	path := benchSized(b, "q8_0")
	for _, p := range []int{1, 4, 8, 16} {
		b.Run(fmt.Sprintf("seqs=%d", p), func(b *testing.B) {
			l := openBench(b, path, llamacpp.ContextOptions{Threads: benchThreads(), Sequences: 16, ContextSize: 4096})
			const n = 64
			var total float64
			for i := 0; i < b.N; i++ {
				var wg sync.WaitGroup
				t0 := time.Now()
				for g := 0; g < p; g++ {
					wg.Add(1)
					go func(g int) {
						defer wg.Done()
						out, err := l.Generate(context.Background(), []llm.Input{llm.Prompt(fmt.Sprintf("%d. %s", g, benchPrompt))}, 1, llm.GenerationParams{MaxNewTokens: n, IgnoreEOS: true})
						if err == nil {
							err = out[0].Err
						}
						if err != nil {
							b.Error(err)
						}
					}(g)
				}
				wg.Wait()
				total += float64(p*n) / time.Since(t0).Seconds()
			}
			b.ReportMetric(total/float64(b.N), "agg_tok/s")
		})
	}
}

// BenchmarkNumGenerations: 8 generations of 64 tokens after a 512-token
// prompt, natively (the prompt evaluated once, its KV cells shared) against
// 8 separate calls one after another.
func BenchmarkNumGenerations(b *testing.B) {
	path := benchSized(b, "q8_0")
	l := openBench(b, path, llamacpp.ContextOptions{Threads: benchThreads(), Sequences: 8, ContextSize: 4096})
	m := l.Model()
	// A prompt of exactly 512 tokens.
	words := strings.Repeat("the quick brown fox jumps over the lazy dog ", 80)
	toks, err := m.Tokenize(words, true, false)
	require.NoError(b, err)
	prompt, err := m.Detokenize(toks[1:512], false, false)
	require.NoError(b, err)
	got, _ := m.Tokenize(prompt, true, true)
	b.Logf("prompt tokens: %d", len(got))
	in := []llm.Input{llm.Prompt(prompt)}
	params := llm.GenerationParams{MaxNewTokens: 64, IgnoreEOS: true, Temperature: 1, Seed: 1}
	var native, sequential time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		out, err := l.Generate(context.Background(), in, 8, params)
		require.NoError(b, err)
		require.NoError(b, out[0].Err)
		native += time.Since(t0)
		t0 = time.Now()
		for g := 0; g < 8; g++ {
			p := params
			p.Seed += int64(g)
			out, err := l.Generate(context.Background(), in, 1, p)
			require.NoError(b, err)
			require.NoError(b, out[0].Err)
		}
		sequential += time.Since(t0)
	}
	b.ReportMetric(native.Seconds()/float64(b.N), "native_s")
	b.ReportMetric(sequential.Seconds()/float64(b.N), "sequential_s")
	b.ReportMetric(sequential.Seconds()/native.Seconds(), "speedup")
}

// BenchmarkHiddenStates: 64 inputs of about 128 tokens. Extraction of the
// last layer (and of a middle layer) against the same prompt processing
// without extraction: the same batches decoded with the last token's logits
// only (plain), and with every token an output (all_outputs). The final
// norm needs the last block for every token, which plain skips for all but
// the outputs; extraction skips the output matrix, which all_outputs runs.
func BenchmarkHiddenStates(b *testing.B) {
	path := benchModel(b, "q8_0")
	co := llamacpp.ContextOptions{Threads: benchThreads(), BatchSize: 512, Sequences: 16}
	l := openLLM(b, path, co)
	m := l.Model()
	var inputs []llm.Input
	var toks [][]int32
	for i := 0; i < 64; i++ {
		p := fmt.Sprintf("Input %d: %s", i, strings.Repeat(benchPrompt+" ", 6))
		tk, err := m.Tokenize(p, true, true)
		require.NoError(b, err)
		tk = tk[:128]
		text, err := m.Detokenize(tk[1:], false, false)
		require.NoError(b, err)
		inputs = append(inputs, llm.Prompt(text))
		t2, _ := m.Tokenize(text, true, true)
		toks = append(toks, t2)
	}
	nTok := 0
	for _, t := range toks {
		nTok += len(t)
	}
	// Plain prompt processing through a context without capture: 4 inputs
	// of 128 tokens per 512-token decode, as HiddenStates packs them.
	c, err := m.NewContext(&llama.ContextParams{Threads: benchThreads(), BatchSize: 512, Sequences: 16})
	require.NoError(b, err)
	defer c.Close()
	batch, err := llama.NewBatch(512, 1)
	require.NoError(b, err)
	defer batch.Close()
	plain := func(all bool) {
		for i := 0; i < len(toks); {
			c.ClearKV()
			batch.Clear()
			s := int32(0)
			for i < len(toks) && batch.Len()+len(toks[i]) <= batch.Cap() {
				for p, tok := range toks[i] {
					_, err := batch.Add(tok, p, []int32{s}, all || p == len(toks[i])-1)
					require.NoError(b, err)
				}
				i++
				s++
			}
			require.NoError(b, c.Decode(context.Background(), batch))
		}
	}
	// Warm both paths up: the first decode of a context allocates and
	// touches its buffers.
	plain(false)
	_, err = l.HiddenStates(context.Background(), inputs[:4], []int{-1})
	require.NoError(b, err)
	var tPlain, tAll, tLast, tMid time.Duration
	var held int
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		plain(false)
		tPlain += time.Since(t0)
		t0 = time.Now()
		plain(true)
		tAll += time.Since(t0)
		t0 = time.Now()
		hs, err := l.HiddenStates(context.Background(), inputs, []int{-1})
		require.NoError(b, err)
		tLast += time.Since(t0)
		t0 = time.Now()
		_, err = l.HiddenStates(context.Background(), inputs, []int{m.Info().NLayer / 2})
		require.NoError(b, err)
		tMid += time.Since(t0)
		r, cc := hs[0].States[0].Dims()
		held = r * cc * 8
	}
	n := float64(b.N)
	b.ReportMetric(float64(nTok)*n/tPlain.Seconds(), "plain_tok/s")
	// Every token an output, as llama-embedding --pooling none decodes:
	// the last block runs for every row, and the logits too.
	b.ReportMetric(float64(nTok)*n/tAll.Seconds(), "all_outputs_tok/s")
	b.ReportMetric(float64(nTok)*n/tLast.Seconds(), "last_layer_tok/s")
	b.ReportMetric(float64(nTok)*n/tMid.Seconds(), "mid_layer_tok/s")
	b.ReportMetric(tLast.Seconds()/tPlain.Seconds()-1, "last_layer_overhead")
	b.ReportMetric(float64(held), "bytes_held/input")
}

// BenchmarkMemory16 runs 16 parallel sequences in a child process and
// reports its peak RSS against the model file and KV cache sizes, with the
// default physical batch (512: llama.cpp's compute buffer then holds 64 MiB
// of logits for the 32k vocabulary) and with 128.
func BenchmarkMemory16(b *testing.B) {
	for _, ub := range []int{0, 128} {
		b.Run(fmt.Sprintf("ubatch=%d", ub), func(b *testing.B) { benchMemory(b, ub) })
	}
}

func benchMemory(b *testing.B, ubatch int) {
	path := benchModel(b, "q8_0")
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "LOCALLM_MEMORY_CHILD="+path, fmt.Sprintf("LOCALLM_MEMORY_UBATCH=%d", ubatch))
		out, err := cmd.CombinedOutput()
		require.NoError(b, err, "%s", out)
		var rss, kv, size, anon float64
		var cells int
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "MEMORY ") {
				_, err := fmt.Sscanf(line, "MEMORY rss=%g kv=%g model=%g anon=%g cells=%d", &rss, &kv, &size, &anon, &cells)
				require.NoError(b, err)
			}
		}
		require.NotZero(b, rss, "%s", out)
		b.ReportMetric(rss/1e6, "peak_rss_MB")
		b.ReportMetric((size+kv)/1e6, "model+kv_MB")
		b.ReportMetric(float64(cells), "kv_cells")
		b.ReportMetric(rss/(size+kv), "rss/(model+kv)")
		// Without the program's own text pages (file-backed, shared).
		b.ReportMetric(anon/(size+kv), "anon_rss/(model+kv)")
	}
}

// peakRSS is this process's peak resident memory in bytes (VmHWM: the
// high-water mark of its own address space, which, unlike the rusage a
// parent reads, does not start from the parent's).
func peakRSS(t testing.TB) float64 {
	f := strings.Fields(vmLine("VmHWM"))
	require.Len(t, f, 3, "VmHWM in /proc/self/status")
	kb, err := strconv.ParseFloat(f[1], 64)
	require.NoError(t, err)
	return kb * 1024
}

func vmLine(key string) string {
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, key+":") {
			return strings.Join(strings.Fields(line), " ")
		}
	}
	return ""
}

// TestMemoryChild is BenchmarkMemory16's child; it does nothing otherwise.
func TestMemoryChild(t *testing.T) {
	path := os.Getenv("LOCALLM_MEMORY_CHILD")
	if path == "" {
		t.Skip("child process of BenchmarkMemory16")
	}
	const ctxSize = 4096
	ubatch, _ := strconv.Atoi(os.Getenv("LOCALLM_MEMORY_UBATCH"))
	l, err := llamacpp.Open(context.Background(), llamacpp.Options{ModelPath: path, Model: llamacpp.ModelOptions{NoMmap: true},
		Context: llamacpp.ContextOptions{Sequences: 16, ContextSize: ctxSize, UBatchSize: ubatch}})
	require.NoError(t, err)
	var inputs []llm.Input
	for i := 0; i < 16; i++ {
		inputs = append(inputs, llm.Prompt(fmt.Sprintf("%d %s", i, benchPrompt)))
	}
	fmt.Printf("after load: %s\n", vmLine("VmHWM"))
	_, err = l.Generate(context.Background(), inputs, 1, llm.GenerationParams{MaxNewTokens: 64, IgnoreEOS: true})
	require.NoError(t, err)
	fmt.Printf("after generate: %s %s %s %s\n", vmLine("VmHWM"), vmLine("RssAnon"), vmLine("RssFile"), vmLine("VmRSS"))
	info := l.Model().Info()
	st, err := os.Stat(path)
	require.NoError(t, err)
	// f16 K and V for every layer and cell of the context the engine made
	// (sized to the work, at most ctxSize).
	cells := l.Stats().ContextSize
	require.NotZero(t, cells)
	kv := float64(cells * info.NLayer * 2 * info.NEmbd / info.NHead * info.NHeadKV * 2)
	hwm := peakRSS(t)
	anon := 0.0
	if f := strings.Fields(vmLine("RssAnon")); len(f) >= 2 {
		anon, _ = strconv.ParseFloat(f[1], 64)
		anon *= 1024
	}
	fmt.Printf("MEMORY rss=%g kv=%g model=%g anon=%g cells=%d\n", hwm, kv, float64(st.Size()), anon, cells)
	l.Close()
}

// BenchmarkConstrained: decode speed with a JSON Schema grammar against the
// same generation unconstrained, on the 32k-vocabulary model. The grammar
// sampler checks only the sampled token, masking the whole vocabulary only
// when that token is rejected.
func BenchmarkConstrained(b *testing.B) {
	path := benchModel(b, "q8_0")
	l := openLLM(b, path, llamacpp.ContextOptions{Threads: benchThreads(), Sequences: 1})
	schema := `{"type":"object","properties":{"title":{"type":"string"},"year":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}},"required":["title","year","tags"]}`
	const n = 64
	free := llm.Prompt(benchPrompt)
	constrained := llm.Prompt(benchPrompt)
	constrained.Structured = &llm.StructuredOutput{Schema: schema}
	params := llm.GenerationParams{MaxNewTokens: n, IgnoreEOS: true}
	rate := func(in llm.Input) float64 {
		out, err := l.Generate(context.Background(), []llm.Input{in}, 1, params)
		require.NoError(b, err)
		require.NoError(b, out[0].Err)
		st := out[0].Statistics
		return float64(st.OutputTokens[0]-1) / st.GenerationSeconds
	}
	// Seven pairs, which one goes first alternating; the medians.
	var fr, cr, ratios []float64
	for i := 0; i < max(b.N, 7); i++ {
		var f, c float64
		if i%2 == 0 {
			f, c = rate(free), rate(constrained)
		} else {
			c, f = rate(constrained), rate(free)
		}
		fr, cr, ratios = append(fr, f), append(cr, c), append(ratios, c/f)
	}
	b.ReportMetric(median(fr), "free_tok/s")
	b.ReportMetric(median(cr), "constrained_tok/s")
	b.ReportMetric(median(ratios), "constrained/free")
}

// mixedEnv makes TestMixedWorkHelper run one workload of BenchmarkMixedWork.
const mixedEnv = "LOCALLM_BENCH_MIXED"

// TestMixedWorkHelper is not a test: BenchmarkMixedWork runs this test
// binary in a child process per workload, so that each has its own peak
// RSS, and reads the JSON line it prints.
func TestMixedWorkHelper(t *testing.T) {
	mode := os.Getenv(mixedEnv)
	if mode == "" {
		t.Skip("a child process of BenchmarkMixedWork")
	}
	path, err := testmodel.Bench("qwen2-q8_0")
	require.NoError(t, err)
	bufs := &bufferLog{}
	llamacpp.SetLogger(slog.New(bufs), slog.LevelInfo)
	defer llamacpp.SetLogger(nil, 0)
	l, err := llamacpp.Open(context.Background(), llamacpp.Options{ModelPath: path,
		Context: llamacpp.ContextOptions{Threads: benchThreads(), Sequences: 48, ContextSize: 8192}})
	require.NoError(t, err)
	defer l.Close()
	m := l.Model()
	input := func(i int) llm.Input {
		toks, err := m.Tokenize(fmt.Sprintf("Input %d: %s", i, strings.Repeat(benchPrompt+" ", 4)), true, false)
		require.NoError(t, err)
		text, err := m.Detokenize(toks[1:64], false, false)
		require.NoError(t, err)
		return llm.Prompt(text)
	}
	var tokens atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := l.Generate(context.Background(), []llm.Input{input(i)}, 1, llm.GenerationParams{MaxNewTokens: 64, IgnoreEOS: true})
			require.NoError(t, err)
			tokens.Add(int64(out[0].Statistics.OutputTokens[0]))
		}()
		if mode != "mixed" {
			continue
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			in := input(100 + i)
			hs, err := l.HiddenStates(context.Background(), []llm.Input{in}, []int{-1})
			require.NoError(t, err)
			require.NoError(t, hs[0].Err)
			tokens.Add(int64(len(hs[0].Tokens)))
		}()
		go func() {
			defer wg.Done()
			in := input(200 + i)
			_, err := l.Embed(context.Background(), []llm.Input{in})
			require.NoError(t, err)
			toks, _ := m.Tokenize(in.Prompt, true, true)
			tokens.Add(int64(len(toks)))
		}()
	}
	wg.Wait()
	st := l.Stats()
	info := m.Info()
	kv := float64(st.ContextSize) * float64(2*info.NLayer*info.NEmbd/info.NHead*info.NHeadKV*2)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	line, _ := json.Marshal(map[string]float64{"tokens": float64(tokens.Load()), "seconds": time.Since(t0).Seconds(),
		"kv_bytes": kv, "model_bytes": float64(fi.Size()), "ctx": float64(st.ContextSize), "rss": peakRSS(t),
		"buffer_bytes": bufs.bytes()})
	fmt.Printf("MIXED %s\n", line)
}

// bufferLog is a slog.Handler that reads llama.cpp's log for the sizes of
// the last context's compute and output buffers (the output buffer grows
// when a batch has more outputs than it holds).
type bufferLog struct {
	mu              sync.Mutex
	compute, output float64
}

var (
	computeRE = regexp.MustCompile(`compute buffer size = +([0-9.]+) MiB`)
	outputRE  = regexp.MustCompile(`output buffer size = +([0-9.]+) MiB|reallocating output buffer from size [0-9.]+ MiB to ([0-9.]+) MiB`)
)

func (h *bufferLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *bufferLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *bufferLog) WithGroup(string) slog.Handler            { return h }
func (h *bufferLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := computeRE.FindStringSubmatch(r.Message); m != nil {
		h.compute, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := outputRE.FindStringSubmatch(r.Message); m != nil {
		h.output, _ = strconv.ParseFloat(m[1]+m[2], 64)
	}
	return nil
}

func (h *bufferLog) bytes() float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return (h.compute + h.output) * (1 << 20)
}

// BenchmarkMixedWork: one LLM (a decoder that pools its embeddings) serving
// 16 generations alone, then the same 16 generations with 16 hidden-state
// and 16 embedding requests at once. One context serves all of it, so the
// peak RSS should barely move, and the aggregate tokens per second
// (generated, captured and embedded tokens over the wall time) should not
// fall.
func BenchmarkMixedWork(b *testing.B) {
	if _, err := testmodel.Bench("qwen2-q8_0"); err != nil {
		b.Skip(err)
	}
	type result struct {
		tokens, seconds, kv, model, ctx, rss, buffers float64
	}
	run := func(mode string) result {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMixedWorkHelper$", "-test.v")
		cmd.Env = append(os.Environ(), mixedEnv+"="+mode)
		out, err := cmd.CombinedOutput()
		require.NoError(b, err, "%s", out)
		_, after, ok := strings.Cut(string(out), "MIXED ")
		require.True(b, ok, "%s", out)
		var m map[string]float64
		require.NoError(b, json.Unmarshal([]byte(strings.SplitN(after, "\n", 2)[0]), &m))
		return result{m["tokens"], m["seconds"], m["kv_bytes"], m["model_bytes"], m["ctx"], m["rss"], m["buffer_bytes"]}
	}
	var gen, mixed []result
	for i := 0; i < max(b.N, 3); i++ {
		gen = append(gen, run("gen"))
		mixed = append(mixed, run("mixed"))
	}
	med := func(rs []result, f func(result) float64) float64 {
		var xs []float64
		for _, r := range rs {
			xs = append(xs, f(r))
		}
		return median(xs)
	}
	tps := func(r result) float64 { return r.tokens / r.seconds }
	rss := func(r result) float64 { return r.rss }
	b.ReportMetric(med(gen, tps), "gen_tok/s")
	b.ReportMetric(med(mixed, tps), "mixed_tok/s")
	b.ReportMetric(med(mixed, tps)/med(gen, tps), "mixed/gen_tok/s")
	b.ReportMetric(med(gen, rss)/(1<<20), "gen_peak_rss_MB")
	b.ReportMetric(med(mixed, rss)/(1<<20), "mixed_peak_rss_MB")
	b.ReportMetric(med(mixed, rss)/med(gen, rss), "mixed/gen_rss")
	last := mixed[len(mixed)-1]
	b.ReportMetric(med(mixed, rss)/(last.model+last.kv), "mixed_rss/(model+kv)")
	// Against what llama.cpp itself allocates: model, KV cache, and the
	// context's compute and output buffers (from its log).
	b.ReportMetric(last.buffers/(1<<20), "mixed_llama_buffers_MB")
	b.ReportMetric(med(mixed, rss)/(last.model+last.kv+last.buffers), "mixed_rss/(model+kv+buffers)")
	g := gen[len(gen)-1]
	b.ReportMetric(med(gen, rss)/(g.model+g.kv+g.buffers), "gen_rss/(model+kv+buffers)")
	b.ReportMetric(last.ctx, "ctx_cells")
}
