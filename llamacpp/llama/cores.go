package llama

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
