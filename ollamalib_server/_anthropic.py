"""Anthropic's Messages API (``/v1/messages``, ``/v1/messages/count_tokens``) as a mapping onto the engine's chat.

Content blocks become chat messages (``text``, base64 ``image``, ``tool_use`` as tool calls, ``tool_result`` as
tool messages, ``thinking``), tools become Ollama tools, and the chat's answer becomes content blocks with
Anthropic's ``stop_reason``. Streams use Anthropic's named SSE events; errors use its
``{"type": "error", "error": {"type", "message"}}`` shape (see ``errors.anthropic_error_body``).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler

from ollamalib.errors import BadRequestError

from ._bodies import CONTEXT_OVERFLOW, KEEP_ALIVE, OPTIONS_MAP
from ._decode import AnyValue, Bool, Float, Int, Slice, String, Struct, body_operation, decode_body
from ._encoding import JSON_TYPE, SSE_TYPE, dumps
from ._errors import anthropic_error_body, error_status_and_text
from ._native import check_name
from ._openai import agent_overflow, truncation_fields, with_overflow
from ._streaming import ClosingStream, aclose, call_engine, chained, first_chunk, until_disconnect

__all__ = ["anthropic_routes"]

_PREFIX = "/v1/messages"


_MESSAGE = Struct("AnthropicMessage", {"role": String(), "content": AnyValue()}, required=("role", "content"))
_FIELDS = {
    "model": String(), "messages": Slice(_MESSAGE), "system": AnyValue(), "tools": Slice(AnyValue()),
    "tool_choice": AnyValue(), "thinking": AnyValue(), "metadata": AnyValue(), "options": OPTIONS_MAP,
    "keep_alive": KEEP_ALIVE, "context_overflow": CONTEXT_OVERFLOW,
}
BODY = Struct("MessagesRequest", {
    **_FIELDS, "max_tokens": Int(), "stop_sequences": Slice(String()), "temperature": Float(), "top_p": Float(),
    "top_k": Int(), "stream": Bool(),
}, required=("model", "messages", "max_tokens"), description="Anthropic's Messages request.")
COUNT_BODY = Struct("CountTokensRequest", _FIELDS, required=("model", "messages"),
                    description="Anthropic's token-counting request.")


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise BadRequestError("messages: content must be a string or a list of content blocks")
    for block in content:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise BadRequestError("messages: each content block must be an object with a type")
    return content


def _result_text(content: Any) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    return "".join(b.get("text", "") for b in _blocks(content) if b.get("type") == "text")


def chat_messages(req: dict[str, Any]) -> list[dict[str, Any]]:
    """``system`` and ``messages`` as Ollama chat messages."""
    out: list[dict[str, Any]] = []
    system = req.get("system")
    if system:
        text = system if isinstance(system, str) else _result_text(system)
        out.append({"role": "system", "content": text})
    names: dict[str, str] = {}
    messages = req.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequestError("messages: at least one message is required")
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            raise BadRequestError(f"messages: role must be 'user' or 'assistant', not {role!r}")
        current: dict[str, Any] = {"role": role, "content": ""}
        for block in _blocks(message.get("content")):
            kind = block["type"]
            if kind == "text":
                current["content"] += block.get("text") or ""
            elif kind == "image":
                source = block.get("source") or {}
                if source.get("type") != "base64" or not isinstance(source.get("data"), str):
                    raise BadRequestError("messages: only base64 image sources are supported")
                try:
                    base64.b64decode(source["data"], validate=True)
                except ValueError:
                    raise BadRequestError("messages: image data is not valid base64") from None
                current.setdefault("images", []).append(source["data"])
            elif kind == "thinking":
                current["thinking"] = (current.get("thinking") or "") + (block.get("thinking") or "")
            elif kind == "redacted_thinking":
                continue
            elif kind == "tool_use":
                if not isinstance(block.get("name"), str) or not isinstance(block.get("input", {}), dict):
                    raise BadRequestError("messages: a tool_use block needs a name and an object input")
                names[block.get("id") or ""] = block["name"]
                current.setdefault("tool_calls", []).append(
                    {"id": block.get("id"), "function": {"name": block["name"], "arguments": block.get("input") or {}}})
            elif kind == "tool_result":
                if current["content"] or current.get("images"):
                    out.append(current)
                    current = {"role": role, "content": ""}
                text = _result_text(block.get("content"))
                if block.get("is_error"):
                    text = f"Error: {text}"
                out.append({"role": "tool", "content": text, "tool_call_id": block.get("tool_use_id") or "",
                            "tool_name": names.get(block.get("tool_use_id") or "", "")})
            else:
                raise BadRequestError(f"messages: unsupported content block type {kind!r}")
        if current["content"] or current.get("images") or current.get("tool_calls") or current.get("thinking"):
            out.append(current)
    return out


def _tools(req: dict[str, Any]) -> list[dict[str, Any]] | None:
    tools = req.get("tools")
    if not tools:
        return None
    out = []
    for tool in tools:
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise BadRequestError("tools: each tool needs a name")
        if tool.get("type") not in (None, "custom"):
            raise BadRequestError(f"tools: unsupported tool type {tool.get('type')!r}")
        out.append({"type": "function", "function": {"name": tool["name"], "description": tool.get("description") or "",
                                                    "parameters": tool.get("input_schema") or {}}})
    return out


def _options(req: dict[str, Any], overflow: str) -> dict[str, Any]:
    options: dict[str, Any] = {**(req.get("options") or {}), "num_predict": req["max_tokens"]}
    for key in ("temperature", "top_p", "top_k"):
        if req.get(key) is not None:
            options[key] = req[key]
    stops = req.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise BadRequestError("stop_sequences: must be a list of strings")
        options["stop"] = stops
    return with_overflow(options, req, overflow)


def _check(req: dict[str, Any]) -> str:
    model = req.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequestError("model: Field required")
    check_name(model)
    return model


_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


def _tool_choice(choice: Any) -> str | dict[str, Any] | None:
    """Anthropic's ``tool_choice`` (``{"type": "auto" | "any" | "none"}`` or ``{"type": "tool", "name": ...}``) in
    the chat shape ChatRequest enforces."""
    if choice is None:
        return None
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind in _CHOICES:
        return _CHOICES[kind]
    if kind == "tool" and isinstance(choice.get("name"), str) and choice["name"]:
        return {"type": "function", "function": {"name": choice["name"]}}
    raise BadRequestError('tool_choice: must be {"type": "auto"}, {"type": "any"}, {"type": "none"} or '
                          '{"type": "tool", "name": ...}')


def _prompt_args(req: dict[str, Any]) -> dict[str, Any]:
    """What shapes the prompt: messages, tools, ``tool_choice`` (none: no tools) and thinking."""
    thinking = req.get("thinking") or {}
    think = True if isinstance(thinking, dict) and thinking.get("type") == "enabled" else None
    return {"messages": chat_messages(req), "tools": _tools(req), "tool_choice": _tool_choice(req.get("tool_choice")),
            "think": think}


def _kwargs(req: dict[str, Any], model: str, overflow: str) -> dict[str, Any]:
    max_tokens = req.get("max_tokens")
    if max_tokens is None:
        raise BadRequestError("max_tokens: Field required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise BadRequestError("max_tokens: must be a positive integer")
    return {"model": model, **_prompt_args(req), "options": _options(req, overflow),
            "keep_alive": req.get("keep_alive")}


def _stop_reason(r: Any, tool_calls: bool) -> tuple[str, str | None]:
    if tool_calls:
        return "tool_use", None
    if r is not None and r.done_reason == "length":
        return "max_tokens", None
    if r is not None and r.stop_sequence:
        return "stop_sequence", r.stop_sequence
    return "end_turn", None


def _usage(r: Any) -> dict[str, Any]:
    # Anthropic's input_tokens leave out what was read from the cache; cache_read_input_tokens counts that
    return {"input_tokens": (r.prompt_eval_count or 0) if r else 0, "output_tokens": (r.eval_count or 0) if r else 0,
            "cache_read_input_tokens": (r.prompt_cached_count or 0) if r else 0, **truncation_fields(r)}


def _tool_block(call: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": call.id or _id("toolu"), "name": call.function.name,
            "input": call.function.arguments or {}}


def anthropic_routes(engine: Any) -> list[HTTPRouteHandler]:
    """``POST /v1/messages`` and ``POST /v1/messages/count_tokens`` over ``engine`` (an AsyncEngine)."""

    @post(_PREFIX, operation_class=body_operation(BODY), summary="Anthropic Messages", status_code=200)
    async def messages(request: Request) -> Response:
        req = decode_body(await request.body(), BODY)
        model = _check(req)
        kwargs = _kwargs(req, model, agent_overflow(engine))
        mid = _id("msg")
        if not req.get("stream"):
            r = await until_disconnect(request, call_engine(engine.chat, stream=False, **kwargs))
            content: list[dict[str, Any]] = []
            if r.message.thinking:
                content.append({"type": "thinking", "thinking": r.message.thinking, "signature": ""})
            if r.message.content:
                content.append({"type": "text", "text": r.message.content})
            calls = [_tool_block(c) for c in r.message.tool_calls or []]
            content.extend(calls)
            reason, sequence = _stop_reason(r, bool(calls))
            body = {"id": mid, "type": "message", "role": "assistant", "model": model, "content": content,
                    "stop_reason": reason, "stop_sequence": sequence, "usage": _usage(r)}
            return Response(dumps(body), media_type=JSON_TYPE)
        iterator = await call_engine(engine.chat, stream=True, **kwargs)
        first = await until_disconnect(request, first_chunk(iterator))
        return ClosingStream(_events(mid, model, first, iterator), media_type=SSE_TYPE)

    @post(_PREFIX + "/count_tokens", operation_class=body_operation(COUNT_BODY),
          summary="Anthropic Messages: count tokens", status_code=200)
    async def count_tokens(request: Request) -> Response:
        req = decode_body(await request.body(), COUNT_BODY)
        model = _check(req)
        # The whole conversation is counted (no history dropped to fit num_ctx), as Anthropic counts it.
        count = await call_engine(engine.count_tokens, "chat", model=model, **_prompt_args(req),
                                  options={**(req.get("options") or {}), "context_overflow": "error"})
        return Response(dumps({"input_tokens": count}), media_type=JSON_TYPE)

    return [messages, count_tokens]


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + dumps({"type": kind, **data}) + b"\n\n"


async def _events(mid: str, model: str, first: Any, iterator: Any) -> AsyncIterator[bytes]:
    """Anthropic's stream: message_start, content blocks (start, deltas, stop), message_delta, message_stop."""
    index = -1
    open_kind: str | None = None
    last = None
    calls = False

    def start(kind: str, block: dict[str, Any]) -> list[bytes]:
        nonlocal index, open_kind
        out = stop()
        index += 1
        open_kind = kind
        return [*out, _event("content_block_start", {"index": index, "content_block": block})]

    def stop() -> list[bytes]:
        nonlocal open_kind
        if open_kind is None:
            return []
        out = []
        if open_kind == "thinking":
            out.append(_event("content_block_delta", {"index": index,
                                                      "delta": {"type": "signature_delta", "signature": ""}}))
        open_kind = None
        return [*out, _event("content_block_stop", {"index": index})]

    try:
        usage = {"input_tokens": 0, "output_tokens": 0}
        yield _event("message_start", {"message": {"id": mid, "type": "message", "role": "assistant", "model": model,
                                                   "content": [], "stop_reason": None, "stop_sequence": None,
                                                   "usage": usage}})
        yield _event("ping", {})
        async for r in chained(first, iterator):
            last = r
            msg = r.message
            if msg.thinking:
                for chunk in (start("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                              if open_kind != "thinking" else []):
                    yield chunk
                yield _event("content_block_delta", {"index": index,
                                                     "delta": {"type": "thinking_delta", "thinking": msg.thinking}})
            if msg.content:
                for chunk in (start("text", {"type": "text", "text": ""}) if open_kind != "text" else []):
                    yield chunk
                yield _event("content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": msg.content}})
            for call in msg.tool_calls or []:
                calls = True
                block = _tool_block(call)
                for chunk in start("tool_use", {**block, "input": {}}):
                    yield chunk
                yield _event("content_block_delta", {"index": index, "delta": {
                    "type": "input_json_delta", "partial_json": dumps(block["input"]).decode()}})
        for chunk in stop():
            yield chunk
        reason, sequence = _stop_reason(last, calls)
        yield _event("message_delta", {"delta": {"stop_reason": reason, "stop_sequence": sequence},
                                       "usage": {"output_tokens": _usage(last)["output_tokens"],
                                                 **truncation_fields(last)}})
        yield _event("message_stop", {})
    except Exception as exc:
        status, text = error_status_and_text(exc)
        yield _event("error", {"error": anthropic_error_body(status, text)["error"]})
    finally:
        await aclose(iterator)
