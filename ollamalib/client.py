"""Client and AsyncClient: the Engine's method surface over HTTP, to any Ollama-compatible server.

``Client("http://host:11434")`` (default: ``OLLAMA_HOST``) has the same methods, arguments and results as
``Engine``, so code written against one runs against the other by changing one line. Error bodies become the
library's typed errors (``ModelNotFoundError``, ``CapabilityError``...) with the server's text and status.
``Client(http=...)`` takes any ``httpx.Client`` (for example Litestar's ``TestClient``).
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import httpx

from .config import Settings, parse_host
from .errors import error_from_wire
from .requests import (
    ChatRequest,
    CopyRequest,
    CreateRequest,
    DeleteRequest,
    EmbeddingsRequest,
    EmbedRequest,
    GenerateRequest,
    PullRequest,
    PushRequest,
    Question,
    Request,
    RerankRequest,
    ShowRequest,
    SystemOneContent,
    SystemOneRequest,
)
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
    RerankResponse,
    ShowResponse,
    StatusResponse,
    SystemOneResponse,
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


def _call(path: str, cls: type[Any] | None, request: Request, stream: bool | None = None,
          method: str = "POST") -> _Call:
    """The HTTP call for a typed request: its wire body, with ``stream`` as the caller asked."""
    body = request.to_wire()
    if stream is not None:
        body["stream"] = stream
    return _Call(method, path, cls, body)


def _generate(stream: bool, **kw: Any) -> _Call:
    return _typed(GenerateRequest(**kw), stream)


def _chat(stream: bool, **kw: Any) -> _Call:
    return _typed(ChatRequest(**kw), stream)


def _typed(request: GenerateRequest | ChatRequest, stream: bool) -> _Call:
    """The call for a generate or chat request (``send``, and what ``generate`` and ``chat`` build)."""
    if isinstance(request, GenerateRequest):
        return _call("/api/generate", GenerateResponse, request, stream)
    return _call("/api/chat", ChatResponse, request, stream)


def _create(stream: bool, **kw: Any) -> _Call:
    return _call("/api/create", ProgressResponse, CreateRequest(**kw), stream)


def _systemone(model: str, state: SystemOneContent, questions: Any, keep_alive: float | str | None) -> _Call:
    request = SystemOneRequest(model=model, state=state, questions=questions, keep_alive=keep_alive)
    return _call("/v1/systemone", SystemOneResponse, request)


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
        call = _generate(stream, model=model, prompt=prompt, suffix=suffix, system=system, template=template,
                         context=context, think=think, raw=raw, format=format, images=images, options=options,
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
        tools: Sequence[Tool | Mapping[str, Any] | Callable[..., Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None, stream: bool = False,
        think: bool | str | None = None, format: FormatArg = None, options: OptionsArg = None,
        keep_alive: float | str | None = None, logprobs: bool | None = None, top_logprobs: int | None = None,
        truncate: bool | None = None, shift: bool | None = None,
    ) -> ChatResponse | Iterator[ChatResponse]:
        """POST /api/chat."""
        call = _chat(stream, model=model, messages=messages, tools=tools, tool_choice=tool_choice, think=think,
                     format=format, options=options, keep_alive=keep_alive, logprobs=logprobs,
                     top_logprobs=top_logprobs, truncate=truncate, shift=shift)
        return self._send(call, stream=stream)

    def send(self, request: GenerateRequest | ChatRequest, *, stream: bool = False) -> Any:
        """POST a typed generate or chat request (Engine.send over HTTP)."""
        return self._send(_typed(request, stream), stream=stream)

    def embed(self, model: str = "", input: str | Sequence[str] = "", truncate: bool | None = None,
              options: OptionsArg = None, keep_alive: float | str | None = None,
              dimensions: int | None = None) -> EmbedResponse:
        """POST /api/embed."""
        request = EmbedRequest(model=model, input=input, truncate=truncate, options=options, keep_alive=keep_alive,
                               dimensions=dimensions)
        return self._send(_call("/api/embed", EmbedResponse, request))

    def embeddings(self, model: str = "", prompt: str | None = None, options: OptionsArg = None,
                   keep_alive: float | str | None = None) -> EmbeddingsResponse:
        """POST /api/embeddings (legacy, one prompt)."""
        request = EmbeddingsRequest(model=model, prompt=prompt, options=options, keep_alive=keep_alive)
        return self._send(_call("/api/embeddings", EmbeddingsResponse, request))

    def rerank(
        self,
        model: str = "",
        query: str = "",
        documents: Sequence[str] | None = None,
        top_n: int | None = None,
        return_documents: bool = False,
        instruction: str | None = None,
        *,
        truncate: bool | None = None,
        options: OptionsArg = None,
        keep_alive: float | str | None = None,
    ) -> RerankResponse:
        """POST /api/rerank."""
        request = RerankRequest(model=model, query=query, documents=documents, top_n=top_n,
                                return_documents=return_documents or None, instruction=instruction,
                                truncate=truncate, options=options, keep_alive=keep_alive)
        return self._send(_call("/api/rerank", RerankResponse, request))

    def systemone(self, model: str = "", state: SystemOneContent = "",
                  questions: Mapping[str, Question | Mapping[str, Any]] | None = None,
                  keep_alive: float | str | None = None) -> SystemOneResponse:
        """POST /v1/systemone (one JSON answer; no streaming)."""
        return self._send(_systemone(model, state, questions, keep_alive))

    def pull(self, model: str, *, insecure: bool = False,
             stream: bool = False) -> ProgressResponse | Iterator[ProgressResponse]:
        """POST /api/pull."""
        call = _call("/api/pull", ProgressResponse, PullRequest(model=model, insecure=insecure), stream)
        return self._send(call, stream=stream)

    def push(self, model: str, *, insecure: bool = False,
             stream: bool = False) -> ProgressResponse | Iterator[ProgressResponse]:
        """POST /api/push."""
        call = _call("/api/push", ProgressResponse, PushRequest(model=model, insecure=insecure), stream)
        return self._send(call, stream=stream)

    def create(
        self, model: str, quantize: str | None = None, from_: str | None = None, files: dict[str, str] | None = None,
        adapters: dict[str, str] | None = None, template: str | None = None,
        license: str | list[str] | None = None, system: str | None = None, parameters: OptionsArg = None,
        messages: Sequence[Message | Mapping[str, Any]] | None = None, *, stream: bool = False,
        requires: str | None = None, draft_files: dict[str, str] | None = None,
    ) -> ProgressResponse | Iterator[ProgressResponse]:
        """POST /api/create; a ``from_`` naming a local file is uploaded first and sent as ``files``."""
        local = _local_file(from_)
        if local is not None:
            files = {**(files or {}), local.name: self.create_blob(local)}
            from_ = None
        call = _create(stream, model=model, quantize=quantize, from_=from_, files=files, adapters=adapters,
                       template=template, license=license, system=system, parameters=parameters,
                       messages=messages, requires=requires, draft_files=draft_files)
        return self._send(call, stream=stream)

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
        self._send(_call("/api/delete", None, DeleteRequest(model=model), method="DELETE"))
        return StatusResponse(status="success")

    def copy(self, source: str, destination: str) -> StatusResponse:
        """POST /api/copy."""
        self._send(_call("/api/copy", None, CopyRequest(source=source, destination=destination)))
        return StatusResponse(status="success")

    def list(self) -> ListResponse:
        """GET /api/tags."""
        return self._send(_Call("GET", "/api/tags", ListResponse))

    def show(self, model: str, verbose: bool = False) -> ShowResponse:
        """POST /api/show."""
        request = ShowRequest(model=model, verbose=True if verbose else None)
        return self._send(_call("/api/show", ShowResponse, request))

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
        call = _generate(stream, model=model, prompt=prompt, suffix=suffix, system=system, template=template,
                         context=context, think=think, raw=raw, format=format, images=images, options=options,
                         keep_alive=keep_alive, logprobs=logprobs, top_logprobs=top_logprobs, truncate=truncate,
                         shift=shift)
        return await self._send(call, stream=stream)

    async def chat(
        self, model: str = "", messages: Sequence[Message | Mapping[str, Any]] | None = None, *,
        tools: Sequence[Tool | Mapping[str, Any] | Callable[..., Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None, stream: bool = False,
        think: bool | str | None = None, format: FormatArg = None, options: OptionsArg = None,
        keep_alive: float | str | None = None, logprobs: bool | None = None, top_logprobs: int | None = None,
        truncate: bool | None = None, shift: bool | None = None,
    ) -> ChatResponse | AsyncIterator[ChatResponse]:
        """POST /api/chat."""
        call = _chat(stream, model=model, messages=messages, tools=tools, tool_choice=tool_choice, think=think,
                     format=format, options=options, keep_alive=keep_alive, logprobs=logprobs,
                     top_logprobs=top_logprobs, truncate=truncate, shift=shift)
        return await self._send(call, stream=stream)

    async def send(self, request: GenerateRequest | ChatRequest, *, stream: bool = False) -> Any:
        """POST a typed generate or chat request (AsyncEngine.send over HTTP)."""
        return await self._send(_typed(request, stream), stream=stream)

    async def embed(self, model: str = "", input: str | Sequence[str] = "", truncate: bool | None = None,
                    options: OptionsArg = None, keep_alive: float | str | None = None,
                    dimensions: int | None = None) -> EmbedResponse:
        """POST /api/embed."""
        request = EmbedRequest(model=model, input=input, truncate=truncate, options=options, keep_alive=keep_alive,
                               dimensions=dimensions)
        return await self._send(_call("/api/embed", EmbedResponse, request))

    async def embeddings(self, model: str = "", prompt: str | None = None, options: OptionsArg = None,
                         keep_alive: float | str | None = None) -> EmbeddingsResponse:
        """POST /api/embeddings (legacy, one prompt)."""
        request = EmbeddingsRequest(model=model, prompt=prompt, options=options, keep_alive=keep_alive)
        return await self._send(_call("/api/embeddings", EmbeddingsResponse, request))

    async def rerank(
        self,
        model: str = "",
        query: str = "",
        documents: Sequence[str] | None = None,
        top_n: int | None = None,
        return_documents: bool = False,
        instruction: str | None = None,
        *,
        truncate: bool | None = None,
        options: OptionsArg = None,
        keep_alive: float | str | None = None,
    ) -> RerankResponse:
        """POST /api/rerank."""
        request = RerankRequest(model=model, query=query, documents=documents, top_n=top_n,
                                return_documents=return_documents or None, instruction=instruction,
                                truncate=truncate, options=options, keep_alive=keep_alive)
        return await self._send(_call("/api/rerank", RerankResponse, request))

    async def systemone(self, model: str = "", state: SystemOneContent = "",
                        questions: Mapping[str, Question | Mapping[str, Any]] | None = None,
                        keep_alive: float | str | None = None) -> SystemOneResponse:
        """POST /v1/systemone (one JSON answer; no streaming)."""
        return await self._send(_systemone(model, state, questions, keep_alive))

    async def pull(self, model: str, *, insecure: bool = False,
                   stream: bool = False) -> ProgressResponse | AsyncIterator[ProgressResponse]:
        """POST /api/pull."""
        call = _call("/api/pull", ProgressResponse, PullRequest(model=model, insecure=insecure), stream)
        return await self._send(call, stream=stream)

    async def push(self, model: str, *, insecure: bool = False,
                   stream: bool = False) -> ProgressResponse | AsyncIterator[ProgressResponse]:
        """POST /api/push."""
        call = _call("/api/push", ProgressResponse, PushRequest(model=model, insecure=insecure), stream)
        return await self._send(call, stream=stream)

    async def create(
        self, model: str, quantize: str | None = None, from_: str | None = None, files: dict[str, str] | None = None,
        adapters: dict[str, str] | None = None, template: str | None = None,
        license: str | list[str] | None = None, system: str | None = None, parameters: OptionsArg = None,
        messages: Sequence[Message | Mapping[str, Any]] | None = None, *, stream: bool = False,
        requires: str | None = None, draft_files: dict[str, str] | None = None,
    ) -> ProgressResponse | AsyncIterator[ProgressResponse]:
        """POST /api/create; a ``from_`` naming a local file is uploaded first and sent as ``files``."""
        local = _local_file(from_)
        if local is not None:
            files = {**(files or {}), local.name: await self.create_blob(local)}
            from_ = None
        call = _create(stream, model=model, quantize=quantize, from_=from_, files=files, adapters=adapters,
                       template=template, license=license, system=system, parameters=parameters,
                       messages=messages, requires=requires, draft_files=draft_files)
        return await self._send(call, stream=stream)

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
        await self._send(_call("/api/delete", None, DeleteRequest(model=model), method="DELETE"))
        return StatusResponse(status="success")

    async def copy(self, source: str, destination: str) -> StatusResponse:
        """POST /api/copy."""
        await self._send(_call("/api/copy", None, CopyRequest(source=source, destination=destination)))
        return StatusResponse(status="success")

    async def list(self) -> ListResponse:
        """GET /api/tags."""
        return await self._send(_Call("GET", "/api/tags", ListResponse))

    async def show(self, model: str, verbose: bool = False) -> ShowResponse:
        """POST /api/show."""
        request = ShowRequest(model=model, verbose=True if verbose else None)
        return await self._send(_call("/api/show", ShowResponse, request))

    async def ps(self) -> ProcessResponse:
        """GET /api/ps."""
        return await self._send(_Call("GET", "/api/ps", ProcessResponse))
