"""Streaming responses (NDJSON and SSE) over the engine's async iterators, and cancellation on disconnect.

The first chunk is awaited before the response starts, so errors that happen before any output (unknown
model, bad option, full queue) still get their status code; an error after that ends the stream with an error
line, as Ollama does. When the client goes away the engine's iterator is closed, which stops its sequence.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import anyio
from litestar import Request
from litestar.response import Stream
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse

from ollamalib.errors import RegistryError, RequestCancelledError

from ._errors import error_status_and_text

__all__ = ["ClosingStream", "aclose", "call_engine", "chained", "event_stream", "first_chunk", "until_disconnect"]

log = logging.getLogger("ollamalib.server")
T = TypeVar("T")


class _ClosingASGIStream(ASGIStreamingResponse):
    """Litestar's streaming response, plus: the iterator is always closed, also when the client disconnects."""

    __slots__ = ()

    async def send_body(self, send: Any, receive: Any) -> None:
        try:
            await super().send_body(send, receive)
        finally:
            await aclose(self.iterator)


class ClosingStream(Stream):
    """A ``Stream`` whose async generator is closed (shielded from cancellation) when the response ends."""

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIResponse:
        response = super().to_asgi_response(*args, **kwargs)
        response.__class__ = _ClosingASGIStream
        return response


async def aclose(iterator: Any) -> None:
    """Close an async iterator even inside a cancelled scope (that is what stops the engine's sequence)."""
    close = getattr(iterator, "aclose", None)
    if close is None:
        return
    with anyio.CancelScope(shield=True):
        try:
            await close()
        except Exception:  # a failing close must not mask the response outcome
            log.debug("closing a stream failed", exc_info=True)


async def call_engine(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call an AsyncEngine method; accepts both ``async def`` methods and ones returning iterators directly."""
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


async def chained(first: T | None, iterator: AsyncIterator[T]) -> AsyncIterator[T]:
    """The prefetched first chunk (see ``first_chunk``), then the rest of the engine's stream."""
    if first is not None:
        yield first
    async for item in iterator:
        yield item


async def first_chunk(iterator: AsyncIterator[T]) -> T | None:
    """Await the first chunk; on error close the iterator and re-raise. Returns None for an empty stream."""
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return None
    except BaseException:
        await aclose(iterator)
        raise


def event_stream(
    first: Any,
    iterator: AsyncIterator[Any],
    encode: Callable[[Any], bytes],
    encode_error: Callable[[int, str], bytes],
    *,
    media_type: str,
    footer: Callable[[], bytes] | None = None,
) -> ClosingStream:
    """A streaming response of ``first`` then the rest of ``iterator``; a late error becomes a final record."""

    async def body() -> AsyncIterator[bytes]:
        try:
            if first is not None:
                yield encode(first)
            async for chunk in iterator:
                yield encode(chunk)
            if footer is not None:
                yield footer()
        except Exception as exc:
            status, text = error_status_and_text(exc)
            # a registry that cannot be reached is the user's network, not a bug: one line, no traceback
            log.warning("stream ended with an error: %s", text,
                        exc_info=status >= 500 and not isinstance(exc, RegistryError))
            yield encode_error(status, text)
        finally:
            await aclose(iterator)

    return ClosingStream(body(), media_type=media_type)


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Run ``work`` but cancel it when the client disconnects (then raise RequestCancelledError)."""
    task = asyncio.ensure_future(work)
    disconnected = False

    async def watch() -> None:
        nonlocal disconnected
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                disconnected = True
                task.cancel()
                return

    watcher = asyncio.ensure_future(watch())
    try:
        return await task
    except asyncio.CancelledError:
        if disconnected:
            raise RequestCancelledError() from None
        raise
    finally:
        watcher.cancel()
