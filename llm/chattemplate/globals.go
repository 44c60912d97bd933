package chattemplate

import (
	"fmt"
	"strings"
	"time"

	"github.com/ardanlabs/jinja"
)

// raised is the error of a raise_exception call.
type raised struct{ msg string }

func (r *raised) Error() string { return r.msg }
func (r *raised) Unwrap() error { return ErrRaised }

// tojsonName is the name tojson is renamed to in template sources, so that
// this package's filter runs instead of the engine's (whose filters cannot
// be replaced, while a filter it does not know is looked up among the
// variables).
const tojsonName = "locallm_tojson"

// addGlobals adds transformers' globals and this package's filters to the
// variables of one render.
func addGlobals(data map[string]jinja.Value, now time.Time) {
	data["raise_exception"] = jinja.NewCallable("raise_exception", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		msg := ""
		if len(args) > 0 {
			msg = str(args[0])
		}
		return jinja.Undefined(), &raised{msg: msg}
	})
	data["strftime_now"] = jinja.NewCallable("strftime_now", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		if len(args) != 1 || !args[0].IsString() {
			return jinja.Undefined(), fmt.Errorf("strftime_now takes one format string")
		}
		t := now
		if t.IsZero() {
			t = time.Now()
		}
		return jinja.NewString(strftime(t, args[0].AsString())), nil
	})
	data[tojsonName] = jinja.NewCallable("tojson", tojson)
}

// str is Python's str() of a value, as the engine prints it.
func str(v jinja.Value) string {
	switch {
	case v.IsString():
		return v.AsString()
	case v.IsUndefined():
		return ""
	case v.IsNone():
		return "None"
	}
	return strings.TrimSuffix(strings.TrimPrefix(v.String(), "'"), "'")
}

// tojson is transformers' tojson filter: json.dumps(x, ensure_ascii=False,
// indent=None, separators=None, sort_keys=False), arguments positional or
// by keyword.
func tojson(args []jinja.Value, kwargs map[string]jinja.Value) (jinja.Value, error) {
	if len(args) == 0 {
		return jinja.Undefined(), fmt.Errorf("tojson: no value")
	}
	opts := jsonOptions{itemSep: ", ", keySep: ": "}
	names := []string{"ensure_ascii", "indent", "separators", "sort_keys"}
	params := map[string]jinja.Value{}
	for i, a := range args[1:] {
		if i >= len(names) {
			return jinja.Undefined(), fmt.Errorf("tojson: too many arguments")
		}
		params[names[i]] = a
	}
	for k, v := range kwargs {
		if _, dup := params[k]; dup {
			return jinja.Undefined(), fmt.Errorf("tojson: argument %s given twice", k)
		}
		params[k] = v
	}
	for k, v := range params {
		switch k {
		case "ensure_ascii":
			opts.ensureASCII = v.IsTruthy()
		case "sort_keys":
			opts.sortKeys = v.IsTruthy()
		case "indent":
			switch {
			case v.IsNone() || v.IsUndefined():
			case v.IsInt():
				opts.indent, opts.indented = strings.Repeat(" ", max(0, int(v.AsInt()))), true
			case v.IsString():
				opts.indent, opts.indented = v.AsString(), true
			default:
				return jinja.Undefined(), fmt.Errorf("tojson: indent must be an int or a string")
			}
		case "separators":
		default:
			return jinja.Undefined(), fmt.Errorf("tojson: unexpected keyword argument %q", k)
		}
	}
	if opts.indented {
		opts.itemSep = ","
	}
	if v, ok := params["separators"]; ok && !v.IsNone() && !v.IsUndefined() {
		if !v.IsList() || v.AsList().Len() != 2 || !v.AsList().Get(0).IsString() || !v.AsList().Get(1).IsString() {
			return jinja.Undefined(), fmt.Errorf("tojson: separators must be two strings")
		}
		opts.itemSep, opts.keySep = v.AsList().Get(0).AsString(), v.AsList().Get(1).AsString()
	}
	var b strings.Builder
	if err := writeJSON(&b, args[0], &opts, 0); err != nil {
		return jinja.Undefined(), err
	}
	return jinja.NewString(b.String()), nil
}
