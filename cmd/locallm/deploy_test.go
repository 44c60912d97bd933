package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/locallm/locallm/cmd/locallm/internal/slurmtest"
	"github.com/locallm/locallm/llamacpp/tinyllama"
)

// The deploy/ directory: the shard script that Slurm and Kubernetes run,
// and the Kubernetes manifest.
var (
	shardScript = filepath.Join("..", "..", "deploy", "locallm-shard.sh")
	k8sManifest = filepath.Join("..", "..", "deploy", "kubernetes", "job.yaml")
)

// locallmOnPath writes a directory holding a `locallm` command that runs
// this test binary as the CLI (see cliCommand), for jobs that find locallm
// on PATH as they would on a cluster, and returns the PATH to give them.
func locallmOnPath(t *testing.T) string {
	t.Helper()
	exe, err := filepath.Abs(os.Args[0])
	require.NoError(t, err)
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\n%s=1 exec %s -test.run='^TestCLIHelper$' -- \"$@\"\n", cliHelperEnv, shellQuote([]string{exe}))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "locallm"), []byte(script), 0o755))
	return dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

// slowTinyModel is a tiny llama large enough that a shard of 50 rows runs
// for some seconds on one thread, so that a task can be requeued midway.
func slowTinyModel(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "slow.gguf")
	require.NoError(t, tinyllama.Write(path, tinyllama.Config{Hidden: 256, Layers: 4, FF: 512, CtxLen: 1024}))
	return path
}

// writeRunFile writes the run file of a greedy generate job over in. One
// sequence at a time: greedy outputs are then the same whichever rows a
// process runs (with several, which rows share a decode changes the last
// bits of the logits, and a near tie can go either way).
func writeRunFile(t *testing.T, path, model, in string, maxTokens int) {
	t.Helper()
	code, runFile, e := cli(t, "generate", "--model", model, "--input", in, "--ctx", "1024", "--parallel", "1",
		"--max-tokens", strconv.Itoa(maxTokens), "--temperature", "0", "--dump-config")
	require.Equal(t, 0, code, e)
	require.NoError(t, os.WriteFile(path, []byte(runFile), 0o644))
}

// sameAsOneProcess runs the generate job of a run file in one process and
// checks that the merged output holds its rows, each id once, with the
// same generations.
func sameAsOneProcess(t *testing.T, runFile, merged string, rows int) {
	t.Helper()
	whole := filepath.Join(t.TempDir(), "whole.jsonl")
	code, _, e := cli(t, "generate", "--config", runFile, "--threads", "1", "--output", whole, "--quiet")
	require.Equal(t, 0, code, e)
	got, want := readOutput(t, merged), readOutput(t, whole) // each fails on an id twice
	require.Len(t, got, rows)
	require.Equal(t, sortedKeys(keysOf(want)), sortedKeys(keysOf(got)))
	for k, w := range want {
		assert.Equal(t, w.Generations, got[k].Generations, "id %s", k)
	}
}

// slurmArray is an array job of the shard script on a test cluster.
type slurmArray struct {
	c      *slurmtest.Cluster
	dir    string // the submission directory: logs and outputs
	id     string
	shards int
	ext    string
}

// submitShards submits deploy/locallm-shard.sh as an array of n tasks on
// one CPU each, with args after the script (the command and its flags).
func submitShards(t *testing.T, c *slurmtest.Cluster, dir string, n int, args ...string) *slurmArray {
	t.Helper()
	script, err := filepath.Abs(shardScript)
	require.NoError(t, err)
	env := []string{"PATH=" + locallmOnPath(t), "LOCALLM_SHARDS=" + strconv.Itoa(n), "LOCALLM_OUT=out"}
	// The script's own #SBATCH resources are a real node's; these fit the
	// test machine.
	id, err := c.Submit(dir, env, append([]string{fmt.Sprintf("--array=0-%d", n-1),
		"--cpus-per-task=1", "--mem=100M", script}, args...)...)
	require.NoError(t, err)
	ext := "jsonl"
	if args[0] != "generate" {
		ext = "npy"
	}
	return &slurmArray{c: c, dir: dir, id: id, shards: n, ext: ext}
}

func (a *slurmArray) output(i int) string {
	return filepath.Join(a.dir, "out", fmt.Sprintf("shard-%d.%s", i, a.ext))
}

func (a *slurmArray) outputs() []string {
	var out []string
	for i := range a.shards {
		out = append(out, a.output(i))
	}
	return out
}

func (a *slurmArray) log(i int) string {
	data, _ := os.ReadFile(filepath.Join(a.dir, fmt.Sprintf("locallm-%s_%d.log", a.id, i)))
	return string(data)
}

// requeueMidway waits until some task is running and has finished at
// least min rows, as progress(i) counts them, and requeues it; it returns
// the task's index.
func (a *slurmArray) requeueMidway(t *testing.T, min int, progress func(i int) int) int {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		tasks, err := a.c.Tasks(a.id)
		require.NoError(t, err)
		for _, task := range tasks {
			i, err := strconv.Atoi(task.ArrayTask)
			if err != nil || task.State != "RUNNING" || progress(i) < min {
				continue
			}
			require.NoError(t, a.c.Requeue(a.id+"_"+task.ArrayTask))
			return i
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no task of job %s was seen running with %d rows done", a.id, min)
	return -1
}

// wait waits for the array and checks that every task succeeded, and that
// task requeued ran twice, its second run resuming: it kept rows of the
// first and ran only the rest.
func (a *slurmArray) wait(t *testing.T, requeued int) {
	t.Helper()
	tasks, err := a.c.Wait(a.id, 5*time.Minute)
	require.NoError(t, err)
	require.Len(t, tasks, a.shards)
	for _, task := range tasks {
		i, _ := strconv.Atoi(task.ArrayTask)
		require.Equal(t, "COMPLETED", task.State, "task %s: log:\n%s", task.ArrayTask, a.log(i))
		assert.Equal(t, "0:0", task.ExitCode)
		want := 0
		if i == requeued {
			want = 1
		}
		assert.Equal(t, want, task.Restarts, "task %d's restarts", i)
	}
	log := a.log(requeued)
	assert.Contains(t, log, "run 0, output")
	assert.Contains(t, log, "run 1, output")
	// The second run's summary: the last one in the log.
	ms := regexp.MustCompile(`(\d+) of (\d+) rows are in \S+ \((\d+) this run\)`).FindAllStringSubmatch(log, -1)
	require.NotEmpty(t, ms, "the requeued task's summary line:\n%s", log)
	m := ms[len(ms)-1]
	all, this := atoi(m[2]), atoi(m[3])
	assert.Equal(t, m[1], m[2], "every row done")
	assert.Less(t, this, all, "the requeued run resumed the shard rather than starting over:\n%s", log)
	assert.Greater(t, this, 0, "the task was requeued before it finished:\n%s", log)
	t.Logf("task %d requeued: its second run did %d of its %d rows", requeued, this, all)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// mergeAfter submits `locallm merge` as a job that runs once every task of
// the array has succeeded, as the README does, and waits for it.
func (a *slurmArray) mergeAfter(t *testing.T, merged, input string) {
	t.Helper()
	id, err := a.c.Submit(a.dir, []string{"PATH=" + locallmOnPath(t)}, "--dependency=afterok:"+a.id,
		"--kill-on-invalid-dep=yes", "--output=merge.log", "--wrap",
		fmt.Sprintf("locallm merge -o %s --input %s out/shard-*.%s", merged, input, a.ext))
	require.NoError(t, err)
	tasks, err := a.c.Wait(id, 5*time.Minute)
	require.NoError(t, err)
	log, _ := os.ReadFile(filepath.Join(a.dir, "merge.log"))
	require.Equal(t, "COMPLETED", tasks[0].State, "merge: %s", log)
}

// slurmJob starts a cluster and writes a job's model and input: the
// cluster, the model, the submission directory and the input.
func slurmJob(t *testing.T, rows []string) (*slurmtest.Cluster, string, string, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a Slurm cluster")
	}
	c := slurmtest.Start(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	writeLines(t, in, rows...)
	return c, slowTinyModel(t), dir, in
}

// The shard script as a Slurm array: 4 tasks over 200 rows, one task
// requeued while it runs, a merge job that waits for the array; the merged
// output holds every id once, with the greedy generations of one process
// over the whole input.
func TestSlurmGenerateArray(t *testing.T) {
	c, model, dir, in := slurmJob(t, promptRows(200))
	// The job's settings as a run file, as the Kubernetes manifest runs them.
	writeRunFile(t, filepath.Join(dir, "job.yaml"), model, in, 48)

	a := submitShards(t, c, dir, 4, "generate", "--config", "job.yaml")
	requeued := a.requeueMidway(t, 10, func(i int) int {
		data, _ := os.ReadFile(a.output(i))
		return bytes.Count(data, []byte("\n"))
	})
	merged := filepath.Join(dir, "merged.jsonl")
	a.mergeAfter(t, merged, in)
	a.wait(t, requeued)

	sameAsOneProcess(t, filepath.Join(dir, "job.yaml"), merged, 200)
	// The merge keeps the input order.
	data, err := os.ReadFile(merged)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(data), `{"id":"r0",`), "merged output starts with the first input row")
}

// The same for embed: 4 tasks over 800 rows, one requeued while it runs;
// the merged .npy and ids equal, byte for byte, one process's over the
// whole input.
func TestSlurmEmbedArray(t *testing.T) {
	// 800 rows: an embedding is fast, and a shard of 50 rows could finish
	// before the requeue reaches it.
	c, model, dir, in := slurmJob(t, longRows(800))
	args := []string{"embed", "--model", model, "--input", in, "--ctx", "2048", "--batch-rows", "4", "--pooling", "mean", "--normalize"}

	a := submitShards(t, c, dir, 4, args...)
	requeued := a.requeueMidway(t, 10, func(i int) int {
		return int(partBytes(a.output(i)) / (4 * 256)) // a row is 256 float32
	})
	merged := filepath.Join(dir, "merged.npy")
	a.mergeAfter(t, merged, in)
	a.wait(t, requeued)
	for i := range 4 {
		assert.NoFileExists(t, a.output(i)+".part", "shard %d joined its parts", i)
	}

	whole := filepath.Join(dir, "whole.npy")
	code, _, e := cli(t, append(args, "--threads", "1", "--output", whole, "--quiet")...)
	require.Equal(t, 0, code, e)
	assert.Equal(t, outputFiles(t, whole, ".npy", ".ids.json"), outputFiles(t, merged, ".npy", ".ids.json"), "merged equals one process's")
	var ids []string
	data, err := os.ReadFile(strings.TrimSuffix(merged, ".npy") + ".ids.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &ids))
	require.Len(t, ids, 800)
	for i, id := range ids {
		require.Equal(t, fmt.Sprintf("e%d", i), id, "every id once, in input order")
	}
}

// k8sJob is the part of a Kubernetes Job manifest that the test reads.
type k8sJob struct {
	Kind string `yaml:"kind"`
	Spec struct {
		CompletionMode string `yaml:"completionMode"`
		Completions    int    `yaml:"completions"`
		Parallelism    int    `yaml:"parallelism"`
		Template       struct {
			Spec struct {
				RestartPolicy string `yaml:"restartPolicy"`
				Containers    []struct {
					Command []string `yaml:"command"`
					Args    []string `yaml:"args"`
					Env     []struct {
						Name      string `yaml:"name"`
						Value     string `yaml:"value"`
						ValueFrom *struct {
							ResourceFieldRef *struct {
								Resource string `yaml:"resource"`
							} `yaml:"resourceFieldRef"`
						} `yaml:"valueFrom"`
					} `yaml:"env"`
					VolumeMounts []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
				Volumes []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// The Kubernetes manifest runs the shard script with the arguments the
// Slurm test gives it: the test plays the kubelet, running the container's
// command once per index with JOB_COMPLETION_INDEX set and the volumes as
// directories (the ConfigMap's holding the script and the run file), and
// merges; the result is one process's over the whole input.
func TestKubernetesManifestRunsTheShardScript(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model in subprocesses")
	}
	data, err := os.ReadFile(k8sManifest)
	require.NoError(t, err)
	var job k8sJob
	require.NoError(t, yaml.Unmarshal(data, &job))
	require.Equal(t, "Job", job.Kind)
	require.Equal(t, "Indexed", job.Spec.CompletionMode, "JOB_COMPLETION_INDEX is set only in Indexed Jobs")
	pod := job.Spec.Template.Spec
	require.Contains(t, []string{"OnFailure", "Never"}, pod.RestartPolicy)
	require.Len(t, pod.Containers, 1)
	ctr := pod.Containers[0]

	// The volumes as directories: the ConfigMap's holds the script, as
	// `kubectl create configmap --from-file=deploy/locallm-shard.sh` puts it.
	root := t.TempDir()
	mounts := map[string]string{}
	configMapDir := ""
	for _, m := range ctr.VolumeMounts {
		dir := filepath.Join(root, m.Name)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		mounts[m.MountPath] = dir
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				configMapDir = dir
			}
		}
	}
	require.NotEmpty(t, configMapDir, "a ConfigMap volume holds the script and the run file")
	script, err := os.ReadFile(shardScript)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(configMapDir, "locallm-shard.sh"), script, 0o644))
	inPod := func(s string) string { // a path in the pod → the directory here
		for mp, dir := range mounts {
			if s == mp || strings.HasPrefix(s, mp+"/") {
				return dir + strings.TrimPrefix(s, mp)
			}
		}
		return s
	}
	argv := append(append([]string(nil), ctr.Command...), ctr.Args...)
	for i, a := range argv {
		argv[i] = inPod(a)
	}
	require.Contains(t, argv, filepath.Join(configMapDir, "locallm-shard.sh"), "the container runs the shard script: %q", argv)
	env := []string{"PATH=" + locallmOnPath(t)}
	shards := 0
	for _, e := range ctr.Env {
		v := inPod(e.Value)
		if e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil {
			v = "1" // the kubelet gives the pod's CPUs; one here
		}
		if e.Name == "LOCALLM_SHARDS" {
			shards = atoi(v)
		}
		env = append(env, e.Name+"="+v)
	}
	require.Equal(t, job.Spec.Completions, shards, "LOCALLM_SHARDS is the Job's completions")
	require.LessOrEqual(t, job.Spec.Parallelism, job.Spec.Completions)

	// The run file the manifest names, its paths those of the data volume.
	dataDir := inPod("/data")
	model := filepath.Join(dataDir, "model.gguf")
	require.NoError(t, tinyllama.Write(model, tinyllama.Config{}))
	in := filepath.Join(dataDir, "prompts.jsonl")
	writeLines(t, in, promptRows(40)...)
	writeRunFile(t, filepath.Join(configMapDir, "job.yaml"), model, in, 12)

	runIndex := func(i int) {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), append(env, "JOB_COMPLETION_INDEX="+strconv.Itoa(i))...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "index %d: %s", i, out)
	}
	for i := range shards {
		runIndex(i)
	}
	runIndex(shards / 2) // a pod restarted after it finished: nothing runs twice
	outs, _ := filepath.Glob(filepath.Join(inPod("/data/out"), "shard-*.jsonl"))
	require.Len(t, outs, shards)
	merged := filepath.Join(root, "merged.jsonl")
	code, _, e := cli(t, append([]string{"merge", "-o", merged, "--input", in}, outs...)...)
	require.Equal(t, 0, code, e)

	sameAsOneProcess(t, filepath.Join(configMapDir, "job.yaml"), merged, 40)
}

// The README shows deploy/'s files by their paths: each path it names is
// there.
func TestREADMENamesDeployFiles(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	paths := regexp.MustCompile(`deploy/[A-Za-z0-9_./-]*[A-Za-z0-9_]`).FindAllString(string(readme), -1)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		assert.FileExists(t, filepath.Join("..", "..", p), "the README names %s", p)
	}
	assert.Contains(t, string(readme), "deploy/locallm-shard.sh")
	assert.Contains(t, string(readme), "deploy/kubernetes/job.yaml")
}
