package llamacpp

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llm"
)

// Embed returns each input's embedding as the model itself computes it:
// llama.cpp pools the final hidden states by the model's pooling_type
// (mean over the tokens, the first ([CLS]) token, or the last). The
// vectors are not normalised (llama.cpp's llama-embedding normalises in
// the tool, not the library); hiddenstates.Normalize does that. Each vector
// has n_embd elements and is owned by the caller. For the decoders that
// declare a pooling (qwen2, qwen3) the final hidden states are captured and
// pooled in Go, the same vectors without the output matrix llama.cpp would
// run for every token (see poolsInGo).
//
// Inputs are formatted as for generation (chat template or raw prompt,
// special tokens added: [CLS] ... [SEP] for a WordPiece vocabulary) and
// evaluated by the engine's scheduler with whatever else is running,
// several per decode; the result is the same as one at a time. Every input
// must fit one ubatch (ContextOptions.UBatchSize, which defaults to
// BatchSize): llama.cpp pools per ubatch, and an encoder attends over the
// whole sequence at once. A BERT also takes at most its context_length
// tokens (its learned positions).
//
// A model without pooling gives ErrNoPooling; a reranker (pooling "rank",
// whose output is a score) an error too. An input that cannot be embedded
// (empty, too long) fails the call before anything is evaluated, with an
// error that names its index and wraps the cause (llm.ErrEmptyInput,
// llm.ErrContextTooLong, ...).
func (l *LLM) Embed(ctx context.Context, inputs []llm.Input) ([][]float32, error) {
	eng, m, cctx, release, err := l.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	info := m.Info()
	// A model whose metadata declares no pooling has none; one that does
	// may still have none (llama.cpp reads the key for some architectures
	// only), which the engine finds from the context.
	if declaredPooling(info) == "none" {
		return nil, fmt.Errorf("%w (%s)", ErrNoPooling, info.Architecture)
	}
	p := l.opts.Context.params().WithDefaults()
	limit := min(p.BatchSize, p.UBatchSize)
	toks := make([][]int32, len(inputs))
	for i, in := range inputs {
		f, err := l.prompt(m, in)
		if err == nil {
			err = l.encoderFits(info, len(f.tokens))
		}
		if err == nil && len(f.tokens) > limit {
			err = fmt.Errorf("%w: %d tokens > ubatch_size %d (a pooled input is evaluated in one ubatch)", llm.ErrContextTooLong, len(f.tokens), limit)
		}
		if err != nil {
			return nil, fmt.Errorf("llamacpp: embed input %d: %w", i, err)
		}
		toks[i] = f.tokens
	}
	pooling := ""
	if poolsInGo(info) {
		pooling = declaredPooling(info)
	}
	out := make([][]float32, len(inputs))
	errs := make([]error, len(inputs))
	var wg sync.WaitGroup
	for i, t := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if pooling == "" {
				out[i], errs[i] = eng.Embed(cctx, t)
				return
			}
			rows, err := eng.Capture(cctx, t, []int{info.NLayer})
			if err == nil {
				out[i] = poolRows(rows[0], len(t), info.NEmbd, pooling)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
			if errors.Is(err, ErrNoPooling) {
				return nil, fmt.Errorf("%w (%s)", ErrNoPooling, info.Architecture)
			}
			return nil, fmt.Errorf("llamacpp: embed input %d: %w", i, err)
		}
	}
	return out, nil
}

// nativeEmbed makes Embed use llama.cpp's pooling for every model (tests
// compare the two).
var nativeEmbed = false

// poolsInGo reports whether Embed pools the model's final hidden states in
// Go instead of asking llama.cpp for its pooled embedding: for the causal
// decoders whose pooling llama.cpp reads (qwen2, qwen3; gte-Qwen2,
// Qwen3-Embedding). Their pooled embedding in llama.cpp is the pooling of
// the final norm's output, which the hidden-state capture reads with the
// graph stopped there; llama.cpp's own path would also run the output
// matrix for every token and keep their logits (64 MiB for a 512-token
// batch at a 32k vocabulary), which nobody reads.
func poolsInGo(info llama.ModelInfo) bool {
	if nativeEmbed {
		return false
	}
	switch info.Architecture {
	case "qwen2", "qwen3":
		switch declaredPooling(info) {
		case "mean", "cls", "last":
			return true
		}
	}
	return false
}

// poolRows pools the rows ([n][dim], row-major) as llama.cpp's pooling
// types do: their mean (summed in float64), the first row or the last.
func poolRows(rows []float32, n, dim int, pooling string) []float32 {
	v := make([]float32, dim)
	switch pooling {
	case "cls":
		copy(v, rows[:dim])
	case "last":
		copy(v, rows[(n-1)*dim:n*dim])
	default:
		sum := make([]float64, dim)
		for r := 0; r < n; r++ {
			for j, x := range rows[r*dim : (r+1)*dim] {
				sum[j] += float64(x)
			}
		}
		for j := range v {
			v[j] = float32(sum[j] / float64(n))
		}
	}
	return v
}
