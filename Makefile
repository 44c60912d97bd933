# locallm's build. Every target sets the cgo environment itself through
# scripts/cgo-env: llama.cpp's include directories in the pinned ollama
# module, and -O3 -march=native (PORTABLE=1: a baseline build for any CPU),
# with ggml's own CPU thread pool (OPENMP=1: OpenMP's, as upstream's CMake
# build does; see scripts/cgo-env).

GO       ?= go
PORTABLE ?= 0
OPENMP   ?= 0
BENCHOUT ?= bench/results.txt
BENCH    ?= .
BENCHTIME ?= 1x
MODELS   ?= .models
# locallm --version: the commit, and whether the tree had changes.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

ENV = eval "$$(PORTABLE=$(PORTABLE) OPENMP=$(OPENMP) GO=$(GO) sh scripts/cgo-env)" &&

.PHONY: all build test test-short bench demo env fuzz cuda clean

all: build

build:
	$(ENV) $(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/locallm ./cmd/locallm

# The whole suite: pure-Go packages, the binding against the self-made tiny
# model and ../shared, and the concurrency tests under the race detector.
test:
	$(ENV) $(GO) vet ./...
	$(ENV) $(GO) test -count=1 -timeout 40m ./...
	$(ENV) $(GO) test -count=1 -timeout 40m -race ./llamacpp/engine/
	$(ENV) $(GO) test -count=1 -timeout 40m -race -run 'Race|Concurrent' ./llamacpp/
	$(ENV) $(GO) test -count=1 -timeout 40m -race -run 'Race|Concurrent|Disconnect' ./llm/server/

test-short:
	$(ENV) $(GO) test -short -count=1 ./...

# Benchmarks, with their figures written to $(BENCHOUT).
bench:
	@mkdir -p $(dir $(BENCHOUT))
	$(ENV) $(GO) test -p 1 -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -timeout 60m ./... | tee $(BENCHOUT)

# The main job on a default the project makes itself: write the tiny model
# and generate with it.
demo: build
	@mkdir -p $(MODELS)
	./bin/locallm testmodel --output $(MODELS)/tiny.gguf
	./bin/locallm generate --model $(MODELS)/tiny.gguf --prompt "Once upon a time" --max-tokens 32 --temperature 0 --stats

env:
	@PORTABLE=$(PORTABLE) OPENMP=$(OPENMP) GO=$(GO) sh scripts/cgo-env

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./grammar/gbnf/
	$(GO) test -run '^$$' -fuzz FuzzMatch -fuzztime 30s ./grammar/gbnf/
	$(GO) test -run '^$$' -fuzz FuzzRegex -fuzztime 30s ./grammar/regex/
	$(GO) test -run '^$$' -fuzz FuzzCompileSchema -fuzztime 30s ./grammar/jsonschema/
	$(GO) test -run '^$$' -fuzz FuzzRead -fuzztime 30s ./llamacpp/gguf/
	CGO_ENABLED=0 $(GO) test -run '^$$' -fuzz FuzzRequest -fuzztime 30s ./llm/server/

clean:
	rm -rf bin $(MODELS)

# ggml's CUDA backend, built with CMake from the pinned source (needs nvcc and
# cmake; no network). CUDA_ARCHITECTURES defaults to the GPUs present.
cuda:
	sh scripts/build-cuda
