package toolcall

import (
	"strings"

	"github.com/locallm/locallm/llm"
)

// Stream applies Parse to text that arrives in pieces. Write returns the
// content that can be shown at once: text that cannot be, or begin, a
// call. Text that may be a call is held back until Close, which parses it.
// The zero Stream is ready to use.
type Stream struct {
	text    strings.Builder
	emitted int  // bytes of text already returned as content
	held    bool // a call (or what may be one) has started at emitted
}

// Write adds a piece of text and returns the content it releases.
func (s *Stream) Write(piece string) string {
	s.text.WriteString(piece)
	if s.held {
		return ""
	}
	all := s.text.String()
	pending := all[s.emitted:]
	if s.emitted == 0 {
		// At the start (white space is never released alone), a bare
		// JSON call or a fence may begin.
		t := strings.TrimLeft(pending, " \t\r\n")
		if t == "" {
			return ""
		}
		for _, m := range startMarkers {
			if strings.HasPrefix(t, m) {
				s.held = true
				return ""
			}
			if strings.HasPrefix(m, t) {
				return "" // may still become the marker
			}
		}
	}
	if i, _ := firstMarker(pending); i >= 0 {
		s.held = true
		s.emitted += i
		return pending[:i]
	}
	keep := 0
	for _, m := range midMarkers {
		keep = max(keep, partialSuffix(pending, m))
	}
	out := pending[:len(pending)-keep]
	s.emitted += len(out)
	return out
}

// partialSuffix is the length of the longest proper prefix of marker that
// ends s.
func partialSuffix(s, marker string) int {
	for n := min(len(marker)-1, len(s)); n > 0; n-- {
		if strings.HasSuffix(s, marker[:n]) {
			return n
		}
	}
	return 0
}

// Close parses the text held back and returns its content (text Write did
// not release that is not part of a call) and the calls, as Parse does.
func (s *Stream) Close(tools []llm.Tool) (content string, calls []llm.ToolCall) {
	all := s.text.String()
	rest := all[s.emitted:]
	s.emitted = len(all)
	c, calls := Parse(rest, tools)
	if len(calls) == 0 {
		return rest, nil
	}
	return c, calls
}

// Text returns all the text written so far.
func (s *Stream) Text() string { return s.text.String() }
