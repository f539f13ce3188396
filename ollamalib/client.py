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
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from .config import Settings, parse_host
from .errors import error_from_wire
from .protocol import AsyncOllamaAPI, OllamaAPI
from .requests import (  # the route of each
    BlobRequest, ChatRequest, CopyRequest, CreateRequest, DeleteRequest, EmbeddingsRequest, EmbedRequest,
    GenerateRequest, ListRequest, ProcessRequest, PullRequest, PushRequest, Request, RerankRequest, ShowRequest,
    SystemOneRequest,
)
from .types import (
    ChatResponse, EmbeddingsResponse, EmbedResponse, GenerateResponse, ListResponse, ProcessResponse,
    ProgressResponse, RerankResponse, ShowResponse, StatusResponse, SystemOneResponse,
)

__all__ = ["AsyncClient", "Client", "error_from_response"]

T = TypeVar("T")
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


_ROUTES: dict[type[Request], tuple[str, str, type[Any] | None]] = {
    GenerateRequest: ("POST", "/api/generate", GenerateResponse),
    ChatRequest: ("POST", "/api/chat", ChatResponse),
    EmbedRequest: ("POST", "/api/embed", EmbedResponse),
    EmbeddingsRequest: ("POST", "/api/embeddings", EmbeddingsResponse),
    RerankRequest: ("POST", "/api/rerank", RerankResponse),
    SystemOneRequest: ("POST", "/v1/systemone", SystemOneResponse),
    PullRequest: ("POST", "/api/pull", ProgressResponse),
    PushRequest: ("POST", "/api/push", ProgressResponse),
    CreateRequest: ("POST", "/api/create", ProgressResponse),
    DeleteRequest: ("DELETE", "/api/delete", None),
    CopyRequest: ("POST", "/api/copy", None),
    ShowRequest: ("POST", "/api/show", ShowResponse),
    ListRequest: ("GET", "/api/tags", ListResponse),
    ProcessRequest: ("GET", "/api/ps", ProcessResponse),
}
"""Each request's HTTP method, route and answer model (None: an empty body, answered as ``status: success``)."""


@dataclass
class _Call:
    method: str
    path: str
    cls: type[Any] | None
    body: dict[str, Any] | None
    stream: bool


def _call(request: Request, stream: bool) -> _Call:
    """The HTTP call for a typed request: its wire body, with ``stream`` as the caller asked where it applies."""
    route = _ROUTES.get(type(request))
    if route is None:
        raise TypeError(f"Client.send takes a request of ollamalib.requests, not {type(request).__name__}")
    method, path, cls = route
    streams = "stream" in type(request).model_fields
    body = None if method == "GET" else request.to_wire()
    if body is not None and streams:
        body["stream"] = stream
    return _Call(method, path, cls, body, stream and streams)


def _local_from(request: Request) -> Path | None:
    """The local GGUF file a create request's ``from`` names: uploaded first, then sent as one of its ``files``."""
    return _local_file(request.from_) if isinstance(request, CreateRequest) else None


def _with_file(request: Request, local: Path, digest: str) -> Request:
    """The create request with its local ``from`` file replaced by the uploaded blob ``digest``."""
    assert isinstance(request, CreateRequest)
    return request.model_copy(update={"files": {**(request.files or {}), local.name: digest}, "from_": None})


def _answer(call: _Call, response: httpx.Response) -> Any:
    """The typed answer of a whole (not streamed) response, or its typed error."""
    _raise_for_status(response)
    return call.cls.model_validate(response.json()) if call.cls else StatusResponse(status="success")


def _local_file(from_: object) -> Path | None:
    """A ``from_`` that names a local GGUF file is uploaded as a blob (the server cannot read our disk)."""
    if not isinstance(from_, str) or not from_ or from_.startswith("sha256:"):
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


H = TypeVar("H", httpx.Client, httpx.AsyncClient)


def _http_client(cls: type[H], http: H | None, host: str | None, headers: Mapping[str, str] | None,
                 timeout: float | httpx.Timeout | None) -> H:
    """The caller's ``http`` pointed at ``host`` with ``headers`` added, or a new ``cls`` client for ``host``."""
    if http is None:
        return cls(base_url=_base_url(host), headers=_headers(headers), timeout=timeout, follow_redirects=True)
    if host is not None:
        http.base_url = httpx.URL(_base_url(host))
    if headers:
        http.headers.update(headers)
    return http


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


class Client(OllamaAPI):
    """Engine's methods over HTTP (synchronous)."""

    def __init__(self, host: str | None = None, *, http: httpx.Client | None = None,
                 headers: Mapping[str, str] | None = None, timeout: float | httpx.Timeout | None = None) -> None:
        self._owns_http = http is None
        self._http = _http_client(httpx.Client, http, host, headers, timeout)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, request: Request, *, stream: bool = False) -> Any:
        """Send a typed request to its route (Engine.send over HTTP); a create request's local ``from`` file is
        uploaded first."""
        if isinstance(request, BlobRequest):
            return self._upload(request.path)
        if (local := _local_from(request)) is not None:
            request = _with_file(request, local, self._upload(local))
        call = _call(request, stream)
        if not call.stream:
            return _answer(call, self._http.request(call.method, call.path, json=call.body))
        response = self._http.send(self._http.build_request(call.method, call.path, json=call.body), stream=True)
        if response.status_code >= 400:
            response.read()
            response.close()
            _raise_for_status(response)
        return _Stream(response, call.cls)  # type: ignore[arg-type]

    def _upload(self, path: str | Path) -> str:
        """Upload a file as a blob unless the server has it; returns its ``sha256:<hex>`` digest."""
        digest = _sha256_file(path)
        head = self._http.head(f"/api/blobs/{digest}")
        if head.status_code == 200:
            return digest
        with open(path, "rb") as f:
            response = self._http.post(f"/api/blobs/{digest}", content=iter(lambda: f.read(_CHUNK), b""))
        _raise_for_status(response)
        return digest


class AsyncClient(AsyncOllamaAPI):
    """Engine's methods over HTTP, as coroutines (``stream=True`` returns an async iterator)."""

    def __init__(self, host: str | None = None, *, http: httpx.AsyncClient | None = None,
                 headers: Mapping[str, str] | None = None, timeout: float | httpx.Timeout | None = None) -> None:
        self._owns_http = http is None
        self._http = _http_client(httpx.AsyncClient, http, host, headers, timeout)

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def send(self, request: Request, *, stream: bool = False) -> Any:
        """Client.send as a coroutine; ``stream=True`` answers with an async iterator of chunks."""
        if isinstance(request, BlobRequest):
            return await self._upload(request.path)
        if (local := _local_from(request)) is not None:
            request = _with_file(request, local, await self._upload(local))
        call = _call(request, stream)
        if not call.stream:
            return _answer(call, await self._http.request(call.method, call.path, json=call.body))
        built = self._http.build_request(call.method, call.path, json=call.body)
        response = await self._http.send(built, stream=True)
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            _raise_for_status(response)
        return _AsyncStream(response, call.cls)  # type: ignore[arg-type]

    async def _upload(self, path: str | Path) -> str:
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
