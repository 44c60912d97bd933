package job

import (
	"bufio"
	"bytes"
	"io"
)

// LineReader reads a file line by line, however long the lines, numbering
// them from 1.
type LineReader struct {
	r *bufio.Reader
	// Line is the number of the line Next returned last.
	Line int
}

// NewLineReader reads r.
func NewLineReader(r io.Reader) *LineReader { return &LineReader{r: bufio.NewReaderSize(r, 1<<20)} }

// Next returns the next line without its newline. A last line without a
// newline is returned too; io.EOF follows. The slice is the caller's.
func (lr *LineReader) Next() ([]byte, error) {
	b, err := lr.r.ReadBytes('\n')
	if len(b) == 0 && err != nil {
		return nil, err
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	lr.Line++
	return bytes.TrimRight(b, "\r\n"), nil
}

// IsBlank reports whether a line holds only white space.
func IsBlank(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }
