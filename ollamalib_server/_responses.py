"""OpenAI's Responses API (``/v1/responses``) as a mapping onto the engine's chat.

Input items become chat messages, function tools become Ollama tools, and the chat's answer becomes output
items (``reasoning``, ``message`` with ``output_text``, ``function_call``). Beyond Ollama, responses are stateful:
with ``store`` (the default) a response is kept, bounded by count and age, so ``previous_response_id`` continues
its conversation without resending it (the slot's cached prefix then covers the earlier turns), and
``GET``/``DELETE /v1/responses/{id}`` work.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from ollamalib.errors import BadRequestError, InvalidNameError, ResponseNotFoundError

from ._bodies import CONTEXT_OVERFLOW, KEEP_ALIVE, OPTIONS_MAP
from ._decode import AnyValue, Bool, Float, Int, Slice, String, Struct, body_operation, decode_body
from ._encoding import JSON_TYPE, SSE_TYPE, dumps
from ._errors import error_status_and_text, openai_error_body
from ._native import check_name
from ._openai import _EFFORTS, _image, agent_overflow, token_counts, truncation_fields, with_overflow
from ._streaming import ClosingStream, aclose, call_engine, chained, first_chunk, until_disconnect

__all__ = ["ResponseStore", "responses_routes"]


BODY = Struct("ResponsesRequest", {
    "model": String(), "input": AnyValue(), "instructions": String(), "previous_response_id": String(),
    "store": Bool(), "stream": Bool(), "temperature": Float(), "top_p": Float(), "max_output_tokens": Int(),
    "tools": Slice(AnyValue()), "tool_choice": AnyValue(), "parallel_tool_calls": Bool(),
    "reasoning": Struct("ResponsesReasoning", {"effort": String(), "summary": String()}),
    "text": Struct("ResponsesText", {"format": AnyValue()}), "metadata": AnyValue(),
    "truncation": String(), "options": OPTIONS_MAP, "keep_alive": KEEP_ALIVE, "context_overflow": CONTEXT_OVERFLOW,
}, required=("model", "input"), description="OpenAI's Responses request (function tools only).")


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


class ResponseStore:
    """Stored responses and the conversations behind them: at most ``max_items``, none older than ``max_age``."""

    def __init__(self, max_items: int, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_items, self.max_age, self.clock = max_items, max_age, clock
        self._items: OrderedDict[str, tuple[float, dict[str, Any], list[dict[str, Any]]]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, response: dict[str, Any], conversation: list[dict[str, Any]]) -> None:
        with self._lock:
            self._items[response["id"]] = (self.clock(), response, conversation)
            self._items.move_to_end(response["id"])
            self._expire()

    def get(self, rid: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        with self._lock:
            self._expire()
            item = self._items.get(rid)
            return None if item is None else (item[1], item[2])

    def delete(self, rid: str) -> bool:
        with self._lock:
            return self._items.pop(rid, None) is not None

    def _expire(self) -> None:
        now = self.clock()
        while self._items and (len(self._items) > self.max_items or now - next(iter(self._items.values()))[0] > self.max_age):
            self._items.popitem(last=False)


def _not_found(rid: str) -> ResponseNotFoundError:
    return ResponseNotFoundError(f"Response with id '{rid}' not found.")


def _text_parts(content: Any, role: str) -> list[dict[str, Any]]:
    """A message item's content (a string or input/output parts) as Ollama messages of ``role``."""
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if not isinstance(content, list):
        raise BadRequestError("invalid message content: expected a string or a list of content parts")
    out: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text") and isinstance(part.get("text"), str):
            out.append({"role": role, "content": part["text"]})
        elif kind == "input_image":
            url = part.get("image_url")
            if not isinstance(url, str):
                raise BadRequestError("input_image needs an image_url (a base64 data URL)")
            out.append({"role": role, "content": "", "images": [_image(url)]})
        elif kind == "refusal":
            out.append({"role": role, "content": part.get("refusal") or ""})
        else:
            raise BadRequestError(f"unsupported content part type: {kind!r}")
    return out


def input_messages(items: Any) -> list[dict[str, Any]]:
    """Responses ``input`` (a string or a list of items) as Ollama chat messages."""
    messages: list[dict[str, Any]] = []
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    if not isinstance(items, list):
        raise BadRequestError("input must be a string or a list of input items")
    call_names: dict[str, str] = {}
    thinking = ""
    for item in items:
        if not isinstance(item, dict):
            raise BadRequestError("each input item must be an object")
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise BadRequestError(f"unsupported message role: {role!r}")
            parts = _text_parts(item.get("content"), "system" if role == "developer" else role)
            if thinking and role == "assistant" and parts:
                parts[0]["thinking"], thinking = thinking, ""
            messages.extend(parts)
        elif kind == "function_call":
            name, call_id = item.get("name"), item.get("call_id") or item.get("id") or ""
            try:
                arguments = json.loads(item.get("arguments") or "{}")
            except ValueError:
                raise BadRequestError(f"invalid function_call arguments for {name!r}: not JSON") from None
            if not isinstance(name, str) or not isinstance(arguments, dict):
                raise BadRequestError("a function_call item needs a name and JSON object arguments")
            call_names[call_id] = name
            call = {"id": call_id, "function": {"name": name, "arguments": arguments}}
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and not last.get("content") and last.get("tool_calls"):
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": [call],
                                 **({"thinking": thinking} if thinking else {})})
                thinking = ""
        elif kind == "function_call_output":
            call_id = item.get("call_id") or ""
            output = item.get("output")
            text = output if isinstance(output, str) else "".join(
                p.get("text", "") for p in output or [] if isinstance(p, dict))
            messages.append({"role": "tool", "content": text, "tool_call_id": call_id,
                             "tool_name": call_names.get(call_id, "")})
        elif kind == "reasoning":
            texts = [p.get("text", "") for p in (item.get("content") or item.get("summary") or [])
                     if isinstance(p, dict)]
            thinking = "".join(texts)
        else:
            raise BadRequestError(f"unsupported input item type: {kind!r}")
    return messages


def _tools(tools: Any) -> list[dict[str, Any]] | None:
    if not tools:
        return None
    out = []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("name"), str):
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise BadRequestError(f"unsupported tool type: {kind!r} (only function tools are served)")
        out.append({"type": "function", "function": {"name": tool["name"], "description": tool.get("description") or "",
                                                    "parameters": tool.get("parameters") or {}}})
    return out


def _tool_choice(choice: Any) -> Any:
    """Responses' ``tool_choice`` in the chat shape ChatRequest checks: ``{"type": "function", "name": ...}``
    names its function at the top level; strings and anything else pass through to be checked there."""
    if isinstance(choice, dict) and choice.get("type") == "function" and "function" not in choice:
        return {"type": "function", "function": {"name": choice.get("name")}}
    return choice


def _format(text: Any) -> Any:
    fmt = (text or {}).get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        return fmt.get("schema") or "json"
    if fmt.get("type") == "json_object":
        return "json"
    return None


def _think(reasoning: Any) -> bool | str | None:
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    if not effort:
        return None
    if effort not in _EFFORTS:
        raise BadRequestError(f"invalid reasoning effort: {effort!r}")
    return _EFFORTS[effort]


_TRUNCATION = {"auto": "truncate", "disabled": "error"}  # OpenAI's ``truncation`` as context_overflow


def _options(req: dict[str, Any], default: str) -> dict[str, Any]:
    options: dict[str, Any] = {"temperature": 1.0, "top_p": 1.0, **(req.get("options") or {})}
    for key in ("temperature", "top_p"):
        if req.get(key) is not None:
            options[key] = req[key]
    if req.get("max_output_tokens") is not None:
        options["num_predict"] = req["max_output_tokens"]
    truncation = req.get("truncation")
    if truncation is not None and truncation not in _TRUNCATION:
        raise BadRequestError(f"Invalid value: '{truncation}'. Supported values are: 'auto' and 'disabled'.")
    return with_overflow(options, req, _TRUNCATION.get(truncation or "") or default)


def _message_item(text: str, item_id: str, status: str = "completed") -> dict[str, Any]:
    return {"type": "message", "id": item_id, "status": status, "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}] if text or
            status == "completed" else []}


def _reasoning_item(text: str, item_id: str) -> dict[str, Any]:
    return {"type": "reasoning", "id": item_id, "summary": [],
            "content": [{"type": "reasoning_text", "text": text}] if text else []}


def _call_item(call: Any, status: str = "completed") -> dict[str, Any]:
    return {"type": "function_call", "id": _id("fc"), "call_id": call.id or _id("call"), "name": call.function.name,
            "arguments": dumps(call.function.arguments).decode(), "status": status}


class _Turn:
    """One response being built: its request fields, output items and the conversation it extends."""

    def __init__(self, req: dict[str, Any], model: str, conversation: list[dict[str, Any]],
                 overflow: str = "error") -> None:
        self.req, self.model, self.conversation = req, model, conversation
        self.truncation = "auto" if overflow == "truncate" else "disabled"
        self.id = _id("resp")
        self.created = int(time.time())
        self.output: list[dict[str, Any]] = []

    def body(self, status: str, last: Any = None, error: dict[str, Any] | None = None) -> dict[str, Any]:
        req = self.req
        incomplete = status == "incomplete"
        out: dict[str, Any] = {
            "id": self.id, "object": "response", "created_at": self.created, "status": status,
            "model": self.model, "output": self.output, "error": error,
            "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
            "instructions": req.get("instructions"), "metadata": req.get("metadata") or {},
            "parallel_tool_calls": req.get("parallel_tool_calls", True),
            "previous_response_id": req.get("previous_response_id"),
            "temperature": req.get("temperature", 1.0), "top_p": req.get("top_p", 1.0),
            "max_output_tokens": req.get("max_output_tokens"), "tool_choice": req.get("tool_choice") or "auto",
            "tools": req.get("tools") or [], "store": req.get("store", True),
            "text": req.get("text") or {"format": {"type": "text"}}, "reasoning": req.get("reasoning"),
            "truncation": self.truncation,
        }
        if last is not None:
            prompt, cached, completion = token_counts(last)
            out["usage"] = {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion,
                            "input_tokens_details": {"cached_tokens": cached},
                            "output_tokens_details": {"reasoning_tokens": 0}, **truncation_fields(last)}
        return out

    def status(self, last: Any) -> str:
        length = last is not None and last.done_reason == "length"
        return "incomplete" if length and self.req.get("max_output_tokens") is not None else "completed"

    def finish(self, store: ResponseStore, last: Any, content: str, thinking: str, calls: list[Any]) -> dict[str, Any]:
        body = self.body(self.status(last), last)
        if self.req.get("store", True):
            reply: dict[str, Any] = {"role": "assistant", "content": content}
            if thinking:
                reply["thinking"] = thinking
            if calls:
                reply["tool_calls"] = [{"id": item["call_id"], "function": {"name": item["name"],
                                        "arguments": json.loads(item["arguments"])}} for item in calls]
            store.put(body, [*self.conversation, reply])
        return body


def responses_routes(engine: Any, store: ResponseStore) -> list[HTTPRouteHandler]:
    """``POST /v1/responses`` and ``GET``/``DELETE /v1/responses/{id}`` over ``engine`` (an AsyncEngine)."""

    @post("/v1/responses", operation_class=body_operation(BODY), summary="OpenAI Responses", status_code=200)
    async def create_response(request: Request) -> Response:
        req = decode_body(await request.body(), BODY)
        model = req.get("model") or ""
        if not isinstance(model, str) or not model:
            raise InvalidNameError("model is required")
        check_name(model)
        history: list[dict[str, Any]] = []
        if req.get("previous_response_id"):
            found = store.get(str(req["previous_response_id"]))
            if found is None:
                raise _not_found(str(req["previous_response_id"]))
            history = found[1]
        conversation = [*history, *input_messages(req.get("input", []))]  # instructions do not carry over
        if not conversation:
            raise BadRequestError("input is required")
        instructions = [{"role": "system", "content": req["instructions"]}] if req.get("instructions") else []
        options = _options(req, agent_overflow(engine))
        kwargs = {"model": model, "messages": [*instructions, *conversation], "tools": _tools(req.get("tools")),
                  "tool_choice": _tool_choice(req.get("tool_choice")), "format": _format(req.get("text")),
                  "options": options, "think": _think(req.get("reasoning")), "keep_alive": req.get("keep_alive")}
        turn = _Turn(req, model, conversation, str(options["context_overflow"]).lower())
        if not req.get("stream"):
            r = await until_disconnect(request, call_engine(engine.chat, stream=False, **kwargs))
            msg = r.message
            if msg.thinking:
                turn.output.append(_reasoning_item(msg.thinking, _id("rs")))
            calls = [_call_item(c) for c in msg.tool_calls or []]
            if msg.content or not calls:
                turn.output.append(_message_item(msg.content or "", _id("msg")))
            turn.output.extend(calls)
            body = turn.finish(store, r, msg.content or "", msg.thinking or "", calls)
            body["output_text"] = msg.content or ""
            return Response(dumps(body), media_type=JSON_TYPE)
        iterator = await call_engine(engine.chat, stream=True, **kwargs)
        first = await until_disconnect(request, first_chunk(iterator))
        return ClosingStream(_events(turn, store, first, iterator), media_type=SSE_TYPE)

    @get("/v1/responses/{rid:str}", summary="OpenAI Responses: retrieve")
    async def get_response(rid: FromPath[str]) -> Response:
        found = store.get(rid)
        if found is None:
            raise _not_found(rid)
        return Response(dumps(found[0]), media_type=JSON_TYPE)

    @delete("/v1/responses/{rid:str}", summary="OpenAI Responses: delete", status_code=200)
    async def delete_response(rid: FromPath[str]) -> Response:
        if not store.delete(rid):
            raise _not_found(rid)
        return Response(dumps({"id": rid, "object": "response", "deleted": True}), media_type=JSON_TYPE)

    return [create_response, get_response, delete_response]


async def _events(turn: _Turn, store: ResponseStore, first: Any, iterator: Any) -> AsyncIterator[bytes]:
    """The Responses event stream the ``openai`` SDK's ``responses.stream()`` assembles."""
    seq = 0

    def event(kind: str, **fields: Any) -> bytes:
        nonlocal seq
        data = {"type": kind, "sequence_number": seq, **fields}
        seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + dumps(data) + b"\n\n"

    open_kind: str | None = None  # "reasoning" or "message": the item receiving deltas
    item: dict[str, Any] = {}
    text = thinking = ""
    calls: list[dict[str, Any]] = []

    def close_item() -> list[bytes]:
        nonlocal open_kind
        out: list[bytes] = []
        index = len(turn.output) - 1
        if open_kind == "message":
            part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
            item.update(status="completed", content=[part])
            out += [event("response.output_text.done", item_id=item["id"], output_index=index, content_index=0,
                          text=text, logprobs=[]),
                    event("response.content_part.done", item_id=item["id"], output_index=index, content_index=0,
                          part=part)]
        elif open_kind == "reasoning":
            item["content"] = [{"type": "reasoning_text", "text": thinking}]
        if open_kind is not None:
            out.append(event("response.output_item.done", output_index=index, item=item))
        open_kind = None
        return out

    def open_item(kind: str) -> list[bytes]:
        nonlocal open_kind, item
        out = close_item()
        item = _message_item("", _id("msg"), "in_progress") if kind == "message" else _reasoning_item("", _id("rs"))
        turn.output.append(item)
        index = len(turn.output) - 1
        out.append(event("response.output_item.added", output_index=index, item=dict(item)))
        if kind == "message":
            out.append(event("response.content_part.added", item_id=item["id"], output_index=index, content_index=0,
                             part={"type": "output_text", "text": "", "annotations": [], "logprobs": []}))
        open_kind = kind
        return out

    last = None
    try:
        yield event("response.created", response=turn.body("in_progress"))
        yield event("response.in_progress", response=turn.body("in_progress"))
        async for r in chained(first, iterator):
            last = r
            msg = r.message
            if msg.thinking:
                for chunk in (open_item("reasoning") if open_kind != "reasoning" else []):
                    yield chunk
                thinking += msg.thinking
                yield event("response.reasoning_text.delta", item_id=item["id"], output_index=len(turn.output) - 1,
                            content_index=0, delta=msg.thinking)
            if msg.content:
                for chunk in (open_item("message") if open_kind != "message" else []):
                    yield chunk
                text += msg.content
                yield event("response.output_text.delta", item_id=item["id"], output_index=len(turn.output) - 1,
                            content_index=0, delta=msg.content, logprobs=[])
            for call in msg.tool_calls or []:
                for chunk in close_item():
                    yield chunk
                done = _call_item(call)
                calls.append(done)
                turn.output.append(done)
                index = len(turn.output) - 1
                yield event("response.output_item.added", output_index=index,
                            item={**done, "arguments": "", "status": "in_progress"})
                yield event("response.function_call_arguments.delta", item_id=done["id"], output_index=index,
                            delta=done["arguments"])
                yield event("response.function_call_arguments.done", item_id=done["id"], output_index=index,
                            name=done["name"], arguments=done["arguments"])
                yield event("response.output_item.done", output_index=index, item=done)
        if not turn.output:
            for chunk in open_item("message"):
                yield chunk
        for chunk in close_item():
            yield chunk
        body = turn.finish(store, last, text, thinking, calls)
        yield event("response.completed" if body["status"] == "completed" else "response.incomplete", response=body)
    except Exception as exc:
        status, message = error_status_and_text(exc)
        error = openai_error_body(status, message)["error"]
        yield event("response.failed", response=turn.body("failed", last, {"code": error["type"], "message": message}))
    finally:
        await aclose(iterator)
