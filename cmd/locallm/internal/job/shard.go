package job

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard is one part of a job split across processes: shard Index of Count
// takes the rows whose id hashes to Index. The zero Shard (Count 0) is the
// whole job.
//
// The hash is FNV-1a (64 bits) of the id's key (see IDKey) modulo Count, so
// a row's shard depends on its id alone: not on its line, on the other rows
// or on the machine. Rows may be added to the input later and earlier rows
// keep their shard.
type Shard struct {
	Index, Count int
}

// Whole reports whether s takes every row.
func (s Shard) Whole() bool { return s.Count <= 1 }

// Has reports whether the row with the given id key belongs to s.
func (s Shard) Has(key string) bool {
	if s.Whole() {
		return true
	}
	return ShardOf(key, s.Count) == s.Index
}

// HasLine reports whether a line without a usable id is s's to report: each
// such line is reported by exactly one shard, (line-1) mod Count.
func (s Shard) HasLine(line int) bool {
	if s.Whole() {
		return true
	}
	return (line-1)%s.Count == s.Index
}

func (s Shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

// suffix is " (shard I/N)" for a part of a job, "" for a whole one, for
// messages.
func (s Shard) suffix() string {
	if s.Whole() {
		return ""
	}
	return " (shard " + s.String() + ")"
}

// ShardOf is the shard, of n, that the id key belongs to.
func ShardOf(key string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(key))
	return int(h.Sum64() % uint64(n))
}

// MaxShards bounds the shard count, to catch a swapped I/N.
const MaxShards = 1 << 20

// ParseShard reads "I/N" (0 <= I < N). The empty string is the whole job.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return Shard{}, fmt.Errorf("bad shard %q: want I/N, as 0/4", s)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("bad shard %q: want I/N with integers, as 0/4", s)
	}
	return NewShard(i, n)
}

// NewShard returns shard i of n, or an error naming the bad number.
func NewShard(i, n int) (Shard, error) {
	if n < 1 || n > MaxShards {
		return Shard{}, fmt.Errorf("bad shard count %d: want 1 to %d", n, MaxShards)
	}
	if i < 0 || i >= n {
		return Shard{}, fmt.Errorf("bad shard index %d of %d: want 0 to %d", i, n, n-1)
	}
	return Shard{Index: i, Count: n}, nil
}

// Environment variables that give a process its shard index and count in
// array jobs. Kubernetes Indexed Jobs set JOB_COMPLETION_INDEX (the count is
// the Job's .spec.completions, which the pod does not see: pass
// --shard-count); Slurm job arrays set SLURM_ARRAY_TASK_ID and
// SLURM_ARRAY_TASK_COUNT (for --array=0-N only: the IDs must run from 0).
const (
	EnvK8sIndex   = "JOB_COMPLETION_INDEX"
	EnvSlurmIndex = "SLURM_ARRAY_TASK_ID"
	EnvSlurmCount = "SLURM_ARRAY_TASK_COUNT"
	EnvSlurmMin   = "SLURM_ARRAY_TASK_MIN"
)

// ResolveShard works out the shard from the --shard flag, the --shard-count
// flag (0: not given) and the environment. An explicit --shard wins; then
// JOB_COMPLETION_INDEX, then SLURM_ARRAY_TASK_ID, whose count comes from
// --shard-count or else SLURM_ARRAY_TASK_COUNT. With none of them the job is
// whole. A --shard-count of 1 without an index is the whole job too.
func ResolveShard(flagValue string, count int, getenv func(string) string) (Shard, error) {
	if flagValue != "" {
		s, err := ParseShard(flagValue)
		if err != nil {
			return Shard{}, err
		}
		if count != 0 && count != s.Count {
			return Shard{}, fmt.Errorf("--shard %s disagrees with --shard-count %d", flagValue, count)
		}
		return s, nil
	}
	index := func(name string) (int, bool, error) {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			return 0, false, nil
		}
		i, err := strconv.Atoi(v)
		if err != nil {
			return 0, false, fmt.Errorf("$%s = %q is not an integer", name, v)
		}
		return i, true, nil
	}
	if i, ok, err := index(EnvK8sIndex); err != nil {
		return Shard{}, err
	} else if ok {
		if count == 0 {
			return Shard{}, fmt.Errorf("$%s is %d but the shard count is unknown: pass --shard-count (the Job's completions)", EnvK8sIndex, i)
		}
		return NewShard(i, count)
	}
	if i, ok, err := index(EnvSlurmIndex); err != nil {
		return Shard{}, err
	} else if ok {
		if m, ok, err := index(EnvSlurmMin); err == nil && ok && m != 0 && count == 0 {
			return Shard{}, fmt.Errorf("the Slurm array starts at %d, not 0: use --array=0-N or pass --shard I/N", m)
		}
		n := count
		if n == 0 {
			c, ok, err := index(EnvSlurmCount)
			if err != nil {
				return Shard{}, err
			}
			if !ok {
				return Shard{}, fmt.Errorf("$%s is %d but the shard count is unknown: pass --shard-count", EnvSlurmIndex, i)
			}
			n = c
		}
		return NewShard(i, n)
	}
	if count > 1 {
		return Shard{}, fmt.Errorf("--shard-count %d needs a shard index: --shard I/N, $%s or $%s", count, EnvK8sIndex, EnvSlurmIndex)
	}
	return Shard{}, nil
}
