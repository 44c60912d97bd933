package llama

/*
#include "shim.h"
*/
import "C"

import (
	"bufio"
	"os"
	"runtime"
	"strings"
)

// PhysicalCores counts physical CPU cores, as llama.cpp's tools choose their
// default thread count: hyper-threads share a core's arithmetic units and
// slow matrix work down. It falls back to runtime.NumCPU.
func PhysicalCores() int {
	n := runtime.NumCPU()
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return n
	}
	defer f.Close()
	cores := map[string]bool{}
	var phys, core string
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok {
			if phys != "" || core != "" {
				cores[phys+"/"+core] = true
			}
			phys, core = "", ""
			continue
		}
		switch strings.TrimSpace(k) {
		case "physical id":
			phys = strings.TrimSpace(v)
		case "core id":
			core = strings.TrimSpace(v)
		}
	}
	if phys != "" || core != "" {
		cores[phys+"/"+core] = true
	}
	if c := len(cores); c > 0 && c <= n {
		return c
	}
	return n
}

// OpenMP reports whether ggml's CPU threads are run by OpenMP in this build
// (scripts/cgo-env with OPENMP=1). Without it they are ggml's own thread
// pool, whose threads spin while they wait: faster on a machine they have
// to themselves, many times slower when there are more of them than free
// CPUs.
func OpenMP() bool { return C.locallm_openmp() != 0 }
