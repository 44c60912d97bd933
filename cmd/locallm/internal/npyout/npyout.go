// Package npyout writes the outputs of locallm embed and hidden so that a
// job can be killed at any moment and resumed, and split into shards.
//
// Rows are written as they finish, one record each, to a part log beside
// the output (OUT.npy.part, a job.OpenRecords log); only the rows in flight
// are in memory. When every row of the job (or shard) has run, Run joins
// the records, in input order, into the files the README documents, each
// written to a temporary file and renamed, then removes the part log:
//
//	embed:  OUT.npy [rows, hidden] float32, OUT.ids.json
//	hidden: OUT.npy [layers, tokens, hidden] float32, OUT.tokens.npy int32,
//	        OUT.offsets.npy int64 [rows+1], OUT.ids.json
//
// A part log is therefore the mark of an unfinished output: merge refuses a
// shard that has one. A run that finds finished outputs and no part log
// keeps their rows: if the input holds exactly those rows, in that order,
// there is nothing to do; otherwise (rows that failed, rows added) their
// records are copied into a new part log, the rest run, and the outputs
// are joined again.
//
// Record payloads, little-endian:
//
//	embed:  float32[hidden]
//	hidden: uint32 layers, uint32 tokens, uint32 hidden, int32[tokens],
//	        float32[layers][tokens][hidden]
//
// Joining reads one row's layer at a time, so memory stays bounded by a
// row, except for the token ids and offsets of hidden, which the join
// keeps (a hundredth of the states or less).
package npyout

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/locallm/locallm/cmd/locallm/internal/job"
	"github.com/locallm/locallm/hiddenstates"
	"github.com/locallm/locallm/llm"
)

// Kind is what an output holds.
type Kind int

const (
	Embed  Kind = iota + 1 // one pooled vector per row
	Hidden                 // every token's states at some layers
)

func (k Kind) String() string {
	switch k {
	case Embed:
		return "embed"
	case Hidden:
		return "hidden"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// SidePath names a file written beside an .npy output: out without its
// .npy extension, then suffix (".tokens.npy", ".ids.json").
func SidePath(out, suffix string) string {
	return strings.TrimSuffix(out, ".npy") + suffix
}

// PartPath is the part log of an output.
func PartPath(out string) string { return out + ".part" }

// Files lists the files of a finished output, the .npy first.
func (k Kind) Files(out string) []string {
	if k == Hidden {
		return []string{out, SidePath(out, ".tokens.npy"), SidePath(out, ".offsets.npy"), SidePath(out, ".ids.json")}
	}
	return []string{out, SidePath(out, ".ids.json")}
}

// EmbedRecord is the record payload of an embedding.
func EmbedRecord(v []float64) []byte {
	return appendFloat32s(make([]byte, 0, 4*len(v)), v)
}

// HiddenRecord is the record payload of one row's hidden states.
func HiddenRecord(h llm.HiddenStates) []byte {
	hidden := 0
	if len(h.States) > 0 {
		_, hidden = h.States[0].Dims()
	}
	b := make([]byte, 0, 12+4*len(h.Tokens)*(1+len(h.States)*hidden))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(h.States)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(h.Tokens)))
	b = binary.LittleEndian.AppendUint32(b, uint32(hidden))
	for _, t := range h.Tokens {
		b = binary.LittleEndian.AppendUint32(b, uint32(t))
	}
	for _, m := range h.States {
		for i := range len(h.Tokens) {
			b = appendFloat32s(b, m.RawRowView(i))
		}
	}
	return b
}

func appendFloat32s(dst []byte, v []float64) []byte {
	for _, x := range v {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(x)))
	}
	return dst
}

// rows is a set of rows whose arrays are read one row and one layer at a
// time: a part log's records, or a finished output's files.
type rows interface {
	len() int
	id(i int) json.RawMessage
	key(i int) string
	// dims are the layers (1 for embed) and the hidden size, the same for
	// every row.
	dims() (layers, hidden int)
	// tokens returns row i's token ids (hidden) or nil (embed).
	tokens(i int) ([]int32, error)
	// layer reads row i's states at its k-th layer into dst:
	// tokens*hidden floats for hidden, hidden for embed.
	layer(i, k int, dst []float32) ([]float32, error)
}

// readFloat32s reads n float32 at off.
func readFloat32s(r io.ReaderAt, off int64, n int, dst []float32) ([]float32, error) {
	raw := make([]byte, 4*n)
	if _, err := r.ReadAt(raw, off); err != nil {
		return nil, err
	}
	dst = dst[:0]
	for k := range n {
		dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:])))
	}
	return dst, nil
}

func readInt32s(r io.ReaderAt, off int64, n int) ([]int32, error) {
	raw := make([]byte, 4*n)
	if _, err := r.ReadAt(raw, off); err != nil {
		return nil, err
	}
	out := make([]int32, n)
	for k := range out {
		out[k] = int32(binary.LittleEndian.Uint32(raw[4*k:]))
	}
	return out, nil
}

// partRows are the records of a part log.
type partRows struct {
	kind    Kind
	log     *job.Log
	entries []job.Entry
	// ntok holds each hidden row's token count, read from its header.
	ntok           []int
	layers, hidden int
}

func newPartRows(kind Kind, log *job.Log) (*partRows, error) {
	p := &partRows{kind: kind, log: log, entries: log.Entries()}
	for i, e := range p.entries {
		layers, hidden, ntok := 1, int(e.Len/4), 0
		if kind == Hidden {
			var h [12]byte
			if e.Len < 12 {
				return nil, fmt.Errorf("%s: record of id %s is too short", log.Path(), e.ID)
			}
			if _, err := log.ReadAt(h[:], e.Off); err != nil {
				return nil, err
			}
			layers = int(binary.LittleEndian.Uint32(h[0:]))
			ntok = int(binary.LittleEndian.Uint32(h[4:]))
			hidden = int(binary.LittleEndian.Uint32(h[8:]))
			if want := 12 + 4*int64(ntok)*(1+int64(layers)*int64(hidden)); e.Len != want {
				return nil, fmt.Errorf("%s: record of id %s holds %d bytes, not the %d its shape needs", log.Path(), e.ID, e.Len, want)
			}
			p.ntok = append(p.ntok, ntok)
		} else if e.Len%4 != 0 {
			return nil, fmt.Errorf("%s: record of id %s is not float32s", log.Path(), e.ID)
		}
		if i == 0 {
			p.layers, p.hidden = layers, hidden
		} else if layers != p.layers || hidden != p.hidden {
			return nil, fmt.Errorf("%s: id %s has %d layers of %d, the rows before it %d of %d", log.Path(), e.ID, layers, hidden, p.layers, p.hidden)
		}
	}
	return p, nil
}

func (p *partRows) len() int                 { return len(p.entries) }
func (p *partRows) id(i int) json.RawMessage { return p.entries[i].ID }
func (p *partRows) key(i int) string         { return p.entries[i].Key }
func (p *partRows) dims() (int, int)         { return p.layers, p.hidden }
func (p *partRows) tokens(i int) ([]int32, error) {
	if p.kind != Hidden {
		return nil, nil
	}
	return readInt32s(p.log, p.entries[i].Off+12, p.ntok[i])
}

func (p *partRows) layer(i, k int, dst []float32) ([]float32, error) {
	e := p.entries[i]
	if p.kind != Hidden {
		return readFloat32s(p.log, e.Off, p.hidden, dst)
	}
	n := p.ntok[i] * p.hidden
	return readFloat32s(p.log, e.Off+12+4*int64(p.ntok[i])+4*int64(k*n), n, dst)
}

// record returns row i of any set as a part-log payload.
func record(kind Kind, r rows, i int) ([]byte, error) {
	layers, hidden := r.dims()
	var b []byte
	if kind == Hidden {
		toks, err := r.tokens(i)
		if err != nil {
			return nil, err
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(layers))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(toks)))
		b = binary.LittleEndian.AppendUint32(b, uint32(hidden))
		for _, t := range toks {
			b = binary.LittleEndian.AppendUint32(b, uint32(t))
		}
	}
	var v []float32
	for k := range layers {
		var err error
		if v, err = r.layer(i, k, v); err != nil {
			return nil, err
		}
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
	}
	return b, nil
}

// Ref is one row of a set, for Write.
type Ref struct {
	set rows
	i   int
}

// write writes the output files of kind from refs, in order: each file
// through a temporary file renamed into place. Empty outputs take their
// shape from layers and hidden.
func write(kind Kind, out string, refs []Ref, layers, hidden int) error {
	for _, r := range refs {
		l, h := r.set.dims()
		if l != layers || h != hidden {
			return fmt.Errorf("%s: id %s has %d layers of %d, not %d of %d: were the shards run with other settings?", out, r.set.id(r.i), l, h, layers, hidden)
		}
	}
	var v []float32
	var err error
	if kind == Embed {
		err = job.WriteFileAtomic(out, func(w io.Writer) error {
			e, err := hiddenstates.NewEncoder(w, hiddenstates.Float32, []int{len(refs), hidden})
			if err != nil {
				return err
			}
			if v, err = writeLayer(e, refs, 0, v); err != nil {
				return err
			}
			return e.Close()
		})
		if err != nil {
			return err
		}
		return writeIDs(SidePath(out, ".ids.json"), refs)
	}
	var tokens []int32
	offsets := []int64{0}
	for _, r := range refs {
		toks, err := r.set.tokens(r.i)
		if err != nil {
			return err
		}
		tokens = append(tokens, toks...)
		offsets = append(offsets, int64(len(tokens)))
	}
	err = job.WriteFileAtomic(out, func(w io.Writer) error {
		e, err := hiddenstates.NewEncoder(w, hiddenstates.Float32, []int{layers, len(tokens), hidden})
		if err != nil {
			return err
		}
		for k := range layers {
			if v, err = writeLayer(e, refs, k, v); err != nil {
				return err
			}
		}
		return e.Close()
	})
	if err != nil {
		return err
	}
	if err := job.WriteFileAtomic(SidePath(out, ".tokens.npy"), func(w io.Writer) error {
		return hiddenstates.WriteNPY(w, []int{len(tokens)}, tokens)
	}); err != nil {
		return err
	}
	if err := job.WriteFileAtomic(SidePath(out, ".offsets.npy"), func(w io.Writer) error {
		return hiddenstates.WriteNPY(w, []int{len(offsets)}, offsets)
	}); err != nil {
		return err
	}
	return writeIDs(SidePath(out, ".ids.json"), refs)
}

// writeLayer writes the rows' states at their k-th layer, one row at a
// time through buf, and returns buf for the next call.
func writeLayer(e *hiddenstates.Encoder, refs []Ref, k int, buf []float32) ([]float32, error) {
	for _, r := range refs {
		var err error
		if buf, err = r.set.layer(r.i, k, buf); err != nil {
			return buf, err
		}
		if err := e.WriteFloat32s(buf); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// writeIDs writes the rows' ids as a JSON array, one per line.
func writeIDs(path string, refs []Ref) error {
	return job.WriteFileAtomic(path, func(w io.Writer) error {
		var b bytes.Buffer
		b.WriteString("[")
		for i, r := range refs {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n  ")
			b.Write(r.set.id(r.i))
			if b.Len() > 1<<16 {
				if _, err := w.Write(b.Bytes()); err != nil {
					return err
				}
				b.Reset()
			}
		}
		b.WriteString("\n]\n")
		_, err := w.Write(b.Bytes())
		return err
	})
}

// errNoOutput is the error of opening an output that is not there.
var errNoOutput = errors.New("no finished output")

// exists reports whether a file is there.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
