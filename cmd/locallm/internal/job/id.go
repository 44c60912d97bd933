package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNoID is the error of a row without an id.
var ErrNoID = errors.New(`no "id"`)

// IDKey returns the key an id is compared and sharded by: a string's value,
// or a number as it is written (so 7 and "7" are the same id, 7.0 another).
func IDKey(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", ErrNoID
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("bad id %s: %w", raw, err)
		}
		if s == "" {
			return "", errors.New("empty id")
		}
		return s, nil
	case c == '-' || (c >= '0' && c <= '9'):
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", fmt.Errorf("bad id %s: %w", raw, err)
		}
		return string(raw), nil
	}
	return "", fmt.Errorf("id %s is not a string or a number", Clip(raw, 40))
}

// RowID reads the "id" of one JSON line: its key and the id compacted. A
// line that is not a JSON object, or whose id is missing or unusable, gives
// an error, and a nil id unless the id itself could be read.
func RowID(line []byte) (key string, id json.RawMessage, err error) {
	var r struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(line, &r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			// Not "cannot unmarshal array into Go value of type struct".
			return "", nil, fmt.Errorf("a row is a JSON object, not %s", te.Value)
		}
		return "", nil, fmt.Errorf("bad JSON: %w", err)
	}
	key, err = IDKey(r.ID)
	if err != nil {
		return "", nil, err
	}
	var b bytes.Buffer
	json.Compact(&b, r.ID)
	return key, b.Bytes(), nil
}

// Clip shortens b for an error message.
func Clip(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}
