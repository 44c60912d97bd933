package chattemplate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"

	"github.com/ardanlabs/jinja"

	"github.com/locallm/locallm/llm"
)

// variables builds the template's variables from the input, as
// transformers' apply_chat_template passes them.
func (in *Input) variables() (map[string]jinja.Value, error) {
	msgs := make([]jinja.Value, len(in.Messages))
	for i, m := range in.Messages {
		v, err := messageValue(m)
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		msgs[i] = v
	}
	tools := jinja.None()
	if in.Tools != nil {
		l := make([]jinja.Value, len(in.Tools))
		for i, t := range in.Tools {
			v, err := toolValue(t)
			if err != nil {
				return nil, fmt.Errorf("tool %d: %w", i, err)
			}
			l[i] = v
		}
		tools = jinja.NewList(l)
	}
	docs := jinja.None()
	if in.Documents != nil {
		l := make([]jinja.Value, len(in.Documents))
		for i, d := range in.Documents {
			v, err := decodeJSON(d)
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", i, err)
			}
			l[i] = v
		}
		docs = jinja.NewList(l)
	}
	data := map[string]jinja.Value{
		"messages":              jinja.NewList(msgs),
		"tools":                 tools,
		"documents":             docs,
		"add_generation_prompt": jinja.NewBool(in.AddGenerationPrompt),
	}
	if in.BOSToken != "" {
		data["bos_token"] = jinja.NewString(in.BOSToken)
	}
	if in.EOSToken != "" {
		data["eos_token"] = jinja.NewString(in.EOSToken)
	}
	for k, v := range in.Vars {
		val, err := goValue(v)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", k, err)
		}
		data[k] = val
	}
	addGlobals(data, in.Now)
	return data, nil
}

// dict builds an ordered dict from alternating keys and values.
func dict(kv ...any) jinja.Value {
	d := jinja.NewDict()
	for i := 0; i < len(kv); i += 2 {
		d.AsDict().Set(kv[i].(string), kv[i+1].(jinja.Value))
	}
	return d
}

// messageValue is a message's OpenAI JSON form, keys in llm.Message's
// field order, tool-call arguments parsed.
func messageValue(m llm.Message) (jinja.Value, error) {
	v := dict("role", jinja.NewString(m.Role), "content", jinja.NewString(m.Content))
	d := v.AsDict()
	if m.Name != "" {
		d.Set("name", jinja.NewString(m.Name))
	}
	if m.ReasoningContent != "" {
		d.Set("reasoning_content", jinja.NewString(m.ReasoningContent))
	}
	if len(m.ToolCalls) > 0 {
		calls := make([]jinja.Value, len(m.ToolCalls))
		for i, c := range m.ToolCalls {
			args := jinja.NewDict()
			if c.Function.Arguments != "" {
				var err error
				if args, err = decodeJSON([]byte(c.Function.Arguments)); err != nil {
					return v, fmt.Errorf("tool call %d (%s): arguments: %w", i, c.Function.Name, err)
				}
			}
			call := jinja.NewDict()
			if c.ID != "" {
				call.AsDict().Set("id", jinja.NewString(c.ID))
			}
			call.AsDict().Set("type", jinja.NewString(orFunction(c.Type)))
			call.AsDict().Set("function", dict("name", jinja.NewString(c.Function.Name), "arguments", args))
			calls[i] = call
		}
		d.Set("tool_calls", jinja.NewList(calls))
	}
	if m.ToolCallID != "" {
		d.Set("tool_call_id", jinja.NewString(m.ToolCallID))
	}
	return v, nil
}

func orFunction(typ string) string {
	if typ == "" {
		return "function"
	}
	return typ
}

// toolValue is a tool's OpenAI JSON form, its parameters schema decoded
// with keys in order.
func toolValue(t llm.Tool) (jinja.Value, error) {
	f := dict("name", jinja.NewString(t.Function.Name))
	if t.Function.Description != "" {
		f.AsDict().Set("description", jinja.NewString(t.Function.Description))
	}
	if len(t.Function.Parameters) > 0 {
		p, err := decodeJSON(t.Function.Parameters)
		if err != nil {
			return f, fmt.Errorf("function %s: parameters: %w", t.Function.Name, err)
		}
		f.AsDict().Set("parameters", p)
	}
	if t.Function.Strict {
		f.AsDict().Set("strict", jinja.NewBool(true))
	}
	return dict("type", jinja.NewString(orFunction(t.Type)), "function", f), nil
}

// decodeJSON decodes one JSON value as Python's json.loads does: objects
// keep their key order (a repeated key keeps its first place and last
// value), integers stay integers and numbers with a fraction or exponent
// become floats.
func decodeJSON(data []byte) (jinja.Value, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	v, err := decodeValue(d)
	if err != nil {
		return v, err
	}
	if _, err := d.Token(); err != io.EOF {
		return v, errors.New("trailing data after JSON value")
	}
	return v, nil
}

func decodeValue(d *json.Decoder) (jinja.Value, error) {
	tok, err := d.Token()
	if err != nil {
		return jinja.Undefined(), err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			v := jinja.NewDict()
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return v, err
				}
				e, err := decodeValue(d)
				if err != nil {
					return v, err
				}
				v.AsDict().Set(k.(string), e)
			}
			_, err := d.Token()
			return v, err
		case '[':
			items := []jinja.Value{}
			for d.More() {
				e, err := decodeValue(d)
				if err != nil {
					return jinja.Undefined(), err
				}
				items = append(items, e)
			}
			_, err := d.Token()
			return jinja.NewList(items), err
		}
	case json.Number:
		return numberValue(string(t))
	case string:
		return jinja.NewString(t), nil
	case bool:
		return jinja.NewBool(t), nil
	case nil:
		return jinja.None(), nil
	}
	return jinja.Undefined(), fmt.Errorf("unexpected JSON token %v", tok)
}

// numberValue reads a JSON number as Python does: an int when it has no
// fraction or exponent, else a float.
func numberValue(s string) (jinja.Value, error) {
	if !bytes.ContainsAny([]byte(s), ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return jinja.NewInt(i), nil
		}
		// Python's ints are unbounded; beyond int64 a float is the nearest.
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		return jinja.Undefined(), err
	}
	return jinja.NewFloat(f), nil
}

// goValue converts a Go value given in Input.Vars.
func goValue(v any) (jinja.Value, error) {
	switch x := v.(type) {
	case jinja.Value:
		return x, nil
	case json.RawMessage:
		return decodeJSON(x)
	case nil:
		return jinja.None(), nil
	case bool:
		return jinja.NewBool(x), nil
	case string:
		return jinja.NewString(x), nil
	case float32:
		return jinja.NewFloat(float64(x)), nil
	case float64:
		return jinja.NewFloat(x), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return jinja.NewInt(rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return jinja.NewInt(int64(rv.Uint())), nil
	case reflect.String:
		return jinja.NewString(rv.String()), nil
	case reflect.Slice, reflect.Array:
		items := make([]jinja.Value, rv.Len())
		for i := range items {
			e, err := goValue(rv.Index(i).Interface())
			if err != nil {
				return e, err
			}
			items[i] = e
		}
		return jinja.NewList(items), nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		keys := make([]string, 0, rv.Len())
		for _, k := range rv.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		d := jinja.NewDict()
		for _, k := range keys {
			e, err := goValue(rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key())).Interface())
			if err != nil {
				return e, err
			}
			d.AsDict().Set(k, e)
		}
		return d, nil
	}
	return jinja.Undefined(), fmt.Errorf("unsupported type %T (give JSON as json.RawMessage)", v)
}
