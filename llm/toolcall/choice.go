package toolcall

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/locallm/locallm/llm"
)

// Mode says whether and how the model must call a tool.
type Mode int

const (
	// Auto lets the model choose between answering and calling tools; its
	// text is searched for calls with Parse. It is the zero Mode.
	Auto Mode = iota
	// None asks for an answer: the text is not searched for calls.
	None
	// Required forces one call of any offered function.
	Required
	// Function forces one call of the function Choice.Name.
	Function
)

var modeNames = [...]string{Auto: "auto", None: "none", Required: "required", Function: "function"}

// String returns "auto", "none", "required" or "function".
func (m Mode) String() string {
	if m < 0 || int(m) >= len(modeNames) {
		return fmt.Sprintf("Mode(%d)", int(m))
	}
	return modeNames[m]
}

// Choice is OpenAI's tool_choice: a mode, and for Function the name of the
// function to call. The zero Choice is Auto.
type Choice struct {
	Mode Mode
	Name string
}

// Forced reports whether the choice forces a call (Required or Function).
func (c Choice) Forced() bool { return c.Mode == Required || c.Mode == Function }

// ErrChoice is wrapped by the errors of Choice.UnmarshalJSON and Check.
var ErrChoice = errors.New("toolcall: bad tool_choice")

// UnmarshalJSON reads OpenAI's wire forms: "none", "auto", "required", or
// {"type": "function", "function": {"name": ...}}. null is Auto.
func (c *Choice) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*c = Choice{}
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("%w: %v", ErrChoice, err)
		}
		switch s {
		case "auto":
			*c = Choice{Mode: Auto}
		case "none":
			*c = Choice{Mode: None}
		case "required":
			*c = Choice{Mode: Required}
		default:
			return fmt.Errorf("%w: %q, want \"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}", ErrChoice, s)
		}
		return nil
	}
	var obj struct {
		Type     string `json:"type"`
		Function *struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("%w: %v", ErrChoice, err)
	}
	if obj.Type != "function" || obj.Function == nil || obj.Function.Name == "" {
		return fmt.Errorf("%w: want {\"type\": \"function\", \"function\": {\"name\": ...}}", ErrChoice)
	}
	*c = Choice{Mode: Function, Name: obj.Function.Name}
	return nil
}

// MarshalJSON writes the form UnmarshalJSON reads.
func (c Choice) MarshalJSON() ([]byte, error) {
	if c.Mode == Function {
		return json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": c.Name}})
	}
	if c.Mode < 0 || int(c.Mode) >= len(modeNames) {
		return nil, fmt.Errorf("%w: %v", ErrChoice, c.Mode)
	}
	return json.Marshal(c.Mode.String())
}

// Check reports whether the choice can be met with these tools: a forced
// choice needs tools, and Function a tool of that name.
func (c Choice) Check(tools []llm.Tool) error {
	switch c.Mode {
	case Auto, None:
		return nil
	case Required:
		if len(tools) == 0 {
			return fmt.Errorf("%w: \"required\" with no tools", ErrChoice)
		}
		return nil
	case Function:
		if find(tools, c.Name) < 0 {
			return fmt.Errorf("%w: function %q is not among the tools", ErrChoice, c.Name)
		}
		return nil
	}
	return fmt.Errorf("%w: %v", ErrChoice, c.Mode)
}

// find returns the index of the tool named name, or -1.
func find(tools []llm.Tool, name string) int {
	for i, t := range tools {
		if t.Function.Name == name {
			return i
		}
	}
	return -1
}
