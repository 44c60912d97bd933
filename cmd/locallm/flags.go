package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

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

func (f *modelFlags) title() string { return "Model" }

func (f *modelFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&f.model, "model", "m", "", "GGUF model `FILE` (required)")
	intFlag(fs, &f.threads, "threads", "t", 0, "`N` CPU threads, 1 to 1024 (default: one per physical core)", ruleThreads)
	intFlag(fs, &f.ctxSize, "ctx", "c", 0, fmt.Sprintf("KV cache of at most `N` tokens, shared by the parallel sequences; it is allocated as the work needs it (default %d)", llamacpp.DefaultContextSize), ruleContextSize)
	intFlag(fs, &f.batch, "batch", "", 0, fmt.Sprintf("at most `N` tokens per decode (default %d)", llamacpp.DefaultBatchSize), ruleBatchSize)
	intFlag(fs, &f.sequences, "parallel", "", 0, fmt.Sprintf("at most `N` sequences decoded together, 1 to %d (default %d)", llamacpp.MaxSequences, llamacpp.DefaultSequences), ruleSequences)
	stringFlag(fs, &f.cacheType, "cache-type", "", "f16", "KV cache `TYPE`: f16, f32 or q8_0", ruleCacheType)
	stringFlag(fs, &f.flashAttn, "flash-attn", "", "auto", "flash attention `MODE`: auto, on or off", ruleFlashAttn)
	intFlag(fs, &f.gpuLayers, "gpu-layers", "", 0, "offload `N` layers to a GPU, -1 for all, where a GPU backend is loaded", ruleGPULayers)
	fs.BoolVar(&f.noMmap, "no-mmap", false, "read the model into memory instead of mapping it")
	stringFlag(fs, &f.template, "chat-template", "", "", "chat template for messages: a `NAME` llama.cpp knows (chatml, llama3, ...) or Jinja text (default: the model's own)", ruleChatTemplate)
	fs.StringVar(&f.backendDir, "backend-dir", "", "`DIR` of ggml GPU backends (default $"+llamacpp.BackendDirEnv+")")
}

func (f *modelFlags) check(fs *pflag.FlagSet) error {
	if fs.Changed("backend-dir") {
		if st, err := os.Stat(f.backendDir); err != nil || !st.IsDir() {
			return flagError("backend-dir", f.backendDir, "a directory of ggml backends")
		}
	}
	return nil
}

// options returns the flags as Options, with the model required.
func (f *modelFlags) options() (llamacpp.Options, error) {
	o := f.values()
	if err := checkModelPath(o.ModelPath, "--model"); err != nil {
		return o, err
	}
	return o, checkChatTemplate(o.ChatTemplate, o.ModelPath)
}

// checkModelPath checks that a model is given and is a file, before
// anything is loaded: a bad path is a bad command line.
func checkModelPath(path, name string) error {
	if path == "" {
		return usageError("%s is required: the GGUF model file", name)
	}
	st, err := os.Stat(path)
	if err != nil {
		return usageError("%s %s: no such file", name, path)
	}
	if st.IsDir() {
		return usageError("%s %s: a directory, want a GGUF file", name, path)
	}
	return nil
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
	maxTokens    int
	temperature  float64
	topK         int
	topP         float64
	minP         float64
	typicalP     float64
	repeat       float64
	presence     float64
	frequency    float64
	penaltyLastN int
	seed         int64
	stop         []string
	ignoreEOS    bool
	numGen       int
}

func (g *genFlags) title() string { return "Generation" }

func (g *genFlags) addFlags(fs *pflag.FlagSet) {
	intFlag(fs, &g.maxTokens, "max-tokens", "", llm.DefaultMaxNewTokens, "sample at most `N` new tokens per generation, 1 to 1048576", ruleMaxTokens)
	floatFlag(fs, &g.temperature, "temperature", "", 0.8, "sampling temperature `T` >= 0; 0 is greedy", ruleTemperature)
	intFlag(fs, &g.topK, "top-k", "", 40, "keep the `K` most likely tokens; 0 disables", ruleTopK)
	floatFlag(fs, &g.topP, "top-p", "", 0.95, "nucleus sampling `P`, in (0, 1]; 1 disables", ruleTopP)
	floatFlag(fs, &g.minP, "min-p", "", 0.05, "min-p sampling `P`, in [0, 1]; 0 disables", ruleMinP)
	floatFlag(fs, &g.typicalP, "typical-p", "", 1, "locally typical sampling `P`, in (0, 1]; 1 disables", ruleTypicalP)
	floatFlag(fs, &g.repeat, "repeat-penalty", "", 1, "repetition penalty `X` > 0; 1 disables", ruleRepeat)
	floatFlag(fs, &g.presence, "presence-penalty", "", 0, "presence penalty `X`; 0 disables", rulePresence)
	floatFlag(fs, &g.frequency, "frequency-penalty", "", 0, "frequency penalty `X`; 0 disables", ruleFrequency)
	intFlag(fs, &g.penaltyLastN, "penalty-last-n", "", llm.DefaultPenaltyLastN, "the penalties look at the last `N` tokens; -1 the whole context", rulePenaltyLastN)
	int64Flag(fs, &g.seed, "seed", "s", -1, "random `SEED`; generation i uses SEED+i; negative draws one", ruleSeed)
	stringsFlag(fs, &g.stop, "stop", "", "stop at `TEXT`, which is left out of the output (repeatable)", ruleStop)
	fs.BoolVar(&g.ignoreEOS, "ignore-eos", false, "keep generating past end-of-generation tokens (benchmarks)")
	intFlag(fs, &g.numGen, "num-generations", "", 1, fmt.Sprintf("`N` generations per prompt or row, 1 to %d", llm.MaxGenerations), ruleNumGenerations)
}

func (g *genFlags) check(fs *pflag.FlagSet) error {
	if len(g.stop) > llm.MaxStopSequences {
		return usageError("--stop given %d times: want at most %d stop sequences", len(g.stop), llm.MaxStopSequences)
	}
	return nil
}

func (g *genFlags) params() llm.GenerationParams {
	return llm.GenerationParams{
		MaxNewTokens: g.maxTokens, Temperature: g.temperature, TopK: g.topK, TopP: g.topP,
		MinP: g.minP, TypicalP: g.typicalP, RepeatPenalty: g.repeat, PresencePenalty: g.presence,
		FrequencyPenalty: g.frequency, PenaltyLastN: g.penaltyLastN, Seed: g.seed,
		Stop: append([]string(nil), g.stop...), IgnoreEOS: g.ignoreEOS,
	}
}

// shardFlags pick one shard of a job's rows: --shard I/N, or the index
// from the environment (a Kubernetes Indexed Job, a Slurm array) with the
// count from --shard-count.
type shardFlags struct {
	shard string
	count int
}

func (f *shardFlags) title() string { return "Job" }

func (f *shardFlags) addFlags(fs *pflag.FlagSet) {
	stringFlag(fs, &f.shard, "shard", "", "", "run shard `I/N` only: the rows whose id hashes (FNV-1a) to I mod N (default from $"+job.EnvK8sIndex+" or $"+job.EnvSlurmIndex+")", ruleShard)
	intFlag(fs, &f.count, "shard-count", "", 0, "shard count `N` when the index comes from the environment (default $"+job.EnvSlurmCount+")", ruleShardCount)
}

func (f *shardFlags) check(fs *pflag.FlagSet) error { return nil }

// resolve returns the shard the flags and the environment give.
func (f *shardFlags) resolve() (job.Shard, error) {
	s, err := job.ResolveShard(f.shard, f.count, os.Getenv)
	if err != nil {
		return job.Shard{}, usageError("%v", err)
	}
	return s, nil
}

// structFlags constrain generate's output: a JSON Schema, a GBNF grammar or
// a regular expression, for every row that has no structured_output of its own.
type structFlags struct {
	schema, grammar, regex string
	strict, lenient        bool
	retries                int
	closing                int
}

func (f *structFlags) title() string { return "Structured output" }

func (f *structFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.schema, "schema", "", "JSON Schema `FILE` (- for standard input): every output must validate against it")
	fs.StringVar(&f.grammar, "grammar", "", "GBNF grammar `FILE` (llama.cpp's format; - for standard input) the output must follow")
	fs.StringVar(&f.regex, "regex", "", "regular expression `RE` the whole output must match")
	fs.BoolVar(&f.strict, "strict", false, "with --schema: refuse a schema with keywords a grammar cannot express (by default they are over-approximated and every output validated)")
	fs.BoolVar(&f.lenient, "lenient", false, "with --schema: over-approximate keywords a grammar cannot express, then validate (the default; kept for older command lines)")
	intFlag(fs, &f.retries, "retries", "", 0, fmt.Sprintf("generate an output that fails validation again, with a new seed, up to `N` times (0 to %d)", llm.MaxRetries), ruleRetries)
	intFlag(fs, &f.closing, "closing-tokens", "", 0, "append up to `N` tokens beyond --max-tokens to close an output cut mid-structure; 0: none, a cut output is left as it is", ruleClosingTokens)
}

func (f *structFlags) check(fs *pflag.FlagSet) error {
	var set []string
	for _, name := range []string{"schema", "grammar", "regex"} {
		if fs.Changed(name) {
			set = append(set, "--"+name)
		}
	}
	if len(set) > 1 {
		return usageError("%s: give one of --schema, --grammar and --regex", strings.Join(set, " and "))
	}
	if f.strict && f.lenient {
		return usageError("--strict and --lenient: give at most one")
	}
	return nil
}

// flagName names the constraint flag that is set, with its value.
func (f *structFlags) flagName() string {
	switch {
	case f.schema != "":
		return "--schema " + f.schema
	case f.grammar != "":
		return "--grammar " + f.grammar
	}
	return fmt.Sprintf("--regex %q", f.regex)
}

// structured reads the files the flags name; nil when none is set.
func (f *structFlags) structured() (*llm.StructuredOutput, error) {
	constraint := f.schema != "" || f.grammar != "" || f.regex != ""
	if !constraint && !f.strict && !f.lenient && f.retries == 0 && f.closing == 0 {
		return nil, nil
	}
	so := &llm.StructuredOutput{Strict: f.strict, Lenient: f.lenient, Retries: f.retries, ClosingTokens: f.closing, Regex: f.regex}
	if f.schema != "" {
		data, err := readFileOrStdin(f.schema)
		if err != nil {
			return nil, usageError("--schema %s: %v", f.schema, pathError(err))
		}
		if !json.Valid(data) {
			return nil, usageError("--schema %s: not valid JSON", f.schema)
		}
		so.Schema = json.RawMessage(data)
	}
	if f.grammar != "" {
		data, err := readFileOrStdin(f.grammar)
		if err != nil {
			return nil, usageError("--grammar %s: %v", f.grammar, pathError(err))
		}
		so.GBNF = string(data)
	}
	return so, nil
}

// pathError is a file error without the path, which the message already names.
func pathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// hasConstraint reports whether so constrains anything: a schema, a
// grammar or a regular expression.
func hasConstraint(so *llm.StructuredOutput) bool {
	return so != nil && (so.Schema != nil || so.GBNF != "" || so.Regex != "")
}
