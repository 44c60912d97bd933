#!/usr/bin/env python3
"""Reference renderer for locallm's chat-template tests.

Renders chat templates with Jinja2 configured as Hugging Face transformers
configures it in apply_chat_template (transformers' chat_template_utils):
an ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, the
loopcontrols extension and a no-op {% generation %} block, a tojson filter
that calls json.dumps with ensure_ascii=False (and the indent, separators and
sort_keys transformers passes on), raise_exception, and strftime_now, here
reading a pinned clock instead of the wall clock.

The request is one JSON object on stdin:

  {"templates": {"NAME": "SOURCE", ...},
   "cases": [{"template": "NAME", "messages": [...], "tools": [...] or null,
              "documents": [...] or null, "add_generation_prompt": bool,
              "continue_final_message": bool, "bos_token": "..." or absent,
              "eos_token": "..." or absent, "now": "YYYY-MM-DDTHH:MM:SS",
              "vars": {...}}, ...]}

Messages are OpenAI chat messages (what json.Marshal writes for locallm's
llm.Message); the one conversion made is that a tool call's "arguments",
when it is a JSON string, is parsed into an object, since that is what
transformers users pass and templates expect. Everything else is passed as
it is. A template's own error is a result, not a failure: raise_exception
gives "TemplateError: MESSAGE".

The answer, on stdout, is a JSON list with one object per case: {"output":
TEXT} or {"error": "ExceptionType: message"}.
"""

import datetime
import json
import sys

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment


class Generation(jinja2.ext.Extension):
    """transformers' {% generation %} block (AssistantTracker), without the
    mask of assistant tokens it can record: it renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def make_env(now):
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[Generation, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: now.strftime(fmt)
    return env


def convert_messages(messages):
    out = []
    for m in messages:
        m = dict(m)
        if m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                c = dict(c)
                f = dict(c["function"])
                if isinstance(f.get("arguments"), str):
                    f["arguments"] = json.loads(f["arguments"]) if f["arguments"] else {}
                c["function"] = f
                calls.append(c)
            m["tool_calls"] = calls
        out.append(m)
    return out


def continue_final(rendered, messages):
    """transformers' continue_final_message: cut the text after the final
    message's content, so that generation continues it."""
    final = messages[-1]["content"]
    if final.strip() not in rendered:
        raise ValueError("continue_final_message is set but the final message does not appear in the chat after applying the chat template")
    loc = rendered.rindex(final.strip())
    if rendered[loc : loc + len(final.lstrip())] == final:
        return rendered[: loc + len(final.lstrip())]
    return rendered[: loc + len(final.strip())]


def render(env_cache, templates, case):
    now = datetime.datetime.fromisoformat(case.get("now", "2024-07-26T10:30:00"))
    key = (case["template"], now)
    if key not in env_cache:
        env_cache[key] = make_env(now).from_string(templates[case["template"]])
    tmpl = env_cache[key]
    messages = convert_messages(case["messages"])
    kwargs = dict(case.get("vars") or {})
    for tok in ("bos_token", "eos_token"):
        if case.get(tok) is not None:
            kwargs[tok] = case[tok]
    out = tmpl.render(
        messages=messages,
        tools=case.get("tools"),
        documents=case.get("documents"),
        add_generation_prompt=case.get("add_generation_prompt", False),
        **kwargs,
    )
    if case.get("continue_final_message"):
        out = continue_final(out, messages)
    return out


def main():
    req = json.load(sys.stdin)
    templates = req["templates"]
    cache = {}
    results = []
    for case in req["cases"]:
        try:
            results.append({"output": render(cache, templates, case)})
        except Exception as e:  # every failure is a result, compared with the Go side's
            results.append({"error": "%s: %s" % (type(e).__name__, e)})
    json.dump(results, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
