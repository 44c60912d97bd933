package engine

import "github.com/locallm/locallm/llm"

// Backend is a loaded model as the engine sees it: its vocabulary and
// shape, and a factory of contexts and samplers. Package llamacpp adapts
// the llama.cpp binding to it; tests use a fake. A Backend is used from the
// scheduler's goroutine and from callers' goroutines (Tokenize,
// NewSampler), so those must be safe for concurrent use.
type Backend interface {
	// VocabSize is the number of tokens.
	VocabSize() int
	// EOG lists the end-of-generation tokens.
	EOG() []int32
	// TokenText is a token's text as generated output shows it: control
	// tokens (BOS, EOS, <|im_end|>, ...) render as "".
	TokenText(tok int32) string
	// Tokenize turns generated-style text into tokens, adding no special
	// tokens (it tokenises grammar completions).
	Tokenize(text string) ([]int32, error)
	// NLayer and NEmbd are the model's block count and hidden size.
	NLayer() int
	NEmbd() int
	// NewContext makes a context with room for at least cells KV cells
	// and for Config.Sequences sequences; with split, each sequence gets
	// its own stream of cells/Sequences cells (see KVSplit).
	NewContext(cells int, split bool) (Context, error)
	// NewSampler makes a sampler for one generation; params have their
	// defaults applied. With params.IgnoreEOS it never picks an
	// end-of-generation token.
	NewSampler(params llm.GenerationParams, seed uint32) (Sampler, error)
}

// Context is one llama.cpp context, owned by the scheduler's goroutine;
// only Abort is called from others.
type Context interface {
	// Size is the number of KV cells; BatchSize the most tokens a Decode
	// takes; UBatchSize the physical batch (a Decode is evaluated in
	// consecutive slices of this many tokens); Sequences the number of
	// sequence IDs.
	Size() int
	BatchSize() int
	UBatchSize() int
	Sequences() int
	// HasMemory is false for encoders (BERT): no KV cache, so a sequence
	// is evaluated whole within one ubatch and cannot be continued.
	HasMemory() bool

	// NewBatch makes a batch of BatchSize tokens, each in up to
	// Sequences sequences.
	NewBatch() (Batch, error)
	// Decode evaluates a batch. Abort, from any goroutine, stops one in
	// progress; it then fails until ResetAbort.
	Decode(b Batch) error
	Abort()
	ResetAbort()

	// RemoveSequence drops all of a sequence's KV cells; CopySequence
	// makes positions [0, n) of src belong to dst too (cells shared), or,
	// with n < 0, copies src's whole stream into dst's (split streams).
	RemoveSequence(seq int32) error
	CopySequence(src, dst int32, n int) error

	// Sample and SampleFrom draw from output idx of the last Decode with
	// the sampler, over the whole vocabulary or over ids only. They
	// return ErrNoToken when every token is excluded.
	Sample(s Sampler, idx int) (int32, error)
	SampleFrom(s Sampler, idx int, ids []int32) (int32, error)
	// Logits copies the raw logits of output idx into dst (VocabSize).
	Logits(idx int, dst []float32) error

	// Pooling is the model's pooling of embeddings: "none", "mean",
	// "cls", "last" or "rank". SetEmbeddings turns pooled embeddings on
	// for the following decodes; SequenceEmbedding reads one. With them on,
	// every token of a batch must be an output.
	Pooling() string
	SetEmbeddings(on bool)
	SequenceEmbedding(seq int32) ([]float32, error)

	// SetCapture chooses the layers whose hidden states the next Decode
	// keeps (none: off); with stopEarly the decode stops after the highest.
	// Rows come in batch order, one per token, except for the final layer
	// (NLayer) of a model with memory: one per output token.
	// CopyCaptured copies rows [row0, row0+n) of the i-th layer set.
	SetCapture(layers []int, stopEarly bool) error
	CopyCaptured(i, row0, n int, dst []float32) error

	Close() error
}

// Batch is the input of one Decode.
type Batch interface {
	Clear()
	Len() int
	Cap() int
	// Add appends a token at position pos of the given sequences, its
	// logits computed when output is set, and returns its batch index.
	Add(tok int32, pos int, seqs []int32, output bool) (int, error)
	// SetOutput marks token i for output, or not.
	SetOutput(i int, output bool)
	Close() error
}

// Sampler draws one generation's tokens; the Context does the drawing.
type Sampler interface {
	// Accept records a chosen token (penalties look back at them).
	Accept(tok int32) error
	Close() error
}
