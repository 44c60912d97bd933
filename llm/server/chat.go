package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/locallm/locallm/llm"
	"github.com/locallm/locallm/llm/toolcall"
)

// chatRequest is a decoded /v1/chat/completions request.
type chatRequest struct {
	genRequest
	input  llm.Input
	tools  []llm.Tool
	choice toolcall.Choice
	// parse says whether outputs are searched for tool calls: a forced
	// call, or tool_choice auto with tools and no response_format.
	parse bool
	// parallel is parallel_tool_calls: false keeps one call per message.
	parallel    bool
	logprobs    bool
	topLogprobs int
}

func (s *Server) decodeChat(f fields) (*chatRequest, error) {
	g, err := s.decodeGeneration(f, s.opts.ChatMaxTokens)
	if err != nil {
		return nil, err
	}
	req := &chatRequest{genRequest: g}
	if req.input.Messages, err = decodeMessages(f); err != nil {
		return nil, err
	}
	if req.tools, err = decodeTools(f); err != nil {
		return nil, err
	}
	if f.present("tool_choice") {
		if err := json.Unmarshal(f["tool_choice"], &req.choice); err != nil {
			return nil, badParam("tool_choice", "%v", err)
		}
		if err := req.choice.Check(req.tools); err != nil {
			return nil, badParam("tool_choice", "%v", err)
		}
	}
	if req.parallel, err = f.boolean("parallel_tool_calls", true); err != nil {
		return nil, err
	}
	req.input.Tools = req.tools
	switch {
	case req.choice.Forced():
		// The call's grammar takes the place of any response_format.
		if req.structured, err = s.toolConstraint(req.tools, req.choice); err != nil {
			return nil, err
		}
		req.parse = true
	case req.choice.Mode == toolcall.Auto:
		req.parse = len(req.tools) > 0 && req.structured == nil
	}
	req.input.Structured = req.structured
	if req.logprobs, err = f.boolean("logprobs", false); err != nil {
		return nil, err
	}
	if req.topLogprobs, err = f.integer("top_logprobs", 0, llm.MaxTopLogprobs, 0); err != nil {
		return nil, err
	}
	if req.topLogprobs > 0 {
		req.logprobs = true
	}
	req.params.Logprobs, req.params.TopLogprobs = req.logprobs, req.topLogprobs
	if err := req.params.Validate(); err != nil {
		return nil, generationError(err, "")
	}
	if err := req.input.Validate(); err != nil {
		return nil, badParam("messages", "%v", err)
	}
	return req, nil
}

// toolConstraint is the structured output of a forced call: strict, or,
// when a schema has keywords no grammar expresses and no tool asks for
// strictness, lenient and validated.
func (s *Server) toolConstraint(tools []llm.Tool, c toolcall.Choice) (*llm.StructuredOutput, error) {
	schema, err := toolcall.Schema(tools, c)
	if err != nil {
		return nil, badParam("tools", "%v", err)
	}
	strict := false
	for _, t := range tools {
		strict = strict || t.Function.Strict
	}
	return s.constraint(schema, strict, "tools")
}

// decodeMessages reads messages: role, content (a string, or an array of
// text parts), name, tool_calls, tool_call_id and reasoning_content.
func decodeMessages(f fields) ([]llm.Message, error) {
	var raws []json.RawMessage
	if _, err := f.decode("messages", &raws, "an array of messages"); err != nil {
		return nil, err
	}
	if len(raws) == 0 {
		return nil, badParam("messages", "messages must be a non-empty array")
	}
	msgs := make([]llm.Message, len(raws))
	for i, raw := range raws {
		m, err := decodeMessage(raw)
		if err != nil {
			return nil, prefixed(fmt.Sprintf("messages[%d].", i), err)
		}
		if err := m.Validate(); err != nil {
			return nil, badParam(fmt.Sprintf("messages[%d]", i), "messages[%d]: %v", i, err)
		}
		msgs[i] = m
	}
	return msgs, nil
}

var roles = map[string]string{
	"system": llm.RoleSystem, "developer": llm.RoleSystem, // developer is OpenAI's newer name for system
	"user": llm.RoleUser, "assistant": llm.RoleAssistant, "tool": llm.RoleTool, "function": llm.RoleTool,
}

func decodeMessage(raw json.RawMessage) (llm.Message, error) {
	var m llm.Message
	var f fields
	if err := json.Unmarshal(raw, &f); err != nil || f == nil {
		return m, badParam("", "must be an object")
	}
	role, err := f.str("role")
	if err != nil {
		return m, err
	}
	if m.Role = roles[role]; m.Role == "" {
		return m, badParam("role", "role %q is not one of system, developer, user, assistant, tool", role)
	}
	if m.Content, err = content(f); err != nil {
		return m, err
	}
	if m.Name, err = f.str("name"); err != nil {
		return m, err
	}
	if m.ToolCallID, err = f.str("tool_call_id"); err != nil {
		return m, err
	}
	if m.ReasoningContent, err = f.str("reasoning_content"); err != nil {
		return m, err
	}
	var calls []json.RawMessage
	if _, err := f.decode("tool_calls", &calls, "an array of tool calls"); err != nil {
		return m, err
	}
	for k, raw := range calls {
		c, err := decodeToolCall(raw)
		if err != nil {
			return m, badParam(fmt.Sprintf("tool_calls[%d]", k), "tool_calls[%d]: %v", k, err)
		}
		m.ToolCalls = append(m.ToolCalls, c)
	}
	return m, nil
}

// content reads a message's content: a string, null, or an array of
// parts of which only text parts are served.
func content(f fields) (string, error) {
	if !f.present("content") {
		return "", nil
	}
	var s string
	if json.Unmarshal(f["content"], &s) == nil {
		return s, nil
	}
	var parts []fields
	if err := json.Unmarshal(f["content"], &parts); err != nil {
		return "", badParam("content", "content must be a string or an array of content parts")
	}
	var b strings.Builder
	for k, p := range parts {
		typ, err := p.str("type")
		if err != nil || typ != "text" {
			return "", badParam(fmt.Sprintf("content[%d].type", k), "content[%d].type %q is not served: this server takes text parts only", k, typ)
		}
		text, err := p.str("text")
		if err != nil {
			return "", prefixed(fmt.Sprintf("content[%d].", k), err)
		}
		b.WriteString(text)
	}
	return b.String(), nil
}

// decodeToolCall reads an assistant message's tool call. Arguments given
// as an object rather than JSON text are taken too.
func decodeToolCall(raw json.RawMessage) (llm.ToolCall, error) {
	var c struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return llm.ToolCall{}, fmt.Errorf("not a tool call: %v", err)
	}
	args := bytes.TrimSpace(c.Function.Arguments)
	var text string
	switch {
	case len(args) == 0 || string(args) == "null":
	case args[0] == '"':
		if err := json.Unmarshal(args, &text); err != nil {
			return llm.ToolCall{}, err
		}
	default:
		text = string(args)
	}
	tc := llm.ToolCall{ID: c.ID, Type: c.Type, Function: llm.FunctionCall{Name: c.Function.Name, Arguments: text}}
	return tc, tc.Validate()
}

// decodeTools reads tools: [{"type": "function", "function": {name,
// description, parameters, strict}}].
func decodeTools(f fields) ([]llm.Tool, error) {
	var raws []json.RawMessage
	if _, err := f.decode("tools", &raws, "an array of tools"); err != nil {
		return nil, err
	}
	tools := make([]llm.Tool, 0, len(raws))
	names := map[string]bool{}
	for i, raw := range raws {
		param := fmt.Sprintf("tools[%d]", i)
		var t llm.Tool
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, badParam(param, "%s must be {\"type\": \"function\", \"function\": {\"name\": ..., \"parameters\": {...}}}", param)
		}
		if isNull(t.Function.Parameters) {
			t.Function.Parameters = nil
		}
		if err := t.Validate(); err != nil {
			return nil, badParam(param, "%s: %v", param, err)
		}
		if names[t.Function.Name] {
			return nil, badParam(param, "%s: function name %q given twice", param, t.Function.Name)
		}
		names[t.Function.Name] = true
		tools = append(tools, t)
	}
	return tools, nil
}

// chat response shapes.
type (
	chatMessage struct {
		Role             string         `json:"role"`
		Content          *string        `json:"content"`
		ReasoningContent string         `json:"reasoning_content,omitempty"`
		ToolCalls        []llm.ToolCall `json:"tool_calls,omitempty"`
	}
	chatChoice struct {
		Index        int           `json:"index"`
		Message      chatMessage   `json:"message"`
		Logprobs     *chatLogprobs `json:"logprobs"`
		FinishReason string        `json:"finish_reason"`
	}
	chatResponse struct {
		ID      string       `json:"id"`
		Object  string       `json:"object"`
		Created int64        `json:"created"`
		Model   string       `json:"model"`
		Choices []chatChoice `json:"choices"`
		Usage   *usage       `json:"usage"`
	}
	chatDelta struct {
		Role             string          `json:"role,omitempty"`
		Content          *string         `json:"content,omitempty"`
		ReasoningContent string          `json:"reasoning_content,omitempty"`
		ToolCalls        []toolCallDelta `json:"tool_calls,omitempty"`
	}
	// toolCallDelta is a streamed call or part of one: the first delta of
	// a call carries its id, type and name, the next ones more arguments.
	toolCallDelta struct {
		Index    int               `json:"index"`
		ID       string            `json:"id,omitempty"`
		Type     string            `json:"type,omitempty"`
		Function functionCallDelta `json:"function"`
	}
	functionCallDelta struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	}
	chunkChoice struct {
		Index        int           `json:"index"`
		Delta        chatDelta     `json:"delta"`
		Logprobs     *chatLogprobs `json:"logprobs"`
		FinishReason *string       `json:"finish_reason"`
	}
	chatChunk struct {
		ID      string        `json:"id"`
		Object  string        `json:"object"`
		Created int64         `json:"created"`
		Model   string        `json:"model"`
		Choices []chunkChoice `json:"choices"`
		Usage   *usage        `json:"usage,omitempty"`
	}
)

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	f, err := readBody(w, r, s.opts.MaxBodyBytes)
	if err != nil {
		writeError(w, err)
		return
	}
	req, err := s.decodeChat(f)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	j := job{inputs: []llm.Input{req.input}, n: req.n, params: req.params, inputParam: "messages"}
	if req.stream {
		s.streamChat(ctx, w, req, j, start, cancel)
		return
	}
	outs, err := s.generate(ctx, start, j, nil)
	if err != nil {
		writeError(w, err)
		return
	}
	o := outs[0]
	resp := chatResponse{ID: newID("chatcmpl-"), Object: "chat.completion", Created: start.Unix(), Model: s.modelID(), Usage: usageOf(outs)}
	for g, text := range o.Generations {
		msg, finish := req.message(text, o.FinishReasons[g])
		if g < len(o.Reasoning) {
			msg.ReasoningContent = o.Reasoning[g]
		}
		c := chatChoice{Index: g, Message: msg, FinishReason: finish}
		if req.logprobs {
			c.Logprobs = toChatLogprobs(logprobsOf(o, g))
		}
		resp.Choices = append(resp.Choices, c)
	}
	s.writeJSON(w, resp)
}

// message makes a generation's message: its text, or the tool calls
// found in it.
func (req *chatRequest) message(text string, reason llm.FinishReason) (chatMessage, string) {
	msg := chatMessage{Role: llm.RoleAssistant}
	finish := finishReason(reason)
	if req.parse {
		content, calls := toolcall.Parse(text, req.tools)
		if len(calls) > 0 {
			msg.ToolCalls, finish = req.limitCalls(calls), "tool_calls"
			text = content
		}
	}
	if text != "" || len(msg.ToolCalls) == 0 {
		msg.Content = &text
	}
	return msg, finish
}

// limitCalls keeps one call of a forced choice (whose grammar writes one),
// or without parallel_tool_calls.
func (req *chatRequest) limitCalls(calls []llm.ToolCall) []llm.ToolCall {
	if (req.choice.Forced() || !req.parallel) && len(calls) > 1 {
		return calls[:1]
	}
	return calls
}

// chatStream is the state of one choice of a streamed chat completion.
type chatStream struct {
	started  bool
	chunked  bool // the LLM streamed this generation
	finished bool
	text     strings.Builder      // everything generated, for forced calls
	call     *toolcall.CallStream // forced: the call streamed as it is written
	callID   string               // forced: the call's id, once its name is out
	args     strings.Builder      // forced: the arguments written so far
	argsSent int                  // forced: how many bytes of args are sent
	calls    *toolcall.Stream     // auto: content released as it cannot be a call
	finish   *llm.FinishReason    // the generation ended; its chunk waits for logprobs
	// pending is content not yet sent: the pieces of one batch of chunks go
	// out as one delta.
	pending   strings.Builder
	reasoning strings.Builder // reasoning not yet sent
}

func (s *Server) streamChat(ctx context.Context, w http.ResponseWriter, req *chatRequest, j job, start time.Time, cancel func()) {
	out := newSSE(w, s.opts.WriteTimeout, cancel)
	id, created, model := newID("chatcmpl-"), start.Unix(), s.modelID()
	choices := make([]chatStream, req.n)
	send := func(c chunkChoice) {
		b, _ := json.Marshal(chatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: model, Choices: []chunkChoice{c}})
		out.event(b)
	}
	content := func(g int, text string) { choices[g].pending.WriteString(text) }
	release := func(g int) {
		st := &choices[g]
		if st.reasoning.Len() > 0 {
			send(chunkChoice{Index: g, Delta: chatDelta{ReasoningContent: st.reasoning.String()}})
			st.reasoning.Reset()
		}
		if st.pending.Len() > 0 {
			text := st.pending.String()
			st.pending.Reset()
			send(chunkChoice{Index: g, Delta: chatDelta{Content: &text}})
		}
		if st.args.Len() > st.argsSent {
			args := st.args.String()[st.argsSent:]
			st.argsSent = st.args.Len()
			send(chunkChoice{Index: g, Delta: chatDelta{ToolCalls: []toolCallDelta{{Function: functionCallDelta{Arguments: args}}}}})
		}
	}
	// end sends what a generation's end releases: the rest of its content,
	// its tool calls, and (unless logprobs must wait for the outputs) its
	// finish reason.
	end := func(g int, reason llm.FinishReason, o *llm.Output) {
		st := &choices[g]
		finish := finishReason(reason)
		var calls []llm.ToolCall
		switch {
		case req.choice.Forced() && st.callID != "":
			// The call is out already: send the rest of its arguments
			// (none, unless Parse normalised them). A call cut before
			// its end stays as it was streamed, with the generation's
			// finish reason.
			if _, whole := toolcall.Parse(st.text.String(), req.tools); len(whole) > 0 {
				finish = "tool_calls"
				if rest, ok := strings.CutPrefix(whole[0].Function.Arguments, st.args.String()); ok {
					st.args.WriteString(rest)
				}
			}
		case req.choice.Forced():
			var rest string
			rest, calls = toolcall.Parse(st.text.String(), req.tools)
			if len(calls) == 0 {
				rest = st.text.String()
			}
			content(g, rest)
		case req.parse:
			var rest string
			rest, calls = st.calls.Close(req.tools)
			content(g, rest)
		}
		release(g)
		if len(calls) > 0 {
			finish = "tool_calls"
			delta := chatDelta{}
			for k, c := range req.limitCalls(calls) {
				delta.ToolCalls = append(delta.ToolCalls, toolCallDelta{Index: k, ID: c.ID, Type: c.Type,
					Function: functionCallDelta{Name: c.Function.Name, Arguments: c.Function.Arguments}})
			}
			send(chunkChoice{Index: g, Delta: delta})
		}
		if o == nil && req.logprobs {
			st.finish = &reason
			return
		}
		c := chunkChoice{Index: g, FinishReason: &finish}
		if o != nil {
			if g < len(o.Reasoning) && o.Reasoning[g] != "" && !st.chunked {
				c.Delta.ReasoningContent = o.Reasoning[g]
			}
			if req.logprobs {
				c.Logprobs = toChatLogprobs(logprobsOf(*o, g))
			}
		}
		send(c)
		st.finished = true
	}
	begin := func(g int) {
		if st := &choices[g]; !st.started {
			st.started = true
			empty := ""
			send(chunkChoice{Index: g, Delta: chatDelta{Role: llm.RoleAssistant, Content: &empty}})
			switch {
			case req.choice.Forced():
				st.call = &toolcall.CallStream{}
			case req.parse:
				st.calls = &toolcall.Stream{}
			}
		}
	}
	piece := func(g int, text string) {
		st := &choices[g]
		switch {
		case req.choice.Forced():
			st.text.WriteString(text)
			name, args := st.call.Write(text)
			if name != "" {
				release(g) // reasoning first
				st.callID = toolcall.NewID()
				send(chunkChoice{Index: g, Delta: chatDelta{ToolCalls: []toolCallDelta{{ID: st.callID, Type: "function", Function: functionCallDelta{Name: name}}}}})
			}
			st.args.WriteString(args)
		case st.calls != nil:
			content(g, st.calls.Write(text))
		default:
			content(g, text)
		}
	}
	outs, err := s.streamJob(ctx, start, j, func(chunks []llm.Chunk) {
		for _, c := range chunks {
			if c.Input != 0 || c.Generation < 0 || c.Generation >= req.n {
				continue
			}
			begin(c.Generation)
			choices[c.Generation].chunked = true
			choices[c.Generation].reasoning.WriteString(c.Reasoning)
			piece(c.Generation, c.Text)
			if c.Done {
				end(c.Generation, c.FinishReason, nil)
			}
		}
		for g := range choices {
			release(g)
		}
		out.flush()
	})
	if err != nil {
		out.fail(err)
		return
	}
	o := outs[0]
	for g := range choices {
		st := &choices[g]
		switch {
		case st.finished:
			continue
		case st.finish != nil:
			end(g, *st.finish, &o)
			continue
		case !st.started:
			// An LLM that does not stream (or a generation without
			// chunks): its whole text now.
			begin(g)
			piece(g, o.Generations[g])
		}
		end(g, o.FinishReasons[g], &o)
	}
	if req.includeUsage {
		b, _ := json.Marshal(chatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: model, Choices: []chunkChoice{}, Usage: usageOf(outs)})
		out.event(b)
	}
	out.done()
}
