//go:build linux

package job

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the controlling side, read by the
// test, and the terminal, which the progress writes to.
func openPTY(t *testing.T) (control, tty *os.File) {
	t.Helper()
	control, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(control.Fd())
	require.NoError(t, unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	require.NoError(t, err)
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	require.NoError(t, unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 60}))
	t.Cleanup(func() { tty.Close(); control.Close() })
	return control, tty
}

// On a terminal the progress is a bar redrawn in place, as wide as the
// terminal.
func TestProgressBarOnAPseudoTerminal(t *testing.T) {
	control, tty := openPTY(t)
	p := NewProgress(tty, false)
	require.Equal(t, progressBar, p.mode)
	assert.Equal(t, 60, p.width())
	p.every = 10 * time.Millisecond
	p.Begin(8, 0, 0)
	p.AddDone(3)
	p.draw(false) // as the ticker does
	time.Sleep(30 * time.Millisecond)
	p.AddDone(5)
	p.End()

	var got bytes.Buffer
	buf := make([]byte, 4096)
	control.SetReadDeadline(time.Now().Add(2 * time.Second))
	for !strings.Contains(got.String(), "\n") {
		n, err := control.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
	}
	s := got.String()
	assert.True(t, strings.HasPrefix(s, "\r["), "%q", s)
	assert.Contains(t, s, "3/8")
	assert.Contains(t, s, "8/8 100%")
	for _, frame := range strings.Split(strings.TrimRight(s, "\r\n"), "\r") {
		assert.LessOrEqual(t, len(strings.TrimSuffix(frame, "\x1b[K")), 59, "%q", frame)
	}
}
