package llamacpp

/*
#include <stdlib.h>
#include "llama.h"
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/locallm/locallm/llamacpp/gguf"
	"github.com/locallm/locallm/llm"
)

// ModelOptions configure LoadModel. The zero value loads the whole model on
// the CPU, memory-mapped.
type ModelOptions struct {
	// GPULayers is how many layers to offload to a GPU (llama.cpp's
	// n_gpu_layers); -1 offloads all. Default 0: CPU only. It has effect
	// only where a GPU backend is loaded (see BackendDir).
	GPULayers int `json:"gpu_layers,omitempty" yaml:"gpu_layers,omitempty"`
	// NoMmap reads the weights into memory instead of mapping the file.
	// Default false: mmap, as llama.cpp does.
	NoMmap bool `json:"no_mmap,omitempty" yaml:"no_mmap,omitempty"`
	// Mlock locks the weights in RAM. Default false.
	Mlock bool `json:"mlock,omitempty" yaml:"mlock,omitempty"`
	// CheckTensors makes llama.cpp validate tensor data (NaN, Inf) while
	// loading. Default false.
	CheckTensors bool `json:"check_tensors,omitempty" yaml:"check_tensors,omitempty"`
	// BackendDir is a directory of ggml GPU backends to load first. Default:
	// the LOCALLM_BACKEND_DIR environment variable, or none (CPU).
	BackendDir string `json:"backend_dir,omitempty" yaml:"backend_dir,omitempty"`
	// VocabOnly loads the tokenizer without weights. Default false.
	VocabOnly bool `json:"vocab_only,omitempty" yaml:"vocab_only,omitempty"`
}

func (o *ModelOptions) validate() error {
	if o.GPULayers < -1 {
		return badOption("gpu_layers", o.GPULayers, ">= -1")
	}
	return nil
}

// Model is a loaded GGUF model: weights and vocabulary. It is safe for
// concurrent use by many goroutines, and may be shared by several Contexts.
// Close frees it, closing its Contexts first.
type Model struct {
	mu       sync.RWMutex // held for reading by every C call; for writing by Close
	c        *C.struct_llama_model
	vocab    *C.struct_llama_vocab
	path     string
	info     ModelInfo
	nVocab   int
	eog      map[int32]bool
	eogList  []int32
	children map[*Context]struct{}

	firstOnce sync.Once
	first     *firstByteIndex
}

// loadMu serialises model loads: llama.cpp's error messages arrive through
// the process-wide log, and one load at a time keeps them apart.
var loadMu sync.Mutex

// LoadModel loads the GGUF model at path. Before llama.cpp sees the file,
// its header, metadata and tensor table are checked in Go, so that a
// corrupt or truncated file gives an error instead of aborting the process.
// Cancelling ctx stops a load in progress.
func LoadModel(ctx context.Context, path string, opts *ModelOptions) (*Model, error) {
	if opts == nil {
		opts = &ModelOptions{}
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := checkModelFile(path); err != nil {
		return nil, err
	}
	if err := ensureBackends(opts.BackendDir); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	params := C.llama_model_default_params()
	params.n_gpu_layers = C.int32_t(opts.GPULayers)
	if opts.GPULayers < 0 {
		params.n_gpu_layers = 1 << 30
	}
	params.use_mmap = C.bool(!opts.NoMmap)
	params.use_mlock = C.bool(opts.Mlock)
	params.check_tensors = C.bool(opts.CheckTensors)
	params.vocab_only = C.bool(opts.VocabOnly)
	flag := C.locallm_flag_new()
	if flag == nil {
		return nil, errors.New("llamacpp: out of memory")
	}
	defer C.locallm_flag_free(flag)
	params.progress_callback = C.llama_progress_callback(C.locallm_progress_callback)
	params.progress_callback_user_data = unsafe.Pointer(flag)
	stop := context.AfterFunc(ctx, func() { C.locallm_flag_set(flag, 1) })

	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))

	loadMu.Lock()
	done := captureLog()
	cm := C.llama_model_load_from_file(cpath, params)
	lines := done()
	loadMu.Unlock()
	stop()
	if cm == nil {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("llamacpp: load %s: %w", path, err)
		}
		return nil, fmt.Errorf("%w %s%s", ErrLoad, path, logDetail(lines))
	}
	m := &Model{c: cm, vocab: C.llama_model_get_vocab(cm), path: path, children: map[*Context]struct{}{}}
	m.nVocab = int(C.llama_vocab_n_tokens(m.vocab))
	m.eog = map[int32]bool{}
	if m.nVocab > 0 {
		buf := make([]int32, m.nVocab)
		n := int(C.locallm_eog_tokens(m.vocab, (*C.int32_t)(unsafe.Pointer(&buf[0]))))
		m.eogList = append([]int32(nil), buf[:n]...)
		for _, t := range m.eogList {
			m.eog[t] = true
		}
	}
	m.info = m.readInfo()
	live.models.Add(1)
	runtime.SetFinalizer(m, (*Model).Close)
	return m, nil
}

// checkModelFile makes the checks that turn the common bad paths into clear
// errors before the GGUF structure itself is checked.
func checkModelFile(path string) error {
	if path == "" {
		return fmt.Errorf("%w: no model path", ErrLoad)
	}
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: model file %s does not exist", ErrLoad, path)
		}
		return fmt.Errorf("%w: %v", ErrLoad, err)
	}
	if st.IsDir() {
		return fmt.Errorf("%w: model path %s is a directory, not a GGUF file", ErrLoad, path)
	}
	return checkGGUF(path)
}

// checkGGUF checks the file's structure in Go (header, metadata, tensor
// table, data extents, and what llama.cpp's loader would abort on) before
// llama.cpp reads it.
func checkGGUF(path string) error {
	if err := gguf.Check(path); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrLoad, path, err)
	}
	return nil
}

// Close frees the model, after closing every Context made from it. It is
// idempotent; the Model must not be in use by other goroutines.
func (m *Model) Close() error {
	m.mu.Lock()
	children := make([]*Context, 0, len(m.children))
	for c := range m.children {
		children = append(children, c)
	}
	m.mu.Unlock()
	for _, c := range children {
		c.Close()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.c == nil {
		return nil
	}
	C.llama_model_free(m.c)
	m.c, m.vocab = nil, nil
	live.models.Add(-1)
	runtime.SetFinalizer(m, nil)
	return nil
}

// use takes the read lock and fails on a closed model.
func (m *Model) use() error {
	m.mu.RLock()
	if m.c == nil {
		m.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (m *Model) done() { m.mu.RUnlock() }

// Path is the file the model was loaded from.
func (m *Model) Path() string { return m.path }

// Info returns the model's metadata.
func (m *Model) Info() ModelInfo { return m.info }

// VocabSize is the number of tokens in the vocabulary.
func (m *Model) VocabSize() int { return m.nVocab }

// IsEOG reports whether tok ends a generation (EOS, EOT and the like).
func (m *Model) IsEOG(tok int32) bool { return m.eog[tok] }

// SpecialTokens are a vocabulary's special token IDs; -1 where absent.
type SpecialTokens struct {
	BOS int32   `json:"bos"`
	EOS int32   `json:"eos"`
	EOT int32   `json:"eot"`
	SEP int32   `json:"sep"`
	NL  int32   `json:"nl"`
	PAD int32   `json:"pad"`
	EOG []int32 `json:"eog"` // every end-of-generation token
	// AddBOS and AddEOS say whether tokenising with special tokens adds them.
	AddBOS bool `json:"add_bos"`
	AddEOS bool `json:"add_eos"`
}

// ModelInfo is a model's metadata.
type ModelInfo struct {
	Path         string            `json:"path"`
	Name         string            `json:"name"`
	Architecture string            `json:"architecture"`
	Description  string            `json:"description"`
	Params       uint64            `json:"n_params"`
	SizeBytes    uint64            `json:"size_bytes"`
	NEmbd        int               `json:"n_embd"`
	NLayer       int               `json:"n_layer"`
	NHead        int               `json:"n_head"`
	NHeadKV      int               `json:"n_head_kv"`
	NCtxTrain    int               `json:"n_ctx_train"`
	VocabSize    int               `json:"vocab_size"`
	VocabType    string            `json:"vocab_type"`
	ChatTemplate string            `json:"chat_template,omitempty"`
	Special      SpecialTokens     `json:"special_tokens"`
	HasEncoder   bool              `json:"has_encoder"`
	HasDecoder   bool              `json:"has_decoder"`
	Metadata     map[string]string `json:"metadata"`
}

func (m *Model) readInfo() ModelInfo {
	v := m.vocab
	info := ModelInfo{
		Path:       m.path,
		Params:     uint64(C.llama_model_n_params(m.c)),
		SizeBytes:  uint64(C.llama_model_size(m.c)),
		NEmbd:      int(C.llama_model_n_embd(m.c)),
		NLayer:     int(C.llama_model_n_layer(m.c)),
		NCtxTrain:  int(C.llama_model_n_ctx_train(m.c)),
		VocabSize:  m.nVocab,
		HasEncoder: bool(C.llama_model_has_encoder(m.c)),
		HasDecoder: bool(C.llama_model_has_decoder(m.c)),
		Metadata:   map[string]string{},
		Special: SpecialTokens{
			BOS: int32(C.llama_vocab_bos(v)), EOS: int32(C.llama_vocab_eos(v)), EOT: int32(C.llama_vocab_eot(v)),
			SEP: int32(C.llama_vocab_sep(v)), NL: int32(C.llama_vocab_nl(v)), PAD: int32(C.llama_vocab_pad(v)),
			EOG:    append([]int32{}, m.eogList...),
			AddBOS: bool(C.llama_vocab_get_add_bos(v)), AddEOS: bool(C.llama_vocab_get_add_eos(v)),
		},
	}
	// llama_model_n_head asks for layer 0 and aborts on a model without
	// layers (a vocab-only file).
	if info.NLayer > 0 {
		info.NHead = int(C.llama_model_n_head(m.c))
		info.NHeadKV = int(C.llama_model_n_head_kv(m.c))
	}
	switch C.llama_vocab_type(v) {
	case C.LLAMA_VOCAB_TYPE_SPM:
		info.VocabType = "spm"
	case C.LLAMA_VOCAB_TYPE_BPE:
		info.VocabType = "bpe"
	case C.LLAMA_VOCAB_TYPE_WPM:
		info.VocabType = "wpm"
	case C.LLAMA_VOCAB_TYPE_UGM:
		info.VocabType = "ugm"
	case C.LLAMA_VOCAB_TYPE_RWKV:
		info.VocabType = "rwkv"
	case C.LLAMA_VOCAB_TYPE_PLAMO2:
		info.VocabType = "plamo2"
	default:
		info.VocabType = "none"
	}
	buf := make([]byte, 4096)
	info.Description = cString(buf, func(p *C.char, n C.size_t) C.int32_t { return C.llama_model_desc(m.c, p, n) })
	n := int(C.llama_model_meta_count(m.c))
	for i := 0; i < n; i++ {
		ci := C.int32_t(i)
		k := cString(buf, func(p *C.char, n C.size_t) C.int32_t { return C.llama_model_meta_key_by_index(m.c, ci, p, n) })
		if strings.HasPrefix(k, "tokenizer.ggml.") && k != "tokenizer.ggml.model" && k != "tokenizer.ggml.pre" {
			// Arrays of tokens, scores and merges are summarised by llama.cpp; skip them.
			continue
		}
		val := cString(buf, func(p *C.char, n C.size_t) C.int32_t { return C.llama_model_meta_val_str_by_index(m.c, ci, p, n) })
		info.Metadata[k] = val
	}
	info.Architecture = info.Metadata["general.architecture"]
	info.Name = info.Metadata["general.name"]
	if t := C.llama_model_chat_template(m.c, nil); t != nil {
		info.ChatTemplate = C.GoString(t)
	}
	delete(info.Metadata, "tokenizer.chat_template")
	return info
}

// cString calls a llama.cpp function that writes a NUL-terminated string
// into a buffer and returns its full length, growing the buffer as needed.
func cString(buf []byte, f func(*C.char, C.size_t) C.int32_t) string {
	for {
		n := f((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
		if n < 0 {
			return ""
		}
		if int(n) < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, int(n)+1)
	}
}

// Tokenize turns text into token IDs. addSpecial adds the BOS/EOS tokens
// the vocabulary asks for; parseSpecial recognises special tokens written
// in the text (such as "<|im_start|>") instead of tokenising them as text.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]int32, error) {
	if err := m.use(); err != nil {
		return nil, err
	}
	defer m.done()
	if m.info.VocabType == "none" {
		// llama.cpp aborts when asked to tokenise with no tokenizer.
		return nil, fmt.Errorf("%w: %s has no tokenizer (tokenizer.ggml.model is none)", llm.ErrBadInput, m.path)
	}
	if len(text) > 1<<30 {
		return nil, fmt.Errorf("%w: text of %d bytes is too long to tokenise", llm.ErrBadInput, len(text))
	}
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	n := len(text) + 8
	for {
		toks := make([]int32, n)
		got := int(C.llama_tokenize(m.vocab, ctext, C.int32_t(len(text)), (*C.llama_token)(unsafe.Pointer(&toks[0])), C.int32_t(n), C.bool(addSpecial), C.bool(parseSpecial)))
		if got >= 0 {
			return toks[:got], nil
		}
		if -got <= n || got == -(1<<31) {
			return nil, fmt.Errorf("llamacpp: tokenise failed (status %d)", got)
		}
		n = -got
	}
}

// Piece returns the text of one token. special renders special tokens
// (such as "</s>") as text; otherwise they render as "".
func (m *Model) Piece(tok int32, special bool) (string, error) {
	if err := m.use(); err != nil {
		return "", err
	}
	defer m.done()
	if tok < 0 || int(tok) >= m.nVocab {
		return "", fmt.Errorf("%w: token %d outside the vocabulary [0, %d)", llm.ErrBadInput, tok, m.nVocab)
	}
	var buf [128]byte
	return m.piece(buf[:], tok, special), nil
}

// piece renders a token into buf (growing it if needed); tok must be valid
// and the read lock held.
func (m *Model) piece(buf []byte, tok int32, special bool) string {
	for {
		n := int(C.llama_token_to_piece(m.vocab, C.llama_token(tok), (*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(len(buf)), 0, C.bool(special)))
		if n >= 0 {
			return string(buf[:n])
		}
		buf = make([]byte, -n)
	}
}

// Detokenize turns token IDs back into text. removeSpecial drops a leading
// BOS and trailing EOS the vocabulary adds; unparseSpecial renders special
// tokens as text.
func (m *Model) Detokenize(tokens []int32, removeSpecial, unparseSpecial bool) (string, error) {
	if err := m.use(); err != nil {
		return "", err
	}
	defer m.done()
	if len(tokens) == 0 {
		return "", nil
	}
	for i, t := range tokens {
		if t < 0 || int(t) >= m.nVocab {
			return "", fmt.Errorf("%w: token %d at %d outside the vocabulary [0, %d)", llm.ErrBadInput, t, i, m.nVocab)
		}
	}
	n := len(tokens)*8 + 16
	for {
		buf := make([]byte, n)
		got := int(C.llama_detokenize(m.vocab, (*C.llama_token)(unsafe.Pointer(&tokens[0])), C.int32_t(len(tokens)),
			(*C.char)(unsafe.Pointer(&buf[0])), C.int32_t(n), C.bool(removeSpecial), C.bool(unparseSpecial)))
		if got >= 0 {
			return string(buf[:got]), nil
		}
		n = -got
	}
}

// ApplyChatTemplate formats messages with a chat template, ending with the
// assistant's turn when addAssistant is set. template is resolved as
// Options.ChatTemplate is: "" is the model's own Jinja template, then the
// name of one of its tokenizer.chat_template.NAME templates, a llama.cpp
// built-in name (such as "chatml" or "llama3"; see ChatTemplates), or else
// Jinja text. A model without a template gives llm.ErrNoChatTemplate.
func (m *Model) ApplyChatTemplate(template string, messages []llm.Message, addAssistant bool) (string, error) {
	f, err := m.chatFormat(template)
	if err != nil {
		return "", err
	}
	return f.apply(m, llm.Input{Messages: messages}, addAssistant, false)
}

// applyBuiltinTemplate formats messages with llama.cpp's built-in template
// of that name (llama_chat_apply_template).
func (m *Model) applyBuiltinTemplate(template string, messages []llm.Message, addAssistant bool) (string, error) {
	if len(messages) == 0 {
		return "", fmt.Errorf("%w: no messages", llm.ErrEmptyInput)
	}
	ctmpl := C.CString(template)
	defer C.free(unsafe.Pointer(ctmpl))
	cmsgs := unsafe.Slice((*C.struct_llama_chat_message)(C.malloc(C.size_t(len(messages))*C.size_t(unsafe.Sizeof(C.struct_llama_chat_message{})))), len(messages))
	defer C.free(unsafe.Pointer(&cmsgs[0]))
	total := 0
	for i, msg := range messages {
		cmsgs[i].role = C.CString(msg.Role)
		cmsgs[i].content = C.CString(msg.Content)
		total += len(msg.Role) + len(msg.Content)
	}
	defer func() {
		for i := range cmsgs {
			C.free(unsafe.Pointer(cmsgs[i].role))
			C.free(unsafe.Pointer(cmsgs[i].content))
		}
	}()
	n := 2*total + 256
	for {
		buf := C.malloc(C.size_t(n))
		got := int(C.llama_chat_apply_template(ctmpl, &cmsgs[0], C.size_t(len(cmsgs)), C.bool(addAssistant), (*C.char)(buf), C.int32_t(n)))
		if got < 0 {
			C.free(buf)
			return "", fmt.Errorf("%w: llama.cpp does not support this chat template (%.60q...); pass a known template name such as \"chatml\"", llm.ErrNoChatTemplate, template)
		}
		if got <= n {
			s := C.GoStringN((*C.char)(buf), C.int(got))
			C.free(buf)
			return s, nil
		}
		C.free(buf)
		n = got
	}
}

// ChatTemplates lists the template names llama.cpp knows.
func ChatTemplates() []string {
	n := int(C.llama_chat_builtin_templates(nil, 0))
	if n <= 0 {
		return nil
	}
	names := make([]*C.char, n)
	C.llama_chat_builtin_templates(&names[0], C.size_t(n))
	out := make([]string, n)
	for i, p := range names {
		out[i] = C.GoString(p)
	}
	return out
}
