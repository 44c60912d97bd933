package llm_test

import (
	"context"

	"github.com/locallm/locallm/llm"
)

// configurable is a minimal llm.Configurable for tests and examples.
type configurable struct{ cfg fake }

func (c *configurable) Load(context.Context) error { return nil }
func (c *configurable) Close() error               { return nil }
func (c *configurable) ModelName() string          { return c.cfg.Path }
func (c *configurable) TypeName() string           { return "fake-test" }
func (c *configurable) Config() any                { return c.cfg }
func (c *configurable) Generate(ctx context.Context, inputs []llm.Input, n int, p llm.GenerationParams) ([]llm.Output, error) {
	return nil, nil
}
