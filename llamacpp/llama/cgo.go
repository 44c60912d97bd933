package llama

// The C and C++ of llama.cpp and ggml are compiled by the blank-imported
// packages of the pinned github.com/ollama/ollama module; this package only
// includes llama.h. Its include directories come from CGO_CPPFLAGS (see
// scripts/cgo-env and the Makefile), because they live in the module cache.

/*
#cgo CFLAGS: -std=c11
#cgo linux LDFLAGS: -lm -ldl
#include <stdlib.h>
#include "llama.h"
#include "shim.h"
*/
import "C"

import (
	_ "github.com/ollama/ollama/llama/llama.cpp/src"
	_ "github.com/ollama/ollama/ml/backend/ggml/ggml/src"
)
