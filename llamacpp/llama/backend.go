package llama

/*
#include <stdlib.h>
#include "llama.h"
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"unsafe"
)

// BackendDirEnv names the environment variable that points at a directory of
// ggml GPU backends (libggml-cuda.so, built by `make cuda`), loaded at the
// first model load when ModelOptions.BackendDir is empty.
const BackendDirEnv = "LOCALLM_BACKEND_DIR"

var (
	backendOnce   sync.Once
	backendMu     sync.Mutex
	backendLoaded = map[string]bool{}
)

// initBackend sets up process-wide llama.cpp state once: the log callback
// and the backend registry.
func initBackend() {
	backendOnce.Do(func() {
		// On an assertion failure ggml forks gdb to print a backtrace of
		// the whole process; a library's host should not get that.
		if _, set := os.LookupEnv("GGML_NO_BACKTRACE"); !set {
			os.Setenv("GGML_NO_BACKTRACE", "1")
		}
		C.locallm_log_install(1)
		C.llama_backend_init()
	})
}

// LoadBackends loads the ggml backends (GPU libraries) found in dir. Loading
// a directory twice is a no-op. Backends stay loaded for the life of the
// process. It reports how many devices are present afterwards.
func LoadBackends(dir string) (int, error) {
	initBackend()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return 0, fmt.Errorf("llamacpp: backend directory %q: %w", dir, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return 0, fmt.Errorf("llamacpp: backend directory: %w", err)
	}
	if !st.IsDir() {
		return 0, fmt.Errorf("llamacpp: backend directory %q is not a directory", dir)
	}
	backendMu.Lock()
	defer backendMu.Unlock()
	if !backendLoaded[abs] {
		cdir := C.CString(abs)
		defer C.free(unsafe.Pointer(cdir))
		C.ggml_backend_load_all_from_path(cdir)
		backendLoaded[abs] = true
	}
	return int(C.ggml_backend_dev_count()), nil
}

var gpuNoticeOnce sync.Once

// ensureBackends loads dir, or the directory named by BackendDirEnv, and
// says once in the log when no GPU is available.
func ensureBackends(dir string) error {
	initBackend()
	if dir == "" {
		dir = os.Getenv(BackendDirEnv)
	}
	if dir != "" {
		if _, err := LoadBackends(dir); err != nil {
			return err
		}
	}
	gpuNoticeOnce.Do(func() {
		if !hasGPU() {
			slog.Default().Debug("llamacpp: no GPU backend found; running on CPU", "backend_dir", dir)
			logFromC(ggmlLogInfo, "locallm: no GPU backend found; running on CPU\n")
		}
	})
	return nil
}

func hasGPU() bool {
	for _, d := range Devices() {
		if d.Type == "gpu" || d.Type == "igpu" {
			return true
		}
	}
	return false
}

// Device is a compute device known to ggml.
type Device struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Type        string `json:"type"` // "cpu", "gpu", "igpu" or "accel"
	FreeMemory  uint64 `json:"free_memory"`
	TotalMemory uint64 `json:"total_memory"`
}

// Devices lists the devices of the loaded backends.
func Devices() []Device {
	initBackend()
	n := int(C.ggml_backend_dev_count())
	out := make([]Device, 0, n)
	for i := 0; i < n; i++ {
		d := C.ggml_backend_dev_get(C.size_t(i))
		var free, total C.size_t
		C.ggml_backend_dev_memory(d, &free, &total)
		typ := "cpu"
		switch C.ggml_backend_dev_type(d) {
		case C.GGML_BACKEND_DEVICE_TYPE_GPU:
			typ = "gpu"
		case C.GGML_BACKEND_DEVICE_TYPE_IGPU:
			typ = "igpu"
		case C.GGML_BACKEND_DEVICE_TYPE_ACCEL:
			typ = "accel"
		}
		out = append(out, Device{
			Name:        C.GoString(C.ggml_backend_dev_name(d)),
			Description: C.GoString(C.ggml_backend_dev_description(d)),
			Type:        typ,
			FreeMemory:  uint64(free),
			TotalMemory: uint64(total),
		})
	}
	return out
}

// SystemInfo is llama.cpp's description of the CPU features it was built with.
func SystemInfo() string {
	initBackend()
	return C.GoString(C.llama_print_system_info())
}
