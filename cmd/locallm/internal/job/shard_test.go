package job

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Shard
		err  string
	}{
		{"", Shard{}, ""},
		{"0/1", Shard{0, 1}, ""},
		{"3/4", Shard{3, 4}, ""},
		{" 1 / 2 ", Shard{1, 2}, ""},
		{"4/4", Shard{}, "bad shard index 4 of 4"},
		{"-1/4", Shard{}, "bad shard index -1"},
		{"0/0", Shard{}, "bad shard count 0"},
		{"1", Shard{}, "want I/N"},
		{"a/b", Shard{}, "want I/N with integers"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseShard(tc.in)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestResolveShard(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flag  string
		count int
		env   map[string]string
		want  Shard
		err   string
	}{
		{name: "none", want: Shard{}},
		{name: "flag", flag: "1/3", want: Shard{1, 3}},
		{name: "flag wins over env", flag: "1/3", env: map[string]string{EnvK8sIndex: "2"}, want: Shard{1, 3}},
		{name: "flag and matching count", flag: "1/3", count: 3, want: Shard{1, 3}},
		{name: "flag and other count", flag: "1/3", count: 4, err: "disagrees"},
		{name: "k8s", count: 4, env: map[string]string{EnvK8sIndex: "3"}, want: Shard{3, 4}},
		{name: "k8s without count", env: map[string]string{EnvK8sIndex: "3"}, err: "--shard-count"},
		{name: "k8s index too big", count: 3, env: map[string]string{EnvK8sIndex: "3"}, err: "bad shard index 3 of 3"},
		{name: "k8s bad index", count: 3, env: map[string]string{EnvK8sIndex: "x"}, err: "not an integer"},
		{name: "slurm", env: map[string]string{EnvSlurmIndex: "2", EnvSlurmCount: "8"}, want: Shard{2, 8}},
		{name: "slurm count flag", count: 5, env: map[string]string{EnvSlurmIndex: "2", EnvSlurmCount: "8"}, want: Shard{2, 5}},
		{name: "slurm without count", env: map[string]string{EnvSlurmIndex: "2"}, err: "--shard-count"},
		{name: "slurm array from 1", env: map[string]string{EnvSlurmIndex: "2", EnvSlurmCount: "4", EnvSlurmMin: "1"}, err: "starts at 1"},
		{name: "k8s before slurm", count: 2, env: map[string]string{EnvK8sIndex: "1", EnvSlurmIndex: "0"}, want: Shard{1, 2}},
		{name: "count without index", count: 4, err: "needs a shard index"},
		{name: "count 1 without index", count: 1, want: Shard{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveShard(tc.flag, tc.count, func(k string) string { return tc.env[k] })
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// The shard of an id must never change between versions: jobs resumed by a
// newer binary, and shards run by different ones, rely on it. These values
// are FNV-1a 64 of the key, mod N, worked out with Python:
// h=0xcbf29ce484222325; for c in key: h=((h^c)*0x100000001b3)%2**64.
func TestShardOfStable(t *testing.T) {
	for _, tc := range []struct {
		key  string
		n    int
		want int
	}{
		{"a", 4, 0xaf63dc4c8601ec8c % 4},
		{"a", 7, 0xaf63dc4c8601ec8c % 7},
		{"foobar", 10, 0x85944171f73967e8 % 10},
		{"", 3, 0xcbf29ce484222325 % 3},
	} {
		assert.Equal(t, tc.want, ShardOf(tc.key, tc.n), "%q mod %d", tc.key, tc.n)
	}
}

func TestShardsPartition(t *testing.T) {
	const n, rows = 4, 2000
	counts := make([]int, n)
	for i := range rows {
		key := fmt.Sprintf("row-%d", i)
		owners := 0
		for s := range n {
			if (Shard{s, n}).Has(key) {
				owners++
				counts[s]++
			}
		}
		require.Equal(t, 1, owners, "id %s", key)
		assert.True(t, Shard{}.Has(key), "the whole job has every row")
	}
	for s, c := range counts {
		assert.InDelta(t, rows/n, c, rows/n/5, "shard %d has %d rows", s, c)
	}
	lines := 0
	for line := 1; line <= 10; line++ {
		for s := range n {
			if (Shard{s, n}).HasLine(line) {
				lines++
			}
		}
	}
	assert.Equal(t, 10, lines, "each id-less line is reported by one shard")
}
