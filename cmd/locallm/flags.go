package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/locallm/locallm/cmd/locallm/internal/job"
	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llm"
)

// modelFlags are the flags every command that loads a model shares.
type modelFlags struct {
	model      string
	threads    int
	ctxSize    int
	batch      int
	sequences  int
	cacheType  string
	flashAttn  string
	gpuLayers  int
	noMmap     bool
	template   string
	backendDir string
}

func (f *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.model, "model", "", "GGUF model file (required)")
	fs.IntVar(&f.threads, "threads", 0, "CPU threads (default: physical cores)")
	fs.IntVar(&f.ctxSize, "ctx", 0, fmt.Sprintf("KV cache size in tokens, shared by parallel sequences (default %d)", llamacpp.DefaultContextSize))
	fs.IntVar(&f.batch, "batch", 0, fmt.Sprintf("batch size: most tokens per decode (default %d)", llamacpp.DefaultBatchSize))
	fs.IntVar(&f.sequences, "parallel", 0, fmt.Sprintf("most sequences decoded together (default %d)", llamacpp.DefaultSequences))
	fs.StringVar(&f.cacheType, "cache-type", "f16", "KV cache type: f16, f32 or q8_0")
	fs.StringVar(&f.flashAttn, "flash-attn", "auto", "flash attention: auto, on or off")
	fs.IntVar(&f.gpuLayers, "gpu-layers", 0, "layers to offload to a GPU (-1: all) where a GPU backend is loaded")
	fs.BoolVar(&f.noMmap, "no-mmap", false, "read the model into memory instead of mapping it")
	fs.StringVar(&f.template, "chat-template", "", "chat template name or text (default: the model's own)")
	fs.StringVar(&f.backendDir, "backend-dir", "", "directory of ggml GPU backends (default $"+llamacpp.BackendDirEnv+")")
}

func (f *modelFlags) options() (llamacpp.Options, error) {
	if f.model == "" {
		return llamacpp.Options{}, usageError("-model is required")
	}
	return f.values(), nil
}

// values returns the flags as Options, without checking them.
func (f *modelFlags) values() llamacpp.Options {
	return llamacpp.Options{
		ModelPath: f.model,
		Model: llamacpp.ModelOptions{
			GPULayers: f.gpuLayers, NoMmap: f.noMmap, BackendDir: f.backendDir,
		},
		Context: llamacpp.ContextOptions{
			ContextSize: f.ctxSize, BatchSize: f.batch, Sequences: f.sequences, Threads: f.threads,
			CacheType: llamacpp.CacheType(f.cacheType), FlashAttention: llamacpp.FlashAttention(f.flashAttn),
		},
		ChatTemplate: f.template,
	}
}

// genFlags are the generation parameters as flags. The CLI's sampling
// defaults are llama.cpp's tools' (temperature 0.8, top-k 40, top-p 0.95,
// min-p 0.05, random seed); the library's zero value is greedy.
type genFlags struct {
	maxTokens   int
	temperature float64
	topK        int
	topP        float64
	minP        float64
	typicalP    float64
	repeat      float64
	presence    float64
	frequency   float64
	seed        int64
	stop        stringList
	ignoreEOS   bool
	numGen      int
}

func (g *genFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&g.maxTokens, "max-tokens", llm.DefaultMaxNewTokens, "most new tokens per generation")
	fs.Float64Var(&g.temperature, "temperature", 0.8, "sampling temperature; 0 is greedy")
	fs.IntVar(&g.topK, "top-k", 40, "top-k sampling; 0 disables")
	fs.Float64Var(&g.topP, "top-p", 0.95, "top-p (nucleus) sampling, in (0, 1]")
	fs.Float64Var(&g.minP, "min-p", 0.05, "min-p sampling, in [0, 1]; 0 disables")
	fs.Float64Var(&g.typicalP, "typical-p", 1, "locally typical sampling, in (0, 1]; 1 disables")
	fs.Float64Var(&g.repeat, "repeat-penalty", 1, "repetition penalty; 1 disables")
	fs.Float64Var(&g.presence, "presence-penalty", 0, "presence penalty; 0 disables")
	fs.Float64Var(&g.frequency, "frequency-penalty", 0, "frequency penalty; 0 disables")
	fs.Int64Var(&g.seed, "seed", -1, "random seed; generation i uses seed+i; -1 draws one")
	fs.Var(&g.stop, "stop", "stop sequence (repeatable)")
	fs.BoolVar(&g.ignoreEOS, "ignore-eos", false, "keep generating past end-of-generation tokens (benchmarks)")
	fs.IntVar(&g.numGen, "num-generations", 1, "generations per input")
}

func (g *genFlags) params() llm.GenerationParams {
	return llm.GenerationParams{
		MaxNewTokens: g.maxTokens, Temperature: g.temperature, TopK: g.topK, TopP: g.topP,
		MinP: g.minP, TypicalP: g.typicalP, RepeatPenalty: g.repeat, PresencePenalty: g.presence,
		FrequencyPenalty: g.frequency, Seed: g.seed, Stop: g.stop, IgnoreEOS: g.ignoreEOS,
	}
}

// shardFlags pick one shard of a job's rows: --shard I/N, or the index
// from the environment (a Kubernetes Indexed Job, a Slurm array) with the
// count from --shard-count.
type shardFlags struct {
	shard string
	count int
}

func (f *shardFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.shard, "shard", "", "run shard I/N only: the rows whose id hashes (FNV-1a) to I mod N (default from $"+job.EnvK8sIndex+" or $"+job.EnvSlurmIndex+")")
	fs.IntVar(&f.count, "shard-count", 0, "shard count N when the index comes from the environment (default $"+job.EnvSlurmCount+")")
}

// resolve returns the shard the flags and the environment give.
func (f *shardFlags) resolve() (job.Shard, error) {
	s, err := job.ResolveShard(f.shard, f.count, os.Getenv)
	if err != nil {
		return job.Shard{}, usageError("%v", err)
	}
	return s, nil
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// structFlags constrain generate's output: a JSON Schema, a GBNF grammar or
// a regular expression, for every row that has no structured_output of its own.
type structFlags struct {
	schema, grammar, regex string
	lenient                bool
	retries                int
}

func (f *structFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.schema, "schema", "", "JSON Schema file: every output must validate against it")
	fs.StringVar(&f.grammar, "grammar", "", "GBNF grammar file (llama.cpp's format) the output must follow")
	fs.StringVar(&f.regex, "regex", "", "regular expression the whole output must match")
	fs.BoolVar(&f.lenient, "lenient", false, "with -schema: over-approximate keywords a grammar cannot express, then validate")
	fs.IntVar(&f.retries, "retries", 0, "with -schema: generate an output that fails validation again, with a new seed, up to N times")
}

// structured reads the files the flags name; nil when none is set.
func (f *structFlags) structured() (*llm.StructuredOutput, error) {
	n := 0
	for _, s := range []string{f.schema, f.grammar, f.regex} {
		if s != "" {
			n++
		}
	}
	switch {
	case n > 1:
		return nil, usageError("give one of -schema, -grammar and -regex")
	case n == 0:
		if f.lenient || f.retries != 0 {
			return &llm.StructuredOutput{Lenient: f.lenient, Retries: f.retries}, nil
		}
		return nil, nil
	}
	so := &llm.StructuredOutput{Lenient: f.lenient, Retries: f.retries, Regex: f.regex}
	if f.schema != "" {
		data, err := readFileOrStdin(f.schema)
		if err != nil {
			return nil, err
		}
		if !json.Valid(data) {
			return nil, fmt.Errorf("-schema %s: not valid JSON", f.schema)
		}
		so.Schema = json.RawMessage(data)
	}
	if f.grammar != "" {
		data, err := readFileOrStdin(f.grammar)
		if err != nil {
			return nil, err
		}
		so.GBNF = string(data)
	}
	return so, nil
}

// mergeStructured applies the structured-output flags over a run file's:
// a constraint from the flags replaces the file's, -lenient and -retries
// alone amend it.
func mergeStructured(file, flags *llm.StructuredOutput) *llm.StructuredOutput {
	if flags == nil {
		return file
	}
	if flags.Schema != nil || flags.GBNF != "" || flags.Regex != "" || file == nil {
		return flags
	}
	merged := *file
	merged.Lenient, merged.Retries = flags.Lenient, flags.Retries
	return &merged
}
