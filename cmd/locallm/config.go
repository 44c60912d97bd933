package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llm"
)

// runFile is a generate job's run file (--config FILE), and what
// --dump-config prints. The llm section is an llm.Config, as the library
// saves and re-creates LLMs; the rest are the job's own settings. Every
// field takes the library's meaning: a generation parameter left out is
// its zero value, which llm.GenerationParams documents (temperature 0 is
// greedy, seed 0 a fixed seed), not the CLI's flag default.
//
//	llm:
//	  type: llamacpp
//	  config:
//	    model_path: model.gguf
//	    context: {context_size: 4096, sequences: 16}
//	generation:
//	  max_new_tokens: 256
//	  temperature: 0.7
//	  seed: 42
//	num_generations: 2
//	input: prompts.jsonl
//	output: out.jsonl
//	shard: 0/4
type runFile struct {
	LLM            llm.Config           `json:"llm" yaml:"llm"`
	Generation     llm.GenerationParams `json:"generation" yaml:"generation,omitempty"`
	NumGenerations int                  `json:"num_generations,omitempty" yaml:"num_generations,omitempty"`
	Input          string               `json:"input,omitempty" yaml:"input,omitempty"`
	Output         string               `json:"output,omitempty" yaml:"output,omitempty"`
	Shard          string               `json:"shard,omitempty" yaml:"shard,omitempty"`
	ShardCount     int                  `json:"shard_count,omitempty" yaml:"shard_count,omitempty"`
}

// jobSettings are a generate job's effective settings, from a run file, the
// flags, or both.
type jobSettings struct {
	Model          llamacpp.Options
	Params         llm.GenerationParams
	NumGenerations int
	Input, Output  string
	Shard          string
	ShardCount     int
}

// jobFlags are the flags of a JSONL job.
type jobFlags struct {
	input, output string
	shardFlags
	quiet      bool
	config     string
	dumpConfig bool
}

func (j *jobFlags) title() string { return "Job" }

func (j *jobFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&j.input, "input", "i", "", "JSONL `FILE` of rows to run, one JSON object per line (see the README)")
	fs.StringVarP(&j.output, "output", "o", "", "JSONL `FILE` the finished rows are appended to; run again to resume")
	j.shardFlags.addFlags(fs)
	fs.BoolVarP(&j.quiet, "quiet", "q", false, "no progress on stderr")
	fs.StringVar(&j.config, "config", "", "YAML run `FILE` with the model, generation and job settings; flags given explicitly override it")
	fs.BoolVar(&j.dumpConfig, "dump-config", false, "print the effective run file as YAML and exit")
}

func (j *jobFlags) check(fs *pflag.FlagSet) error { return nil }

// settingsFromFlags reads every flag's value, default or not.
func settingsFromFlags(mf *modelFlags, gf *genFlags, jf *jobFlags) jobSettings {
	return jobSettings{
		Model: mf.values(), Params: gf.params(), NumGenerations: gf.numGen,
		Input: jf.input, Output: jf.output, Shard: jf.shard, ShardCount: jf.count,
	}
}

// configFlags maps each flag that a run file can also set to the copy of
// its value from the flags' settings to the file's. flagsNotInConfig lists
// the others; a test checks that every flag of generate is in one of the two.
var configFlags = map[string]func(dst, src *jobSettings){
	"model":             func(d, s *jobSettings) { d.Model.ModelPath = s.Model.ModelPath },
	"threads":           func(d, s *jobSettings) { d.Model.Context.Threads = s.Model.Context.Threads },
	"ctx":               func(d, s *jobSettings) { d.Model.Context.ContextSize = s.Model.Context.ContextSize },
	"batch":             func(d, s *jobSettings) { d.Model.Context.BatchSize = s.Model.Context.BatchSize },
	"parallel":          func(d, s *jobSettings) { d.Model.Context.Sequences = s.Model.Context.Sequences },
	"cache-type":        func(d, s *jobSettings) { d.Model.Context.CacheType = s.Model.Context.CacheType },
	"flash-attn":        func(d, s *jobSettings) { d.Model.Context.FlashAttention = s.Model.Context.FlashAttention },
	"gpu-layers":        func(d, s *jobSettings) { d.Model.Model.GPULayers = s.Model.Model.GPULayers },
	"no-mmap":           func(d, s *jobSettings) { d.Model.Model.NoMmap = s.Model.Model.NoMmap },
	"backend-dir":       func(d, s *jobSettings) { d.Model.Model.BackendDir = s.Model.Model.BackendDir },
	"chat-template":     func(d, s *jobSettings) { d.Model.ChatTemplate = s.Model.ChatTemplate },
	"max-tokens":        func(d, s *jobSettings) { d.Params.MaxNewTokens = s.Params.MaxNewTokens },
	"temperature":       func(d, s *jobSettings) { d.Params.Temperature = s.Params.Temperature },
	"top-k":             func(d, s *jobSettings) { d.Params.TopK = s.Params.TopK },
	"top-p":             func(d, s *jobSettings) { d.Params.TopP = s.Params.TopP },
	"min-p":             func(d, s *jobSettings) { d.Params.MinP = s.Params.MinP },
	"typical-p":         func(d, s *jobSettings) { d.Params.TypicalP = s.Params.TypicalP },
	"repeat-penalty":    func(d, s *jobSettings) { d.Params.RepeatPenalty = s.Params.RepeatPenalty },
	"presence-penalty":  func(d, s *jobSettings) { d.Params.PresencePenalty = s.Params.PresencePenalty },
	"frequency-penalty": func(d, s *jobSettings) { d.Params.FrequencyPenalty = s.Params.FrequencyPenalty },
	"penalty-last-n":    func(d, s *jobSettings) { d.Params.PenaltyLastN = s.Params.PenaltyLastN },
	"seed":              func(d, s *jobSettings) { d.Params.Seed = s.Params.Seed },
	"stop":              func(d, s *jobSettings) { d.Params.Stop = append([]string(nil), s.Params.Stop...) },
	"ignore-eos":        func(d, s *jobSettings) { d.Params.IgnoreEOS = s.Params.IgnoreEOS },
	"num-generations":   func(d, s *jobSettings) { d.NumGenerations = s.NumGenerations },
	"input":             func(d, s *jobSettings) { d.Input = s.Input },
	"output":            func(d, s *jobSettings) { d.Output = s.Output },
	"shard":             func(d, s *jobSettings) { d.Shard = s.Shard },
	"shard-count":       func(d, s *jobSettings) { d.ShardCount = s.ShardCount },
	// A constraint from the flags replaces the file's (with the file's
	// strict, lenient, retries and closing_tokens, unless flags set them
	// too).
	"schema":         copyConstraint,
	"grammar":        copyConstraint,
	"regex":          copyConstraint,
	"strict":         func(d, s *jobSettings) { structuredOf(d).Strict = flagsStructured(s).Strict },
	"lenient":        func(d, s *jobSettings) { structuredOf(d).Lenient = flagsStructured(s).Lenient },
	"retries":        func(d, s *jobSettings) { structuredOf(d).Retries = flagsStructured(s).Retries },
	"closing-tokens": func(d, s *jobSettings) { structuredOf(d).ClosingTokens = flagsStructured(s).ClosingTokens },
}

func copyConstraint(d, s *jobSettings) {
	so, f := structuredOf(d), flagsStructured(s)
	so.Schema, so.GBNF, so.Regex = f.Schema, f.GBNF, f.Regex
}

// flagsStructured is the flags' structured output, the zero one if none.
func flagsStructured(s *jobSettings) *llm.StructuredOutput {
	if s.Model.Structured == nil {
		return &llm.StructuredOutput{}
	}
	return s.Model.Structured
}

// structuredOf returns d's structured output, made if d has none, and
// copied so that d does not share it.
func structuredOf(d *jobSettings) *llm.StructuredOutput {
	so := &llm.StructuredOutput{}
	if d.Model.Structured != nil {
		*so = *d.Model.Structured
	}
	d.Model.Structured = so
	return so
}

// flagsNotInConfig are generate's flags that a run file does not hold: the
// single-prompt ones and those about this invocation rather than the job.
var flagsNotInConfig = map[string]bool{
	"prompt": true, "messages": true, "stats": true, "quiet": true,
	"config": true, "dump-config": true,
}

// effectiveSettings returns the job's settings: the run file at path, if
// any, with the flags the user set explicitly on top; without a run file,
// the flags, defaults included.
func effectiveSettings(fs *pflag.FlagSet, path string, fromFlags jobSettings) (jobSettings, error) {
	if path == "" {
		return fromFlags, nil
	}
	s, err := loadRunFile(path)
	if err != nil {
		return jobSettings{}, err
	}
	fs.Visit(func(f *pflag.Flag) {
		if set := configFlags[f.Name]; set != nil {
			set(&s, &fromFlags)
		}
	})
	return s, nil
}

// loadRunFile reads a run file. Unknown keys are errors, so that a typo does
// not silently fall back to a default. Relative paths in it (the model,
// the backend directory, the input and the output) are relative to the
// file's directory.
func loadRunFile(path string) (jobSettings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return jobSettings{}, usageError("--config %s: %v", path, pathError(err))
	}
	s, err := parseRunFile(data)
	if err != nil {
		return jobSettings{}, fmt.Errorf("--config %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	for _, p := range []*string{&s.Model.ModelPath, &s.Model.Model.BackendDir, &s.Input, &s.Output} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	return s, nil
}

// parseRunFile reads a run file's settings and checks the values it gives
// with the rules that check flags and rows (rules.go).
func parseRunFile(data []byte) (jobSettings, error) {
	var rf runFile
	d := yaml.NewDecoder(bytes.NewReader(data))
	d.KnownFields(true)
	if err := d.Decode(&rf); err != nil {
		if errors.Is(err, io.EOF) {
			return jobSettings{}, errors.New("empty")
		}
		return jobSettings{}, yamlError(err)
	}
	s := jobSettings{
		Params: rf.Generation, NumGenerations: rf.NumGenerations,
		Input: rf.Input, Output: rf.Output, Shard: rf.Shard, ShardCount: rf.ShardCount,
	}
	switch rf.LLM.Type {
	case llamacpp.TypeName:
	case "":
		return jobSettings{}, fmt.Errorf("llm.type is missing: want %s", llamacpp.TypeName)
	default:
		return jobSettings{}, fmt.Errorf("llm.type %q: this command runs %s", rf.LLM.Type, llamacpp.TypeName)
	}
	cfgKeys := map[string]bool{}
	if isSet(rf.LLM.Config) {
		if err := decodeStrict(rf.LLM.Config, &s.Model); err != nil {
			return jobSettings{}, jsonError("llm.config", err)
		}
		cfgKeys = jsonKeys(rf.LLM.Config)
	}

	// Which keys the file gives: only those are checked, the others
	// being the library's defaults.
	var tree map[string]any
	yaml.Unmarshal(data, &tree)
	top := yamlKeys(tree)
	if err := checkGenParams(s.Params, yamlKeys(tree["generation"]), "generation."); err != nil {
		return jobSettings{}, err
	}
	for _, f := range []struct {
		r rule
		v any
	}{{ruleNumGenerations, s.NumGenerations}, {ruleShard, s.Shard}, {ruleShardCount, s.ShardCount}} {
		if top[f.r.key] && !f.r.ok(f.v) {
			return jobSettings{}, fieldError(f.r.key, f.v, f.r.want)
		}
	}
	if err := checkOptions(s.Model, cfgKeys, "llm.config."); err != nil {
		return jobSettings{}, err
	}
	soKeys := map[string]bool{}
	for k := range cfgKeys {
		if rest, ok := strings.CutPrefix(k, "structured_output."); ok {
			soKeys[rest] = true
		}
	}
	if err := checkStructured(s.Model.Structured, soKeys, "llm.config.structured_output."); err != nil {
		return jobSettings{}, err
	}
	return s, nil
}

// yamlKeys returns a YAML mapping's keys; none if v is not a mapping.
func yamlKeys(v any) map[string]bool {
	keys := map[string]bool{}
	if m, ok := v.(map[string]any); ok {
		for k := range m {
			keys[k] = true
		}
	}
	return keys
}

// yamlTypeError matches one of yaml.v3's type errors.
var yamlTypeError = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+) `(.*)` into (.+)$")

// yamlError turns yaml.v3's errors, which speak of Go types, into the
// user's words, on one line.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var msgs []string
	for _, e := range te.Errors {
		if m := yamlTypeError.FindStringSubmatch(e); m != nil {
			msgs = append(msgs, fmt.Sprintf("line %s: want %s, got %s", m[1], goTypeWords(m[4]), yamlValueWords(m[2], m[3])))
			continue
		}
		if line, field, ok := strings.Cut(e, ": field "); ok {
			if name, _, ok := strings.Cut(field, " not found"); ok {
				msgs = append(msgs, fmt.Sprintf("%s: unknown key %s", line, name))
				continue
			}
		}
		msgs = append(msgs, e)
	}
	return errors.New(strings.Join(msgs, "; "))
}

func goTypeWords(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.Contains(t, "."):
		return "a mapping"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	}
	return t
}

func yamlValueWords(tag, v string) string {
	switch tag {
	case "str":
		return fmt.Sprintf("the string %q", v)
	case "map":
		return "a mapping"
	case "seq":
		return "a list"
	}
	return v
}

// runFile returns the settings as a run file.
func (s jobSettings) runFile() (runFile, error) {
	raw, err := json.Marshal(s.Model)
	if err != nil {
		return runFile{}, err
	}
	return runFile{
		LLM:        llm.Config{Type: llamacpp.TypeName, Config: raw},
		Generation: s.Params, NumGenerations: s.NumGenerations,
		Input: s.Input, Output: s.Output, Shard: s.Shard, ShardCount: s.ShardCount,
	}, nil
}

// dumpRunFile writes the settings as a YAML run file. The YAML is built
// from the settings' JSON, key order kept and empty mappings left out,
// rather than by yaml.v3's own encoder, which writes a string of newlines
// alone (the stop sequence "\n\n") as a block scalar it reads back shorter.
func dumpRunFile(w io.Writer, s jobSettings) error {
	// Paths are written absolute, so that the file runs the same job
	// wherever it is saved (relative paths in a run file are relative to
	// its directory).
	for _, p := range []*string{&s.Model.ModelPath, &s.Model.Model.BackendDir, &s.Input, &s.Output} {
		if *p != "" {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
	}
	rf, err := s.runFile()
	if err != nil {
		return err
	}
	data, err := json.Marshal(rf)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	n, err := yamlNodeOf(d)
	if err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return err
	}
	return enc.Close()
}

// yamlNodeOf reads one JSON value from d as a YAML node.
func yamlNodeOf(d *json.Decoder) (*yaml.Node, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	scalar := func(tag, v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v} }
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			n := &yaml.Node{Kind: yaml.SequenceNode}
			for d.More() {
				c, err := yamlNodeOf(d)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, c)
			}
			_, err := d.Token()
			return n, err
		}
		n := &yaml.Node{Kind: yaml.MappingNode}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return nil, err
			}
			v, err := yamlNodeOf(d)
			if err != nil {
				return nil, err
			}
			if v.Kind == yaml.MappingNode && len(v.Content) == 0 {
				continue
			}
			n.Content = append(n.Content, scalar("!!str", k.(string)), v)
		}
		_, err := d.Token()
		return n, err
	case string:
		n := scalar("!!str", t)
		if needsQuotes(t) {
			n.Style = yaml.DoubleQuotedStyle
		}
		return n, nil
	case json.Number:
		if strings.ContainsAny(string(t), ".eE") {
			return scalar("!!float", string(t)), nil
		}
		return scalar("!!int", string(t)), nil
	case bool:
		return scalar("!!bool", fmt.Sprint(t)), nil
	case nil:
		return scalar("!!null", "null"), nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// needsQuotes reports whether a string must be double-quoted in YAML: it
// holds line breaks, tabs or edge spaces, or, written plain, it would read
// as something else (a number, null, or a YAML 1.1 boolean such as off,
// which Python's PyYAML reads as False).
func needsQuotes(s string) bool {
	if s == "" || strings.ContainsAny(s, "\n\r\t") || strings.TrimSpace(s) != s {
		return true
	}
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~":
		return true
	}
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil {
		return true
	}
	str, ok := v.(string)
	return !ok || str != s
}
