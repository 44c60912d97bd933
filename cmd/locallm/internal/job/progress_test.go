package job

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a clock the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestProgressLines(t *testing.T) {
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	p := &Progress{mode: progressOff, now: clock.now}
	p.Begin(500, 100, 2) // 100 done and 2 bad before this run
	assert.Equal(t, "locallm: 102/500 rows (20.4%), 2 failed, 0.0 tokens/s, elapsed 0s, ETA ?", p.plainLine())

	clock.t = clock.t.Add(62 * time.Second)
	p.AddDone(98)
	p.AddTokens(6200)
	assert.Equal(t, "locallm: 200/500 rows (40.0%), 2 failed, 100.0 tokens/s, elapsed 1m02s, ETA 3m10s", p.plainLine())
	assert.Equal(t, "[####################..............................] 200/500  40% 100 tok/s ETA 3m10s (2 failed)", p.barLine(120))
	assert.Equal(t, "[###########.................] 200/500  40% 100 tok/s ETA 3m10s (2 failed)", p.barLine(75))
	assert.Equal(t, "200/500  40% 100 tok/s ETA 3m10s (2 failed)", p.barLine(40), "too narrow for a bar")

	p.AddDone(300)
	assert.Equal(t, "locallm: 500/500 rows (100.0%), 2 failed, 100.0 tokens/s, elapsed 1m02s, ETA 0s", p.plainLine())
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 1400 * time.Millisecond: "1s", 59 * time.Second: "59s", 61 * time.Second: "1m01s",
		3599 * time.Second: "59m59s", 2*time.Hour + 7*time.Minute + 30*time.Second: "2h07m",
	} {
		assert.Equal(t, want, shortDuration(d), "%v", d)
	}
}

// In a pipe (any writer that is not a terminal) progress is plain lines,
// one per interval and a last one at the end.
func TestProgressPlainInAPipe(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	var out syncWriter
	out.w = new(bytes.Buffer)
	copied := make(chan struct{})
	go func() {
		io.Copy(&out, r)
		close(copied)
	}()
	text := func() string {
		out.mu.Lock()
		defer out.mu.Unlock()
		return out.w.String()
	}
	p := NewProgress(w, false)
	require.Equal(t, progressPlain, p.mode)
	p.every = 20 * time.Millisecond
	p.Begin(10, 0, 0)
	p.AddDone(4)
	p.AddTokens(40)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(text(), "\n") && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond) // until the first periodic line
	}
	p.AddDone(6)
	p.End()
	p.End() // a second end does nothing
	w.Close()
	<-copied
	lines := strings.Split(strings.TrimSuffix(text(), "\n"), "\n")
	require.GreaterOrEqual(t, len(lines), 2, "%q", text())
	re := regexp.MustCompile(`^locallm: \d+/10 rows \(\d+\.\d%\), \d+\.\d tokens/s, elapsed \d+s, ETA (\d+s|\?)$`)
	for _, l := range lines {
		assert.Regexp(t, re, l)
	}
	assert.NotContains(t, text(), "\r", "no carriage returns in a pipe")
	assert.True(t, strings.HasPrefix(lines[len(lines)-1], "locallm: 10/10 rows (100.0%)"), lines[len(lines)-1])

	q := NewProgress(w, true)
	assert.Equal(t, progressOff, q.mode, "--quiet")
}

func TestProgressBarRedraws(t *testing.T) {
	var b bytes.Buffer
	p := &Progress{w: &b, mode: progressBar, every: 20 * time.Millisecond, now: time.Now, width: func() int { return 80 }}
	p.Begin(4, 0, 0)
	p.AddDone(2)
	time.Sleep(60 * time.Millisecond)
	p.AddDone(2)
	p.End()
	s := b.String()
	assert.True(t, strings.HasPrefix(s, "\r["), "%q", s)
	assert.True(t, strings.HasSuffix(s, "4/4 100% 0 tok/s ETA 0s\x1b[K\n"), "%q", s)
	assert.Equal(t, 1, strings.Count(s, "\n"), "one newline, at the end")
	for _, frame := range strings.Split(strings.TrimSuffix(s, "\n"), "\r")[1:] {
		assert.LessOrEqual(t, len(strings.TrimSuffix(frame, "\x1b[K")), 79)
	}
}
