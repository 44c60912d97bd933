package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveProcess starts `locallm serve` on a free port and returns its base
// URL once it listens.
func serveProcess(t *testing.T, args ...string) (url string, pid int, wait func() (int, string)) {
	t.Helper()
	cmd := cliCommand(append([]string{"serve", "--model", tinyModel(t), "--threads", "1", "--port", "0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan string, 16)
	go func() {
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	listening := regexp.MustCompile(`listening on (http://\S+),`)
	var log strings.Builder
	deadline := time.After(30 * time.Second)
	for url == "" {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "serve exited: %s", log.String())
			log.WriteString(line + "\n")
			if m := listening.FindStringSubmatch(line); m != nil {
				url = m[1]
			}
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("serve did not listen: %s", log.String())
		}
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return url, cmd.Process.Pid, func() (int, string) {
		for line := range lines {
			log.WriteString(line + "\n")
		}
		cmd.Wait()
		return cmd.ProcessState.ExitCode(), log.String()
	}
}

func waitHealthy(t *testing.T, url string) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 30*time.Second; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "503 while loading, then 200")
		}
	}
	t.Fatal("serve never became healthy")
}

// TestServeSIGTERM: the real command serves, and on SIGTERM lets the
// request in flight finish, then exits 0.
func TestServeSIGTERM(t *testing.T) {
	url, pid, wait := serveProcess(t, "--api-key", "k")
	waitHealthy(t, url)
	post := func(body string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer k")
		return http.DefaultClient.Do(req)
	}
	resp, err := post(`{"messages":[{"role":"user","content":"Hi"}],"max_tokens":4}`)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	assert.Contains(t, string(b), `"model":"tinyllama"`)

	// A stream in flight when SIGTERM comes still ends with [DONE].
	resp, err = post(`{"messages":[{"role":"user","content":"Hi"}],"max_tokens":1000,"ignore_eos":true,"stream":true}`)
	require.NoError(t, err)
	r := bufio.NewReader(resp.Body)
	first, err := r.ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(first, "data: "), first)
	require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
	rest, _ := io.ReadAll(r)
	resp.Body.Close()
	assert.True(t, strings.HasSuffix(string(rest), "data: [DONE]\n\n"), "the stream finished: %q", tail(string(rest)))
	code, log := wait()
	assert.Equal(t, 0, code, log)
	assert.Contains(t, log, "shutting down")
}

// TestServeBadFlags: a bad command line is exit status 2.
func TestServeBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve"},
		{"serve", "--model", "x.gguf", "--port", "70000"},
		{"serve", "--model", "x.gguf", "--max-concurrent", "0"},
	} {
		var out strings.Builder
		assert.Equal(t, 2, run(args, &out, &out), "%v: %s", args, out.String())
	}
}

// TestRunServeCancel: runServe returns nil once its context ends.
func TestRunServeCancel(t *testing.T) {
	opts := (&modelFlags{model: tinyModel(t), threads: 1}).values()
	cfg := defaultServeConfig()
	cfg.port = 0
	addr := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, opts, cfg, func(a string) { addr <- a }) }()
	url := "http://" + <-addr
	waitHealthy(t, url)
	resp, err := http.Get(url + "/v1/models")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(b), `"id":"tinyllama"`)
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("runServe did not return")
	}
}

func tail(s string) string {
	if len(s) > 200 {
		return s[len(s)-200:]
	}
	return s
}
