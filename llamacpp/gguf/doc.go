// Package gguf reads, checks and writes GGUF files, the model format of
// llama.cpp, in pure Go.
//
// It exists so that a file is checked before llama.cpp sees it: llama.cpp
// aborts the whole process (GGML_ASSERT), divides by zero, or reads out of
// bounds on some malformed files, and nothing in Go can recover from that.
// Read and Open check everything the format defines (magic, version 2 or 3,
// counts, keys, value types, tensor shapes and types, alignment, that each
// tensor's data is inside the file and overlaps no other); CheckLlamaCPP
// adds what llama.cpp's loader needs beyond the format. Check does both for
// a path. Every defect is a *FormatError naming the offset and the item at
// fault and wrapping a sentinel such as ErrTruncated, for errors.Is.
//
// Reading never trusts a length: every count and size is checked against
// what is left of the file before anything is allocated for it, so a
// hostile header cannot make the reader allocate more than a small multiple
// of the file's size, and reading takes time linear in the file's size.
//
// Writer writes GGUF version 3 with 32-byte alignment. Tensor data can be
// given as bytes, as float32 values encoded on the way out (F32, F16, BF16,
// Q8_0), or as functions called while the file is written, so a model
// bigger than memory can be streamed to disk.
//
// Ownership and concurrency: a File from Open owns an open *os.File until
// Close; a File from Read uses the caller's io.ReaderAt, which must outlive
// it. Once read, a File may be used from many goroutines. A Writer is for
// one goroutine; slices given to it are kept, not copied, until it is
// written, and must not change until then.
//
// Panics: only on programmer errors, never on a file's contents:
// Value.Index out of range, and EncodeF32/DecodeF32 with a type they do not
// handle or buffers of the wrong size.
//
// Dimension order is ggml's: Dims[0] is the length of a row, the fastest
// varying index, so a PyTorch weight of shape [out, in] has Dims [in, out].
package gguf
