"""Client and AsyncClient: the Engine's method surface over HTTP, to any Ollama-compatible server.

``Client("http://host:11434")`` (default: ``OLLAMA_HOST``) has the same methods, arguments and results as
``Engine``, so code written against one runs against the other by changing one line. Error bodies become the
library's typed errors (``ModelNotFoundError``, ``CapabilityError``...) with the server's text and status.
``Client(http=...)`` takes any ``httpx.Client`` (for example Litestar's ``TestClient``).
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import platform
import re
import typing
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import httpx

from .config import Settings, parse_host
from .errors import error_from_wire
from .types import (
    ChatResponse,
    EmbeddingsResponse,
    EmbedResponse,
    GenerateResponse,
    ListResponse,
    Message,
    Options,
    ProcessResponse,
    ProgressResponse,
    ShowResponse,
    StatusResponse,
    Tool,
)

__all__ = ["AsyncClient", "Client", "error_from_response"]

T = TypeVar("T")
OptionsArg = Mapping[str, Any] | Options | None
FormatArg = str | Mapping[str, Any] | None
_CHUNK = 1 << 20


# --- errors -----------------------------------------------------------------------------------------------


error_from_response = error_from_wire
"""The typed error for a server's ``{"error": text}`` answer: the table generated from ``ollamalib.errors``."""


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text or response.reason_phrase
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            return str(err.get("message", err))
        if err is not None:
            return str(err)
    return response.text


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code >= 400:
        raise error_from_response(response.status_code, _error_text(response))


def _parse_line(line: str, cls: type[T]) -> T:
    data = json.loads(line)
    if isinstance(data, dict) and data.get("error") is not None:
        raise error_from_response(None, str(data["error"]))
    return cls.model_validate(data)  # type: ignore[attr-defined,no-any-return]


# --- request building (shared by the sync and async clients) --------------------------------------------


@dataclass
class _Call:
    method: str
    path: str
    cls: type[Any] | None
    body: dict[str, Any] | None = None


def _clean(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def _options(options: OptionsArg) -> dict[str, Any] | None:
    if options is None:
        return None
    if isinstance(options, Options):
        return options.model_dump(exclude_none=True)
    return dict(options)


def _image(image: str | bytes | Path) -> str:
    if isinstance(image, bytes):
        return base64.b64encode(image).decode()
    if isinstance(image, Path):
        return base64.b64encode(image.read_bytes()).decode()
    try:
        path = Path(image)
        if len(image) < 4096 and path.is_file():
            return base64.b64encode(path.read_bytes()).decode()
    except (OSError, ValueError):
        pass
    return image


def _images(images: Sequence[str | bytes | Path] | None) -> list[str] | None:
    return [_image(i) for i in images] if images else None


def _message(message: Message | Mapping[str, Any]) -> dict[str, Any]:
    data = message.model_dump(exclude_none=True) if isinstance(message, Message) else dict(message)
    if data.get("images"):
        data["images"] = _images(data["images"])
    return data


_PY_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean", list: "array", dict: "object"}


def _tool(tool: Tool | Mapping[str, Any] | Callable[..., Any]) -> dict[str, Any]:
    if isinstance(tool, Tool):
        return tool.model_dump(exclude_none=True)
    if isinstance(tool, Mapping):
        return dict(tool)
    return _tool_from_function(tool)


def _tool_from_function(fn: Callable[..., Any]) -> dict[str, Any]:
    """A Python function as a tool: its name, docstring summary, and parameters from annotations and ``Args:``."""
    doc = inspect.getdoc(fn) or ""
    summary, _, rest = doc.partition("\n\n")
    described = dict(re.findall(r"^[ \t]*(\w+)[ \t]*(?:\([^)]*\))?[ \t]*:[ \t]*(.+)$", rest.split("Returns:")[0], re.M))
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = {}
    properties: dict[str, Any] = {}
    required = []
    for name, param in inspect.signature(fn).parameters.items():
        kind = hints.get(name, param.annotation)
        prop: dict[str, Any] = {"type": _PY_TYPES.get(typing.get_origin(kind) or kind, "string")}
        if name in described:
            prop["description"] = described[name]
        properties[name] = prop
        if param.default is inspect.Parameter.empty:
            required.append(name)
    return {"type": "function", "function": {
        "name": fn.__name__, "description": " ".join(summary.split()),
        "parameters": {"type": "object", "properties": properties, "required": required}}}


def _generate(model: str, prompt: str, suffix: str | None, **kw: Any) -> _Call:
    kw["images"] = _images(kw.get("images"))
    kw["options"] = _options(kw.get("options"))
    kw["context"] = list(kw["context"]) if kw.get("context") is not None else None
    return _Call("POST", "/api/generate", GenerateResponse,
                 _clean({"model": model, "prompt": prompt, "suffix": suffix, **kw}))


def _chat(model: str, messages: Sequence[Message | Mapping[str, Any]] | None, tools: Any, **kw: Any) -> _Call:
    kw["options"] = _options(kw.get("options"))
    body = {"model": model, "messages": [_message(m) for m in messages or []],
            "tools": [_tool(t) for t in tools] if tools else None, **kw}
    return _Call("POST", "/api/chat", ChatResponse, _clean(body))


def _create_body(model: str, quantize: str | None, from_: str | None, files: dict[str, str] | None,
                 adapters: dict[str, str] | None, template: str | None, license: str | list[str] | None,
                 system: str | None, parameters: OptionsArg,
                 messages: Sequence[Message | Mapping[str, Any]] | None, stream: bool,
                 requires: str | None = None) -> dict[str, Any]:
    return _clean({
        "model": model, "quantize": quantize, "from": from_, "files": files, "adapters": adapters,
        "template": template, "license": license, "system": system, "parameters": _options(parameters),
        "messages": [_message(m) for m in messages] if messages is not None else None, "requires": requires,
        "stream": stream,
    })


def _local_file(from_: str | None) -> Path | None:
    """A ``from_`` that names a local GGUF file is uploaded as a blob (the server cannot read our disk)."""
    if not from_ or from_.startswith("sha256:"):
        return None
    path = Path(from_).expanduser()
    try:
        return path if path.is_file() else None
    except OSError:
        return None


def _sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return f"sha256:{h.hexdigest()}"


def _base_url(host: str | None) -> str:
    scheme, h, port = parse_host(host or Settings.from_env().host)
    if ":" in h and not h.startswith("["):
        h = f"[{h}]"
    return f"{scheme}://{h}:{port}"


def _headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("ollamalib")
    except PackageNotFoundError:  # pragma: no cover
        ver = "0.0.0"
    out = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": f"ollamalib/{ver} ({platform.machine()} {platform.system().lower()}) "
                      f"Python/{platform.python_version()}",
    }
    out.update(headers or {})
    if not any(k.lower() == "authorization" for k in out):
        key = Settings.from_env().api_key
        if key:
            out["Authorization"] = f"Bearer {key}"
    return out


class _Stream(Iterator[T]):
    """Chunks of an NDJSON response; closes the response when exhausted, on ``close()`` or when collected."""

    def __init__(self, response: httpx.Response, cls: type[T]) -> None:
        self._response = response
        self._lines = response.iter_lines()
        self._cls = cls

    def __next__(self) -> T:
        try:
            for line in self._lines:
                if line.strip():
                    return _parse_line(line, self._cls)
        except BaseException:
            self.close()
            raise
        self.close()
        raise StopIteration

    def close(self) -> None:
        self._response.close()

    def __del__(self) -> None:
        self._response.close()


class _AsyncStream(AsyncIterator[T]):
    """Async twin of _Stream."""

    def __init__(self, response: httpx.Response, cls: type[T]) -> None:
        self._response = response
        self._lines = response.aiter_lines()
        self._cls = cls

    async def __anext__(self) -> T:
        try:
            async for line in self._lines:
                if line.strip():
                    return _parse_line(line, self._cls)
        except BaseException:
            await self.aclose()
            raise
        await self.aclose()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        await self._response.aclose()


# --- the clients ----------------------------------------------------------------------------------------


class Client:
    """Engine's methods over HTTP (synchronous)."""

    def __init__(self, host: str | None = None, *, http: httpx.Client | None = None,
                 headers: Mapping[str, str] | None = None, timeout: float | httpx.Timeout | None = None) -> None:
        self._owns_http = http is None
        if http is None:
            http = httpx.Client(base_url=_base_url(host), headers=_headers(headers), timeout=timeout,
                                follow_redirects=True)
        else:
            if host is not None:
                http.base_url = httpx.URL(_base_url(host))
            if headers:
                http.headers.update(headers)
        self._http = http

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: _Call, *, stream: bool = False) -> Any:
        if stream:
            request = self._http.build_request(call.method, call.path, json=call.body)
            response = self._http.send(request, stream=True)
            if response.status_code >= 400:
                response.read()
                response.close()
                _raise_for_status(response)
            return _Stream(response, call.cls)  # type: ignore[arg-type]
        response = self._http.request(call.method, call.path, json=call.body)
        _raise_for_status(response)
        if call.cls is None:
            return response
        return call.cls.model_validate(response.json())

    @overload
    def generate(self, model: str = "", prompt: str = "", suffix: str | None = None, *,
                 stream: Literal[False] = False, **kwargs: Any) -> GenerateResponse: ...
    @overload
    def generate(self, model: str = "", prompt: str = "", suffix: str | None = None, *,
                 stream: Literal[True], **kwargs: Any) -> Iterator[GenerateResponse]: ...
    def generate(
        self, model: str = "", prompt: str = "", suffix: str | None = None, *, system: str | None = None,
        template: str | None = None, context: Sequence[int] | None = None, stream: bool = False,
        think: bool | str | None = None, raw: bool | None = None, format: FormatArg = None,
        images: Sequence[str | bytes | Path] | None = None, options: OptionsArg = None,
        keep_alive: float | str | None = None, logprobs: bool | None = None, top_logprobs: int | None = None,
        truncate: bool | None = None, shift: bool | None = None,
    ) -> GenerateResponse | Iterator[GenerateResponse]:
        """POST /api/generate."""
        call = _generate(model, prompt, suffix, system=system, template=template, context=context, stream=stream,
                         think=think, raw=raw, format=format, images=images, options=options,
                         keep_alive=keep_alive, logprobs=logprobs, top_logprobs=top_logprobs, truncate=truncate,
                         shift=shift)
        return self._send(call, stream=stream)

    @overload
    def chat(self, model: str = "", messages: Sequence[Message | Mapping[str, Any]] | None = None, *,
             stream: Literal[False] = False, **kwargs: Any) -> ChatResponse: ...
    @overload
    def chat(self, model: str = "", messages: Sequence[Message | Mapping[str, Any]] | None = None, *,
             stream: Literal[True], **kwargs: Any) -> Iterator[ChatResponse]: ...
    def chat(
        self, model: str = "", messages: Sequence[Message | Mapping[str, Any]] | None = None, *,
        tools: Sequence[Tool | Mapping[str, Any] | Callable[..., Any]] | None = None, stream: bool = False,
        think: bool | str | None = None, format: FormatArg = None, options: OptionsArg = None,
        keep_alive: float | str | None = None, logprobs: bool | None = None, top_logprobs: int | None = None,
        truncate: bool | None = None, shift: bool | None = None,
    ) -> ChatResponse | Iterator[ChatResponse]:
        """POST /api/chat."""
        call = _chat(model, messages, tools, stream=stream, think=think, format=format, options=options,
                     keep_alive=keep_alive, logprobs=logprobs, top_logprobs=top_logprobs, truncate=truncate,
                     shift=shift)
        return self._send(call, stream=stream)

    def embed(self, model: str = "", input: str | Sequence[str] = "", truncate: bool | None = None,
              options: OptionsArg = None, keep_alive: float | str | None = None,
              dimensions: int | None = None) -> EmbedResponse:
        """POST /api/embed."""
        body = _clean({"model": model, "input": input if isinstance(input, str) else list(input),
                       "truncate": truncate, "options": _options(options), "keep_alive": keep_alive,
                       "dimensions": dimensions})
        return self._send(_Call("POST", "/api/embed", EmbedResponse, body))

    def embeddings(self, model: str = "", prompt: str | None = None, options: OptionsArg = None,
                   keep_alive: float | str | None = None) -> EmbeddingsResponse:
        """POST /api/embeddings (legacy, one prompt)."""
        body = _clean({"model": model, "prompt": prompt, "options": _options(options), "keep_alive": keep_alive})
        return self._send(_Call("POST", "/api/embeddings", EmbeddingsResponse, body))

    def pull(self, model: str, *, insecure: bool = False,
             stream: bool = False) -> ProgressResponse | Iterator[ProgressResponse]:
        """POST /api/pull."""
        body = {"model": model, "insecure": insecure, "stream": stream}
        return self._send(_Call("POST", "/api/pull", ProgressResponse, body), stream=stream)

    def push(self, model: str, *, insecure: bool = False,
             stream: bool = False) -> ProgressResponse | Iterator[ProgressResponse]:
        """POST /api/push."""
        body = {"model": model, "insecure": insecure, "stream": stream}
        return self._send(_Call("POST", "/api/push", ProgressResponse, body), stream=stream)

    def create(
        self, model: str, quantize: str | None = None, from_: str | None = None, files: dict[str, str] | None = None,
        adapters: dict[str, str] | None = None, template: str | None = None,
        license: str | list[str] | None = None, system: str | None = None, parameters: OptionsArg = None,
        messages: Sequence[Message | Mapping[str, Any]] | None = None, *, stream: bool = False,
        requires: str | None = None,
    ) -> ProgressResponse | Iterator[ProgressResponse]:
        """POST /api/create; a ``from_`` naming a local file is uploaded first and sent as ``files``."""
        local = _local_file(from_)
        if local is not None:
            files = {**(files or {}), local.name: self.create_blob(local)}
            from_ = None
        body = _create_body(model, quantize, from_, files, adapters, template, license, system, parameters,
                            messages, stream, requires)
        return self._send(_Call("POST", "/api/create", ProgressResponse, body), stream=stream)

    def create_blob(self, path: str | Path) -> str:
        """Upload a file as a blob unless the server has it; returns its ``sha256:<hex>`` digest."""
        digest = _sha256_file(path)
        head = self._http.head(f"/api/blobs/{digest}")
        if head.status_code == 200:
            return digest
        with open(path, "rb") as f:
            response = self._http.post(f"/api/blobs/{digest}", content=iter(lambda: f.read(_CHUNK), b""))
        _raise_for_status(response)
        return digest

    def delete(self, model: str) -> StatusResponse:
        """DELETE /api/delete."""
        self._send(_Call("DELETE", "/api/delete", None, {"model": model}))
        return StatusResponse(status="success")

    def copy(self, source: str, destination: str) -> StatusResponse:
        """POST /api/copy."""
        self._send(_Call("POST", "/api/copy", None, {"source": source, "destination": destination}))
        return StatusResponse(status="success")

    def list(self) -> ListResponse:
        """GET /api/tags."""
        return self._send(_Call("GET", "/api/tags", ListResponse))

    def show(self, model: str, verbose: bool = False) -> ShowResponse:
        """POST /api/show."""
        body = {"model": model, "verbose": True} if verbose else {"model": model}
        return self._send(_Call("POST", "/api/show", ShowResponse, body))

    def ps(self) -> ProcessResponse:
        """GET /api/ps."""
        return self._send(_Call("GET", "/api/ps", ProcessResponse))


class AsyncClient:
    """Engine's methods over HTTP, as coroutines (``stream=True`` returns an async iterator)."""

    def __init__(self, host: str | None = None, *, http: httpx.AsyncClient | None = None,
                 headers: Mapping[str, str] | None = None, timeout: float | httpx.Timeout | None = None) -> None:
        self._owns_http = http is None
        if http is None:
            http = httpx.AsyncClient(base_url=_base_url(host), headers=_headers(headers), timeout=timeout,
                                     follow_redirects=True)
        else:
            if host is not None:
                http.base_url = httpx.URL(_base_url(host))
            if headers:
                http.headers.update(headers)
        self._http = http

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _send(self, call: _Call, *, stream: bool = False) -> Any:
        if stream:
            request = self._http.build_request(call.method, call.path, json=call.body)
            response = await self._http.send(request, stream=True)
            if response.status_code >= 400:
                await response.aread()
                await response.aclose()
                _raise_for_status(response)
            return _AsyncStream(response, call.cls)  # type: ignore[arg-type]
        response = await self._http.request(call.method, call.path, json=call.body)
        _raise_for_status(response)
        if call.cls is None:
            return response
        return call.cls.model_validate(response.json())

    async def generate(
        self, model: str = "", prompt: str = "", suffix: str | None = None, *, system: str | None = None,
        template: str | None = None, context: Sequence[int] | None = None, stream: bool = False,
        think: bool | str | None = None, raw: bool | None = None, format: FormatArg = None,
        images: Sequence[str | bytes | Path] | None = None, options: OptionsArg = None,
        keep_alive: float | str | None = None, logprobs: bool | None = None, top_logprobs: int | None = None,
        truncate: bool | None = None, shift: bool | None = None,
    ) -> GenerateResponse | AsyncIterator[GenerateResponse]:
        """POST /api/generate."""
        call = _generate(model, prompt, suffix, system=system, template=template, context=context, stream=stream,
                         think=think, raw=raw, format=format, images=images, options=options,
                         keep_alive=keep_alive, logprobs=logprobs, top_logprobs=top_logprobs, truncate=truncate,
                         shift=shift)
        return await self._send(call, stream=stream)

    async def chat(
        self, model: str = "", messages: Sequence[Message | Mapping[str, Any]] | None = None, *,
        tools: Sequence[Tool | Mapping[str, Any] | Callable[..., Any]] | None = None, stream: bool = False,
        think: bool | str | None = None, format: FormatArg = None, options: OptionsArg = None,
        keep_alive: float | str | None = None, logprobs: bool | None = None, top_logprobs: int | None = None,
        truncate: bool | None = None, shift: bool | None = None,
    ) -> ChatResponse | AsyncIterator[ChatResponse]:
        """POST /api/chat."""
        call = _chat(model, messages, tools, stream=stream, think=think, format=format, options=options,
                     keep_alive=keep_alive, logprobs=logprobs, top_logprobs=top_logprobs, truncate=truncate,
                     shift=shift)
        return await self._send(call, stream=stream)

    async def embed(self, model: str = "", input: str | Sequence[str] = "", truncate: bool | None = None,
                    options: OptionsArg = None, keep_alive: float | str | None = None,
                    dimensions: int | None = None) -> EmbedResponse:
        """POST /api/embed."""
        body = _clean({"model": model, "input": input if isinstance(input, str) else list(input),
                       "truncate": truncate, "options": _options(options), "keep_alive": keep_alive,
                       "dimensions": dimensions})
        return await self._send(_Call("POST", "/api/embed", EmbedResponse, body))

    async def embeddings(self, model: str = "", prompt: str | None = None, options: OptionsArg = None,
                         keep_alive: float | str | None = None) -> EmbeddingsResponse:
        """POST /api/embeddings (legacy, one prompt)."""
        body = _clean({"model": model, "prompt": prompt, "options": _options(options), "keep_alive": keep_alive})
        return await self._send(_Call("POST", "/api/embeddings", EmbeddingsResponse, body))

    async def pull(self, model: str, *, insecure: bool = False,
                   stream: bool = False) -> ProgressResponse | AsyncIterator[ProgressResponse]:
        """POST /api/pull."""
        body = {"model": model, "insecure": insecure, "stream": stream}
        return await self._send(_Call("POST", "/api/pull", ProgressResponse, body), stream=stream)

    async def push(self, model: str, *, insecure: bool = False,
                   stream: bool = False) -> ProgressResponse | AsyncIterator[ProgressResponse]:
        """POST /api/push."""
        body = {"model": model, "insecure": insecure, "stream": stream}
        return await self._send(_Call("POST", "/api/push", ProgressResponse, body), stream=stream)

    async def create(
        self, model: str, quantize: str | None = None, from_: str | None = None, files: dict[str, str] | None = None,
        adapters: dict[str, str] | None = None, template: str | None = None,
        license: str | list[str] | None = None, system: str | None = None, parameters: OptionsArg = None,
        messages: Sequence[Message | Mapping[str, Any]] | None = None, *, stream: bool = False,
        requires: str | None = None,
    ) -> ProgressResponse | AsyncIterator[ProgressResponse]:
        """POST /api/create; a ``from_`` naming a local file is uploaded first and sent as ``files``."""
        local = _local_file(from_)
        if local is not None:
            files = {**(files or {}), local.name: await self.create_blob(local)}
            from_ = None
        body = _create_body(model, quantize, from_, files, adapters, template, license, system, parameters,
                            messages, stream, requires)
        return await self._send(_Call("POST", "/api/create", ProgressResponse, body), stream=stream)

    async def create_blob(self, path: str | Path) -> str:
        """Upload a file as a blob unless the server has it; returns its ``sha256:<hex>`` digest."""
        import anyio.to_thread

        digest = await anyio.to_thread.run_sync(_sha256_file, path)
        head = await self._http.head(f"/api/blobs/{digest}")
        if head.status_code == 200:
            return digest

        async def chunks() -> AsyncIterator[bytes]:
            with open(path, "rb") as f:
                while chunk := await anyio.to_thread.run_sync(f.read, _CHUNK):
                    yield chunk

        response = await self._http.post(f"/api/blobs/{digest}", content=chunks())
        _raise_for_status(response)
        return digest

    async def delete(self, model: str) -> StatusResponse:
        """DELETE /api/delete."""
        await self._send(_Call("DELETE", "/api/delete", None, {"model": model}))
        return StatusResponse(status="success")

    async def copy(self, source: str, destination: str) -> StatusResponse:
        """POST /api/copy."""
        await self._send(_Call("POST", "/api/copy", None, {"source": source, "destination": destination}))
        return StatusResponse(status="success")

    async def list(self) -> ListResponse:
        """GET /api/tags."""
        return await self._send(_Call("GET", "/api/tags", ListResponse))

    async def show(self, model: str, verbose: bool = False) -> ShowResponse:
        """POST /api/show."""
        body = {"model": model, "verbose": True} if verbose else {"model": model}
        return await self._send(_Call("POST", "/api/show", ShowResponse, body))

    async def ps(self) -> ProcessResponse:
        """GET /api/ps."""
        return await self._send(_Call("GET", "/api/ps", ProcessResponse))
