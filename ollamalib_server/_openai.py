"""The OpenAI-compatible shim (``/v1/*``): OpenAI requests mapped onto the engine's chat/generate/embed.

Follows Ollama's openai package: field mapping, ``temperature``/``top_p`` defaulting to 1.0, SSE streams
(role first, a finish chunk, an optional usage chunk, ``data: [DONE]``), whole tool calls per chunk and
OpenAI-shaped errors. Beyond Ollama: Ollama ``options`` (e.g. ``num_ctx``) and ``keep_alive`` are accepted in
the body, ``max_completion_tokens`` is honoured, and logprobs work on both completions endpoints.
"""

from __future__ import annotations

import base64
import logging
import random
import secrets
import string
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from ollamalib.errors import BadRequestError, InvalidNameError, InvalidOptionError, ModelNotFoundError
from ollamalib.names import ModelName
from ollamalib.requests import ChatRequest, EmbedRequest, GenerateRequest

from . import _bodies as rq
from ._decode import body_operation, decode_body, parse_json
from ._encoding import JSON_TYPE, SSE_TYPE, dumps
from ._errors import error_status_and_text, openai_error_body
from ._native import check_name, clean_tool
from ._streaming import ClosingStream, aclose, call_engine, chained, first_chunk, until_disconnect

__all__ = ["openai_routes"]

log = logging.getLogger("ollamalib.server")

_DONE = b"data: [DONE]\n\n"
_EFFORTS = {"none": False, "minimal": "low", "low": "low", "medium": "medium", "high": "high", "max": "max",
            "xhigh": "max", "ultra": "max"}
_IMAGE_PREFIXES = ("data:;base64,",) + tuple(f"data:image/{t};base64," for t in ("jpeg", "jpg", "png", "webp"))
_ID_CHARS = string.ascii_lowercase + string.digits


def _json(data: Any, status_code: int = 200) -> Response:
    return Response(dumps(data), status_code=status_code, media_type=JSON_TYPE)


def _sse(data: Any) -> bytes:
    return b"data: " + dumps(data) + b"\n\n"


def _sse_error(status: int, text: str) -> bytes:
    return _sse(openai_error_body(status, text))


def _go_type(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    return "map[string]interface {}"


def _stop(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, str):
                raise InvalidOptionError(f"invalid type for 'stop' field: {_go_type(item)}")
        return list(value)
    return None


def _options(req: dict[str, Any], *, top_p_zero_is_unset: bool = False) -> dict[str, Any]:
    """OpenAI sampling fields as Ollama options; defaults temperature=1, top_p=1; explicit fields win."""
    options: dict[str, Any] = {"temperature": 1.0, "top_p": 1.0}
    options.update(req.get("options") or {})
    stop = _stop(req.get("stop"))
    if stop is not None:
        options["stop"] = stop
    max_tokens = req.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = req.get("max_tokens")
    if max_tokens is not None:
        options["num_predict"] = max_tokens
    for key in ("seed", "temperature", "frequency_penalty", "presence_penalty"):
        if req.get(key) is not None:
            options[key] = req[key]
    top_p = req.get("top_p")
    if top_p is not None and not (top_p_zero_is_unset and top_p == 0):
        options["top_p"] = top_p
    return with_overflow(options, req)


AGENT_OVERFLOW = "error"
"""The context_overflow default of /v1/responses and /v1/messages: an agent must not lose context unseen."""


def with_overflow(options: dict[str, Any], req: dict[str, Any], default: str | None = None) -> dict[str, Any]:
    """``options`` with ``context_overflow`` from the body's top-level field (an ollamalib extension on the
    OpenAI and Anthropic bodies), else from its ``options``, else ``default`` (an API's own; None leaves the
    engine's: the Modelfile's, OLLAMALIB_CONTEXT_OVERFLOW, else truncate)."""
    value = req.get("context_overflow")
    if value is None:
        value = options.get("context_overflow", default)
    if value is not None:
        options["context_overflow"] = value
    return options


def agent_overflow(engine: Any) -> str:
    """The agent APIs' default policy: ``error``, unless OLLAMALIB_CONTEXT_OVERFLOW sets one for every API."""
    return getattr(getattr(engine, "settings", None), "context_overflow", None) or AGENT_OVERFLOW


def truncation_fields(r: Any) -> dict[str, Any]:
    """The usage fields that say a prompt was cut to fit (none when it was not): ollamalib's extension."""
    if r is None or not getattr(r, "truncated", None):
        return {}
    return {"truncated": True, "truncation": r.truncation.model_dump(mode="json", exclude_none=True)}


def token_counts(r: Any) -> tuple[int, int, int]:
    """(prompt tokens including those read from the cache, the cached ones, generated tokens) of a final chunk:
    OpenAI's usage counts the whole prompt, where the native ``prompt_eval_count`` counts what was evaluated."""
    cached = r.prompt_cached_count or 0
    return (r.prompt_eval_count or 0) + cached, cached, r.eval_count or 0


def _tool_call_id() -> str:
    return "call_" + "".join(secrets.choice(_ID_CHARS) for _ in range(8))


def _image(url: str) -> str:
    if url.startswith(("http://", "https://")):
        raise InvalidOptionError("image URLs are not currently supported, please use base64 encoded data instead")
    for prefix in _IMAGE_PREFIXES:
        if url.startswith(prefix):
            data = url[len(prefix):]
            try:
                base64.b64decode(data, validate=True)
            except ValueError:
                break
            return data
    raise InvalidOptionError("invalid image input")


def _tool_calls_in(calls: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    out = []
    for call in calls or []:
        fn = call.get("function") or {}
        try:
            arguments = parse_json(fn.get("arguments") or "")
        except BadRequestError:  # nested too deep: Go's own text
            raise
        except ValueError:
            raise InvalidOptionError("invalid tool call arguments") from None
        if not isinstance(arguments, dict):
            raise InvalidOptionError("invalid tool call arguments")
        tc: dict[str, Any] = {"function": {"name": fn.get("name") or "", "arguments": arguments}}
        if call.get("id"):
            tc["id"] = call["id"]
        out.append(tc)
    return out


def _tool_name(messages: list[dict[str, Any]], call_id: str) -> str:
    for msg in reversed(messages):
        for call in msg.get("tool_calls") or []:
            if call.get("id") == call_id:
                return (call.get("function") or {}).get("name") or ""
    return ""


def _messages(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI messages -> Ollama messages (one message per content part, images as base64)."""
    out: list[dict[str, Any]] = []
    for msg in raw:
        role = msg.get("role") or ""
        tool_name = ""
        if role.lower() == "tool":
            tool_name = msg.get("name") or ""
            if not tool_name and msg.get("tool_call_id"):
                tool_name = _tool_name(raw, msg["tool_call_id"])
        content = msg.get("content")
        if isinstance(content, str):
            m: dict[str, Any] = {"role": role, "content": content}
            if msg.get("reasoning"):
                m["thinking"] = msg["reasoning"]
            if msg.get("tool_calls"):
                m["tool_calls"] = _tool_calls_in(msg["tool_calls"])
            if tool_name:
                m["tool_name"] = tool_name
            if msg.get("tool_call_id"):
                m["tool_call_id"] = msg["tool_call_id"]
            out.append(m)
        elif isinstance(content, list):
            start = len(out)
            for part in content:
                if not isinstance(part, dict):
                    raise InvalidOptionError("invalid message format")
                kind = part.get("type")
                if kind == "text":
                    if not isinstance(part.get("text"), str):
                        raise InvalidOptionError("invalid message format")
                    out.append({"role": role, "content": part["text"]})
                elif kind == "image_url":
                    url = part.get("image_url")
                    if isinstance(url, dict):
                        url = url.get("url")
                    if not isinstance(url, str):
                        raise InvalidOptionError("invalid message format")
                    out.append({"role": role, "content": "", "images": [_image(url)]})
                elif kind == "input_audio":
                    audio = part.get("input_audio")
                    data = audio.get("data") if isinstance(audio, dict) else None
                    if not isinstance(data, str):
                        raise InvalidOptionError("invalid message format")
                    out.append({"role": role, "content": "", "images": [data]})
                else:
                    raise InvalidOptionError("invalid message format")
            if len(out) > start and msg.get("tool_calls"):
                last = out[-1]
                last["tool_calls"] = _tool_calls_in(msg["tool_calls"])
                if tool_name:
                    last["tool_name"] = tool_name
                if msg.get("tool_call_id"):
                    last["tool_call_id"] = msg["tool_call_id"]
                if msg.get("reasoning"):
                    last["thinking"] = msg["reasoning"]
        else:
            if msg.get("tool_calls") is None:
                raise InvalidOptionError(f"invalid message content type: {_go_type(content)}")
            m = {"role": role, "content": "", "tool_calls": _tool_calls_in(msg["tool_calls"])}
            if msg.get("reasoning"):
                m["thinking"] = msg["reasoning"]
            if msg.get("tool_call_id"):
                m["tool_call_id"] = msg["tool_call_id"]
            out.append(m)
    return out


def _think(req: dict[str, Any]) -> bool | str | None:
    effort = req.get("reasoning_effort")
    if effort is None and req.get("reasoning"):
        effort = req["reasoning"].get("effort")
    if not effort:
        return None
    if effort not in _EFFORTS:
        raise BadRequestError(f"invalid reasoning value: '{effort}' (must be \"none\", \"minimal\", \"low\", \"medium\", \"high\", "
            "\"xhigh\", \"ultra\" or \"max\")",
        )
    return _EFFORTS[effort]


def _format(req: dict[str, Any]) -> Any:
    rf = req.get("response_format") or {}
    kind = (rf.get("type") or "").strip().lower()
    if kind == "json_object":
        return "json"
    if kind == "json_schema" and rf.get("json_schema"):
        return rf["json_schema"].get("schema")
    return None


def _check_logprobs(top: int | None) -> None:
    if top is not None and not 0 <= top <= 20:
        raise InvalidOptionError("top_logprobs must be between 0 and 20")


def _tool_calls_out(calls: list[Any] | None) -> list[dict[str, Any]]:
    out = []
    for i, call in enumerate(calls or []):
        fn = call.function
        out.append(
            {
                "id": call.id or _tool_call_id(),
                "index": fn.index if fn.index is not None else i,
                "type": "function",
                "function": {"name": fn.name, "arguments": dumps(fn.arguments).decode()},
            }
        )
    return out


def _finish(reason: str | None, tool_calls: bool) -> str | None:
    if tool_calls:
        return "tool_calls"
    if not reason:
        return None
    return "length" if reason == "length" else "stop"


def _usage(r: Any) -> dict[str, Any]:
    prompt, cached, completion = token_counts(r)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached}, **truncation_fields(r)}


def _logprobs(r: Any) -> dict[str, Any] | None:
    if not r.logprobs:
        return None
    return {"content": [lp.model_dump(mode="json", exclude_none=True) for lp in r.logprobs]}


def _legacy_logprobs(items: list[Any], offset: int) -> dict[str, Any]:
    tokens, token_logprobs, top, offsets = [], [], [], []
    for lp in items:
        tokens.append(lp.token)
        token_logprobs.append(lp.logprob)
        top.append({t.token: t.logprob for t in lp.top_logprobs or []})
        offsets.append(offset)
        offset += len(lp.token)
    return {"tokens": tokens, "token_logprobs": token_logprobs, "top_logprobs": top, "text_offset": offsets}


def _unix(dt: Any) -> int:
    return int(dt.timestamp()) if dt is not None else int(time.time())


def openai_routes(engine: Any) -> list[HTTPRouteHandler]:
    """The OpenAI-compatible route handlers over ``engine`` (an AsyncEngine)."""

    @post("/v1/chat/completions", operation_class=body_operation(rq.OA_CHAT), summary="OpenAI chat completions",
          status_code=200)
    async def chat_completions(request: Request) -> Response:
        req = decode_body(await request.body(), rq.OA_CHAT)
        if not req.get("messages"):
            raise InvalidOptionError("[] is too short - 'messages'")
        model = req.get("model") or ""
        if not model:
            raise InvalidNameError("model is required")
        check_name(model)
        _check_logprobs(req.get("top_logprobs"))
        kwargs = {
            "model": model,
            "messages": _messages(req["messages"]),
            "tools": [clean_tool(t) for t in req.get("tools") or []] or None,
            "tool_choice": req.get("tool_choice"),  # enforced: "none", "required" and named calls by grammar
            "format": _format(req),
            "options": _options(req),
            "think": _think(req),
            "keep_alive": req.get("keep_alive"),
            "logprobs": bool(req.get("logprobs")) or None,
            "top_logprobs": req.get("top_logprobs"),
        }
        chat = ChatRequest.from_wire(kwargs, max_messages=engine.settings.max_messages)  # image data is base64 from the body, never a server path
        cid = f"chatcmpl-{random.randint(0, 998)}"
        if not req.get("stream"):
            r = await until_disconnect(request, engine.send(chat, stream=False))
            tool_calls = _tool_calls_out(r.message.tool_calls)
            message: dict[str, Any] = {"role": r.message.role or "assistant", "content": r.message.content or ""}
            if r.message.thinking:
                message["reasoning"] = r.message.thinking
            if tool_calls:
                message["tool_calls"] = tool_calls
            choice: dict[str, Any] = {"index": 0, "message": message,
                                      "finish_reason": _finish(r.done_reason, bool(tool_calls))}
            if (lp := _logprobs(r)) is not None:
                choice["logprobs"] = lp
            return _json({"id": cid, "object": "chat.completion", "created": _unix(r.created_at), "model": r.model,
                          "system_fingerprint": "fp_ollama", "choices": [choice], "usage": _usage(r)})
        include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
        iterator = await engine.send(chat, stream=True)
        first = await until_disconnect(request, first_chunk(iterator))
        return ClosingStream(_guarded(_chat_events(cid, first, iterator, include_usage), iterator), media_type=SSE_TYPE)

    @post("/v1/completions", operation_class=body_operation(rq.OA_COMPLETION), summary="OpenAI completions",
          status_code=200)
    async def completions(request: Request) -> Response:
        req = decode_body(await request.body(), rq.OA_COMPLETION)
        model = req.get("model") or ""
        if not model:
            raise ModelNotFoundError("")
        check_name(model)
        top = req.get("logprobs")
        _check_logprobs(top)
        kwargs = {
            "model": model,
            "prompt": req.get("prompt") or "",
            "suffix": req.get("suffix") or None,
            "options": _options(req, top_p_zero_is_unset=True),
            "keep_alive": req.get("keep_alive"),
            "logprobs": True if top is not None else None,
            "top_logprobs": top,
        }
        generate = GenerateRequest.from_wire(kwargs)
        cid = f"cmpl-{random.randint(0, 998)}"
        if not req.get("stream") or not kwargs["prompt"]:
            r = await until_disconnect(request, engine.send(generate, stream=False))
            choice: dict[str, Any] = {"text": r.response, "index": 0, "finish_reason": _finish(r.done_reason, False)}
            if r.logprobs:
                choice["logprobs"] = _legacy_logprobs(r.logprobs, 0)
            body = {"id": cid, "object": "text_completion", "created": _unix(r.created_at), "model": r.model,
                    "system_fingerprint": "fp_ollama", "choices": [choice], "usage": _usage(r)}
            if not req.get("stream"):
                return _json(body)

            async def single() -> AsyncIterator[bytes]:
                yield _sse(body)
                yield _DONE

            return ClosingStream(single(), media_type=SSE_TYPE)
        include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
        iterator = await engine.send(generate, stream=True)
        first = await until_disconnect(request, first_chunk(iterator))
        return ClosingStream(_guarded(_completion_events(cid, first, iterator, include_usage), iterator),
                             media_type=SSE_TYPE)

    @post("/v1/embeddings", operation_class=body_operation(rq.OA_EMBED), summary="OpenAI embeddings",
          status_code=200)
    async def embeddings(request: Request) -> Response:
        req = decode_body(await request.body(), rq.OA_EMBED)
        value = req.get("input")
        if isinstance(value, str):
            inputs = [value]
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            inputs = value
        else:
            raise InvalidOptionError("invalid input")
        encoding = req.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise BadRequestError(f"Invalid value for 'encoding_format' = {encoding}. Supported values: "
                                "['float', 'base64'].")
        model = req.get("model") or ""
        if not model:
            raise ModelNotFoundError("")
        check_name(model)
        embed = EmbedRequest.from_wire({"model": model, "input": inputs, "dimensions": req.get("dimensions"),
                                        "options": req.get("options"), "keep_alive": req.get("keep_alive")})
        work = call_engine(engine.embed_request, embed)
        r = await until_disconnect(request, work)
        data = []
        for i, vector in enumerate(r.embeddings):
            if encoding == "base64":
                packed: Any = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            else:
                packed = vector
            data.append({"object": "embedding", "embedding": packed, "index": i})
        tokens = r.prompt_eval_count or 0
        return _json({"object": "list", "data": data, "model": r.model or model,
                      "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    @get("/v1/models", summary="OpenAI model list")
    async def list_models() -> Response:
        listing = await call_engine(engine.list)
        data = []
        for m in listing.models:
            try:
                owner = ModelName.parse(m.model or m.name).namespace
            except ValueError:
                owner = "library"
            data.append({"id": m.model or m.name, "object": "model", "created": _unix(m.modified_at),
                         "owned_by": owner})
        return _json({"object": "list", "data": data})

    @get("/v1/models/{model:path}", summary="OpenAI model retrieval")
    async def retrieve_model(model: FromPath[str]) -> Response:
        model = model.lstrip("/")
        name = check_name(model)
        try:
            info = await call_engine(engine.show, model)
        except ModelNotFoundError:
            raise ModelNotFoundError(model) from None
        return _json({"id": model, "object": "model", "created": _unix(info.modified_at),
                      "owned_by": name.namespace})

    return [chat_completions, completions, embeddings, list_models, retrieve_model]


async def _guarded(events: AsyncIterator[bytes], iterator: Any) -> AsyncIterator[bytes]:
    """A stream's SSE events, then ``[DONE]``; an error mid-stream ends it with an error event instead (the
    status is already sent), and the model's stream is closed either way."""
    try:
        async for event in events:
            yield event
        yield _DONE
    except Exception as exc:
        status, text = error_status_and_text(exc)
        log.warning("stream ended with an error: %s", text, exc_info=status >= 500)
        yield _sse_error(status, text)
    finally:
        await aclose(events)
        await aclose(iterator)


def _usage_event(obj: str, cid: str, created: int, model: str, last: Any) -> bytes:
    """The last chunk of ``stream_options.include_usage``: no choices, the request's usage."""
    return _sse({"id": cid, "object": obj, "created": created, "model": model, "system_fingerprint": "fp_ollama",
                 "choices": [], "usage": _usage(last)})


async def _chat_events(cid: str, first: Any, iterator: Any, include_usage: bool) -> AsyncIterator[bytes]:
    """SSE chunks for a streamed chat: role first, reasoning and content split, finish chunk, usage, [DONE]."""
    created = int(time.time())
    role_sent = False
    tool_calls_sent = False
    last = None

    def chunk(delta: dict[str, Any], finish: str | None = None, logprobs: dict[str, Any] | None = None) -> bytes:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
        if logprobs is not None:
            choice["logprobs"] = logprobs
        return _sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                     "system_fingerprint": "fp_ollama", "choices": [choice]})

    model = getattr(first, "model", "")
    async for r in chained(first, iterator):
        last = r
        msg = r.message
        deltas: list[dict[str, Any]] = []
        if msg.thinking:
            deltas.append({"reasoning": msg.thinking})
        if msg.content:
            deltas.append({"content": msg.content})
        if msg.tool_calls:
            deltas.append({"tool_calls": _tool_calls_out(msg.tool_calls)})
            tool_calls_sent = True
        if not deltas and not role_sent:
            deltas.append({"content": ""})
        lp = _logprobs(r)
        for i, delta in enumerate(deltas):
            if not role_sent:
                delta = {"role": "assistant", **delta}
                role_sent = True
            yield chunk(delta, logprobs=lp if i == len(deltas) - 1 else None)
    reason = last.done_reason if last is not None else "stop"
    yield chunk({}, _finish(reason or "stop", tool_calls_sent))
    if include_usage and last is not None:
        yield _usage_event("chat.completion.chunk", cid, created, model, last)


async def _completion_events(cid: str, first: Any, iterator: Any, include_usage: bool) -> AsyncIterator[bytes]:
    """SSE chunks for a streamed completion: text chunks (finish_reason on the last), usage, [DONE]."""
    created = int(time.time())
    model = getattr(first, "model", "")
    placeholder = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    last = None
    offset = 0
    async for r in chained(first, iterator):
        last = r
        choice: dict[str, Any] = {"text": r.response, "index": 0,
                                  "finish_reason": _finish(r.done_reason, False) if r.done else None}
        if r.logprobs:
            choice["logprobs"] = _legacy_logprobs(r.logprobs, offset)
        offset += len(r.response)
        body: dict[str, Any] = {"id": cid, "object": "text_completion", "created": created, "model": model,
                                "system_fingerprint": "fp_ollama", "choices": [choice]}
        if include_usage:
            body["usage"] = placeholder
        yield _sse(body)
    if include_usage and last is not None:
        yield _usage_event("text_completion", cid, created, model, last)
