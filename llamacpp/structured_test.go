package llamacpp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llm"
)

var structuredSchemas = []string{
	`{"type":"object","properties":{"label":{"enum":["positive","negative","mixed"]},"score":{"type":"integer","minimum":1,"maximum":5}},"required":["label","score"],"additionalProperties":false}`,
	`{"type":"array","items":{"type":"boolean"},"minItems":1,"maxItems":4}`,
	`{"type":"object","properties":{"name":{"type":"string","maxLength":12},"tags":{"type":"array","items":{"type":"string","pattern":"^[a-z]{1,6}$"},"maxItems":3}},"required":["name","tags"],"additionalProperties":false}`,
	`{"type":"string","format":"date"}`,
	`{"anyOf":[{"type":"null"},{"type":"integer","minimum":-20,"maximum":20}]}`,
	`{"type":"object","properties":{"id":{"type":"string","pattern":"^[A-F0-9]{8}$"},"ok":{"type":"boolean"},"note":{"type":"string"}},"required":["id","ok","note"],"additionalProperties":false}`,
	`{"type":"number","minimum":0}`,
	`{"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"next":{"anyOf":[{"type":"null"},{"$ref":"#/$defs/node"}]}},"required":["v","next"],"additionalProperties":false}},"$ref":"#/$defs/node"}`,
}

// TestStructuredOutputsValidate generates with the tiny random model under
// many schemas and seeds: every output must parse and validate against its
// schema with an independent validator (santhosh-tekuri/jsonschema), within
// the token budget.
func TestStructuredOutputsValidate(t *testing.T) {
	l := openLLM(t, tinyModel(t, "llama-spm"), llamacpp.ContextOptions{Sequences: 16})
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for i, schema := range structuredSchemas {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			c := jsonschema.NewCompiler()
			var doc any
			require.NoError(t, json.Unmarshal([]byte(schema), &doc))
			require.NoError(t, c.AddResource("schema.json", doc))
			c.AssertFormat()
			sch, err := c.Compile("schema.json")
			require.NoError(t, err)

			in := llm.Prompt("Answer in JSON: ")
			in.Structured = &llm.StructuredOutput{Schema: schema, ClosingTokens: 256}
			const budget = 96
			out, err := l.Generate(context.Background(), []llm.Input{in}, seeds, llm.GenerationParams{MaxNewTokens: budget, Temperature: 1, Seed: int64(100 * i)})
			require.NoError(t, err)
			require.NoError(t, out[0].Err)
			for g, text := range out[0].Generations {
				// Sampled tokens stay within the budget; what closed a cut
				// structure is counted apart.
				assert.LessOrEqual(t, out[0].Statistics.OutputTokens[g], budget)
				if out[0].Statistics.ClosingTokens != nil && out[0].Statistics.ClosingTokens[g] > 0 {
					assert.Equal(t, llm.FinishLength, out[0].FinishReasons[g])
					assert.Equal(t, budget, out[0].Statistics.OutputTokens[g])
				}
				var v any
				if !assert.NoError(t, json.Unmarshal([]byte(text), &v), "generation %d %q (%s)", g, text, out[0].FinishReasons[g]) {
					continue
				}
				assert.NoError(t, sch.Validate(v), "generation %d %q", g, text)
				assert.True(t, out[0].Valid[g], "generation %d reported invalid: %s", g, out[0].ValidationErrors[g])
			}
		})
	}
}

// TestStructuredBudgetCut: without a closing budget, an output the token
// budget cuts mid-structure ends there, is reported invalid with finish
// reason length, and nothing is appended.
func TestStructuredBudgetCut(t *testing.T) {
	l := openLLM(t, tinyModel(t, "llama-spm"), llamacpp.ContextOptions{})
	in := llm.Prompt("Answer in JSON: ")
	in.Structured = &llm.StructuredOutput{Schema: `{"type":"object","properties":{"note":{"type":"string","minLength":200}},"required":["note"]}`}
	out, err := l.Generate(context.Background(), []llm.Input{in}, 3, llm.GenerationParams{MaxNewTokens: 5, Temperature: 1, Seed: 7})
	require.NoError(t, err)
	require.NoError(t, out[0].Err)
	for g, text := range out[0].Generations {
		assert.Equal(t, llm.FinishLength, out[0].FinishReasons[g], text)
		assert.Equal(t, 5, out[0].Statistics.OutputTokens[g])
		assert.False(t, out[0].Valid[g], text)
		assert.False(t, json.Valid([]byte(text)), text)
	}
	assert.Nil(t, out[0].Statistics.ClosingTokens)

	in.Structured.ClosingTokens = 8
	out, err = l.Generate(context.Background(), []llm.Input{in}, 3, llm.GenerationParams{MaxNewTokens: 5, Temperature: 1, Seed: 7})
	require.NoError(t, err)
	for g, text := range out[0].Generations {
		// A string of at least 200 characters cannot be closed in 8 tokens:
		// the budget is a limit, not a target.
		assert.Equal(t, 5, out[0].Statistics.OutputTokens[g], text)
	}
	in.Structured.Schema = `{"type":"object","properties":{"a":{"type":"array","items":{"type":"integer"}}},"required":["a"]}`
	out, err = l.Generate(context.Background(), []llm.Input{in}, 3, llm.GenerationParams{MaxNewTokens: 3, Temperature: 1, Seed: 7})
	require.NoError(t, err)
	for g, text := range out[0].Generations {
		require.NotNil(t, out[0].Statistics.ClosingTokens, text)
		assert.Positive(t, out[0].Statistics.ClosingTokens[g], text)
		assert.LessOrEqual(t, out[0].Statistics.ClosingTokens[g], 8, text)
		assert.True(t, out[0].Valid[g], "%q: %s", text, out[0].ValidationErrors[g])
	}
}

func TestStructuredGBNFAndRegex(t *testing.T) {
	l := openLLM(t, tinyModel(t, ""), llamacpp.ContextOptions{})
	gb := llm.Prompt("Pick: ")
	gb.Structured = &llm.StructuredOutput{GBNF: `root ::= ("yes" | "no") " " [0-9]`}
	re := llm.Prompt("Code: ")
	re.Structured = &llm.StructuredOutput{Regex: `[A-Z]{3}-[0-9]{2}`}
	out, err := l.Generate(context.Background(), []llm.Input{gb, re}, 4, llm.GenerationParams{MaxNewTokens: 16, Temperature: 1, Seed: 3})
	require.NoError(t, err)
	for _, g := range out[0].Generations {
		assert.Regexp(t, `^(yes|no) [0-9]$`, g)
	}
	for _, g := range out[1].Generations {
		assert.Regexp(t, `^[A-Z]{3}-[0-9]{2}$`, g)
	}
	assert.Equal(t, []bool{true, true, true, true}, out[0].Valid)

	bad := llm.Prompt("x")
	bad.Structured = &llm.StructuredOutput{GBNF: `root ::= undefined-rule`}
	badSchema := llm.Prompt("x")
	badSchema.Structured = &llm.StructuredOutput{Schema: `{"type":"array","items":{"type":"string"},"uniqueItems":true}`, Strict: true}
	out, err = l.Generate(context.Background(), []llm.Input{bad, badSchema}, 1, llm.GenerationParams{MaxNewTokens: 4})
	require.NoError(t, err)
	assert.ErrorIs(t, out[0].Err, llamacpp.ErrGrammar)
	assert.ErrorContains(t, out[0].Err, "undefined-rule")
	assert.ErrorIs(t, out[1].Err, llm.ErrBadInput)
	assert.ErrorContains(t, out[1].Err, "uniqueItems")
}

// TestStructuredGoType: a Go type as the schema, and the output decoded back.
func TestStructuredGoType(t *testing.T) {
	type Review struct {
		Label string `json:"label" jsonschema:"enum=good,enum=bad"`
		Stars int    `json:"stars" jsonschema:"minimum=1,maximum=5"`
	}
	l := openLLM(t, tinyModel(t, ""), llamacpp.ContextOptions{})
	in := llm.Prompt("Review: ")
	in.Structured = &llm.StructuredOutput{Schema: Review{}}
	out, err := l.Generate(context.Background(), []llm.Input{in}, 3, llm.GenerationParams{MaxNewTokens: 48, Temperature: 1, Seed: 9})
	require.NoError(t, err)
	require.NoError(t, out[0].Err)
	for _, g := range out[0].Generations {
		var r Review
		require.NoError(t, json.Unmarshal([]byte(g), &r), g)
		assert.Contains(t, []string{"good", "bad"}, r.Label)
		assert.True(t, r.Stars >= 1 && r.Stars <= 5, g)
	}
}
