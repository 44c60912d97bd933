package gguf_test

import (
	"bytes"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/locallm/locallm/llamacpp/gguf"
)

// fuzzSeeds are well-formed files for the fuzzer to start from: every value
// type, every tensor encoding, and the smallest of the real vocab files.
func fuzzSeeds(t testing.TB) [][]byte {
	w := gguf.NewWriter()
	for _, kv := range allValues() {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	vals := make([]float32, 64)
	for i := range vals {
		vals[i] = float32(i) - 20
	}
	for _, typ := range []gguf.TensorType{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0} {
		if err := w.AddTensorF32("t."+typ.String(), typ, []uint64{32, 2}, vals); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.AddTensor("q4_k", gguf.TypeQ4_K, []uint64{256}, make([]byte, 144)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	seeds := [][]byte{buf.Bytes(), valid()}
	// Real vocab files, with their arrays cut to their first 200
	// elements: whole ones (up to 4 MB) make the fuzzer spend minutes
	// minimising each new input.
	for _, name := range []string{"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-bert-bge.gguf"} {
		f, err := gguf.Open(filepath.Join(vocabDir, name))
		if err != nil {
			continue
		}
		w := gguf.NewWriter()
		for _, kv := range f.KVs {
			v := kv.Value
			if v.Type() == gguf.TypeArray && v.Len() > 200 {
				v = cutArray(v, 200)
			}
			if err := w.AddKV(kv.Key, v); err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
		var b bytes.Buffer
		if _, err := w.WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b.Bytes())
	}
	return seeds
}

// cutArray returns the first n elements of an array of scalars or strings.
func cutArray(v gguf.Value, n int) gguf.Value {
	var x any
	switch s := v.Interface().(type) {
	case []string:
		x = s[:n]
	case []float32:
		x = s[:n]
	case []int32:
		x = s[:n]
	case []uint32:
		x = s[:n]
	default:
		return v
	}
	return mustValue(x)
}

// FuzzRead: on any input Read returns a File or an error without panicking,
// allocates no more than a small multiple of the input's size, and a File
// it returns survives CheckLlamaCPP, decoding its tensors, and a rewrite
// that reads back to the same bytes.
func FuzzRead(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		file, err := readBytes(data)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32*uint64(len(data))+1<<20 {
			t.Fatalf("reading %d bytes allocated %d", len(data), alloc)
		}
		if err != nil {
			if file != nil {
				t.Fatal("a File and an error")
			}
			return
		}
		_ = file.CheckLlamaCPP()
		w := gguf.NewWriter()
		for _, kv := range file.KVs {
			if err := w.AddKV(kv.Key, kv.Value); err != nil {
				t.Fatalf("the writer refuses a pair the reader accepted: %v", err)
			}
		}
		for _, ti := range file.Tensors {
			if gguf.CanEncode(ti.Type) {
				if _, err := file.ReadTensorF32(ti.Name); err != nil {
					t.Fatal(err)
				}
			}
			b, _, err := file.ReadTensor(ti.Name)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.AddTensor(ti.Name, ti.Type, ti.Dims, b); err != nil {
				t.Fatalf("the writer refuses a tensor the reader accepted: %v", err)
			}
		}
		var once bytes.Buffer
		if _, err := w.WriteTo(&once); err != nil {
			t.Fatal(err)
		}
		again, err := readBytes(once.Bytes())
		if err != nil {
			t.Fatalf("a rewritten file does not read: %v", err)
		}
		w2 := gguf.NewWriter()
		for _, kv := range again.KVs {
			if err := w2.AddKV(kv.Key, kv.Value); err != nil {
				t.Fatal(err)
			}
		}
		for _, ti := range again.Tensors {
			b, _, _ := again.ReadTensor(ti.Name)
			if err := w2.AddTensor(ti.Name, ti.Type, ti.Dims, b); err != nil {
				t.Fatal(err)
			}
		}
		var twice bytes.Buffer
		if _, err := w2.WriteTo(&twice); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once.Bytes(), twice.Bytes()) {
			t.Fatal("rewriting is not idempotent")
		}
	})
}
