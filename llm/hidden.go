package llm

import (
	"context"

	"gonum.org/v1/gonum/mat"
)

// HiddenStater is implemented by LLMs that expose hidden states, the
// equivalent of distilabel's get_last_hidden_states.
type HiddenStater interface {
	// LastHiddenStates returns, per input, the final normed hidden states
	// (Hugging Face's last_hidden_state): one [tokens, hidden] matrix.
	LastHiddenStates(ctx context.Context, inputs []Input) ([]HiddenStates, error)
	// HiddenStates returns, per input, the hidden states of the given
	// layers, numbered as Hugging Face numbers hidden_states: 0 is the token
	// embeddings, i the output of block i, and n_layer the last: the final
	// normed output for decoders, the last block's output for encoders
	// such as BERT (which have no final norm). Negative numbers count from
	// the end (-1 is n_layer).
	HiddenStates(ctx context.Context, inputs []Input, layers []int) ([]HiddenStates, error)
}

// HiddenStates holds one input's hidden states.
type HiddenStates struct {
	// Tokens are the input's token IDs, one per row of each state matrix.
	Tokens []int32
	// Layers are the layer numbers of States, resolved to 0..n_layer.
	Layers []int
	// States holds one [len(Tokens), hidden] matrix per entry of Layers.
	// The matrices own their data.
	States []*mat.Dense
	// Err is this input's error (an empty input, a prompt longer than the
	// context); the other inputs are still evaluated.
	Err error `json:"-"`
}

// Embedder is implemented by LLMs that give an embedding model's own pooled
// embedding (the pooling its metadata declares), one vector per input.
type Embedder interface {
	Embed(ctx context.Context, inputs []Input) ([][]float32, error)
}
