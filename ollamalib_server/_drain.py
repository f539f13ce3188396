"""Graceful drain: what the server does between SIGTERM and exit, so a router loses no request.

``Drain`` is the shared state. While draining, new work gets ``503`` with ``Retry-After`` and
``Connection: close`` (so a router retries it on another replica) and readiness is false; requests already in
flight run to the end. When the grace period runs out, or on a second SIGTERM, ``abort`` ends the ones left:
a response that has started gets Ollama's mid-stream error line (NDJSON ``{"error": ...}``, or an SSE
``data: {"error": {...}}`` event under ``/v1``), one that has not gets the 503. The middleware (``Gate``)
calls ``refuse`` and ``serve``; ``serve.py`` turns signals into ``begin`` and ``abort``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ._encoding import JSON_TYPE, dumps
from ._errors import error_body, error_json, openai_error_body

__all__ = ["DRAINING_TEXT", "RETRY_AFTER", "Drain", "send_simple"]

log = logging.getLogger("ollamalib.server")

DRAINING_TEXT = "server is shutting down, please try again"
RETRY_AFTER = b"1"
_ABORT = "ollamalib drain deadline"
_REFUSAL_HEADERS = [(b"retry-after", RETRY_AFTER), (b"connection", b"close")]
# Read-only routes that stay open while draining, so scrapers and dashboards see the drain happen.
_OPEN_WHILE_DRAINING = frozenset({"/metrics", "/api/version", "/api/ps"})


class Drain:
    """Whether the server is draining, the requests in flight, and ending them when the grace period is over."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.draining = False
        self.aborting = False
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def in_flight(self) -> int:
        """HTTP requests being served now (those refused while draining not counted)."""
        return len(self._tasks)

    def begin(self) -> None:
        """Stop taking new work; requests in flight go on."""
        if not self.draining:
            self.draining = True
            log.info("draining in_flight=%d grace=%.1fs", self.in_flight, self.grace)

    def abort(self) -> None:
        """End every request still in flight now (each gets its error line or a 503)."""
        self.draining = True
        self.aborting = True
        if self._tasks:
            log.warning("ending %d request(s) still in flight", len(self._tasks))
        for task in list(self._tasks):
            task.cancel(_ABORT)

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is in flight (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while self._tasks:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    def refuse(self, scope: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """The 503 for a request arriving while draining, or None to let it through."""
        if not self.draining or (scope["method"] in ("GET", "HEAD") and scope["path"] in _OPEN_WHILE_DRAINING):
            return None
        return 503, list(_REFUSAL_HEADERS), error_json(scope["path"], 503, DRAINING_TEXT)

    async def serve(self, app: Any, scope: Any, receive: Any, send: Any) -> None:
        """Run ``app`` for one request, counted as in flight; on ``abort`` finish its response with an error."""
        task = asyncio.current_task()
        assert task is not None
        started = finished = False
        content_type = b""

        async def tracked_send(message: Any) -> None:
            nonlocal started, finished, content_type
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", ()))
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if self.draining:  # a response begun while draining closes its connection afterwards
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
            await send(message)

        self._tasks.add(task)
        try:
            await app(scope, receive, tracked_send)
        except asyncio.CancelledError:
            if not self.aborting:  # a client disconnect or a server-wide cancel: not ours to answer
                raise
            task.uncancel()
            if not finished:
                await self._end(scope["path"], started, content_type, send)
        finally:
            self._tasks.discard(task)

    @staticmethod
    async def _end(path: str, started: bool, content_type: bytes, send: Any) -> None:
        try:
            if not started:
                await send_simple(send, 503, list(_REFUSAL_HEADERS), error_json(path, 503, DRAINING_TEXT))
                return
            tail = b""
            if content_type.startswith(b"text/event-stream"):
                tail = b"data: " + dumps(openai_error_body(503, DRAINING_TEXT)) + b"\n\n"
            elif content_type.startswith(b"application/x-ndjson"):
                tail = dumps(error_body(DRAINING_TEXT)) + b"\n"
            await send({"type": "http.response.body", "body": tail, "more_body": False})
        except OSError:  # the client went away meanwhile
            pass


async def send_simple(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """Send a whole small response (a JSON error body, or none) through ASGI ``send``."""
    if body:
        headers = [*headers, (b"content-type", JSON_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    elif status != 204:
        headers = [*headers, (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
