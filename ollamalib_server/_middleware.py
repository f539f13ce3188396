"""The ASGI layer in front of every route (also 404s): request log, CORS, Host check, API key, body limits.

In Ollama's order: CORS (gin-contrib/cors with Ollama's origins), then the DNS-rebinding guard on loopback
listeners (``allowedHostsMiddleware``); then ollamalib's additions: the optional API key, the body limits
(blob uploads have their own, larger one) and the body read timeout for clients that stall mid-body.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import socket
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import anyio

from ollamalib.config import Settings, format_duration
from ollamalib.errors import RequestTimeoutError

from ._drain import Drain, send_simple
from ._errors import body_too_large_text
from ._errors import error_json as _error_json
from ._metrics import RequestMetrics

__all__ = ["ALLOWED_HEADERS", "BLOB_UPLOAD_PREFIX", "Gate", "origin_allowed"]

access_log = logging.getLogger("ollamalib.server.access")

ALLOWED_HEADERS = (
    "Authorization",
    "x-api-key",
    "anthropic-version",
    "anthropic-beta",
    "Content-Type",
    "User-Agent",
    "Accept",
    "X-Requested-With",
    "OpenAI-Beta",
    "x-stainless-arch",
    "x-stainless-async",
    "x-stainless-custom-poll-interval",
    "x-stainless-helper-method",
    "x-stainless-lang",
    "x-stainless-os",
    "x-stainless-package-version",
    "x-stainless-poll-helper",
    "x-stainless-retry-count",
    "x-stainless-runtime",
    "x-stainless-runtime-version",
    "x-stainless-timeout",
)
_ALLOW_METHODS = b"GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS"
_BROWSER_EXTENSIONS = ("chrome-extension://", "safari-extension://", "moz-extension://", "ms-browser-extension://")
_LOCAL_TLDS = (".localhost", ".local", ".internal")
BLOB_UPLOAD_PREFIX = "/api/blobs/"
"""``POST`` under this path streams to disk: it has ``max_blob_bytes`` as its limit instead of the JSON one."""



def origin_allowed(origin: str, patterns: Iterable[str]) -> bool:
    """gin-contrib/cors matching: exact, one ``*`` wildcard, ``*`` for all, and browser extensions."""
    if origin.startswith(_BROWSER_EXTENSIONS):
        return True
    for pattern in patterns:
        if pattern == "*" or pattern == origin:
            return True
        if "*" in pattern:
            prefix, _, suffix = pattern.partition("*")
            if origin.startswith(prefix) and origin.endswith(suffix) and len(origin) >= len(prefix) + len(suffix):
                return True
    return False


@lru_cache(maxsize=1)
def _local_addresses() -> frozenset[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        return frozenset()
    return frozenset(str(info[4][0]) for info in infos)


def _split_host(host: str) -> str:
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def host_allowed(host_header: str) -> tuple[bool, bool]:
    """Ollama's DNS-rebinding guard for a loopback listener: (allowed, allowed by name rather than address)."""
    host = _split_host(host_header)
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        addr = None
    if addr is not None:
        ok = addr.is_loopback or addr.is_private or addr.is_unspecified or str(addr) in _local_addresses()
        return ok, False
    host = host.lower()
    if host in ("", "localhost") or host.endswith(_LOCAL_TLDS):
        return True, True
    try:
        if host == socket.gethostname().lower():
            return True, True
    except OSError:  # pragma: no cover
        pass
    return False, False


@lru_cache(maxsize=64)
def _is_loopback_listener(server_host: str) -> bool:
    try:
        return ipaddress.ip_address(server_host).is_loopback
    except ValueError:
        return server_host == "localhost"


class Gate:
    """ASGI middleware wrapping the whole Litestar app (so it also sees unknown paths)."""

    def __init__(self, app: Any, settings: Settings, metrics: RequestMetrics | None = None,
                 drain: Drain | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.drain = drain
        self.origins = tuple(settings.all_origins)
        self.api_key = settings.api_key
        self.max_body = settings.max_request_bytes
        self.max_blob = settings.max_blob_bytes
        self.body_timeout = settings.body_timeout
        self._allow_headers = ",".join(ALLOWED_HEADERS).encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0
        extra: list[tuple[bytes, bytes]] = []

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if extra:
                    message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        try:
            rejection = self._check(scope, extra)
            if rejection is None and self.drain is not None:
                rejection = self.drain.refuse(scope)
            if rejection is None:
                timed = self._timed(receive) if self.body_timeout else receive
                if self.drain is not None:
                    await self.drain.serve(self.app, scope, timed, send_wrapper)
                else:
                    await self.app(scope, timed, send_wrapper)
            else:
                await send_simple(send_wrapper, *rejection)
        finally:
            elapsed = time.perf_counter() - start
            if self.metrics is not None:
                self.metrics.observe(scope["method"], scope["path"], status, elapsed)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info(
                    "request method=%s path=%s status=%d duration=%s client=%s",
                    scope["method"],
                    scope["path"],
                    status,
                    format_duration(elapsed),
                    client[0] if client else "-",
                )

    def _check(self, scope: Any, extra: list[tuple[bytes, bytes]]) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        method = scope["method"]
        host = origin = authorization = api_key = ""
        length = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
            elif name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"x-api-key":  # Anthropic's SDKs send the key this way
                api_key = value.decode("latin-1")
            elif name == b"content-length":
                length = value

        if origin and origin not in (f"http://{host}", f"https://{host}"):
            if not origin_allowed(origin, self.origins):
                return 403, [], b""
            allow = b"*" if "*" in self.origins else origin.encode("latin-1")
            if method == "OPTIONS":
                return 204, [
                    (b"access-control-allow-origin", allow),
                    (b"access-control-allow-methods", _ALLOW_METHODS),
                    (b"access-control-allow-headers", self._allow_headers),
                    (b"access-control-max-age", b"43200"),
                    (b"vary", b"Origin"),
                ], b""
            extra.append((b"access-control-allow-origin", allow))
            extra.append((b"vary", b"Origin"))

        server = scope.get("server")
        if server and _is_loopback_listener(str(server[0])):
            allowed, by_name = host_allowed(host)
            if not allowed:
                return 403, [], b""
            if by_name and method == "OPTIONS":
                return 204, [], b""

        if self.api_key and method != "OPTIONS" and not (method in ("GET", "HEAD") and _open_path(scope["path"])):
            scheme, _, token = authorization.partition(" ")  # the scheme word is case-insensitive (RFC 9110)
            given = token.strip().encode("latin-1") if scheme.lower() == "bearer" else b""
            if api_key and not given:  # Anthropic's SDKs send the key as x-api-key
                given = api_key.encode("latin-1")
            if not hmac.compare_digest(given, self.api_key.encode()):
                return 401, [(b"www-authenticate", b"Bearer")], _error_json(scope["path"], 401, "unauthorized")

        if length is not None:
            blob = method == "POST" and scope["path"].startswith(BLOB_UPLOAD_PREFIX)
            limit, setting = (self.max_blob, "OLLAMALIB_MAX_BLOB_BYTES") if blob else \
                (self.max_body, "OLLAMALIB_MAX_REQUEST_BYTES")
            try:
                too_big = int(length) > limit
            except ValueError:
                return 400, [], _error_json(scope["path"], 400, "invalid content-length header")
            if too_big:
                return 413, [(b"connection", b"close")], _error_json(scope["path"], 413,
                                                                     body_too_large_text(limit, setting))
        return None

    def _timed(self, receive: Any) -> Any:
        """``receive`` that fails with 408 when the next piece of the request body takes over ``body_timeout``.

        Only while the body is incomplete: afterwards the app waits on ``receive`` for a disconnect, which may
        rightly take as long as a generation does.
        """
        timeout = self.body_timeout
        done = False

        async def timed_receive() -> Any:
            nonlocal done
            if done:
                return await receive()
            try:
                with anyio.fail_after(timeout):
                    message = await receive()
            except TimeoutError:
                done = True
                raise RequestTimeoutError(f"timed out reading the request body (no data for {format_duration(timeout)};"
                                    " OLLAMALIB_BODY_TIMEOUT sets it)") from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            return message

        return timed_receive



def _open_path(path: str) -> bool:
    """Paths served without the API key: the liveness check and the /ui page's static files."""
    return path == "/" or path == "/ui" or path.startswith("/ui/")
