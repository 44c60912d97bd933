package toolcall

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/locallm/locallm/llm"
)

// Schema returns the JSON Schema of the object a forced call writes,
//
//	{"name": NAME, "arguments": ARGUMENTS}
//
// with "name" first. For Function it is the named function's call; for
// Required, an anyOf over every tool's. Each function's parameters are
// moved to "$defs" (as "args0", "args1", ... in tool order) and their local
// references ("#" and "#/...") rewritten to point there; a "$schema" at the
// top of the parameters is dropped. A function without parameters takes
// the empty object.
//
// Auto and None force nothing and give an error, as do tools that fail
// llm.Tool.Validate and a Function choice naming no tool.
func Schema(tools []llm.Tool, c Choice) ([]byte, error) {
	if !c.Forced() {
		return nil, fmt.Errorf("%w: %v forces no call, so there is no schema", ErrChoice, c.Mode)
	}
	if err := c.Check(tools); err != nil {
		return nil, err
	}
	for i, t := range tools {
		if err := t.Validate(); err != nil {
			return nil, fmt.Errorf("toolcall: tool %d: %w", i, err)
		}
	}
	var b bytes.Buffer
	var calls []int
	if c.Mode == Function {
		calls = []int{find(tools, c.Name)}
	} else {
		for i := range tools {
			calls = append(calls, i)
		}
	}
	if len(calls) == 1 {
		b.WriteString(`{`)
		writeCall(&b, tools[calls[0]].Function.Name, calls[0])
		b.WriteString(`,`)
	} else {
		b.WriteString(`{"anyOf":[`)
		for k, i := range calls {
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('{')
			writeCall(&b, tools[i].Function.Name, i)
			b.WriteByte('}')
		}
		b.WriteString(`],`)
	}
	b.WriteString(`"$defs":{`)
	for k, i := range calls {
		if k > 0 {
			b.WriteByte(',')
		}
		name := defName(i)
		b.WriteString(strconv.Quote(name) + ":")
		params := tools[i].Function.Parameters
		if len(bytes.TrimSpace(params)) == 0 {
			b.WriteString(`{"type":"object","properties":{},"additionalProperties":false}`)
			continue
		}
		moved, err := rebase(params, "#/$defs/"+name)
		if err != nil {
			return nil, fmt.Errorf("toolcall: tool %d (%s) parameters: %w", i, tools[i].Function.Name, err)
		}
		b.Write(moved)
	}
	b.WriteString(`}}`)
	return b.Bytes(), nil
}

// writeCall writes the properties of one call's object, without braces.
func writeCall(b *bytes.Buffer, name string, i int) {
	n, _ := json.Marshal(name)
	fmt.Fprintf(b, `"type":"object","properties":{"name":{"const":%s},"arguments":{"$ref":"#/$defs/%s"}},"required":["name","arguments"],"additionalProperties":false`, n, defName(i))
}

func defName(i int) string { return "args" + strconv.Itoa(i) }

// Structured returns the structured output that constrains a forced call:
// Schema's schema, strict (every output the grammar admits is valid).
// closing is StructuredOutput.ClosingTokens: how many tokens may be
// appended to close a call that the token budget cut.
func Structured(tools []llm.Tool, c Choice, closing int) (*llm.StructuredOutput, error) {
	s, err := Schema(tools, c)
	if err != nil {
		return nil, err
	}
	return &llm.StructuredOutput{Schema: json.RawMessage(s), ClosingTokens: closing}, nil
}

// rebase copies a schema, keeping the order of its keys, with every local
// "$ref" ("#" or "#/...") moved under base, and a top-level "$schema"
// dropped.
func rebase(schema []byte, base string) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(schema))
	d.UseNumber()
	var out bytes.Buffer
	w := rebaser{d: d, out: &out, base: base}
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	if err := w.object(true); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err == nil {
		return nil, fmt.Errorf("data after the schema")
	}
	return out.Bytes(), nil
}

type rebaser struct {
	d    *json.Decoder
	out  *bytes.Buffer
	base string
}

// object copies an object whose '{' was read.
func (w *rebaser) object(top bool) error {
	w.out.WriteByte('{')
	first := true
	for w.d.More() {
		tok, err := w.d.Token()
		if err != nil {
			return err
		}
		key := tok.(string) // json.Decoder yields object keys as strings
		if top && key == "$schema" {
			if err := w.value(false, true); err != nil {
				return err
			}
			continue
		}
		if !first {
			w.out.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(key)
		w.out.Write(k)
		w.out.WriteByte(':')
		if err := w.value(key == "$ref", false); err != nil {
			return err
		}
	}
	_, err := w.d.Token() // '}'
	w.out.WriteByte('}')
	return err
}

// value copies (or, with skip, reads past) one value; ref says that a
// string value is a reference to rebase.
func (w *rebaser) value(ref, skip bool) error {
	out := w.out
	if skip {
		out = &bytes.Buffer{}
	}
	saved := w.out
	w.out = out
	defer func() { w.out = saved }()
	tok, err := w.d.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return w.object(false)
		}
		out.WriteByte('[')
		for i := 0; w.d.More(); i++ {
			if i > 0 {
				out.WriteByte(',')
			}
			if err := w.value(false, false); err != nil {
				return err
			}
		}
		_, err := w.d.Token() // ']'
		out.WriteByte(']')
		return err
	case string:
		if ref && (t == "#" || strings.HasPrefix(t, "#/")) {
			t = w.base + t[1:]
		}
		s, _ := json.Marshal(t)
		out.Write(s)
	case json.Number:
		out.WriteString(t.String())
	case bool:
		out.WriteString(strconv.FormatBool(t))
	case nil:
		out.WriteString("null")
	}
	return nil
}
