package npyout

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/locallm/locallm/cmd/locallm/internal/job"
)

// Options say what Run writes.
type Options struct {
	Kind Kind
	// Output is the .npy path; the part log is PartPath(Output).
	Output string
	// Meta holds the settings the rows depend on (layers, pooling, ...),
	// kept in the part log: a resumed run with other settings is an error
	// rather than a mix of both.
	Meta []byte
	// Layers and Hidden are the shape of an output without rows (every
	// row of a shard failed, or the shard has none).
	Layers, Hidden int
}

// Run runs the job s, its rows' records appended to the part log, and
// joins them into the output once every row has run; see the package
// documentation. s.Output is set by Run; each Result's Record must be an
// EmbedRecord or a HiddenRecord, as o.Kind says.
func Run[T any](ctx context.Context, o Options, s job.Spec[T]) (job.Summary, error) {
	msgs := s.Messages
	if msgs == nil {
		msgs = io.Discard
	}
	part := PartPath(o.Output)
	fresh := !exists(part)
	log, err := job.OpenRecords(part, o.Meta)
	if err != nil {
		return job.Summary{}, err
	}
	defer log.Close()
	if fresh && exists(o.Output) {
		n, err := importOutput(o, log)
		if err != nil {
			// Without its part log the next run meets the same error,
			// rather than running every row and replacing the output.
			return job.Summary{}, errors.Join(err, log.Remove())
		}
		if n > 0 {
			fmt.Fprintf(msgs, "locallm: %s holds %d rows from an earlier run: they are kept\n", o.Output, n)
		}
	}
	s.Output = log
	sum, err := job.Run(ctx, s)
	if err != nil {
		return sum, err
	}
	keys, err := job.InputKeys(s.Input, s.Shard)
	if err != nil {
		return sum, err
	}
	if err := join(o, log, keys); err != nil {
		return sum, err
	}
	return sum, log.Remove()
}

// importOutput copies the rows of a finished output into a new part log,
// so that the next join keeps them.
func importOutput(o Options, log *job.Log) (int, error) {
	out, err := openOutput(o.Output)
	if err != nil {
		if errors.Is(err, errNoOutput) {
			return 0, nil
		}
		return 0, fmt.Errorf("%w (move the output away to start afresh)", err)
	}
	defer out.Close()
	if out.Kind != o.Kind {
		return 0, fmt.Errorf("%s is the output of %s, not %s: use another output", o.Output, out.Kind, o.Kind)
	}
	n := 0
	for i := range out.Len() {
		if log.Done(out.Key(i)) {
			continue
		}
		rec, err := record(o.Kind, out, i)
		if err != nil {
			return n, fmt.Errorf("%s: %w", o.Output, err)
		}
		if err := log.Append(out.id(i), rec); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// join writes the output from the part log's records of the given keys,
// in their order.
func join(o Options, log *job.Log, keys []string) error {
	set, err := newPartRows(o.Kind, log)
	if err != nil {
		return err
	}
	at := make(map[string]int, set.len())
	for i := range set.len() {
		at[set.key(i)] = i
	}
	refs := make([]Ref, 0, len(at))
	for _, k := range keys {
		if i, ok := at[k]; ok {
			refs = append(refs, Ref{set: set, i: i})
		}
	}
	layers, hidden := o.Layers, o.Hidden
	if set.len() > 0 {
		layers, hidden = set.dims()
	}
	return write(o.Kind, o.Output, refs, layers, hidden)
}
