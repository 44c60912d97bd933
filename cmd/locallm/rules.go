package main

// One set of rules for every setting that a flag, a run file and a JSONL
// row can give. Each rule names the setting as rows and run files spell it
// (top_p), says in words what it accepts, and checks a value. A flag whose
// value a rule governs is checked as it is parsed (ruledFlag), and its
// error names the flag (--top-p 0: want a number in (0, 1]); a run file's
// or a row's fields are checked when present, and the error names the
// field (generation_params.top_p = 0: want a number in (0, 1]). A value
// left out is not checked: it is the job's, or the library's default.
//
// The library validates again (llm.GenerationParams.Validate,
// llamacpp.New); the CLI's rules are as strict or stricter, since a value
// a user writes explicitly must be in the range the help states, while the
// library reads a zero field as "the default".

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/locallm/locallm/cmd/locallm/internal/job"
	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llamacpp/gguf"
	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/chattemplate"
)

// rule is what one setting accepts.
type rule struct {
	key  string // its name in rows and run files
	want string // what it accepts, in words, after "want"
	ok   func(v any) bool
	// bad are values, as a flag takes them, that the rule refuses: the
	// edges of its range and things that are not values of its type. The
	// test that sweeps every flag of every command uses them.
	bad []string
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case int32:
		return int64(x), true
	}
	return 0, false
}

func asFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	if n, ok := asInt(v); ok {
		return float64(n), true
	}
	return 0, false
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// intRule accepts integers from lo to hi.
func intRule(key string, lo, hi int64) rule {
	bad := []string{"x", "1.5", strconv.FormatInt(hi, 10) + "0"}
	if lo > math.MinInt64 {
		bad = append(bad, strconv.FormatInt(lo-1, 10))
	}
	if hi < math.MaxInt64 {
		bad = append(bad, strconv.FormatInt(hi+1, 10))
	}
	return rule{key, fmt.Sprintf("an integer from %d to %d", lo, hi), func(v any) bool {
		n, ok := asInt(v)
		return ok && n >= lo && n <= hi
	}, bad}
}

// intRuleWant is intRule with its own words.
func intRuleWant(key string, lo, hi int64, want string) rule {
	r := intRule(key, lo, hi)
	r.want = want
	return r
}

// floatRule accepts finite numbers in [lo, hi], or (lo, hi] if loOpen.
func floatRule(key string, lo, hi float64, loOpen bool) rule {
	br := "["
	if loOpen {
		br = "("
	}
	below := lo - 0.5
	if loOpen {
		below = lo
	}
	bad := []string{"x", "NaN", "Inf", fmt.Sprint(below), fmt.Sprint(hi + 0.5)}
	return rule{key, fmt.Sprintf("a number in %s%g, %g]", br, lo, hi), func(v any) bool {
		x, ok := asFloat(v)
		return ok && finite(x) && x <= hi && (x > lo || !loOpen && x == lo)
	}, bad}
}

// floatMin accepts finite numbers >= lo, or > lo if open.
func floatMin(key string, lo float64, open bool) rule {
	op := ">="
	if open {
		op = ">"
	}
	below := lo - 0.5
	if open {
		below = lo
	}
	return rule{key, fmt.Sprintf("a number %s %g", op, lo), func(v any) bool {
		x, ok := asFloat(v)
		return ok && finite(x) && (x > lo || !open && x == lo)
	}, []string{"x", "NaN", "Inf", fmt.Sprint(below)}}
}

func finiteRule(key string) rule {
	return rule{key, "a finite number", func(v any) bool {
		x, ok := asFloat(v)
		return ok && finite(x)
	}, []string{"x", "NaN", "Inf", "-Inf"}}
}

// enumRule accepts one of values.
func enumRule(key string, values ...string) rule {
	return rule{key, "one of " + strings.Join(values, ", "), func(v any) bool {
		s, ok := v.(string)
		return ok && slices.Contains(values, s)
	}, []string{"bogus", ""}}
}

// The rules. Keys of llamacpp.Options are dotted paths in the run file's
// llm.config.
var (
	ruleMaxTokens    = intRule("max_new_tokens", 1, llm.MaxNewTokensLimit)
	ruleTemperature  = floatMin("temperature", 0, false)
	ruleTopK         = intRuleWant("top_k", 0, math.MaxInt32, "an integer >= 0 (0 disables)")
	ruleTopP         = floatRule("top_p", 0, 1, true)
	ruleMinP         = floatRule("min_p", 0, 1, false)
	ruleTypicalP     = floatRule("typical_p", 0, 1, true)
	ruleRepeat       = floatMin("repeat_penalty", 0, true)
	rulePresence     = finiteRule("presence_penalty")
	ruleFrequency    = finiteRule("frequency_penalty")
	rulePenaltyLastN = intRuleWant("penalty_last_n", -1, math.MaxInt32, "an integer >= -1 (-1: the whole context)")
	ruleSeed         = rule{"seed", "an integer (negative: a random seed)", func(v any) bool { _, ok := asInt(v); return ok }, []string{"x", "1.5", "99999999999999999999"}}
	ruleTopLogprobs  = intRule("top_logprobs", 0, llm.MaxTopLogprobs)
	ruleStop         = rule{"stop", fmt.Sprintf("a non-empty string of at most %d bytes", llm.MaxStopLength), func(v any) bool {
		s, ok := v.(string)
		return ok && s != "" && len(s) <= llm.MaxStopLength
	}, []string{"", strings.Repeat("x", llm.MaxStopLength+1)}}
	ruleLogitBias = rule{"logit_bias", "token IDs >= 0 mapped to numbers (or -inf)", func(v any) bool {
		m, ok := v.(map[int32]float64)
		if !ok {
			return false
		}
		for tok, b := range m {
			if tok < 0 || math.IsNaN(b) || math.IsInf(b, 1) {
				return false
			}
		}
		return true
	}, nil}

	ruleNumGenerations = intRule("num_generations", 1, llm.MaxGenerations)
	ruleRetries        = intRule("retries", 0, llm.MaxRetries)
	ruleClosingTokens  = intRule("closing_tokens", 0, llm.MaxNewTokensLimit)
	ruleShard          = rule{"shard", "I/N with 0 <= I < N, as 0/4", func(v any) bool {
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := job.ParseShard(s)
		return err == nil
	}, []string{"2/2", "x", "-1/2", "1/0", "1"}}
	ruleShardCount = intRule("shard_count", 1, job.MaxShards)

	ruleBatchRows = intRule("batch_rows", 1, 1<<16)

	ruleThreads      = intRule("context.threads", 1, 1024)
	ruleBatchThreads = intRule("context.batch_threads", 1, 1024)
	ruleContextSize  = intRule("context.context_size", 1, 1<<24)
	ruleBatchSize    = intRule("context.batch_size", 1, 1<<24)
	ruleUBatchSize   = intRule("context.ubatch_size", 1, 1<<24)
	ruleSequences    = intRule("context.sequences", 1, llamacpp.MaxSequences)
	ruleCacheType    = enumRule("context.cache_type", "f16", "f32", "q8_0")
	ruleFlashAttn    = enumRule("context.flash_attention", "auto", "on", "off")
	ruleGPULayers    = intRuleWant("model.gpu_layers", -1, math.MaxInt32, "-1 (every layer) or a number of layers >= 0")
	ruleChatTemplate = rule{"chat_template", chatTemplateWant, func(v any) bool {
		s, ok := v.(string)
		return ok && checkChatTemplateText(s) == nil
	}, []string{"not a name", "{% if %}", "{{ unclosed"}}
)

// chatTemplateWant is what --chat-template accepts.
const chatTemplateWant = "a template name (one of the model's tokenizer.chat_template.NAME, or a llama.cpp built-in: locallm info --chat-templates) or Jinja template text"

// templateName is what a template's name looks like: GGUF's
// tokenizer.chat_template.NAME keys and llama.cpp's built-ins.
var templateName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// checkChatTemplateText checks a chat template option without a model:
// Jinja text must parse, anything else must look like a name (which
// checkChatTemplate looks up in the model).
func checkChatTemplateText(s string) error {
	switch {
	case s == "", templateName.MatchString(s):
		return nil
	case strings.Contains(s, "{{") || strings.Contains(s, "{%"):
		_, err := chattemplate.Parse("--chat-template", s)
		return err
	}
	return errors.New("not a name, nor Jinja text")
}

// checkChatTemplate checks a chat template option against the model's
// metadata (read in Go, without loading the model): a name must be one of
// the model's named templates or a llama.cpp built-in. Jinja text and ""
// (the model's own template) pass.
func checkChatTemplate(template, modelPath string) error {
	if template == "" || !templateName.MatchString(template) || slices.Contains(llamacpp.ChatTemplates(), template) {
		return nil
	}
	f, err := gguf.Open(modelPath)
	if err != nil {
		return nil // the load reports it
	}
	defer f.Close()
	var names []string
	for _, kv := range f.KVs {
		if n, ok := strings.CutPrefix(kv.Key, "tokenizer.chat_template."); ok {
			if n == template {
				return nil
			}
			names = append(names, n)
		}
	}
	has := "this model has no named templates"
	if len(names) > 0 {
		has = "this model's are " + strings.Join(names, ", ")
	}
	return flagError("chat-template", template, fmt.Sprintf("%s; %s", chatTemplateWant, has))
}

// genField ties a rule to its field of llm.GenerationParams.
type genField struct {
	r   rule
	get func(*llm.GenerationParams) any
}

// genFields are the rules of llm.GenerationParams' fields.
var genFields = []genField{
	{ruleMaxTokens, func(p *llm.GenerationParams) any { return p.MaxNewTokens }},
	{ruleTemperature, func(p *llm.GenerationParams) any { return p.Temperature }},
	{ruleTopK, func(p *llm.GenerationParams) any { return p.TopK }},
	{ruleTopP, func(p *llm.GenerationParams) any { return p.TopP }},
	{ruleMinP, func(p *llm.GenerationParams) any { return p.MinP }},
	{ruleTypicalP, func(p *llm.GenerationParams) any { return p.TypicalP }},
	{ruleRepeat, func(p *llm.GenerationParams) any { return p.RepeatPenalty }},
	{rulePresence, func(p *llm.GenerationParams) any { return p.PresencePenalty }},
	{ruleFrequency, func(p *llm.GenerationParams) any { return p.FrequencyPenalty }},
	{rulePenaltyLastN, func(p *llm.GenerationParams) any { return p.PenaltyLastN }},
	{ruleSeed, func(p *llm.GenerationParams) any { return p.Seed }},
	{ruleTopLogprobs, func(p *llm.GenerationParams) any { return p.TopLogprobs }},
	{ruleLogitBias, func(p *llm.GenerationParams) any { return p.LogitBias }},
}

// fieldError is the message for a run file's or a row's bad field.
func fieldError(name string, v any, want string) error {
	return fmt.Errorf("%s = %s: want %s", name, showValue(v), want)
}

// showValue writes a value as a user wrote it: numbers plainly, strings
// and the rest as JSON.
func showValue(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case int, int64, int32:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// checkGenParams checks the fields of p that given names (a row's
// generation_params keys, a run file's generation keys), naming them with
// prefix ("generation_params.").
func checkGenParams(p llm.GenerationParams, given map[string]bool, prefix string) error {
	for _, f := range genFields {
		if !given[f.r.key] {
			continue
		}
		if v := f.get(&p); !f.r.ok(v) {
			return fieldError(prefix+f.r.key, v, f.r.want)
		}
	}
	if given["stop"] {
		if len(p.Stop) > llm.MaxStopSequences {
			return fmt.Errorf("%sstop has %d strings: want at most %d", prefix, len(p.Stop), llm.MaxStopSequences)
		}
		for i, s := range p.Stop {
			if !ruleStop.ok(s) {
				return fieldError(fmt.Sprintf("%sstop[%d]", prefix, i), s, ruleStop.want)
			}
		}
	}
	return nil
}

// checkStructured checks a structured_output object's fields that given
// names, and that it has one constraint.
func checkStructured(so *llm.StructuredOutput, given map[string]bool, prefix string) error {
	if so == nil {
		return nil
	}
	for _, f := range []struct {
		r rule
		v int
	}{{ruleRetries, so.Retries}, {ruleClosingTokens, so.ClosingTokens}} {
		if given[f.r.key] && !f.r.ok(f.v) {
			return fieldError(prefix+f.r.key, f.v, f.r.want)
		}
	}
	n := 0
	for _, set := range []bool{so.Schema != nil, so.GBNF != "", so.Regex != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("%s: want exactly one of schema, gbnf and regex (has %d)", strings.TrimSuffix(prefix, "."), n)
	}
	return nil
}

// optionFields are the rules of llamacpp.Options' fields, by dotted key.
var optionFields = []struct {
	r   rule
	get func(*llamacpp.Options) any
}{
	{ruleThreads, func(o *llamacpp.Options) any { return o.Context.Threads }},
	{ruleBatchThreads, func(o *llamacpp.Options) any { return o.Context.BatchThreads }},
	{ruleContextSize, func(o *llamacpp.Options) any { return o.Context.ContextSize }},
	{ruleBatchSize, func(o *llamacpp.Options) any { return o.Context.BatchSize }},
	{ruleUBatchSize, func(o *llamacpp.Options) any { return o.Context.UBatchSize }},
	{ruleSequences, func(o *llamacpp.Options) any { return o.Context.Sequences }},
	{ruleCacheType, func(o *llamacpp.Options) any { return string(o.Context.CacheType) }},
	{ruleFlashAttn, func(o *llamacpp.Options) any { return string(o.Context.FlashAttention) }},
	{ruleGPULayers, func(o *llamacpp.Options) any { return o.Model.GPULayers }},
	{ruleChatTemplate, func(o *llamacpp.Options) any { return o.ChatTemplate }},
}

// checkOptions checks the fields of o that given names (dotted keys of a
// run file's llm.config), naming them with prefix.
func checkOptions(o llamacpp.Options, given map[string]bool, prefix string) error {
	for _, f := range optionFields {
		if given[f.r.key] {
			if v := f.get(&o); !f.r.ok(v) {
				return fieldError(prefix+f.r.key, v, f.r.want)
			}
		}
	}
	return nil
}

// jsonKeys returns the keys of a JSON object, and of the objects nested in
// it as dotted paths ("context.threads"); none if raw is not an object.
func jsonKeys(raw []byte) map[string]bool {
	var m map[string]json.RawMessage
	keys := map[string]bool{}
	if json.Unmarshal(raw, &m) != nil {
		return keys
	}
	for k, v := range m {
		keys[k] = true
		for sub := range jsonKeys(v) {
			keys[k+"."+sub] = true
		}
	}
	return keys
}

// ruledFlag is a flag whose value a rule checks as it is parsed, so that
// a bad value fails with the flag's name, the value and the rule's words.
type ruledFlag struct {
	r     rule
	kind  string // "int", "float64" or "string"
	set   func(string) (any, error)
	store func(any)
	show  func() string
}

func (f *ruledFlag) String() string { return f.show() }
func (f *ruledFlag) Type() string   { return f.kind }
func (f *ruledFlag) Set(s string) error {
	v, err := f.set(s)
	if err != nil || !f.r.ok(v) {
		return fmt.Errorf("want %s", f.r.want)
	}
	f.store(v)
	return nil
}

// wantAnnotation holds a flag's rule words, for parse errors;
// badAnnotation values it refuses, for the test that sweeps every flag.
const (
	wantAnnotation = "locallm_want"
	badAnnotation  = "locallm_bad"
)

func addRuled(fs *pflag.FlagSet, f *ruledFlag, name, short, usage string) {
	fs.VarP(f, name, short, usage)
	fs.SetAnnotation(name, wantAnnotation, []string{f.r.want})
	fs.SetAnnotation(name, badAnnotation, f.r.bad)
}

// intFlag declares an int flag that r checks.
func intFlag(fs *pflag.FlagSet, p *int, name, short string, def int, usage string, r rule) {
	*p = def
	addRuled(fs, &ruledFlag{r: r, kind: "int",
		set:   func(s string) (any, error) { return strconv.Atoi(s) },
		store: func(v any) { *p = v.(int) },
		show:  func() string { return strconv.Itoa(*p) },
	}, name, short, usage)
}

// int64Flag declares an int64 flag that r checks.
func int64Flag(fs *pflag.FlagSet, p *int64, name, short string, def int64, usage string, r rule) {
	*p = def
	addRuled(fs, &ruledFlag{r: r, kind: "int",
		set:   func(s string) (any, error) { return strconv.ParseInt(s, 10, 64) },
		store: func(v any) { *p = v.(int64) },
		show:  func() string { return strconv.FormatInt(*p, 10) },
	}, name, short, usage)
}

// floatFlag declares a float64 flag that r checks.
func floatFlag(fs *pflag.FlagSet, p *float64, name, short string, def float64, usage string, r rule) {
	*p = def
	addRuled(fs, &ruledFlag{r: r, kind: "float64",
		set:   func(s string) (any, error) { return strconv.ParseFloat(s, 64) },
		store: func(v any) { *p = v.(float64) },
		show:  func() string { return strconv.FormatFloat(*p, 'g', -1, 64) },
	}, name, short, usage)
}

// stringFlag declares a string flag that r checks.
func stringFlag(fs *pflag.FlagSet, p *string, name, short string, def string, usage string, r rule) {
	*p = def
	addRuled(fs, &ruledFlag{r: r, kind: "string",
		set:   func(s string) (any, error) { return s, nil },
		store: func(v any) { *p = v.(string) },
		show:  func() string { return *p },
	}, name, short, usage)
}

// durationRule accepts durations >= 0.
func durationRule(key string) rule {
	return rule{key, "a duration >= 0, as 40ms or 30s", func(v any) bool {
		d, ok := v.(time.Duration)
		return ok && d >= 0
	}, []string{"x", "-1s", "10"}}
}

// durationFlag declares a time.Duration flag that r checks.
func durationFlag(fs *pflag.FlagSet, p *time.Duration, name string, def time.Duration, usage string, r rule) {
	*p = def
	addRuled(fs, &ruledFlag{r: r, kind: "duration",
		set:   func(s string) (any, error) { return time.ParseDuration(s) },
		store: func(v any) { *p = v.(time.Duration) },
		show:  func() string { return p.String() },
	}, name, "", usage)
}

// stringsFlag declares a repeatable string flag; r checks each value.
func stringsFlag(fs *pflag.FlagSet, p *[]string, name, short, usage string, r rule) {
	addRuled(fs, &ruledFlag{r: r, kind: "string",
		set:   func(s string) (any, error) { return s, nil },
		store: func(v any) { *p = append(*p, v.(string)) },
		show:  func() string { return strings.Join(*p, ",") },
	}, name, short, usage)
}
