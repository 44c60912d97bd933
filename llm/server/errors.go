package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/locallm/locallm/grammar/jsonschema"
	"github.com/locallm/locallm/llm"
)

// APIError is an error in OpenAI's shape, with its HTTP status. It is what
// every failed request gets:
//
//	{"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
type APIError struct {
	Status  int    `json:"-"`
	Message string `json:"message"`
	Type    string `json:"type"`
	// Param names the request field at fault, as a path such as
	// "messages[2].content"; empty when no one field is.
	Param string `json:"param,omitempty"`
	Code  string `json:"code,omitempty"`
	// RetryAfter, in seconds, is sent as the Retry-After header when > 0.
	RetryAfter int `json:"-"`
}

func (e *APIError) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("%d %s: %s: %s", e.Status, e.Type, e.Param, e.Message)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message)
}

// MarshalJSON writes param and code as null when empty, as OpenAI does.
func (e *APIError) MarshalJSON() ([]byte, error) {
	null := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return json.Marshal(struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}{e.Message, e.Type, null(e.Param), null(e.Code)})
}

// Error types, as OpenAI names them.
const (
	typeInvalidRequest = "invalid_request_error"
	typeAuthentication = "authentication_error"
	typeNotFound       = "not_found_error"
	typeServer         = "server_error"
	typeUnavailable    = "service_unavailable_error"
)

// badParam is a 400 naming the field at fault.
func badParam(param, format string, args ...any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: param,
		Message: fmt.Sprintf(format, args...), Code: "invalid_value"}
}

func unavailable(code, msg string) *APIError {
	return &APIError{Status: http.StatusServiceUnavailable, Type: typeUnavailable, Code: code, Message: msg, RetryAfter: 1}
}

// asAPIError returns err as an *APIError: itself, or mapped by
// generationError.
func asAPIError(err error) *APIError {
	var e *APIError
	if !errors.As(err, &e) {
		e = generationError(err, "")
	}
	return e
}

// errorJSON is err's {"error": {...}} body.
func errorJSON(err error) []byte {
	b, _ := json.Marshal(map[string]*APIError{"error": asAPIError(err)})
	return b
}

// writeError writes err in OpenAI's shape: an *APIError as it is, anything
// else through generationError. A request whose client went away gets
// nothing.
func writeError(w http.ResponseWriter, err error) {
	e := asAPIError(err)
	if e.Status == statusClientClosed {
		return
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	w.Write(append(errorJSON(e), '\n'))
}

// statusClientClosed is what the metrics record for a request whose client
// went away before its answer (nginx's 499).
const statusClientClosed = 499

// generationError maps an error from the LLM to an APIError. input names
// the request field the inputs came from ("messages", "prompt", "input"),
// for errors about an input.
func generationError(err error, input string) *APIError {
	var e *APIError
	var se *jsonschema.SchemaError
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &APIError{Status: statusClientClosed, Type: typeInvalidRequest, Code: "cancelled", Message: "the request was cancelled"}
	case errors.Is(err, llm.ErrContextTooLong):
		return &APIError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: input, Code: "context_length_exceeded", Message: err.Error()}
	case errors.Is(err, llm.ErrEmptyInput), errors.Is(err, llm.ErrBadInput), errors.Is(err, llm.ErrNoChatTemplate):
		return &APIError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: input, Code: "invalid_value", Message: err.Error()}
	case errors.Is(err, llm.ErrBadParameter):
		return badParam(paramOf(err.Error()), "%s", err.Error())
	case errors.As(err, &se):
		return badParam("response_format", "%s", err.Error())
	case errors.Is(err, llm.ErrClosed), errors.Is(err, llm.ErrNotLoaded):
		return unavailable("model_unavailable", err.Error())
	}
	return &APIError{Status: http.StatusInternalServerError, Type: typeServer, Message: err.Error()}
}

// libraryParams maps llm.GenerationParams' names, which its errors use, to
// the request fields they come from.
var libraryParams = map[string]string{
	"max_new_tokens":   "max_tokens",
	"num_generations":  "n",
	"logit_bias token": "logit_bias",
}

// paramOf finds the parameter an llm.ErrBadParameter message names
// ("llm: bad generation parameter: NAME = ...").
func paramOf(msg string) string {
	_, rest, ok := strings.Cut(msg, llm.ErrBadParameter.Error()+": ")
	if !ok {
		return ""
	}
	name, _, ok := strings.Cut(rest, " = ")
	if !ok {
		return ""
	}
	if p, ok := libraryParams[name]; ok {
		return p
	}
	if i := strings.IndexByte(name, '['); i > 0 {
		name = name[:i]
	}
	return name
}
