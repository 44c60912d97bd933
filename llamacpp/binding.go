package llamacpp

import (
	"bufio"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/locallm/locallm/llamacpp/engine"
	"github.com/locallm/locallm/llamacpp/llama"
	"github.com/locallm/locallm/llm"
)

// backend adapts the binding to the engine's view of a model.
type backend struct {
	m      *llama.Model
	params llama.ContextParams // for every context; ContextSize set per context
}

var _ engine.Backend = (*backend)(nil)

func (b *backend) VocabSize() int { return b.m.VocabSize() }
func (b *backend) EOG() []int32   { return b.m.Info().Special.EOG }
func (b *backend) NLayer() int    { return b.m.Info().NLayer }
func (b *backend) NEmbd() int     { return b.m.Info().NEmbd }

func (b *backend) TokenText(tok int32) string {
	s, _ := b.m.Piece(tok, false)
	return s
}

func (b *backend) Tokenize(text string) ([]int32, error) { return b.m.Tokenize(text, false, false) }

func (b *backend) NewContext(cells int, split bool) (engine.Context, error) {
	p := b.params
	p.ContextSize = cells
	p.HiddenStates = !split // a split context holds generations only
	p.SplitKV = split
	c, err := b.m.NewContext(&p)
	if err != nil {
		return nil, err
	}
	return &contextAdapter{c}, nil
}

func (b *backend) NewSampler(p llm.GenerationParams, seed uint32) (engine.Sampler, error) {
	return llama.NewSampler(b.m, llama.SamplerParamsFrom(p, seed), p.IgnoreEOS)
}

// contextAdapter adapts a binding context to the engine.
type contextAdapter struct{ *llama.Context }

func (c *contextAdapter) NewBatch() (engine.Batch, error) {
	return llama.NewBatch(c.BatchSize(), c.Sequences())
}

func (c *contextAdapter) Decode(b engine.Batch) error {
	return c.Context.Decode(context.Background(), b.(*llama.Batch))
}

func (c *contextAdapter) RemoveSequence(seq int32) error {
	return c.Context.RemoveSequence(seq, -1, -1)
}

func (c *contextAdapter) CopySequence(src, dst int32, n int) error {
	if n < 0 {
		return c.Context.CopySequence(src, dst, -1, -1)
	}
	return c.Context.CopySequence(src, dst, 0, n)
}

func (c *contextAdapter) Sample(s engine.Sampler, idx int) (int32, error) {
	tok, err := s.(*llama.Sampler).Sample(c.Context, idx)
	return tok, noToken(err)
}

func (c *contextAdapter) SampleFrom(s engine.Sampler, idx int, ids []int32) (int32, error) {
	tok, err := s.(*llama.Sampler).SampleFrom(c.Context, idx, ids)
	return tok, noToken(err)
}

func noToken(err error) error {
	if errors.Is(err, llama.ErrNoToken) {
		return engine.ErrNoToken
	}
	return err
}

func (c *contextAdapter) Logits(idx int, dst []float32) error {
	_, err := c.Context.Logits(idx, dst)
	return err
}

func (c *contextAdapter) Pooling() string { return c.PoolingType() }

// physicalMemory is the machine's memory in bytes (0 when unknown).
func physicalMemory() uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok || k != "MemTotal" {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
