package llama

import (
	"errors"
	"fmt"
	"strings"

	"github.com/locallm/locallm/llm"
)

// Sentinel errors; test with errors.Is. The llm package's sentinels
// (llm.ErrClosed, llm.ErrBadParameter, ...) are wrapped where they apply.
var (
	// ErrKVCacheFull: llama_decode found no room in the KV cache (status 1).
	ErrKVCacheFull = errors.New("llamacpp: KV cache full")
	// ErrAborted: a computation was stopped by Close or cancellation (status 2).
	ErrAborted = errors.New("llamacpp: computation aborted")
	// ErrClosed: the object was used after Close.
	ErrClosed = fmt.Errorf("llamacpp: use after Close: %w", llm.ErrClosed)
	// ErrBadOption: an option is out of range.
	ErrBadOption = errors.New("llamacpp: bad option")
	// ErrLoad: llama.cpp could not load the model.
	ErrLoad = errors.New("llamacpp: cannot load model")
	// ErrNoToken: the sampler excluded every token (logit biases of -inf
	// on every candidate, say).
	ErrNoToken = errors.New("llamacpp: every token was excluded by the sampler")
)

// DecodeError is a failed llama_decode or llama_encode with its status code.
type DecodeError struct {
	Code int32
	Log  []string // llama.cpp's error lines, if any
}

func (e *DecodeError) Error() string {
	var msg string
	switch e.Code {
	case 1:
		msg = "no KV cache slot for the batch"
	case 2:
		msg = "aborted"
	case -1:
		msg = "invalid batch"
	default:
		msg = fmt.Sprintf("status %d", e.Code)
	}
	if len(e.Log) > 0 {
		msg += ": " + strings.Join(e.Log, "; ")
	}
	return "llamacpp: decode failed: " + msg
}

// Unwrap maps status 1 to ErrKVCacheFull and 2 to ErrAborted.
func (e *DecodeError) Unwrap() error {
	switch e.Code {
	case 1:
		return ErrKVCacheFull
	case 2:
		return ErrAborted
	}
	return nil
}

func decodeError(code int32, log []string) error {
	if code == 0 {
		return nil
	}
	return &DecodeError{Code: code, Log: log}
}

func badOption(name string, v any, want string) error {
	return fmt.Errorf("%w: %s = %v, want %s", ErrBadOption, name, v, want)
}

// logDetail joins captured llama.cpp error lines for an error message.
func logDetail(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	// The last error lines say most; keep the message readable.
	if len(lines) > 4 {
		lines = lines[len(lines)-4:]
	}
	return ": " + strings.Join(lines, "; ")
}
