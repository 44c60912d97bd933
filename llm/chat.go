package llm

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// Role is the author of a chat message.
type Role = string

// Chat roles used by chat templates.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	// RoleTool is a tool's answer to an assistant's tool call; its
	// message names the call in ToolCallID.
	RoleTool Role = "tool"
)

// Message is one chat message, with the fields chat templates read. The
// JSON form is OpenAI's chat message.
type Message struct {
	Role    string `json:"role" yaml:"role"`
	Content string `json:"content" yaml:"content"`
	// Name is the author's name, for templates that render it.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// ReasoningContent is an earlier assistant turn's reasoning (the text
	// of its reasoning block), for templates that render it.
	ReasoningContent string `json:"reasoning_content,omitempty" yaml:"reasoning_content,omitempty"`
	// ToolCalls are the tools an assistant message called.
	ToolCalls []ToolCall `json:"tool_calls,omitempty" yaml:"tool_calls,omitempty"`
	// ToolCallID names the call a tool message answers.
	ToolCallID string `json:"tool_call_id,omitempty" yaml:"tool_call_id,omitempty"`
}

// Validate checks one message without a model: a role, and content unless
// it is an assistant message that calls tools (or reasons).
func (m Message) Validate() error {
	if m.Role == "" {
		return errors.New("no role")
	}
	if len(m.ToolCalls) > 0 && m.Role != RoleAssistant {
		return fmt.Errorf("role %q has tool_calls; only assistant messages call tools", m.Role)
	}
	if m.Content == "" && len(m.ToolCalls) == 0 && m.ReasoningContent == "" {
		if m.Role == RoleAssistant {
			return errors.New("assistant message has no content, reasoning_content or tool_calls")
		}
		return fmt.Errorf("%s message has no content", m.Role)
	}
	for i, c := range m.ToolCalls {
		if err := c.Validate(); err != nil {
			return fmt.Errorf("tool_calls[%d]: %w", i, err)
		}
	}
	return nil
}

// ToolCall is one call of a tool by an assistant message.
type ToolCall struct {
	// ID names the call, so that the tool's answer can refer to it.
	ID string `json:"id,omitempty" yaml:"id,omitempty"`
	// Type is "function" (the only type of tool there is; "" means it).
	Type     string       `json:"type" yaml:"type"`
	Function FunctionCall `json:"function" yaml:"function"`
}

// FunctionCall is a function's name and its arguments.
type FunctionCall struct {
	Name string `json:"name" yaml:"name"`
	// Arguments is a JSON object, as text (OpenAI's wire form). Chat
	// templates that want an object get it parsed.
	Arguments string `json:"arguments" yaml:"arguments"`
}

// Validate checks the call's type, name and that its arguments are a JSON object.
func (c ToolCall) Validate() error {
	if c.Type != "" && c.Type != "function" {
		return fmt.Errorf("type %q, want \"function\"", c.Type)
	}
	if err := checkFunctionName(c.Function.Name); err != nil {
		return err
	}
	if c.Function.Arguments != "" {
		var v map[string]any
		if err := json.Unmarshal([]byte(c.Function.Arguments), &v); err != nil {
			return fmt.Errorf("function %q: arguments are not a JSON object: %v", c.Function.Name, err)
		}
	}
	return nil
}

// Tool is a tool offered to the model: a function it may call.
type Tool struct {
	// Type is "function" ("" means it).
	Type     string   `json:"type" yaml:"type"`
	Function Function `json:"function" yaml:"function"`
}

// Function describes a callable function.
type Function struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Parameters is a JSON Schema of the arguments object; empty means
	// the function takes no arguments.
	Parameters json.RawMessage `json:"parameters,omitempty" yaml:"parameters,omitempty"`
	// Strict asks that calls follow Parameters exactly (OpenAI's
	// structured tool calls).
	Strict bool `json:"strict,omitempty" yaml:"strict,omitempty"`
}

// Validate checks the tool's type, its function's name, and that
// Parameters, when given, is a JSON object.
func (t Tool) Validate() error {
	if t.Type != "" && t.Type != "function" {
		return fmt.Errorf("type %q, want \"function\"", t.Type)
	}
	if err := checkFunctionName(t.Function.Name); err != nil {
		return err
	}
	if len(t.Function.Parameters) > 0 {
		var v map[string]any
		if err := json.Unmarshal(t.Function.Parameters, &v); err != nil {
			return fmt.Errorf("function %q: parameters are not a JSON Schema object: %v", t.Function.Name, err)
		}
	}
	return nil
}

// functionName is OpenAI's rule for function names.
var functionName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)

func checkFunctionName(name string) error {
	if !functionName.MatchString(name) {
		return fmt.Errorf("function name %q: want 1 to 64 letters, digits, '_', '.' or '-'", name)
	}
	return nil
}
