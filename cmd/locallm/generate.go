package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/locallm/locallm/llamacpp"
	"github.com/locallm/locallm/llm"
)

const generateSummary = `Generate text from a prompt or chat messages, or for every row of a JSONL file.

With one generation, stdout holds the generated text, streamed as it comes, and
a newline. With several, each is one JSON line:
  {"generation": i, "text": ..., "finish_reason": ...}
Text that ends inside a UTF-8 character has its stray bytes written as U+FFFD,
as the JSON outputs do.

With --input IN.jsonl --output OUT.jsonl, each input line is a row
  {"id": ..., "prompt": ... | "messages": [...], "structured_output": {...},
   "generation_params": {...}, "num_generations": n}
(id and prompt or messages required; the id a unique string or number) and each
finished row is appended to OUT.jsonl, in the order rows finish, as
  {"id": ..., "generations": [...], "finish_reasons": [...], "statistics": {...},
   "valid": [...], "validation_errors": [...]}
Run the same command again after a crash or Ctrl-C to resume: rows already in
OUT.jsonl are skipped. Bad rows go, with their line number, to
OUT.jsonl.errors.jsonl and the job goes on. --shard I/N runs one part of the rows.
--config FILE reads the settings from a YAML run file; --dump-config prints them.`

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
		Example: `  locallm generate -m model.gguf -p "Once upon a time" --max-tokens 32 --stats
  locallm generate -m model.gguf --messages chat.json --schema person.schema.json
  locallm generate -m model.gguf -i prompts.jsonl -o out.jsonl --num-generations 2`,
	}, func(ctx context.Context, args []string) error {
		so, err := sf.structured()
		if err != nil {
			return err
		}
		if hasConstraint(so) {
			if err := compileStructured(so); err != nil {
				return usageError("%s: %v", sf.flagName(), err)
			}
		}
		fromFlags := settingsFromFlags(&mf, &gf, &jf)
		fromFlags.Model.Structured = so
		settings, err := effectiveSettings(c.Flags(), jf.config, fromFlags)
		if err != nil {
			return asUsage(err)
		}
		if so := settings.Model.Structured; so != nil && !hasConstraint(so) {
			return usageError("--strict, --lenient, --retries and --closing-tokens need --schema, --grammar or --regex")
		}
		if jf.dumpConfig {
			return dumpRunFile(stdout, settings)
		}
		single := prompt != "" || messages != ""
		switch {
		case prompt != "" && messages != "":
			return usageError("give --prompt or --messages, not both")
		case single && jf.input != "":
			return usageError("give --prompt or --messages, or --input, not both")
		case single && jf.output != "":
			return usageError("--output is for --input jobs; with --prompt or --messages the text goes to stdout")
		case !single && settings.Input == "" && settings.Output == "":
			return usageError("--prompt, --messages or --input is required")
		}
		if err := checkSettings(settings, !single); err != nil {
			return err
		}
		if !single {
			return runGenerateJob(ctx, settings, jf.quiet, stats)
		}
		var in llm.Input
		if prompt != "" {
			text, err := readTextArg(prompt)
			if err != nil {
				return usageError("--prompt -: %v", err)
			}
			in = llm.Prompt(text)
		} else {
			data, err := readFileOrStdin(messages)
			if err != nil {
				return usageError("--messages %s: %v", messages, pathError(err))
			}
			if in.Messages, err = parseMessages(data); err != nil {
				return usageError("--messages %s: %v", messages, err)
			}
		}
		if err := in.Validate(); err != nil {
			return usageError("%s: %v", inputFlag(prompt), err)
		}
		return generateOne(ctx, settings, in, stats)
	}, &mf, &gf, &sf, &jf)
	fs := c.Flags()
	fs.StringVarP(&prompt, "prompt", "p", "", "raw prompt `TEXT`, used as it is; - reads it from standard input")
	fs.StringVar(&messages, "messages", "", "JSON `FILE` of chat messages, [{\"role\": ..., \"content\": ...}, ...] (- for standard input)")
	fs.BoolVar(&stats, "stats", false, "print one JSON line of statistics on stderr")
	return c
}

func inputFlag(prompt string) string {
	if prompt != "" {
		return "--prompt"
	}
	return "--messages"
}

// readTextArg returns a text flag's value, or standard input for "-".
func readTextArg(v string) (string, error) {
	if v != "-" {
		return v, nil
	}
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		return "", err
	}
	if len(data) == 0 {
		return "", errors.New("standard input is empty")
	}
	return string(data), nil
}

// generateOne is generate with --prompt or --messages.
func generateOne(ctx context.Context, s jobSettings, in llm.Input, stats bool) error {
	start := time.Now()
	l, err := llamacpp.Open(ctx, s.Model)
	if err != nil {
		return err
	}
	defer l.Close()
	n := max(s.NumGenerations, 1)
	text := newTextWriter(stdout)
	var st streamTimes
	stream := func(c llm.Chunk) {
		st.chunk(c)
		if n == 1 {
			text.write(c.Text)
		}
	}
	st.start = time.Now()
	outs, err := l.GenerateStream(ctx, []llm.Input{in}, n, s.Params, stream)
	if err != nil && len(outs) == 0 {
		return err
	}
	out := outs[0]
	if n == 1 {
		if out.Err == nil && len(out.Generations) == 1 {
			text.finish(out.Generations[0])
		} else {
			text.finish("")
		}
	} else if out.Err == nil {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		for i, g := range out.Generations {
			enc.Encode(map[string]any{"generation": i, "text": g, "finish_reason": out.FinishReasons[i]})
		}
	}
	if stats {
		printStats(out, st, time.Since(start))
	}
	if out.Err != nil {
		return out.Err
	}
	return err
}

// streamTimes records when streamed text arrived, for the --stats rates
// when the LLM does not time its phases itself.
type streamTimes struct {
	start, first, last time.Time
}

func (st *streamTimes) chunk(c llm.Chunk) {
	if c.Text == "" && !c.Done {
		return
	}
	now := time.Now()
	if st.first.IsZero() {
		st.first = now
	}
	st.last = now
}

// printStats writes the --stats line on stderr. It has the same fields
// whatever the output's constraint: prompt_tokens, cached_tokens,
// generated_tokens (sampled), closing_tokens (appended to close a cut
// structure, see --closing-tokens), prefill_tokens_per_s,
// decode_tokens_per_s, wall_s, generate_s and finish_reason (a list with
// several generations). The rates come from the LLM's own timings, or,
// where it gives none, from when streamed text arrived. Decode speed
// counts the sampled tokens after each generation's first, which the
// prompt's evaluation yields.
func printStats(out llm.Output, st streamTimes, wall time.Duration) {
	sum := func(ns []int) int {
		t := 0
		for _, n := range ns {
			t += n
		}
		return t
	}
	generated := sum(out.Statistics.OutputTokens)
	prefill, decode := out.Statistics.PromptSeconds, out.Statistics.GenerationSeconds
	if prefill <= 0 && !st.first.IsZero() {
		prefill = st.first.Sub(st.start).Seconds()
	}
	if decode <= 0 && !st.first.IsZero() {
		decode = st.last.Sub(st.first).Seconds()
	}
	rate := func(n int, secs float64) float64 {
		if secs <= 0 || n <= 0 {
			return 0
		}
		return round(float64(n) / secs)
	}
	s := statsLine{
		PromptTokens:    out.Statistics.InputTokens,
		CachedTokens:    out.Statistics.CachedTokens,
		GeneratedTokens: generated,
		ClosingTokens:   sum(out.Statistics.ClosingTokens),
		PrefillRate:     rate(out.Statistics.InputTokens, prefill),
		DecodeRate:      rate(generated-len(out.Statistics.OutputTokens), decode),
		WallSeconds:     round(wall.Seconds()),
		GenerateSeconds: round(st.last.Sub(st.start).Seconds()),
	}
	if st.last.IsZero() {
		s.GenerateSeconds = round(time.Since(st.start).Seconds())
	}
	if len(out.FinishReasons) == 1 {
		s.FinishReason = out.FinishReasons[0]
	} else {
		s.FinishReason = out.FinishReasons
	}
	line, _ := json.Marshal(s)
	fmt.Fprintln(stderr, string(line))
}

// statsLine is the --stats line of one prompt.
type statsLine struct {
	PromptTokens    int     `json:"prompt_tokens"`
	CachedTokens    int     `json:"cached_tokens"`
	GeneratedTokens int     `json:"generated_tokens"`
	ClosingTokens   int     `json:"closing_tokens"`
	PrefillRate     float64 `json:"prefill_tokens_per_s"`
	DecodeRate      float64 `json:"decode_tokens_per_s"`
	WallSeconds     float64 `json:"wall_s"`
	GenerateSeconds float64 `json:"generate_s"`
	FinishReason    any     `json:"finish_reason"`
}

func round(x float64) float64 {
	return float64(int64(x*1000+0.5)) / 1000
}

// textWriter writes streamed text as valid UTF-8: bytes that may begin a
// character split across chunks wait for the next chunk, and bytes that
// are not UTF-8 are written as U+FFFD, one each, as encoding/json writes
// them in the JSON outputs. finish ends the text with a newline.
type textWriter struct {
	w        io.Writer
	held     []byte
	streamed strings.Builder // the raw text written so far
	buf      []byte
}

func newTextWriter(w io.Writer) *textWriter { return &textWriter{w: w} }

func (t *textWriter) write(s string) {
	t.streamed.WriteString(s)
	t.emit(append(t.held, s...), false)
}

// emit writes b, holding back an incomplete character at its end unless
// final.
func (t *textWriter) emit(b []byte, final bool) {
	out := t.buf[:0]
	i := 0
	for i < len(b) {
		if !final && !utf8.FullRune(b[i:]) {
			break
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	t.held = append(t.held[:0:0], b[i:]...)
	t.buf = out
	t.w.Write(out)
}

// finish writes what the stream did not carry of the final text (if the
// streamed text is its beginning), whatever bytes were held, and a newline.
func (t *textWriter) finish(final string) {
	if rest, ok := strings.CutPrefix(final, t.streamed.String()); ok && rest != "" {
		t.write(rest)
	}
	t.emit(t.held, true)
	io.WriteString(t.w, "\n")
}
