package server

import (
	"encoding/json"
	"errors"
	"sync"

	"github.com/locallm/locallm/grammar/jsonschema"
	"github.com/locallm/locallm/llm"
)

// anyObject is the schema of response_format json_object: any JSON object.
const anyObject = `{"type":"object"}`

// responseFormat reads response_format: text (nil), json_object, or
// json_schema {name, description, schema, strict}.
func (s *Server) responseFormat(f fields) (*llm.StructuredOutput, error) {
	rf, err := f.object("response_format")
	if err != nil || rf == nil {
		return nil, err
	}
	typ, err := rf.str("type")
	if err != nil {
		return nil, prefixed("response_format.", err)
	}
	switch typ {
	case "text":
		return nil, nil
	case "json_object":
		return s.constraint([]byte(anyObject), false, "response_format")
	case "json_schema":
	default:
		return nil, badParam("response_format.type", `response_format.type must be "text", "json_object" or "json_schema"`)
	}
	js, err := rf.object("json_schema")
	if err != nil {
		return nil, prefixed("response_format.", err)
	}
	if js == nil {
		return nil, badParam("response_format.json_schema", "response_format.json_schema is required with type json_schema")
	}
	if _, err := js.str("name"); err != nil {
		return nil, prefixed("response_format.json_schema.", err)
	}
	if _, err := js.str("description"); err != nil {
		return nil, prefixed("response_format.json_schema.", err)
	}
	strict, err := js.boolean("strict", false)
	if err != nil {
		return nil, prefixed("response_format.json_schema.", err)
	}
	schema := []byte(anyObject)
	if js.present("schema") {
		schema = js["schema"]
		var v any
		if err := json.Unmarshal(schema, &v); err != nil {
			return nil, badParam("response_format.json_schema.schema", "response_format.json_schema.schema must be a JSON Schema")
		}
		switch v.(type) {
		case map[string]any, bool:
		default:
			return nil, badParam("response_format.json_schema.schema", "response_format.json_schema.schema must be an object (a JSON Schema)")
		}
	}
	return s.constraint(schema, strict, "response_format.json_schema.schema")
}

// constraint checks that a schema compiles and returns the structured
// output for it. A schema with keywords no grammar expresses is an error
// when strict; otherwise it is compiled leniently, and outputs that the
// validator rejects are generated again (up to lenientRetries times).
// Cut outputs are closed with up to Options.ClosingTokens tokens, so that
// they parse.
func (s *Server) constraint(schema []byte, strict bool, param string) (*llm.StructuredOutput, error) {
	lenient, err := checkSchema(schema, strict)
	if err != nil {
		return nil, badParam(param, "%s: %v", param, err)
	}
	so := &llm.StructuredOutput{Schema: json.RawMessage(schema), ClosingTokens: s.opts.ClosingTokens}
	if lenient {
		so.Lenient, so.Retries = true, lenientRetries
	}
	return so, nil
}

const lenientRetries = 2

// schemaChecks caches checkSchema's verdicts: clients send the same
// schema with every request.
var schemaChecks struct {
	sync.Mutex
	m map[schemaKey]schemaVerdict
}

type schemaKey struct {
	schema string
	strict bool
}

type schemaVerdict struct {
	lenient bool
	err     error
}

const schemaCacheSize = 256

// checkSchema compiles a schema (exactly, and if that fails and strict is
// false, leniently) and reports whether it needs leniency.
func checkSchema(schema []byte, strict bool) (lenient bool, err error) {
	key := schemaKey{string(schema), strict}
	schemaChecks.Lock()
	v, ok := schemaChecks.m[key]
	schemaChecks.Unlock()
	if ok {
		return v.lenient, v.err
	}
	_, err = jsonschema.Compile(schema, nil)
	if err != nil && !strict && !errors.Is(err, jsonschema.ErrNoValue) {
		if _, lerr := jsonschema.Compile(schema, &jsonschema.Options{Lenient: true}); lerr == nil {
			lenient, err = true, nil
		}
	}
	schemaChecks.Lock()
	if schemaChecks.m == nil || len(schemaChecks.m) >= schemaCacheSize {
		schemaChecks.m = map[schemaKey]schemaVerdict{}
	}
	schemaChecks.m[key] = schemaVerdict{lenient, err}
	schemaChecks.Unlock()
	return lenient, err
}
