package llm

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/invopop/jsonschema"
)

// GenerationParams are the runtime parameters of a generation. The zero
// value is valid: greedy decoding of up to DefaultMaxNewTokens tokens with no
// penalties. Each field's jsonschema tag documents it for RuntimeParameters.
type GenerationParams struct {
	MaxNewTokens int `json:"max_new_tokens,omitempty" yaml:"max_new_tokens,omitempty" jsonschema:"default=128" jsonschema_description:"Maximum number of tokens to generate per generation. 0 means 128."`
	// Temperature 0 means greedy decoding.
	Temperature float64 `json:"temperature,omitempty" yaml:"temperature,omitempty" jsonschema:"default=0" jsonschema_description:"Sampling temperature; 0 picks the most likely token (greedy)."`
	TopK        int     `json:"top_k,omitempty" yaml:"top_k,omitempty" jsonschema:"default=0" jsonschema_description:"Keep only the K most likely tokens; 0 disables."`
	TopP        float64 `json:"top_p,omitempty" yaml:"top_p,omitempty" jsonschema:"default=1" jsonschema_description:"Nucleus sampling: keep the smallest set of tokens whose probability sums to P, in (0, 1]; 0 means 1 (disabled)."`
	MinP        float64 `json:"min_p,omitempty" yaml:"min_p,omitempty" jsonschema:"default=0" jsonschema_description:"Drop tokens less likely than P times the most likely one, in [0, 1]; 0 disables."`
	TypicalP    float64 `json:"typical_p,omitempty" yaml:"typical_p,omitempty" jsonschema:"default=1" jsonschema_description:"Locally typical sampling, in (0, 1]; 0 means 1 (disabled)."`
	// Penalties apply to the last PenaltyLastN tokens.
	RepeatPenalty    float64 `json:"repeat_penalty,omitempty" yaml:"repeat_penalty,omitempty" jsonschema:"default=1" jsonschema_description:"Divide the logits of recently seen tokens by this; 0 means 1 (disabled)."`
	PresencePenalty  float64 `json:"presence_penalty,omitempty" yaml:"presence_penalty,omitempty" jsonschema:"default=0" jsonschema_description:"Subtract this from the logits of tokens seen recently; 0 disables."`
	FrequencyPenalty float64 `json:"frequency_penalty,omitempty" yaml:"frequency_penalty,omitempty" jsonschema:"default=0" jsonschema_description:"Subtract this times the count of each recent token from its logit; 0 disables."`
	PenaltyLastN     int     `json:"penalty_last_n,omitempty" yaml:"penalty_last_n,omitempty" jsonschema:"default=64" jsonschema_description:"How many recent tokens the penalties look at; 0 means 64, -1 the whole context."`
	// Seed of the sampler; generation i of an input uses Seed+i.
	Seed int64 `json:"seed,omitempty" yaml:"seed,omitempty" jsonschema:"default=0" jsonschema_description:"Random seed; generation i uses seed+i. A negative seed draws a random one."`
	// LogitBias adds a bias to token logits, keyed by token ID.
	LogitBias map[int32]float64 `json:"logit_bias,omitempty" yaml:"logit_bias,omitempty" jsonschema_description:"Added to the logits of the given token IDs; -inf (or a very negative bias) bans a token."`
	Stop      []string          `json:"stop,omitempty" yaml:"stop,omitempty" jsonschema_description:"Stop when any of these strings is generated; the stop string is not returned."`
	IgnoreEOS bool              `json:"ignore_eos,omitempty" yaml:"ignore_eos,omitempty" jsonschema:"default=false" jsonschema_description:"Keep generating past end-of-generation tokens (for benchmarks)."`
	// Logprobs and TopLogprobs ask for Output.Logprobs (see TokenLogprob
	// for what they measure).
	Logprobs    bool `json:"logprobs,omitempty" yaml:"logprobs,omitempty" jsonschema:"default=false" jsonschema_description:"Return the log-probability of each sampled token (the log-softmax of the model's raw logits)."`
	TopLogprobs int  `json:"top_logprobs,omitempty" yaml:"top_logprobs,omitempty" jsonschema:"default=0" jsonschema_description:"Also return the N most likely tokens at each position, 0 to 20; implies logprobs."`
}

// Defaults applied to zero-valued GenerationParams fields.
const (
	DefaultMaxNewTokens = 128
	DefaultPenaltyLastN = 64
	// MaxNewTokensLimit bounds MaxNewTokens; larger values are rejected as absurd.
	MaxNewTokensLimit = 1 << 20
	// MaxStopSequences and MaxStopLength bound Stop.
	MaxStopSequences = 64
	MaxStopLength    = 1024
	// MaxTopLogprobs bounds TopLogprobs, as OpenAI's API does.
	MaxTopLogprobs = 20
	// MaxGenerations bounds the number of generations per input.
	MaxGenerations = 1 << 16
	// MaxRetries bounds StructuredOutput.Retries.
	MaxRetries = 100
)

// WithDefaults returns p with zero-valued fields set to their documented defaults.
func (p GenerationParams) WithDefaults() GenerationParams {
	if p.MaxNewTokens == 0 {
		p.MaxNewTokens = DefaultMaxNewTokens
	}
	if p.TopP == 0 {
		p.TopP = 1
	}
	if p.TypicalP == 0 {
		p.TypicalP = 1
	}
	if p.RepeatPenalty == 0 {
		p.RepeatPenalty = 1
	}
	if p.PenaltyLastN == 0 {
		p.PenaltyLastN = DefaultPenaltyLastN
	}
	if p.TopLogprobs > 0 {
		p.Logprobs = true
	}
	return p
}

// Validate reports the first parameter that is out of range, naming it.
// Checks that need a model (token IDs in LogitBias against the vocabulary)
// are made by the implementation.
func (p GenerationParams) Validate() error {
	bad := func(name string, v any, want string) error {
		return fmt.Errorf("%w: %s = %v, want %s", ErrBadParameter, name, v, want)
	}
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case p.MaxNewTokens < 0 || p.MaxNewTokens > MaxNewTokensLimit:
		return bad("max_new_tokens", p.MaxNewTokens, fmt.Sprintf("0 (default) to %d", MaxNewTokensLimit))
	case !finite(p.Temperature) || p.Temperature < 0:
		return bad("temperature", p.Temperature, "a finite number >= 0")
	case p.TopK < 0:
		return bad("top_k", p.TopK, ">= 0")
	case !finite(p.TopP) || p.TopP < 0 || p.TopP > 1:
		return bad("top_p", p.TopP, "in (0, 1], or 0 for the default")
	case !finite(p.MinP) || p.MinP < 0 || p.MinP > 1:
		return bad("min_p", p.MinP, "in [0, 1]")
	case !finite(p.TypicalP) || p.TypicalP < 0 || p.TypicalP > 1:
		return bad("typical_p", p.TypicalP, "in (0, 1], or 0 for the default")
	case !finite(p.RepeatPenalty) || p.RepeatPenalty < 0:
		return bad("repeat_penalty", p.RepeatPenalty, "a finite number > 0, or 0 for the default")
	case !finite(p.PresencePenalty):
		return bad("presence_penalty", p.PresencePenalty, "a finite number")
	case !finite(p.FrequencyPenalty):
		return bad("frequency_penalty", p.FrequencyPenalty, "a finite number")
	case p.PenaltyLastN < -1:
		return bad("penalty_last_n", p.PenaltyLastN, ">= -1")
	case p.TopLogprobs < 0 || p.TopLogprobs > MaxTopLogprobs:
		return bad("top_logprobs", p.TopLogprobs, fmt.Sprintf("0 to %d", MaxTopLogprobs))
	case len(p.Stop) > MaxStopSequences:
		return bad("len(stop)", len(p.Stop), fmt.Sprintf("at most %d", MaxStopSequences))
	}
	for i, s := range p.Stop {
		if s == "" || len(s) > MaxStopLength {
			return bad(fmt.Sprintf("stop[%d]", i), strconv.Quote(s), fmt.Sprintf("a non-empty string of at most %d bytes", MaxStopLength))
		}
	}
	for tok, b := range p.LogitBias {
		if tok < 0 {
			return bad("logit_bias token", tok, "a token ID >= 0")
		}
		if math.IsNaN(b) || math.IsInf(b, 1) {
			return bad(fmt.Sprintf("logit_bias[%d]", tok), b, "a number or -inf")
		}
	}
	return nil
}

// CheckNumGenerations reports whether n generations per input may be asked
// for: 1 to MaxGenerations, or 0, which Generate takes as 1.
func CheckNumGenerations(n int) error {
	if n < 0 || n > MaxGenerations {
		return fmt.Errorf("%w: num_generations = %d, want 1 to %d", ErrBadParameter, n, MaxGenerations)
	}
	return nil
}

// RuntimeParameter describes one runtime parameter, as distilabel's
// runtime_parameters_names and get_runtime_parameters_info do.
type RuntimeParameter struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Optional    bool   `json:"optional"`
	Default     any    `json:"default,omitempty"`
	Description string `json:"description"`
}

// RuntimeParameters lists the fields of a parameters struct (such as
// GenerationParams) with their JSON names, JSON Schema types, defaults and
// descriptions, read from the struct tags through invopop/jsonschema.
// Fields are optional unless their json tag lacks omitempty. The list is
// sorted by name.
func RuntimeParameters(params any) ([]RuntimeParameter, error) {
	t := reflect.TypeOf(params)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("llm: RuntimeParameters needs a struct, got %T", params)
	}
	r := jsonschema.Reflector{DoNotReference: true, RequiredFromJSONSchemaTags: false}
	s := r.ReflectFromType(t)
	if s == nil || s.Properties == nil {
		return nil, fmt.Errorf("llm: no parameters in %v", t)
	}
	required := map[string]bool{}
	for _, name := range s.Required {
		required[name] = true
	}
	var out []RuntimeParameter
	for pair := s.Properties.Oldest(); pair != nil; pair = pair.Next() {
		ps := pair.Value
		typ := ps.Type
		if typ == "array" && ps.Items != nil {
			typ = "array of " + ps.Items.Type
		}
		if typ == "object" {
			if ap := ps.AdditionalProperties; ap != nil && ap.Type != "" {
				typ = "object of " + ap.Type
			}
			for _, pp := range ps.PatternProperties {
				typ = "object of " + pp.Type
			}
		}
		out = append(out, RuntimeParameter{
			Name:        pair.Key,
			Type:        typ,
			Optional:    !required[pair.Key],
			Default:     plainDefault(ps.Default),
			Description: ps.Description,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// plainDefault turns the json.Number that invopop/jsonschema reads from a
// default= tag into an int64 or float64.
func plainDefault(v any) any {
	n, ok := v.(json.Number)
	if !ok {
		return v
	}
	if i, err := n.Int64(); err == nil {
		return i
	}
	if f, err := n.Float64(); err == nil {
		return f
	}
	return v
}

// String formats the parameter list as distilabel prints it: one line each.
func formatParameters(ps []RuntimeParameter) string {
	var b strings.Builder
	for _, p := range ps {
		opt := "required"
		if p.Optional {
			opt = "optional"
		}
		d, _ := json.Marshal(p.Default)
		fmt.Fprintf(&b, "%s (%s, %s, default %s): %s\n", p.Name, p.Type, opt, d, p.Description)
	}
	return b.String()
}

// FormatRuntimeParameters formats ps one per line, for --help texts.
func FormatRuntimeParameters(ps []RuntimeParameter) string { return formatParameters(ps) }
