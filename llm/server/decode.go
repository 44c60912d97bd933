package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// fields is a request body's top-level object, field by field. Each known
// field is decoded on its own, so that an error names it exactly; unknown
// fields are never looked at.
type fields map[string]json.RawMessage

// readBody reads a JSON object of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) (fields, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	data, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &APIError{Status: http.StatusRequestEntityTooLarge, Type: typeInvalidRequest, Code: "request_too_large",
				Message: fmt.Sprintf("the request body is over %d bytes", tooBig.Limit)}
		}
		return nil, &APIError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Message: "reading the request body: " + err.Error()}
	}
	var f fields
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&f); err != nil || f == nil {
		msg := "the request body must be a JSON object"
		if err != nil {
			msg += ": " + err.Error()
		}
		return nil, &APIError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "invalid_json", Message: msg}
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, &APIError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: "invalid_json", Message: "the request body has data after its JSON object"}
	}
	return f, nil
}

// present reports whether the field is given and not null.
func (f fields) present(name string) bool {
	raw, ok := f[name]
	return ok && !isNull(raw)
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// decode decodes a field into dst when it is present (not absent, not
// null), and reports whether it was.
func (f fields) decode(name string, dst any, want string) (bool, error) {
	if !f.present(name) {
		return false, nil
	}
	if err := json.Unmarshal(f[name], dst); err != nil {
		return false, badParam(name, "%s must be %s", name, want)
	}
	return true, nil
}

// integer decodes an integer field within [lo, hi]; def when absent.
func (f fields) integer(name string, lo, hi int, def int) (int, error) {
	v, ok, err := f.number64(name, "an integer")
	if err != nil || !ok {
		return def, err
	}
	n, err := strconv.ParseInt(v.String(), 10, 64)
	if err != nil {
		// 2.0 is an integer to JSON, if not to strconv.
		x, ferr := v.Float64()
		if ferr != nil || x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, badParam(name, "%s must be an integer, got %s", name, v)
		}
		n = int64(x)
	}
	if n < int64(lo) || n > int64(hi) {
		return 0, badParam(name, "%s = %d, want %d to %d", name, n, lo, hi)
	}
	return int(n), nil
}

// number64 decodes a JSON number (not a string holding one, which
// json.Number would take).
func (f fields) number64(name, want string) (json.Number, bool, error) {
	var v json.Number
	ok, err := f.decode(name, &v, want)
	if err == nil && ok && bytes.HasPrefix(bytes.TrimSpace(f[name]), []byte(`"`)) {
		err = badParam(name, "%s must be %s, not a string", name, want)
	}
	return v, ok, err
}

// number decodes a finite number within [lo, hi]; def when absent.
func (f fields) number(name string, lo, hi, def float64) (float64, error) {
	var v float64
	ok, err := f.decode(name, &v, "a number")
	if err != nil || !ok {
		return def, err
	}
	if math.IsNaN(v) || v < lo || v > hi {
		return 0, badParam(name, "%s = %v, want %v to %v", name, v, lo, hi)
	}
	return v, nil
}

// boolean decodes a boolean field; def when absent.
func (f fields) boolean(name string, def bool) (bool, error) {
	v := def
	_, err := f.decode(name, &v, "a boolean")
	return v, err
}

// str decodes a string field; "" when absent.
func (f fields) str(name string) (string, error) {
	var s string
	_, err := f.decode(name, &s, "a string")
	return s, err
}

// stringOrList decodes a field that is a string or an array of strings
// (stop, prompt, input). tokens reports an array of integers (token IDs)
// or of arrays of them, which the caller may refuse.
func (f fields) stringOrList(name string) (list []string, given, tokens bool, err error) {
	if !f.present(name) {
		return nil, false, false, nil
	}
	raw := bytes.TrimSpace(f[name])
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, true, false, nil
	}
	if json.Unmarshal(raw, &list) == nil {
		return list, true, false, nil
	}
	var ids []int64
	var idLists [][]int64
	if json.Unmarshal(raw, &ids) == nil || json.Unmarshal(raw, &idLists) == nil {
		return nil, true, true, nil
	}
	return nil, false, false, badParam(name, "%s must be a string or an array of strings", name)
}

// object decodes a field that must be a JSON object into its own fields.
func (f fields) object(name string) (fields, error) {
	if !f.present(name) {
		return nil, nil
	}
	var sub fields
	if err := json.Unmarshal(f[name], &sub); err != nil || sub == nil {
		return nil, badParam(name, "%s must be an object", name)
	}
	return sub, nil
}

// prefixed returns a copy of e with its param under prefix ("tools[2]." +
// "function.name").
func prefixed(prefix string, err error) error {
	var e *APIError
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	if c.Param == "" {
		c.Param = strings.TrimSuffix(prefix, ".")
	} else {
		c.Param = prefix + c.Param
	}
	c.Message = prefix + c.Message
	return &c
}
