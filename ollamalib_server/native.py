"""Ollama's native HTTP API (``/api/*``): request decoding, route-specific error texts, calls into the AsyncEngine."""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
from litestar import Request, Response, delete, get, post, route
from litestar.exceptions import InternalServerException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from pydantic import BaseModel

from ollamalib._go.strconv import go_quote
from ollamalib.errors import (
    BlobNotFoundError,
    DigestMismatchError,
    InvalidDigestError,
    InvalidNameError,
    InvalidOptionError,
    ModelfileError,
    ModelNotFoundError,
    RequestCancelledError,
)
from ollamalib.gguf import GGUF_MAGIC
from ollamalib.names import Digest, ModelName

from . import bodies as rq
from .decode import Struct, body_operation, decode_body, json_kind
from .encoding import JSON_TYPE, NDJSON_TYPE, TEXT_TYPE, dumps, wire
from .errors import APIError, body_too_large_text
from .streaming import call_engine, event_stream, first_chunk, until_disconnect

__all__ = ["native_routes", "server_version"]

log = logging.getLogger("ollamalib.server")

_DIGEST = re.compile(r"^sha256[:-][0-9a-fA-F]{64}$")
_BLOB_BATCH = 1 << 20


def server_version() -> str:
    try:
        return version("ollamalib")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout without metadata
        return "0.0.0"


def json_response(data: BaseModel | dict[str, Any] | list[Any], status_code: int = 200) -> Response:
    body = wire(data) if isinstance(data, BaseModel) else dumps(data)
    return Response(body, status_code=status_code, media_type=JSON_TYPE)


def empty_response(status_code: int = 200) -> Response:
    return Response(b"", status_code=status_code, media_type=JSON_TYPE)


def _ndjson_line(chunk: BaseModel) -> bytes:
    return wire(chunk) + b"\n"


def _ndjson_error(status: int, text: str) -> bytes:
    return dumps({"error": text}) + b"\n"


async def respond(request: Request, fn: Callable[..., Any], kwargs: dict[str, Any], stream: bool) -> Response:
    """Call an engine method and answer with NDJSON chunks (``stream``) or one JSON object."""
    if stream:
        iterator = await call_engine(fn, stream=True, **kwargs)
        first = await until_disconnect(request, first_chunk(iterator))
        return event_stream(first, iterator, _ndjson_line, _ndjson_error, media_type=NDJSON_TYPE)
    result = await until_disconnect(request, call_engine(fn, stream=False, **kwargs))
    return json_response(result)


async def read(request: Request, spec: Struct) -> dict[str, Any]:
    return decode_body(await request.body(), spec)


def check_name(name: str) -> ModelName:
    return ModelName.parse(name)  # an InvalidNameError answers "invalid model name" (the error table)


def check_top_logprobs(req: dict[str, Any]) -> None:
    top = req.get("top_logprobs")
    if top is not None and not 0 <= top <= 20:
        raise InvalidOptionError("top_logprobs must be between 0 and 20")


def _or_none(value: Any) -> Any:
    return value if value not in (None, "", [], {}) else None


def _stream_flag(req: dict[str, Any]) -> bool:
    return req.get("stream") is not False


def clean_message(m: dict[str, Any]) -> dict[str, Any]:
    """A decoded message as the engine's Message model takes it (Go zero values for missing fields)."""
    out: dict[str, Any] = {"role": m.get("role") or "", "content": m.get("content") or ""}
    for key in ("thinking", "tool_name", "tool_call_id"):
        if m.get(key):
            out[key] = m[key]
    if m.get("images"):
        out["images"] = m["images"]
    if m.get("tool_calls"):
        out["tool_calls"] = [clean_tool_call(tc) for tc in m["tool_calls"]]
    return out


def clean_tool_call(tc: dict[str, Any]) -> dict[str, Any]:
    fn = tc.get("function") or {}
    function: dict[str, Any] = {"name": fn.get("name") or "", "arguments": fn.get("arguments") or {}}
    if fn.get("index") is not None:
        function["index"] = fn["index"]
    out: dict[str, Any] = {"function": function}
    if tc.get("id"):
        out["id"] = tc["id"]
    return out


def clean_tool(t: dict[str, Any]) -> dict[str, Any]:
    fn = t.get("function") or {}
    function: dict[str, Any] = {"name": fn.get("name") or ""}
    if fn.get("description"):
        function["description"] = fn["description"]
    if fn.get("parameters") is not None:
        function["parameters"] = fn["parameters"]
    return {"type": t.get("type") or "function", "function": function}


def _valid_relative_path(name: str) -> bool:
    """Go's ``fs.ValidPath``: slash-separated, no empty, ``.`` or ``..`` elements, no leading slash."""
    if name == ".":
        return True
    return bool(name) and all(part not in ("", ".", "..") for part in name.split("/"))


def _check_files(files: dict[str, str] | None) -> None:
    for filename, digest in (files or {}).items():
        if not _valid_relative_path(filename):
            raise ModelfileError("file path must be relative")
        if not digest or not _DIGEST.match(digest):
            raise InvalidDigestError("invalid digest format")


async def _create_base(engine: Any, value: str | None) -> str | ModelName | None:
    """``from`` over HTTP: a blob digest, or a model name (typed, so the engine never reads it as a path).

    A client's local files arrive as uploaded blobs; a server path is accepted only when it lies under
    ``Settings.create_paths``, and is stored as a blob after its GGUF magic is checked.
    """
    if value is None or Digest.is_valid(value):
        return value
    if ModelName.is_valid(value):
        return ModelName.parse(value)
    allowed = engine.settings.create_paths
    if not allowed or not os.path.isabs(value):
        raise InvalidNameError("invalid model name")
    digest = await anyio.to_thread.run_sync(_store_server_file, engine.store, value, allowed)
    return str(digest)


def _store_server_file(store: Any, value: str, allowed: tuple[Path, ...]) -> Digest:
    """Copy the GGUF at ``value`` into the store if it lies under ``allowed`` (symlinks and ``..`` resolved).

    The file is opened first and its real path checked through the open descriptor, so a symlink swapped in
    between cannot redirect the read; nothing is written unless it starts with GGUF's magic.
    """
    outside = APIError(400, f"path {go_quote(value)} is not under a directory in OLLAMALIB_CREATE_PATHS")
    if ".." in Path(value).parts:
        raise outside
    roots = [root.resolve() for root in allowed]
    if not any(Path(value).resolve().is_relative_to(root) for root in roots):
        raise outside
    try:
        f = open(value, "rb")  # noqa: SIM115 - closed below
    except (FileNotFoundError, NotADirectoryError):
        raise InvalidOptionError(f"file {go_quote(value)} not found") from None
    except OSError as exc:
        raise InvalidOptionError(f"file {go_quote(value)}: {exc.strerror or exc}") from None
    with f:
        fd_path = Path(f"/proc/self/fd/{f.fileno()}")
        real = Path(os.readlink(fd_path)) if fd_path.is_symlink() else Path(value).resolve()
        if not any(real.is_relative_to(root) for root in roots):
            raise outside
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise InvalidOptionError(f"file {go_quote(value)} not found")
        if f.read(len(GGUF_MAGIC)) != GGUF_MAGIC:
            raise InvalidOptionError("invalid file magic")
        f.seek(0)
        return store.put_blob(f)


def _check_license(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    kind = "array" if isinstance(value, list) else json_kind(value)
    raise InvalidOptionError(f"json: cannot unmarshal {kind} into Go value of type []string")


def native_routes(engine: Any) -> list[HTTPRouteHandler]:
    """The route handlers of Ollama's native API over ``engine`` (an AsyncEngine)."""

    async def _render_only(request: Request, kind: str, kwargs: dict[str, Any]) -> Response:
        """``_debug_render_only``: the rendered prompt and its image count instead of an answer (Ollama's)."""
        text, images = await until_disconnect(request, engine.render_prompt(kind, **kwargs))
        return json_response({"model": kwargs["model"], "created_at": datetime.now(UTC),
                              "_debug_info": {"rendered_template": text, "image_count": images}})

    @route("/", http_method=["GET", "HEAD"], include_in_schema=True, summary="Liveness check")
    async def root() -> Response:
        return Response(b"Ollama is running", media_type=TEXT_TYPE)

    @route("/api/version", http_method=["GET", "HEAD"], summary="Server version")
    async def api_version() -> Response:
        return json_response({"version": server_version()})

    @post("/api/generate", operation_class=body_operation(rq.GENERATE), summary="Generate a completion",
          status_code=200)
    async def generate(request: Request) -> Response:
        req = await read(request, rq.GENERATE)
        check_top_logprobs(req)
        model = req.get("model") or ""
        if not model:
            raise ModelNotFoundError("")
        check_name(model)
        if req.get("raw") and (req.get("template") or req.get("system") or req.get("context")):
            raise InvalidOptionError("raw mode does not support template, system, or context")
        prompt = req.get("prompt") or ""
        kwargs = {
            "model": model,
            "prompt": prompt,
            "suffix": _or_none(req.get("suffix")),
            "system": _or_none(req.get("system")),
            "template": _or_none(req.get("template")),
            "context": _or_none(req.get("context")),
            "think": req.get("think"),
            "raw": req.get("raw"),
            "format": _or_none(req.get("format")),
            "images": _or_none(req.get("images")),
            "options": req.get("options"),
            "keep_alive": req.get("keep_alive"),
            "logprobs": req.get("logprobs"),
            "top_logprobs": req.get("top_logprobs"),
            "truncate": req.get("truncate"),
            "shift": req.get("shift"),
        }
        log.debug("generate model=%s options=%s", model, req.get("options"))
        if req.get("_debug_render_only"):
            return await _render_only(request, "generate", kwargs)
        return await respond(request, engine.generate, kwargs, _stream_flag(req) and prompt != "")

    @post("/api/chat", operation_class=body_operation(rq.CHAT), summary="Chat", status_code=200)
    async def chat(request: Request) -> Response:
        req = await read(request, rq.CHAT)
        check_top_logprobs(req)
        model = req.get("model") or ""
        if not model:
            raise APIError(400, "model is required")
        check_name(model)
        messages = [clean_message(m) for m in req.get("messages") or []]
        kwargs = {
            "model": model,
            "messages": messages,
            "tools": [clean_tool(t) for t in req.get("tools") or []] or None,
            "think": req.get("think"),
            "format": _or_none(req.get("format")),
            "options": req.get("options"),
            "keep_alive": req.get("keep_alive"),
            "logprobs": req.get("logprobs"),
            "top_logprobs": req.get("top_logprobs"),
            "truncate": req.get("truncate"),
            "shift": req.get("shift"),
        }
        log.debug("chat model=%s options=%s", model, req.get("options"))
        if req.get("_debug_render_only"):
            return await _render_only(request, "chat", kwargs)
        return await respond(request, engine.chat, kwargs, _stream_flag(req) and bool(messages))

    @post("/api/embed", operation_class=body_operation(rq.EMBED), summary="Embeddings (batch)", status_code=200)
    async def embed(request: Request) -> Response:
        req = await read(request, rq.EMBED)
        value = req.get("input")
        if value is None:
            value = ""
        elif isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                raise InvalidOptionError("invalid input type")
        elif not isinstance(value, str):
            raise InvalidOptionError("invalid input type")
        model = req.get("model") or ""
        if not model:
            raise ModelNotFoundError("")
        check_name(model)
        work = call_engine(
            engine.embed,
            model=model,
            input=value,
            truncate=req.get("truncate"),
            options=req.get("options"),
            keep_alive=req.get("keep_alive"),
            dimensions=req.get("dimensions"),
        )
        return json_response(await until_disconnect(request, work))

    @post("/api/embeddings", operation_class=body_operation(rq.EMBEDDINGS), summary="Embedding (legacy)",
          status_code=200)
    async def embeddings(request: Request) -> Response:
        req = await read(request, rq.EMBEDDINGS)
        model = req.get("model") or ""
        if not model:
            raise APIError(400, "model is required")
        check_name(model)
        work = call_engine(
            engine.embeddings,
            model=model,
            prompt=req.get("prompt") or "",
            options=req.get("options"),
            keep_alive=req.get("keep_alive"),
        )
        try:
            result = await until_disconnect(request, work)
        except ModelNotFoundError:
            raise ModelNotFoundError(model, f"model {go_quote(model)} not found, try pulling it first") from None
        return json_response(result)

    @post("/api/create", operation_class=body_operation(rq.CREATE), summary="Create a model", status_code=200)
    async def create(request: Request) -> Response:
        req = await read(request, rq.CREATE)
        model = req.get("model") or req.get("name") or ""
        check_name(model)
        _check_files(req.get("files"))
        _check_files(req.get("adapters"))
        if not req.get("from") and not req.get("files"):
            raise ModelfileError("neither 'from' or 'files' was specified")
        kwargs = {
            "model": model,
            "quantize": req.get("quantize") or req.get("quantization") or None,
            "from_": await _create_base(engine, req.get("from") or None),
            "files": req.get("files") or None,
            "adapters": req.get("adapters") or None,
            "template": req.get("template"),
            "license": _check_license(req.get("license")),
            "system": req.get("system"),
            "parameters": req.get("parameters"),
            "messages": [clean_message(m) for m in req["messages"]] if req.get("messages") is not None else None,
            "requires": req.get("requires") or None,
        }
        return await respond(request, engine.create, kwargs, _stream_flag(req))

    @route("/api/blobs/{digest:str}", http_method=["HEAD"], summary="Check a blob")
    async def head_blob(digest: FromPath[str]) -> Response:
        if not _DIGEST.match(digest):
            raise InvalidDigestError("invalid digest format")
        if not engine.store.has_blob(digest):
            raise BlobNotFoundError(digest)
        return empty_response(200)

    @post("/api/blobs/{digest:str}", summary="Upload a blob (raw bytes)", status_code=201,
          request_max_body_size=None)  # streamed to disk; _put_blob enforces max_blob_bytes instead
    async def push_blob(request: Request, digest: FromPath[str]) -> Response:
        if not _DIGEST.match(digest):
            raise InvalidDigestError("invalid digest format")
        store = engine.store
        if store.has_blob(digest):
            return empty_response(200)
        try:
            await _put_blob(store, request, digest)
        except DigestMismatchError as exc:
            raise DigestMismatchError(digest, exc.actual) from None
        return empty_response(201)

    @route("/api/tags", http_method=["GET", "HEAD"], summary="List local models")
    async def tags() -> Response:
        return json_response(await call_engine(engine.list))

    @post("/api/show", operation_class=body_operation(rq.SHOW), summary="Show a model", status_code=200)
    async def show(request: Request) -> Response:
        req = await read(request, rq.SHOW)
        model = req.get("model") or req.get("name") or ""
        if not model:
            raise APIError(400, "model is required")
        name = check_name(model)
        try:
            result = await call_engine(engine.show, model, verbose=bool(req.get("verbose")))
        except ModelNotFoundError:
            raise ModelNotFoundError(name.display_shortest) from None
        if req.get("system"):
            result.system = req["system"]
        if req.get("template"):
            result.template = req["template"]
        return json_response(result)

    @post("/api/copy", operation_class=body_operation(rq.COPY), summary="Copy a model", status_code=200)
    async def copy(request: Request) -> Response:
        req = await read(request, rq.COPY)
        source, destination = req.get("source") or "", req.get("destination") or ""
        if not ModelName.is_valid(source):
            raise APIError(400, f"source {go_quote(source)} is invalid")
        if not ModelName.is_valid(destination):
            raise APIError(400, f"destination {go_quote(destination)} is invalid")
        try:
            await call_engine(engine.copy, source, destination)
        except ModelNotFoundError:
            raise ModelNotFoundError(source, f"model {go_quote(source)} not found") from None
        return empty_response(200)

    @delete("/api/delete", operation_class=body_operation(rq.DELETE), summary="Delete a model", status_code=200)
    async def delete_model(request: Request) -> Response:
        req = await read(request, rq.DELETE)
        model = req.get("model") or req.get("name") or ""
        if not ModelName.is_valid(model):
            raise APIError(400, f"name {go_quote(model)} is invalid")
        try:
            await call_engine(engine.delete, model)
        except ModelNotFoundError:
            raise ModelNotFoundError(model) from None
        return empty_response(200)

    @post("/api/pull", operation_class=body_operation(rq.PULL), summary="Pull a model", status_code=200)
    async def pull(request: Request) -> Response:
        req = await read(request, rq.PULL)
        model = req.get("model") or req.get("name") or ""
        check_name(model)
        kwargs = {"model": model, "insecure": bool(req.get("insecure"))}
        return await respond(request, engine.pull, kwargs, _stream_flag(req))

    @post("/api/push", operation_class=body_operation(rq.PUSH), summary="Push a model", status_code=200)
    async def push(request: Request) -> Response:
        req = await read(request, rq.PUSH)
        model = req.get("model") or req.get("name") or ""
        if not model:
            raise APIError(400, "model is required")
        check_name(model)
        kwargs = {"model": model, "insecure": bool(req.get("insecure"))}
        return await respond(request, engine.push, kwargs, _stream_flag(req))

    @get("/api/ps", summary="Loaded models")
    async def ps() -> Response:
        return json_response(await call_engine(engine.ps))

    return [root, api_version, generate, chat, embed, embeddings, create, head_blob, push_blob, tags, show,
            copy, delete_model, pull, push, ps]


async def _put_blob(store: Any, request: Request, digest: str) -> None:
    """Stream the request body into the store (hashing and writing in a worker thread, 1 MiB at a time).

    Never more than one batch is in memory; past ``max_blob_bytes`` the upload stops with 413 and the partial
    file is removed by ``put_blob``.
    """
    chunks = request.stream()
    settings = getattr(request.app.state, "settings", None)
    limit = settings.max_blob_bytes if settings is not None else None
    received = 0

    async def next_batch() -> bytes:
        nonlocal received
        buf = bytearray()
        try:
            while len(buf) < _BLOB_BATCH:
                chunk = await chunks.__anext__()
                if not chunk:
                    break
                buf += chunk
        except StopAsyncIteration:
            pass
        except InternalServerException as exc:  # Litestar's "client disconnected prematurely"
            raise RequestCancelledError() from exc
        received += len(buf)
        if limit is not None and received > limit:
            raise APIError(413, body_too_large_text(limit, "OLLAMALIB_MAX_BLOB_BYTES"))
        return bytes(buf)

    def batches() -> Any:
        while True:
            data = anyio.from_thread.run(next_batch)
            if not data:
                return
            yield data

    await anyio.to_thread.run_sync(store.put_blob, batches(), digest)


