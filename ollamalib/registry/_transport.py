"""HTTP to a registry with Ollama's request rules (server/images.go ``makeRequestWithRetry``).

Every request carries the User-Agent and the host's credentials; a 401 is answered by the Authenticator and
the request retried once (a second 401 is ``unauthorized: access denied``); 404 is "file does not exist";
any other status >= 400 is ``"<code>: <body>"``.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import urljoin

import httpx

from ..errors import RegistryError, UnauthorizedError
from ._auth import Authenticator

__all__ = ["InsecureProtocolError", "RemoteNotFoundError", "Transport", "user_agent"]

Body = bytes | Iterable[bytes] | None
BodyFactory = Callable[[], Body]

_GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i386": "386", "i686": "386"}


class RemoteNotFoundError(RegistryError, LookupError):
    """The registry answered 404 (Ollama: ``file does not exist``)."""

    status_code = 404

    def __init__(self, message: str = "file does not exist") -> None:
        super().__init__(message)


class InsecureProtocolError(RegistryError):
    """An ``http://`` model name pulled or pushed without ``insecure``."""

    def __init__(self) -> None:
        super().__init__("insecure protocol http")


def user_agent() -> str:
    """``ollamalib/<version> (<arch> <os>) Python/<version>``, shaped like Ollama's User-Agent."""
    try:
        from importlib.metadata import version

        ver = version("ollamalib")
    except Exception:  # not installed (running from a checkout)
        ver = "0.0.0"
    arch = _GOARCH.get(platform.machine().lower(), platform.machine().lower())
    return f"ollamalib/{ver} ({arch} {sys.platform.rstrip('0123456789')}) Python/{platform.python_version()}"


class Transport:
    """One registry client's HTTP: an httpx.Client, credentials and the retry-on-401 rule."""

    def __init__(self, http: httpx.Client, auth: Authenticator) -> None:
        self.http = http
        self.auth = auth
        self.user_agent = user_agent()

    def _headers(self, url: str, extra: dict[str, str] | None, with_auth: bool) -> dict[str, str]:
        headers = {"User-Agent": self.user_agent}
        if with_auth:
            headers.update(self.auth.headers(url))
        if extra:
            headers.update(extra)
        return headers

    @contextmanager
    def stream(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        body: BodyFactory | None = None,
        with_auth: bool = True,
        timeout: httpx.Timeout | None = None,
        check: bool = True,
    ) -> Iterator[httpx.Response]:
        """Send a request (body not read yet) with the 401-then-retry-once rule; raise on error statuses."""
        for attempt in range(2):
            content = body() if body is not None else None
            request = self.http.build_request(
                method,
                url,
                headers=self._headers(url, headers, with_auth),
                content=content,
                timeout=timeout if timeout is not None else self.http.timeout,
            )
            try:
                resp = self.http.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise _transport_error(exc) from exc
            try:
                if resp.status_code == 401 and with_auth:
                    resp.read()
                    if attempt == 0:
                        self.auth.handle_unauthorized(resp, url, self.http, self.user_agent)
                        continue
                    raise UnauthorizedError()
                if check:
                    raise_for_status(resp)
                yield resp
                return
            finally:
                resp.close()
        raise UnauthorizedError()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        body: BodyFactory | None = None,
        with_auth: bool = True,
        check: bool = True,
    ) -> httpx.Response:
        """Like ``stream`` but reads the whole (small) response body."""
        with self.stream(method, url, headers=headers, body=body, with_auth=with_auth, check=check) as resp:
            try:
                resp.read()
            except httpx.HTTPError as exc:
                raise _transport_error(exc) from exc
            return resp


def raise_for_status(resp: httpx.Response) -> None:
    """Ollama's mapping of error statuses: 404 → file does not exist, other >= 400 → ``<code>: <body>``."""
    if resp.status_code == 404:
        raise RemoteNotFoundError()
    if resp.status_code >= 400:
        try:
            body = resp.read().decode("utf-8", "replace")
        except httpx.HTTPError as exc:
            body = str(exc)
        raise RegistryError(f"{resp.status_code}: {body.strip()}", status_code=resp.status_code)


def location(resp: httpx.Response, *names: str) -> str | None:
    """The first of the named headers (default ``Location``), resolved against the request URL."""
    for name in names or ("Location",):
        value = resp.headers.get(name)
        if value:
            return urljoin(str(resp.request.url), value)
    return None


_NO_SUCH_HOST = ("Name or service not known", "nodename nor servname", "No address associated",
                 "Temporary failure in name resolution", "getaddrinfo failed", "[Errno -2]", "[Errno -3]", "[Errno -5]")


def _transport_error(exc: httpx.HTTPError) -> RegistryError:
    """Go's ``url.Error`` text for a failed request: ``Get "<url>": dial tcp: lookup <host>: no such host``."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    try:
        request = exc.request
    except RuntimeError:  # an error raised outside a request
        return RegistryError(text)
    host, port = request.url.host, request.url.port or (443 if request.url.scheme == "https" else 80)
    if isinstance(exc, httpx.ConnectError):
        if any(marker in str(exc) for marker in _NO_SUCH_HOST):
            text = f"dial tcp: lookup {host}: no such host"
        elif "Connection refused" in str(exc):
            text = f"dial tcp {host}:{port}: connect: connection refused"
    return RegistryError(f'{request.method.capitalize()} "{request.url}": {text}')
