package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llm"
)

const generateSummary = `Generate text from a prompt or chat messages, or for every row of a JSONL file.

With one generation, stdout holds exactly the generated text, streamed as it comes.
With several, each is one JSON line: {"generation": i, "text": ..., "finish_reason": ...}.

With -input IN.jsonl -output OUT.jsonl, each input line is a row
  {"id": ..., "prompt": ... | "messages": [...], "structured_output": {...},
   "generation_params": {...}, "num_generations": n}
(id and prompt or messages required; the id a unique string or number) and each
finished row is appended to OUT.jsonl, in the order rows finish, as
  {"id": ..., "generations": [...], "finish_reasons": [...], "statistics": {...},
   "valid": [...], "validation_errors": [...]}
Run the same command again after a crash or Ctrl-C to resume: rows already in
OUT.jsonl are skipped. Bad rows go, with their line number, to
OUT.jsonl.errors.jsonl and the job goes on. -shard I/N runs one part of the rows.
-config FILE reads the settings from a YAML run file; -dump-config prints them.`

func generateCmd() *cobra.Command {
	var mf modelFlags
	var gf genFlags
	var jf jobFlags
	var sf structFlags
	var prompt, messages string
	var stats bool
	var c *cobra.Command
	c = newCommand(&cobra.Command{
		Use:   "generate --model FILE (--prompt TEXT | --messages FILE | --input IN.jsonl --output OUT.jsonl) [flags]",
		Short: "Generate text from a prompt or chat messages, or for every row of a JSONL file",
		Long:  generateSummary,
	}, func(ctx context.Context, args []string) error {
		fs := c.Flags()
		so, err := sf.structured()
		if err != nil {
			return err
		}
		fromFlags := settingsFromFlags(&mf, &gf, &jf)
		fromFlags.Model.Structured = so
		settings, err := effectiveSettings(fs, jf.config, fromFlags)
		if err != nil {
			return asUsage(err)
		}
		if jf.dumpConfig {
			return dumpRunFile(stdout, settings)
		}
		single := prompt != "" || messages != ""
		if single && jf.output != "" {
			return usageError("--output is for --input jobs; with --prompt or --messages the text goes to stdout")
		}
		if settings.Input != "" || (settings.Output != "" && !single) {
			if single {
				return usageError("give --prompt or --messages, or --input, not both")
			}
			return runGenerateJob(ctx, settings, jf.quiet, stats)
		}
		opts := settings.Model
		if opts.ModelPath == "" {
			return usageError("--model is required")
		}
		params := settings.Params
		if err := params.Validate(); err != nil {
			return &exitError{code: 2, err: err}
		}
		var in llm.Input
		switch {
		case prompt != "" && messages != "":
			return usageError("give --prompt or --messages, not both")
		case prompt != "":
			in = llm.Prompt(prompt)
		case messages != "":
			data, err := os.ReadFile(messages)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(data, &in.Messages); err != nil {
				return fmt.Errorf("--messages %s: %w", messages, err)
			}
		default:
			return usageError("--prompt, --messages or --input is required")
		}
		start := time.Now()
		l, err := llamacpp.Open(ctx, opts)
		if err != nil {
			return err
		}
		defer l.Close()
		n := max(settings.NumGenerations, 1)
		var stream func(llm.Chunk)
		if n == 1 {
			stream = func(c llm.Chunk) { fmt.Fprint(stdout, c.Text) }
		}
		genStart := time.Now()
		outs, err := l.GenerateStream(ctx, []llm.Input{in}, n, params, stream)
		if err != nil && len(outs) == 0 {
			return err
		}
		out := outs[0]
		if n > 1 {
			enc := json.NewEncoder(stdout)
			for i, text := range out.Generations {
				enc.Encode(map[string]any{"generation": i, "text": text, "finish_reason": out.FinishReasons[i]})
			}
		}
		if stats {
			printStats(out, time.Since(start), time.Since(genStart))
		}
		if out.Err != nil {
			return out.Err
		}
		return err
	}, &mf, &gf, &sf, &jf)
	fs := c.Flags()
	fs.StringVarP(&prompt, "prompt", "p", "", "raw prompt `TEXT`, used as it is")
	fs.StringVar(&messages, "messages", "", "JSON `FILE` with chat messages: [{\"role\": ..., \"content\": ...}, ...]")
	fs.BoolVar(&stats, "stats", false, "print one JSON line of statistics on stderr")
	return c
}

// printStats writes the --stats line. Decode speed counts the tokens after
// the first, which the prompt's evaluation yields.
func printStats(out llm.Output, wall, gen time.Duration) {
	total := 0
	for _, n := range out.Statistics.OutputTokens {
		total += n
	}
	s := map[string]any{
		"prompt_tokens":    out.Statistics.InputTokens,
		"generated_tokens": total,
		"wall_s":           round(wall.Seconds()),
		"generate_s":       round(gen.Seconds()),
	}
	if p := out.Statistics.PromptSeconds; p > 0 {
		s["prefill_tokens_per_s"] = round(float64(out.Statistics.InputTokens) / p)
	}
	if g := out.Statistics.GenerationSeconds; g > 0 {
		s["decode_tokens_per_s"] = round(float64(total-len(out.Statistics.OutputTokens)) / g)
	}
	if len(out.FinishReasons) == 1 {
		s["finish_reason"] = out.FinishReasons[0]
	} else {
		s["finish_reason"] = out.FinishReasons
	}
	line, _ := json.Marshal(s)
	fmt.Fprintln(stderr, string(line))
}

func round(x float64) float64 {
	return float64(int64(x*1000+0.5)) / 1000
}
