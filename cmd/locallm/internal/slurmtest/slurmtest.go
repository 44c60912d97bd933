// Package slurmtest starts a one-node Slurm cluster for a test: munged,
// slurmctld and slurmd, every file under a temporary directory, on free
// ports, so that a test can submit real batch jobs (sbatch), requeue them
// (scontrol requeue) and wait for them, on a machine where nothing else
// about Slurm is set up.
//
// It needs Debian's slurm-wlm and munge packages (the daemons and the
// client commands on PATH; .ci/run installs them) and root, or at least a
// user that slurmd may run jobs as: the daemons run as the current user
// (SlurmUser and SlurmdUser), and the jobs as the submitting one. Start
// skips the test, saying what to install, when a program is missing.
//
// What a container needs, found by setting Slurm up by hand in this
// project's CI container (gVisor, no systemd, no cgroups): the daemons run
// in the foreground (-D), started by the test, not by an init system;
// process tracking by the parent-process tree (proctrack/linuxproc) and no
// task plugin (task/none), since cgroup plugins need a cgroup file system;
// no accounting daemon (accounting_storage/none: sacct does not work, job
// states come from scontrol while slurmctld remembers them, MinJobAge); a
// munge key and socket of the cluster's own (AuthInfo=socket=...), so that
// no system munged is needed; and a short credential lifetime
// (cred_expire=5), which is also how long a requeued job waits before it
// may start again (120 s by default).
//
// A Cluster's daemons are stopped by the test's cleanup, jobs first, even
// when the test fails; they are also killed if the test process dies
// (Pdeathsig).
package slurmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Programs are what a cluster needs on PATH.
var Programs = []string{"munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo"}

// Missing lists the Programs that are not on PATH.
func Missing() []string {
	var missing []string
	for _, p := range Programs {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	return missing
}

// Cluster is a running one-node cluster.
type Cluster struct {
	// Dir holds the configuration, the munge key and socket, the state,
	// spool and log directories.
	Dir string
	// Conf is the slurm.conf path; the client commands find it through
	// SLURM_CONF, which Env sets.
	Conf string
	// Partition is the only partition, the default.
	Partition string
	// CPUs is the node's CPU count.
	CPUs int

	t       testing.TB
	daemons []*exec.Cmd
}

// Start starts a cluster that the test's cleanup stops. It skips the test
// when a program is missing and fails it when the cluster does not come up.
func Start(t testing.TB) *Cluster {
	t.Helper()
	if m := Missing(); len(m) > 0 {
		t.Skipf("Slurm is not installed (missing %s): apt-get install slurm-wlm munge (.ci/run does)", strings.Join(m, ", "))
	}
	// A short directory: the munge socket's path must fit a sockaddr_un.
	dir, err := os.MkdirTemp("", "slurmtest-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Dir: dir, Conf: filepath.Join(dir, "slurm.conf"), Partition: "test", CPUs: runtime.NumCPU(), t: t}
	t.Cleanup(func() {
		start := time.Now()
		c.stop()
		t.Logf("slurmtest: cluster stopped in %v", time.Since(start).Round(time.Millisecond))
		if t.Failed() {
			c.logTail()
		}
		os.RemoveAll(dir)
	})
	start := time.Now()
	if err := c.start(); err != nil {
		c.logTail()
		t.Fatalf("slurmtest: starting the cluster: %v", err)
	}
	t.Logf("slurmtest: cluster up in %v (%s)", time.Since(start).Round(time.Millisecond), dir)
	return c
}

func (c *Cluster) start() error {
	for _, d := range []string{"munge", "state", "spool", "log", "tmp"} {
		if err := os.MkdirAll(filepath.Join(c.Dir, d), 0o755); err != nil {
			return err
		}
	}
	key := make([]byte, 1024)
	f, err := os.Open("/dev/urandom")
	if err != nil {
		return err
	}
	_, err = f.Read(key)
	f.Close()
	if err != nil {
		return err
	}
	keyPath := filepath.Join(c.Dir, "munge", "munge.key")
	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		return err
	}
	socket := filepath.Join(c.Dir, "munge", "munge.socket")
	if err := c.daemon("munged", "-F", "--force", "--key-file="+keyPath, "--socket="+socket,
		"--pid-file="+filepath.Join(c.Dir, "munge", "munged.pid"),
		"--log-file="+filepath.Join(c.Dir, "log", "munged.log"),
		"--seed-file="+filepath.Join(c.Dir, "munge", "munged.seed")); err != nil {
		return err
	}
	if err := waitFor(10*time.Second, func() error { _, err := os.Stat(socket); return err }); err != nil {
		return fmt.Errorf("munged did not create its socket: %w", err)
	}
	conf, node, err := c.config(socket)
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.Conf, []byte(conf), 0o644); err != nil {
		return err
	}
	if err := c.daemon("slurmctld", "-D", "-i", "-f", c.Conf); err != nil {
		return err
	}
	if err := c.daemon("slurmd", "-D", "-N", node, "-f", c.Conf); err != nil {
		return err
	}
	// Ready when the node is idle: slurmd registered and slurmctld
	// accepts jobs.
	return waitFor(60*time.Second, func() error {
		out, err := c.Output("sinfo", "-h", "-o", "%T")
		if err != nil {
			return err
		}
		if s := strings.TrimSpace(out); s != "idle" {
			return fmt.Errorf("node state %q", s)
		}
		return nil
	})
}

// config returns slurm.conf and the node's name.
func (c *Cluster) config(socket string) (string, string, error) {
	u, err := user.Current()
	if err != nil {
		return "", "", err
	}
	ctldPort, err := freePort()
	if err != nil {
		return "", "", err
	}
	dPort, err := freePort()
	if err != nil {
		return "", "", err
	}
	host, err := os.Hostname()
	if err != nil {
		return "", "", err
	}
	host, _, _ = strings.Cut(host, ".")
	d := c.Dir
	conf := fmt.Sprintf(`# A one-node test cluster written by slurmtest.
ClusterName=locallmtest
SlurmctldHost=%[1]s(127.0.0.1)
SlurmUser=%[2]s
SlurmdUser=%[2]s
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=%[3]s,cred_expire=5
SlurmctldPort=%[4]d
SlurmdPort=%[5]d
StateSaveLocation=%[6]s/state
SlurmdSpoolDir=%[6]s/spool
TmpFS=%[6]s/tmp
SlurmctldPidFile=%[6]s/slurmctld.pid
SlurmdPidFile=%[6]s/slurmd.pid
SlurmctldLogFile=%[6]s/log/slurmctld.log
SlurmdLogFile=%[6]s/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=3600
KillWait=5
Waittime=0
NodeName=%[1]s NodeAddr=127.0.0.1 CPUs=%[7]d RealMemory=1000 State=UNKNOWN
PartitionName=%[8]s Nodes=%[1]s Default=YES MaxTime=INFINITE State=UP
`, host, u.Username, socket, ctldPort, dPort, d, c.CPUs, c.Partition)
	return conf, host, nil
}

// freePort returns a TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// daemon starts a daemon in the foreground, its output in log/NAME.out.
func (c *Cluster) daemon(name string, args ...string) error {
	out, err := os.Create(filepath.Join(c.Dir, "log", name+".out"))
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(name, args...)
	cmd.Env = c.Env()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	c.daemons = append(c.daemons, cmd)
	return nil
}

// Env is the environment for Slurm's client commands, and for jobs: this
// process's, without the SLURM_ variables of any job it runs in, with
// SLURM_CONF set and extra ("KEY=value") added.
func (c *Cluster) Env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLURM_") {
			env = append(env, kv)
		}
	}
	return append(append(env, "SLURM_CONF="+c.Conf), extra...)
}

// Command returns a Slurm client command for this cluster.
func (c *Cluster) Command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = c.Env()
	return cmd
}

// Output runs a client command and returns its stdout; its stderr is in
// the error.
func (c *Cluster) Output(name string, args ...string) (string, error) {
	return run(c.Command(name, args...))
}

func run(cmd *exec.Cmd) (string, error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.String(), fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(errb.String()))
		}
		return out.String(), nil
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("%s: timed out", strings.Join(cmd.Args, " "))
	}
}

// Submit runs sbatch --parsable with args in dir, with the cluster's
// environment plus env, and returns the job ID.
func (c *Cluster) Submit(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("sbatch", append([]string{"--parsable"}, args...)...)
	cmd.Dir = dir
	cmd.Env = c.Env(env...)
	out, err := run(cmd)
	if err != nil {
		return "", err
	}
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";")
	if _, err := strconv.Atoi(id); err != nil {
		return "", fmt.Errorf("sbatch printed %q, not a job ID", out)
	}
	return id, nil
}

// Task is one job, or one task of an array, as scontrol shows it.
type Task struct {
	JobID     string // the task's own job ID
	ArrayTask string // its index in the array; "" for a plain job
	State     string // PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, ...
	ExitCode  string // "0:0": status:signal
	Restarts  int    // times requeued
	Reason    string
}

// Finished reports whether the task will not run again.
func (t Task) Finished() bool {
	switch t.State {
	case "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED":
		return true
	}
	return false
}

// Tasks returns the tasks of a job (one for a plain job, one per array
// task, or one line for the array's pending tasks not yet split off, whose
// ArrayTask is a range such as "2-3").
func (c *Cluster) Tasks(jobID string) ([]Task, error) {
	out, err := c.Output("scontrol", "-o", "show", "job", jobID)
	if err != nil {
		return nil, err
	}
	var tasks []Task
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		f := fields(line)
		n, _ := strconv.Atoi(f["Restarts"])
		tasks = append(tasks, Task{
			JobID: f["JobId"], ArrayTask: f["ArrayTaskId"], State: f["JobState"],
			ExitCode: f["ExitCode"], Restarts: n, Reason: f["Reason"],
		})
	}
	return tasks, nil
}

// fields splits one line of scontrol -o into its Key=Value pairs. Values
// with spaces (Command=, WorkDir= of odd paths) are cut at the space; the
// keys used here have none.
func fields(line string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Fields(line) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			if _, dup := m[k]; !dup {
				m[k] = v
			}
		}
	}
	return m
}

// Wait polls until every task of the job has finished, or the timeout.
func (c *Cluster) Wait(jobID string, timeout time.Duration) ([]Task, error) {
	var tasks []Task
	err := waitFor(timeout, func() error {
		var err error
		if tasks, err = c.Tasks(jobID); err != nil {
			return err
		}
		for _, t := range tasks {
			if !t.Finished() {
				return fmt.Errorf("task %s_%s is %s (%s)", jobID, t.ArrayTask, t.State, t.Reason)
			}
		}
		return nil
	})
	return tasks, err
}

// Requeue requeues a job or an array task ("123_2"), which kills it if it
// runs. Slurm lets it start again once the credentials of its first run
// have expired: after the credential lifetime and a second (6 s here).
// Making it eligible sooner (scontrol update StartTime=now) races with
// slurmd, which refuses to launch a job whose credential it revoked.
func (c *Cluster) Requeue(id string) error {
	_, err := c.Output("scontrol", "requeue", id)
	return err
}

// stop cancels every job, waits for them to end, and stops the daemons:
// politely, then by force.
func (c *Cluster) stop() {
	if len(c.daemons) >= 3 {
		c.Output("scancel", "--partition="+c.Partition)
		waitFor(30*time.Second, func() error {
			out, err := c.Output("squeue", "-h", "-o", "%i")
			if err == nil && strings.TrimSpace(out) != "" {
				return errors.New("jobs left")
			}
			return nil
		})
		c.Output("scontrol", "shutdown")
	}
	// slurmctld and slurmd stop with scontrol shutdown; munged and any
	// daemon that did not are stopped by signals.
	for i := len(c.daemons) - 1; i >= 0; i-- {
		d := c.daemons[i]
		exited := make(chan struct{})
		go func() { d.Wait(); close(exited) }()
		grace := 10 * time.Second
		if i == 0 {
			grace = 0
		}
		select {
		case <-exited:
			continue
		case <-time.After(grace):
		}
		d.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			d.Process.Kill()
			<-exited
		}
	}
	c.daemons = nil
}

// logTail logs the end of the daemons' logs, for a failed test.
func (c *Cluster) logTail() {
	for _, name := range []string{"munged.out", "slurmctld.out", "slurmctld.log", "slurmd.out", "slurmd.log"} {
		data, err := os.ReadFile(filepath.Join(c.Dir, "log", name))
		if err != nil || len(data) == 0 {
			continue
		}
		c.t.Logf("%s (end):\n%s", name, Tail(data, 30))
	}
}

// Tail returns the last n lines of data.
func Tail(data []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// waitFor calls f until it returns nil or the timeout passes, and returns
// its last error then.
func waitFor(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %w", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
