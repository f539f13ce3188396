"""Jinja chat templates (GGUF ``tokenizer.chat_template``) rendered as Hugging Face transformers does.

Same environment as ``apply_chat_template``: ``ImmutableSandboxedEnvironment`` with ``trim_blocks``,
``lstrip_blocks`` and loop controls, a ``tojson`` filter that keeps non-ASCII text and does not
HTML-escape, ``raise_exception`` and ``strftime_now`` globals, and the ``{% generation %}`` block.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..errors import TemplateError
from ._errors import TemplateExecError, TemplateSyntaxError

if TYPE_CHECKING:
    import jinja2

__all__ = ["compile_jinja", "jinja_variables", "render_jinja", "to_jinja_messages", "to_jinja_tools"]


def _raise_exception(message: str) -> None:
    import jinja2

    raise jinja2.exceptions.TemplateError(message)


def _tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None, sort_keys: bool = False) -> str:
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


@lru_cache(maxsize=1)
def _environment() -> Any:
    """transformers' chat-template environment (built on first use: jinja2 loads only when needed)."""
    import jinja2
    import jinja2.ext
    import jinja2.nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationBlock(jinja2.ext.Extension):
        """``{% generation %}...{% endgeneration %}`` (transformers' AssistantTracker) renders its body."""

        tags = {"generation"}

        def parse(self, parser: Any) -> jinja2.nodes.Node:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            call = self.call_method("_render_body")
            return jinja2.nodes.CallBlock(call, [], [], body).set_lineno(lineno)

        def _render_body(self, caller: Any) -> str:
            return str(caller())

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationBlock, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


@lru_cache(maxsize=64)
def compile_jinja(text: str) -> jinja2.Template:
    """Compile (once) a chat template; raises TemplateSyntaxError with the line of the problem."""
    import jinja2

    try:
        return _environment().from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateSyntaxError(f"template: line {exc.lineno}: {exc.message}", line=exc.lineno) from None


@lru_cache(maxsize=64)
def jinja_variables(text: str) -> frozenset[str]:
    """The undeclared variables a template reads (``messages``, ``tools``, ``bos_token``...)."""
    import jinja2
    import jinja2.meta

    try:
        return frozenset(jinja2.meta.find_undeclared_variables(_environment().parse(text)))
    except jinja2.TemplateSyntaxError:
        return frozenset()


def _dump(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json", by_alias=True, exclude_none=True)
    return obj


def _tool_call(call: Any) -> dict[str, Any]:
    call = _dump(call)
    if not isinstance(call, Mapping):
        return {"type": "function", "function": {}}
    out = dict(call)
    out.setdefault("type", "function")
    fn = dict(out["function"]) if isinstance(out.get("function"), Mapping) else {}
    args = fn.get("arguments")
    if isinstance(args, str):
        try:
            fn["arguments"] = json.loads(args)
        except ValueError:
            pass
    out["function"] = fn
    return out


def to_jinja_messages(messages: Iterable[Any] | None) -> list[dict[str, Any]]:
    """Messages as the dicts HF templates expect (OpenAI-style ``tool_calls``, ``reasoning_content``)."""
    out: list[dict[str, Any]] = []
    for m in messages or ():
        raw = _dump(m)
        if not isinstance(raw, Mapping):
            continue
        d: dict[str, Any] = dict(raw)
        role = d.get("role")
        if isinstance(role, str):
            d["role"] = role.lower()
        if d.get("content") is None:
            d["content"] = ""
        thinking = d.get("thinking")
        if thinking and "reasoning_content" not in d:
            d["reasoning_content"] = thinking
        if d.get("tool_calls"):
            d["tool_calls"] = [_tool_call(c) for c in d["tool_calls"]]
        tool_name = d.get("tool_name")
        if tool_name and "name" not in d:
            d["name"] = tool_name
        out.append(d)
    return out


def to_jinja_tools(tools: Iterable[Any] | None) -> list[dict[str, Any]] | None:
    """Tools as JSON-Schema dicts (``{"type": "function", "function": {...}}``), or None."""
    if tools is None:
        return None
    return [_dump(t) for t in tools]


def render_jinja(template: jinja2.Template, context: dict[str, Any]) -> str:
    """Render with the given variables; Jinja and sandbox errors become TemplateError."""
    import jinja2

    try:
        return template.render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateSyntaxError(f"template: line {exc.lineno}: {exc.message}", line=exc.lineno) from None
    except jinja2.TemplateError as exc:
        raise TemplateExecError(str(exc.message or exc)) from None
    except TemplateError:
        raise
    except Exception as exc:  # errors raised while evaluating template expressions
        raise TemplateExecError(f"{type(exc).__name__}: {exc}") from None
