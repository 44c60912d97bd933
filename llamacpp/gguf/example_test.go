package gguf_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/locallm/locallm/llamacpp/gguf"
)

// Write a file with metadata and two tensors, read it back, and decode a
// tensor.
func Example() {
	w := gguf.NewWriter()
	if err := w.AddString("general.architecture", "llama"); err != nil {
		log.Fatal(err)
	}
	if err := w.AddUint32("llama.block_count", 2); err != nil {
		log.Fatal(err)
	}
	if err := w.AddStrings("tokenizer.ggml.tokens", []string{"<unk>", "<s>", "</s>"}); err != nil {
		log.Fatal(err)
	}
	// A [3, 64] weight in PyTorch order is [64, 3] in ggml's.
	weights := make([]float32, 64*3)
	for i := range weights {
		weights[i] = float32(i) / 64
	}
	if err := w.AddTensorF32("output.weight", gguf.TypeF16, []uint64{64, 3}, weights); err != nil {
		log.Fatal(err)
	}
	if err := w.AddTensorF32Func("output_norm.weight", gguf.TypeF32, []uint64{64}, func(_ uint64, dst []float32) error {
		for i := range dst {
			dst[i] = 1
		}
		return nil
	}); err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		log.Fatal(err)
	}

	f, err := gguf.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		log.Fatal(err)
	}
	if err := f.CheckLlamaCPP(); err != nil {
		log.Fatal(err)
	}
	arch, _ := f.String("general.architecture")
	layers, _ := f.Uint("llama.block_count")
	tokens, _ := f.Strings("tokenizer.ggml.tokens")
	fmt.Println(arch, layers, tokens)
	for _, t := range f.Tensors {
		fmt.Println(t.Name, t.Type, t.Dims, t.Offset, t.Size)
	}
	out, err := f.ReadTensorF32("output.weight")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(out), out[1], out[64]) // row 0 column 1, row 1 column 0
	// Output:
	// llama 2 [<unk> <s> </s>]
	// output.weight f16 [64 3] 0 384
	// output_norm.weight f32 [64] 384 256
	// 192 0.015625 1
}

// A damaged file gives a *FormatError that says where and what.
func ExampleRead_truncated() {
	w := gguf.NewWriter()
	_ = w.AddTensorF32("t", gguf.TypeF32, []uint64{1024}, make([]float32, 1024))
	var buf bytes.Buffer
	_, _ = w.WriteTo(&buf)
	cut := buf.Bytes()[:buf.Len()-100]
	_, err := gguf.Read(bytes.NewReader(cut), int64(len(cut)))
	fmt.Println(err)
	// Output:
	// gguf: offset 64: tensor "t": data runs past end of file (needs 4096 bytes, 3996 remain)
}
