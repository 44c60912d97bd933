package slurmtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A job runs, and a requeued array task runs again, its second run
// knowing it was restarted.
func TestSlurmClusterRunsAndRequeues(t *testing.T) {
	c := Start(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "job.sh")
	if err := os.WriteFile(script, []byte(`#!/bin/sh
#SBATCH --output=log-%a.txt
#SBATCH --open-mode=append
#SBATCH --requeue
echo "task $SLURM_ARRAY_TASK_ID run ${SLURM_RESTART_COUNT:-0} $GREETING"
if [ "${SLURM_RESTART_COUNT:-0}" = 0 ] && [ "$SLURM_ARRAY_TASK_ID" = 1 ]; then
	touch started-1
	sleep 60
fi
`), 0o755); err != nil {
		t.Fatal(err)
	}
	id, err := c.Submit(dir, []string{"GREETING=hello"}, "--array=0-1", script)
	if err != nil {
		t.Fatal(err)
	}
	if err := waitFor(60*time.Second, func() error { _, err := os.Stat(filepath.Join(dir, "started-1")); return err }); err != nil {
		t.Fatal(err)
	}
	if err := c.Requeue(id + "_1"); err != nil {
		t.Fatal(err)
	}
	tasks, err := c.Wait(id, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	restarts := map[string]int{}
	for _, task := range tasks {
		if task.State != "COMPLETED" || task.ExitCode != "0:0" {
			t.Errorf("task %s: %s, exit %s", task.ArrayTask, task.State, task.ExitCode)
		}
		restarts[task.ArrayTask] = task.Restarts
	}
	if restarts["0"] != 0 || restarts["1"] != 1 {
		t.Errorf("restarts %v, want task 1 requeued once", restarts)
	}
	log1, err := os.ReadFile(filepath.Join(dir, "log-1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"task 1 run 0 hello", "task 1 run 1 hello"} {
		if !strings.Contains(string(log1), want) {
			t.Errorf("log of task 1 lacks %q:\n%s", want, log1)
		}
	}
}
