package toolcall

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"strings"

	"github.com/locallm/locallm/llm"
)

// Markers that open a tool call in the formats Parse knows, anywhere in a
// text.
const (
	hermesOpen   = "<tool_call>"
	hermesClose  = "</tool_call>"
	mistralCalls = "[TOOL_CALLS]"
	mistralArgs  = "[ARGS]"
	pythonTag    = "<|python_tag|>"
	functionOpen = "<function="
	functionEnd  = "</function>"
)

// midMarkers open a call wherever they appear; leading ones only at the
// start of the text (after white space).
var (
	midMarkers   = []string{hermesOpen, mistralCalls, pythonTag, functionOpen}
	startMarkers = []string{"{", "[", "```", hermesOpen, mistralCalls, pythonTag, functionOpen}
)

// Parse finds the tool calls in a model's text and returns the rest of the
// text, trimmed, as content. Calls must name one of tools (any name when
// tools is empty); anything that does not parse as a call stays content.
// Each call gets a new ID (NewID) and type "function"; its arguments are
// compact JSON text of an object ("{}" when the model gave none).
func Parse(text string, tools []llm.Tool) (content string, calls []llm.ToolCall) {
	p := parser{tools: tools}
	rest := p.scan(text)
	if len(p.calls) == 0 {
		return text, nil
	}
	return strings.TrimSpace(rest), p.calls
}

type parser struct {
	tools []llm.Tool
	calls []llm.ToolCall
}

// scan extracts calls and returns the text that is not part of them.
func (p *parser) scan(text string) string {
	trimmed := strings.TrimSpace(text)
	if whole := p.whole(trimmed); whole {
		return ""
	}
	var content strings.Builder
	for {
		i, marker := firstMarker(text)
		if i < 0 {
			content.WriteString(text)
			return content.String()
		}
		before, after := text[:i], text[i+len(marker):]
		var rest string
		var ok bool
		switch marker {
		case hermesOpen:
			body, tail, _ := strings.Cut(after, hermesClose)
			ok, rest = p.jsonCalls(body), tail
		case functionOpen:
			rest, ok = p.functionTag(after)
		case mistralCalls:
			rest, ok = p.mistral(after)
		case pythonTag:
			ok, rest = p.jsonCalls(after), ""
		}
		if !ok {
			// Not a call after all: keep the marker as content and go on.
			content.WriteString(before + marker)
			text = after
			continue
		}
		content.WriteString(before)
		text = rest
	}
}

// whole reports whether the whole (trimmed) text is calls in JSON: an
// object, an array of them, or either in a ``` fence.
func (p *parser) whole(s string) bool {
	if strings.HasPrefix(s, "```") && strings.HasSuffix(s, "```") && len(s) >= 6 {
		s = strings.TrimSpace(s[3 : len(s)-3])
		s = strings.TrimPrefix(s, "json")
		s = strings.TrimSpace(s)
	}
	if s == "" || (s[0] != '{' && s[0] != '[') {
		return false
	}
	return p.jsonCalls(s)
}

// firstMarker returns the position and text of the first mid-text marker.
func firstMarker(s string) (int, string) {
	best, which := -1, ""
	for _, m := range midMarkers {
		if i := strings.Index(s, m); i >= 0 && (best < 0 || i < best) {
			best, which = i, m
		}
	}
	return best, which
}

// jsonCalls parses s as one call object or an array of them, adding them
// when every element is a call of an offered function.
func (p *parser) jsonCalls(s string) bool {
	s = strings.TrimSpace(s)
	var raws []json.RawMessage
	if strings.HasPrefix(s, "[") {
		if json.Unmarshal([]byte(s), &raws) != nil || len(raws) == 0 {
			return false
		}
	} else {
		raws = []json.RawMessage{json.RawMessage(s)}
	}
	var found []llm.ToolCall
	for _, r := range raws {
		c, ok := p.callObject(r)
		if !ok {
			return false
		}
		found = append(found, c)
	}
	p.calls = append(p.calls, found...)
	return true
}

// callObject reads one call: {"name", "arguments" | "parameters"}, with an
// optional "type": "function", or OpenAI's {"type", "function": {...}}.
func (p *parser) callObject(raw json.RawMessage) (llm.ToolCall, bool) {
	var obj struct {
		Type       string          `json:"type"`
		Name       string          `json:"name"`
		Arguments  json.RawMessage `json:"arguments"`
		Parameters json.RawMessage `json:"parameters"`
		Function   *struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		} `json:"function"`
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	if d.Decode(&obj) != nil || d.More() {
		return llm.ToolCall{}, false
	}
	if obj.Type != "" && obj.Type != "function" {
		return llm.ToolCall{}, false
	}
	name, args := obj.Name, obj.Arguments
	if len(args) == 0 {
		args = obj.Parameters
	}
	if obj.Function != nil && name == "" {
		name, args = obj.Function.Name, obj.Function.Arguments
	}
	return p.call(name, args)
}

// call checks a name and arguments and makes the call.
func (p *parser) call(name string, args json.RawMessage) (llm.ToolCall, bool) {
	if name == "" || (len(p.tools) > 0 && find(p.tools, name) < 0) {
		return llm.ToolCall{}, false
	}
	a, ok := arguments(args)
	if !ok {
		return llm.ToolCall{}, false
	}
	c := llm.ToolCall{ID: NewID(), Type: "function", Function: llm.FunctionCall{Name: name, Arguments: a}}
	if c.Validate() != nil {
		return llm.ToolCall{}, false
	}
	return c, true
}

// arguments returns args as compact JSON text of an object: absent or null
// is {}, a string holding an object is that object.
func arguments(args json.RawMessage) (string, bool) {
	args = bytes.TrimSpace(args)
	if len(args) == 0 || string(args) == "null" {
		return "{}", true
	}
	if args[0] == '"' {
		var s string
		if json.Unmarshal(args, &s) != nil {
			return "", false
		}
		args = bytes.TrimSpace([]byte(s))
	}
	if len(args) == 0 || args[0] != '{' {
		return "", false
	}
	var b bytes.Buffer
	if json.Compact(&b, args) != nil {
		return "", false
	}
	var m map[string]any
	if json.Unmarshal(b.Bytes(), &m) != nil {
		return "", false
	}
	return b.String(), true
}

// functionTag reads name>{...}</function> after "<function=".
func (p *parser) functionTag(s string) (rest string, ok bool) {
	name, body, found := strings.Cut(s, ">")
	if !found {
		return "", false
	}
	args, tail, _ := strings.Cut(body, functionEnd)
	c, ok := p.call(strings.TrimSpace(name), json.RawMessage(args))
	if !ok {
		return "", false
	}
	p.calls = append(p.calls, c)
	return tail, true
}

// mistral reads what follows [TOOL_CALLS]: a JSON array (or object) of
// calls, or one or more name[ARGS]{...}, each after its own [TOOL_CALLS].
func (p *parser) mistral(s string) (rest string, ok bool) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
		end := jsonEnd(t)
		if end < 0 || !p.jsonCalls(t[:end]) {
			return "", false
		}
		return t[end:], true
	}
	name, after, found := strings.Cut(t, mistralArgs)
	if !found {
		return "", false
	}
	end := jsonEnd(strings.TrimSpace(after))
	after = strings.TrimSpace(after)
	if end < 0 {
		return "", false
	}
	c, ok := p.call(strings.TrimSpace(name), json.RawMessage(after[:end]))
	if !ok {
		return "", false
	}
	p.calls = append(p.calls, c)
	return after[end:], true
}

// jsonEnd returns the length of the JSON value at the start of s, or -1.
func jsonEnd(s string) int {
	d := json.NewDecoder(strings.NewReader(s))
	var v json.RawMessage
	if d.Decode(&v) != nil {
		return -1
	}
	return int(d.InputOffset())
}

// NewID returns a new call ID: "call_" and 24 random letters and digits,
// as OpenAI's look.
func NewID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [24]byte
	rand.Read(b[:]) // never fails (crypto/rand panics instead)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "call_" + string(b[:])
}
