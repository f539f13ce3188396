"""Where commands run: a server through ``ollamalib.Client``, or in this process through ``Engine``.

``open_api`` is the only place that decides. An explicit ``--host`` or ``OLLAMA_HOST`` always means the
server (and an error when it does not answer); otherwise a server answering at the default address is
used when there is one, and the engine runs in-process when there is not. Both have the same methods.
"""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import urlsplit

from ollamalib.config import Settings, parse_host

from ._errors import ServerUnreachableError

__all__ = ["PROBE_TIMEOUT", "open_api", "server_answers", "server_version"]

PROBE_TIMEOUT = 0.3


def normalize_host(host: str) -> str:
    """``host``, ``host:port`` or a URL, completed the way ``OLLAMA_HOST`` is (``http://h:11434``)."""
    scheme, h, port = parse_host(host)
    path = urlsplit(host if "://" in host else f"//{host}").path.rstrip("/")
    return f"{scheme}://{h}:{port}{path}"


def _connection(url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    return cls(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)


def server_answers(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """True when something answers ``HEAD /`` at ``url`` within ``timeout`` seconds."""
    conn = _connection(url, timeout)
    try:
        conn.request("HEAD", urlsplit(url).path.rstrip("/") + "/")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def server_version(url: str, timeout: float = 2.0) -> str | None:
    """The version a server reports at ``/api/version``, or None when none answers."""
    import json

    conn = _connection(url, timeout)
    try:
        conn.request("GET", urlsplit(url).path.rstrip("/") + "/api/version")
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            return None
        return str(json.loads(body).get("version") or "") or None
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        conn.close()


def target(settings: Settings, host: str | None, explicit: bool) -> str | None:
    """The server URL commands should talk to, or None for in-process; raises when an explicit one is down."""
    if host or explicit:
        url = normalize_host(host) if host else settings.host
        if not server_answers(url, timeout=2.0):
            raise ServerUnreachableError()
        return url
    return settings.host if server_answers(settings.host) else None


def open_api(settings: Settings, host: str | None = None, *, explicit: bool = False) -> Any:
    """A ``Client`` for the chosen server, or an in-process ``Engine`` on ``settings``' store."""
    url = target(settings, host, explicit)
    if url is not None:
        from ollamalib.client import Client

        return Client(host=url)
    from ollamalib.engine import Engine

    return Engine(settings)
