"""uvicorn's HTTP/1.1 protocol with a header read timeout, so half-open connections do not pile up.

uvicorn closes idle keep-alive connections, but a client that sends part of its request headers and then
stalls (or opens a connection and sends nothing) holds the connection forever. Here every connection must
deliver complete request headers within ``header_timeout`` seconds of opening, or of its previous response;
otherwise it is closed. (Stalls inside a request body are the ASGI layer's job: ``middleware.Gate``.)
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["TimedH11Protocol", "timed_protocol"]

log = logging.getLogger("ollamalib.server")


class TimedH11Protocol(H11Protocol):
    """H11Protocol that closes a connection whose request headers are not complete in time."""

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        if self.header_timeout > 0:
            self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        client = "%s:%d" % self.client if self.client else "-"
        log.info("closing connection client=%s: no complete request headers within %ss", client,
                 self.header_timeout)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # a request's headers arrived
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # waiting for the next request on this keep-alive connection


def timed_protocol(header_timeout: float) -> Any:
    """What ``uvicorn.Config(http=...)`` takes: the protocol class with ``header_timeout`` bound."""
    return functools.partial(TimedH11Protocol, header_timeout=header_timeout)
