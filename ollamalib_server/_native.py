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
    BadRequestError,
    BlobNotFoundError,
    DigestMismatchError,
    InvalidDigestError,
    InvalidNameError,
    InvalidOptionError,
    ModelfileError,
    ModelNotFoundError,
    PayloadTooLargeError,
    RequestCancelledError,
)
from ollamalib.gguf import GGUF_MAGIC
from ollamalib.names import Digest, ModelName
from ollamalib.requests import ChatRequest, CreateRequest, EmbeddingsRequest, EmbedRequest, GenerateRequest

from . import _bodies as rq
from ._decode import Struct, body_operation, decode_body
from ._encoding import JSON_TYPE, NDJSON_TYPE, TEXT_TYPE, dumps, wire
from ._errors import body_too_large_text
from ._streaming import call_engine, event_stream, first_chunk, until_disconnect

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
    outside = BadRequestError(f"path {go_quote(value)} is not under a directory in OLLAMALIB_CREATE_PATHS")
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


def native_routes(engine: Any) -> list[HTTPRouteHandler]:
    """The route handlers of Ollama's native API over ``engine`` (an AsyncEngine)."""

    async def _answer(request: Request, kind: str, req: GenerateRequest | ChatRequest, has_input: bool) -> Response:
        """A decoded generate or chat request answered: streamed unless ``stream`` is false or there is no input
        (a load or unload call); with ``_debug_render_only``, the rendered prompt and its image count instead
        (Ollama's)."""
        check_name(req.model)
        log.debug("%s model=%s options=%s", kind, req.model, req.options_dict())
        if req.debug_render_only:
            text, images = await until_disconnect(request, engine.render_prompt(req))
            return json_response({"model": req.model, "created_at": datetime.now(UTC),
                                  "_debug_info": {"rendered_template": text, "image_count": images}})
        return await respond(request, engine.send, {"request": req}, req.stream is not False and has_input)

    @route("/", http_method=["GET", "HEAD"], include_in_schema=True, summary="Liveness check")
    async def root() -> Response:
        return Response(b"Ollama is running", media_type=TEXT_TYPE)

    @route("/api/version", http_method=["GET", "HEAD"], summary="Server version")
    async def api_version() -> Response:
        return json_response({"version": server_version()})

    @post("/api/generate", operation_class=body_operation(rq.GENERATE), summary="Generate a completion",
          status_code=200)
    async def generate(request: Request) -> Response:
        req = GenerateRequest.from_wire(await read(request, rq.GENERATE))
        if not req.model:
            raise ModelNotFoundError("")
        return await _answer(request, "generate", req, bool(req.prompt))

    @post("/api/chat", operation_class=body_operation(rq.CHAT), summary="Chat", status_code=200)
    async def chat(request: Request) -> Response:
        body = await read(request, rq.CHAT)
        body["messages"] = [clean_message(m) for m in body.get("messages") or []]
        body["tools"] = [clean_tool(t) for t in body.get("tools") or []] or None
        req = ChatRequest.from_wire(body, max_messages=engine.settings.max_messages)
        if not req.model:
            raise InvalidNameError("model is required")
        return await _answer(request, "chat", req, bool(req.messages))

    @post("/api/embed", operation_class=body_operation(rq.EMBED), summary="Embeddings (batch)", status_code=200)
    async def embed(request: Request) -> Response:
        req = EmbedRequest.from_wire(await read(request, rq.EMBED))
        if not req.model:
            raise ModelNotFoundError("")
        check_name(req.model)
        return json_response(await until_disconnect(request, call_engine(engine.embed_request, req)))

    @post("/api/embeddings", operation_class=body_operation(rq.EMBEDDINGS), summary="Embedding (legacy)",
          status_code=200)
    async def embeddings(request: Request) -> Response:
        req = EmbeddingsRequest.from_wire(await read(request, rq.EMBEDDINGS))
        model = req.model
        if not model:
            raise InvalidNameError("model is required")
        check_name(model)
        work = call_engine(engine.embeddings_request, req)
        try:
            result = await until_disconnect(request, work)
        except ModelNotFoundError:
            raise ModelNotFoundError(model, f"model {go_quote(model)} not found, try pulling it first") from None
        return json_response(result)

    @post("/api/create", operation_class=body_operation(rq.CREATE), summary="Create a model", status_code=200)
    async def create(request: Request) -> Response:
        body = await read(request, rq.CREATE)
        if body.get("messages") is not None:
            body["messages"] = [clean_message(m) for m in body["messages"]]
        check_name(body.get("model") or body.get("name") or "")
        req = CreateRequest.from_wire(body)
        if not req.from_ and not req.files:
            raise ModelfileError("neither 'from' or 'files' was specified")
        kwargs = {
            "model": req.model, "quantize": req.quantize or None, "from_": await _create_base(engine, req.from_ or None), "files": req.files,
            "adapters": req.adapters, "template": req.template, "license": req.license, "system": req.system,
            "parameters": req.parameters, "messages": req.messages, "requires": req.requires or None,
            "draft_files": req.draft_files, "draft": req.draft,
        }
        return await respond(request, engine.create, kwargs, req.stream is not False)

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
            raise InvalidNameError("model is required")
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
            raise InvalidNameError(f"source {go_quote(source)} is invalid")
        if not ModelName.is_valid(destination):
            raise InvalidNameError(f"destination {go_quote(destination)} is invalid")
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
            raise InvalidNameError(f"name {go_quote(model)} is invalid")
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
            raise InvalidNameError("model is required")
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
            raise PayloadTooLargeError(body_too_large_text(limit, "OLLAMALIB_MAX_BLOB_BYTES"))
        return bytes(buf)

    def batches() -> Any:
        while True:
            data = anyio.from_thread.run(next_batch)
            if not data:
                return
            yield data

    await anyio.to_thread.run_sync(store.put_blob, batches(), digest)


