package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llm"
)

func init() {
	register(&command{
		name:    "generate",
		summary: "Generate text from a prompt or chat messages.\n\nWith one generation, stdout holds exactly the generated text, streamed as it comes.\nWith several, each is one JSON line: {\"generation\": i, \"text\": ..., \"finish_reason\": ...}.",
		usage:   "-model FILE (-prompt TEXT | -messages FILE) [flags]",
		setup:   setupGenerate,
	})
}

func setupGenerate(fs *flag.FlagSet) func(context.Context, []string) error {
	var mf modelFlags
	var gf genFlags
	mf.register(fs)
	gf.register(fs)
	prompt := fs.String("prompt", "", "raw prompt")
	messages := fs.String("messages", "", "JSON file with chat messages: [{\"role\": ..., \"content\": ...}, ...]")
	stats := fs.Bool("stats", false, "print one JSON line of statistics on stderr")
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usageError("unexpected arguments %q", args)
		}
		opts, err := mf.options()
		if err != nil {
			return err
		}
		params := gf.params()
		if err := params.Validate(); err != nil {
			return &exitError{code: 2, err: err}
		}
		var in llm.Input
		switch {
		case *prompt != "" && *messages != "":
			return usageError("give -prompt or -messages, not both")
		case *prompt != "":
			in = llm.Prompt(*prompt)
		case *messages != "":
			data, err := os.ReadFile(*messages)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(data, &in.Messages); err != nil {
				return fmt.Errorf("-messages %s: %w", *messages, err)
			}
		default:
			return usageError("-prompt or -messages is required")
		}
		start := time.Now()
		l, err := llamacpp.Open(ctx, opts)
		if err != nil {
			return err
		}
		defer l.Close()
		n := gf.numGen
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
		if *stats {
			printStats(out, time.Since(start), time.Since(genStart))
		}
		if out.Err != nil {
			return out.Err
		}
		return err
	}
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
