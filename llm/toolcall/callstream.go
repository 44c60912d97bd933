package toolcall

import (
	"encoding/json"
	"strings"
)

// CallStream follows the text of a forced call, the object
// {"name": ..., "arguments": {...}} that Schema's grammar makes, as it
// arrives in pieces, so that a server can stream the call: Write reports
// the function's name once its string is closed, and the arguments as
// they come, written compactly (white space outside strings left out), so
// that the pieces joined are the Arguments that Parse gives for the whole
// text. Arguments that arrive before the name are held until it is known.
// Arguments that are not an object are not streamed (Parse normalises
// them). The zero CallStream is ready to use.
type CallStream struct {
	depth  int  // nesting of objects and arrays
	inStr  bool // inside a string
	esc    bool // after a backslash inside a string
	isKey  bool // the string being read at depth 1 is a key
	value  bool // at depth 1, after a key's colon, before its value ends
	key    string
	buf    strings.Builder // the key or the name string being read (raw)
	inName bool            // reading the name's string
	args   bool            // inside the arguments object
	named  bool            // the name was reported
	held   strings.Builder // arguments read before the name
}

// Write adds a piece of the call's text. name is the function's name the
// first time it is complete, and "" otherwise; args is the next part of
// the arguments' compact text, "" if none.
func (s *CallStream) Write(piece string) (name, args string) {
	var out strings.Builder
	for i := 0; i < len(piece); i++ {
		c := piece[i]
		if s.args {
			s.argsByte(c, &out)
			continue
		}
		if s.inStr {
			if s.strByte(c) {
				if s.depth == 1 && s.isKey {
					s.key = decodeString(s.buf.String())
				} else if s.inName {
					s.inName = false
					if !s.named {
						name, s.named = decodeString(s.buf.String()), true
					}
				}
				continue
			}
			if s.depth == 1 {
				s.buf.WriteByte(c)
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
		case '"':
			s.inStr, s.esc = true, false
			s.buf.Reset()
			if s.depth == 1 {
				s.isKey = !s.value
				s.inName = s.value && s.key == "name"
			}
		case ':':
			if s.depth == 1 {
				s.value = true
			}
		case ',':
			if s.depth == 1 {
				s.value = false
			}
		case '{', '[':
			if s.depth == 1 && s.value && s.key == "arguments" && c == '{' {
				s.args = true
				s.depth++
				out.WriteByte(c)
				continue
			}
			s.depth++
		case '}', ']':
			s.depth--
		}
	}
	args = out.String()
	if !s.named {
		s.held.WriteString(args)
		return "", ""
	}
	if name != "" && s.held.Len() > 0 {
		args = s.held.String() + args
		s.held.Reset()
	}
	return name, args
}

// strByte takes one byte inside a string and reports whether it closed
// the string.
func (s *CallStream) strByte(c byte) (closed bool) {
	switch {
	case s.esc:
		s.esc = false
	case c == '\\':
		s.esc = true
	case c == '"':
		s.inStr = false
		return true
	}
	return false
}

// argsByte takes one byte inside the arguments object.
func (s *CallStream) argsByte(c byte, out *strings.Builder) {
	if s.inStr {
		s.strByte(c)
		out.WriteByte(c)
		return
	}
	switch c {
	case ' ', '\t', '\r', '\n':
		return
	case '"':
		s.inStr, s.esc = true, false
	case '{', '[':
		s.depth++
	case '}', ']':
		s.depth--
		if s.depth == 1 {
			s.args = false
		}
	}
	out.WriteByte(c)
}

// decodeString decodes the body of a JSON string; a body that does not
// decode is kept as it is.
func decodeString(raw string) string {
	var v string
	if json.Unmarshal([]byte(`"`+raw+`"`), &v) != nil {
		return raw
	}
	return v
}
