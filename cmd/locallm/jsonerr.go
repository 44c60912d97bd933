package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/locallm/locallm/llm"
)

// jsonError turns encoding/json's errors, which speak of Go types
// ("cannot unmarshal object into Go value of type []llm.Message"), into the
// user's words: the field, what it wants and what it got. field prefixes
// the path ("generation_params"); "" is the whole value.
func jsonError(field string, err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	join := func(a, b string) string {
		switch {
		case a == "":
			return b
		case b == "":
			return a
		}
		return a + "." + b
	}
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%snot valid JSON: %s (at byte %d)", prefixOf(field), strings.TrimPrefix(se.Error(), "json: "), se.Offset)
	case errors.As(err, &te):
		path := join(field, te.Field)
		if path == "" {
			return fmt.Errorf("want %s, got %s", describeType(te.Type), describeValue(te.Value))
		}
		return fmt.Errorf("%s: want %s, got %s", path, describeType(te.Type), describeValue(te.Value))
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	switch {
	case strings.HasPrefix(msg, "unknown field "):
		return fmt.Errorf("%s%s", prefixOf(field), msg)
	case msg == "unexpected end of JSON input", msg == "unexpected EOF":
		return fmt.Errorf("%snot valid JSON: it ends too early", prefixOf(field))
	}
	return fmt.Errorf("%s%s", prefixOf(field), msg)
}

func prefixOf(field string) string {
	if field == "" {
		return ""
	}
	return field + ": "
}

var messageType = reflect.TypeFor[llm.Message]()

// describeType says in words what JSON a Go type reads.
func describeType(t reflect.Type) string {
	if t == messageType {
		return `a message {"role": ..., "content": ...}`
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if t.Elem() == messageType {
			return `an array of messages [{"role": ..., "content": ...}, ...]`
		}
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return "a value"
}

// describeValue says what JSON value encoding/json found ("object",
// "number 1.5").
func describeValue(v string) string {
	switch {
	case v == "object", v == "array":
		return "an " + v
	case v == "bool":
		return "true or false"
	case strings.HasPrefix(v, "number "):
		return v
	}
	return "a " + v
}

// parseMessages reads a --messages file: a JSON array of messages, or an
// object whose "messages" holds one (the body of a chat request).
func parseMessages(data []byte) ([]llm.Message, error) {
	var probe any
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, jsonError("", err)
	}
	var ms []llm.Message
	if obj, ok := probe.(map[string]any); ok {
		if _, ok := obj["messages"]; !ok {
			return nil, errors.New(`want an array of messages [{"role": ..., "content": ...}, ...], or an object with "messages", got an object without`)
		}
		var req struct {
			Messages []llm.Message `json:"messages"`
		}
		if err := json.Unmarshal(data, &req); err != nil {
			return nil, jsonError("", err)
		}
		ms = req.Messages
	} else if err := json.Unmarshal(data, &ms); err != nil {
		return nil, jsonError("", err)
	}
	if len(ms) == 0 {
		return nil, errors.New("no messages")
	}
	return ms, nil
}
