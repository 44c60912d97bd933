package job

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// progressMode says how progress is shown.
type progressMode int

const (
	progressOff   progressMode = iota // --quiet
	progressPlain                     // a line every few seconds, for pipes and logs
	progressBar                       // a bar redrawn in place, for terminals
)

// Redraw intervals of the two modes.
const (
	plainEvery = 5 * time.Second
	barEvery   = 200 * time.Millisecond
)

// Progress reports a job's progress on stderr: rows processed out of the
// total, tokens per second and the time left. Its counters are safe for
// concurrent use; Begin and End are called by one goroutine. A nil
// *Progress shows nothing.
type Progress struct {
	w     io.Writer
	mode  progressMode
	every time.Duration
	width func() int // terminal columns, for the bar
	now   func() time.Time

	total, initial    int // rows in all; rows processed before this run
	start             time.Time
	done, failed, tok atomic.Int64

	mu      sync.Mutex // serialises drawing
	stop    chan struct{}
	stopped chan struct{}
}

// NewProgress returns the progress written to w (stderr): a bar if w is a
// terminal, plain lines otherwise, nothing if quiet.
func NewProgress(w io.Writer, quiet bool) *Progress {
	p := &Progress{w: w, mode: progressPlain, every: plainEvery, now: time.Now, width: func() int { return 80 }}
	switch {
	case quiet:
		p.mode = progressOff
	case isTerminal(w):
		f := w.(*os.File)
		p.mode, p.every = progressBar, barEvery
		p.width = func() int {
			if c, _, err := term.GetSize(int(f.Fd())); err == nil && c > 0 {
				return c
			}
			return 80
		}
	}
	return p
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Begin starts the clock and the periodic drawing. total is every row of
// the job (or shard); done and failed are those already finished or bad
// before any work, which the rates leave out.
func (p *Progress) Begin(total, done, failed int) {
	if p == nil {
		return
	}
	p.total, p.initial = total, done+failed
	p.done.Store(int64(done))
	p.failed.Store(int64(failed))
	p.start = p.now()
	if p.mode == progressOff {
		return
	}
	p.stop, p.stopped = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.stopped)
		t := time.NewTicker(p.every)
		defer t.Stop()
		if p.mode == progressBar {
			p.draw(false)
		}
		for {
			select {
			case <-t.C:
				p.draw(false)
			case <-p.stop:
				return
			}
		}
	}()
}

// End stops the drawing and writes the final state: the bar's last frame
// ended by a newline, or a last plain line. It may be called more than once.
func (p *Progress) End() {
	if p == nil || p.stop == nil {
		return
	}
	close(p.stop)
	<-p.stopped
	p.stop = nil
	p.draw(true)
}

// AddDone counts n more rows finished.
func (p *Progress) AddDone(n int) {
	if p != nil {
		p.done.Add(int64(n))
	}
}

// AddFailed counts n more rows failed.
func (p *Progress) AddFailed(n int) {
	if p != nil {
		p.failed.Add(int64(n))
	}
}

// AddTokens counts n more tokens (generated, or evaluated); n may be
// negative, to take back tokens of a row that failed.
func (p *Progress) AddTokens(n int64) {
	if p != nil {
		p.tok.Add(n)
	}
}

func (p *Progress) draw(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.mode {
	case progressPlain:
		fmt.Fprintln(p.w, p.plainLine())
	case progressBar:
		end := "\x1b[K" // clear what a longer earlier frame left
		if final {
			end += "\n"
		}
		fmt.Fprint(p.w, "\r"+p.barLine(p.width())+end)
	}
}

// stats are the figures both formats show.
type progressStats struct {
	processed, failed int
	percent           float64
	tokensPerSec      float64
	elapsed, eta      time.Duration
	etaKnown          bool
}

func (p *Progress) stats() progressStats {
	done, failed := int(p.done.Load()), int(p.failed.Load())
	s := progressStats{processed: done + failed, failed: failed, elapsed: p.now().Sub(p.start)}
	if p.total > 0 {
		s.percent = 100 * float64(s.processed) / float64(p.total)
	}
	if sec := s.elapsed.Seconds(); sec > 0 {
		s.tokensPerSec = float64(max(p.tok.Load(), 0)) / sec
		if ran := s.processed - p.initial; ran > 0 {
			left := p.total - s.processed
			s.eta = time.Duration(float64(left) / float64(ran) * float64(s.elapsed))
			s.etaKnown = true
		}
	}
	return s
}

// plainLine is the periodic line for pipes and logs, for example
//
//	locallm: 120/500 rows (24.0%), 2 failed, 345.2 tokens/s, elapsed 1m02s, ETA 3m16s
func (p *Progress) plainLine() string {
	s := p.stats()
	var b strings.Builder
	fmt.Fprintf(&b, "locallm: %d/%d rows (%.1f%%)", s.processed, p.total, s.percent)
	if s.failed > 0 {
		fmt.Fprintf(&b, ", %d failed", s.failed)
	}
	fmt.Fprintf(&b, ", %.1f tokens/s, elapsed %s, ETA %s", s.tokensPerSec, shortDuration(s.elapsed), p.etaText(s))
	return b.String()
}

func (p *Progress) etaText(s progressStats) string {
	switch {
	case s.processed >= p.total:
		return "0s"
	case !s.etaKnown:
		return "?"
	}
	return shortDuration(s.eta)
}

// barLine is the terminal bar, fitted to width columns, for example
//
//	[#########.........................]  120/500  24%  345 tok/s  ETA 3m16s
func (p *Progress) barLine(width int) string {
	s := p.stats()
	tail := fmt.Sprintf(" %d/%d %3.0f%% %.0f tok/s ETA %s", s.processed, p.total, s.percent, s.tokensPerSec, p.etaText(s))
	if s.failed > 0 {
		tail += fmt.Sprintf(" (%d failed)", s.failed)
	}
	// Leave the last column free: some terminals wrap when it is written.
	n := width - 1 - len(tail) - 2
	if n < 10 {
		return strings.TrimSpace(tail)
	}
	n = min(n, 50)
	fill := 0
	if p.total > 0 {
		fill = min(n, n*s.processed/p.total)
	}
	return "[" + strings.Repeat("#", fill) + strings.Repeat(".", n-fill) + "]" + tail
}

// shortDuration prints d to the second, as 42s, 3m05s or 2h07m.
func shortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}
