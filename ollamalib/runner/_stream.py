"""Sequence: one request's stream of Pieces, handed from the decode thread to any consumer.

The decode thread appends pieces to a deque under a short lock and wakes a consumer only when one is waiting:
a blocking iterator waits on an Event; an async iterator awaits a Future resolved through
``loop.call_soon_threadsafe``, so the event loop never blocks and no thread is spent per request.
Leaving an iteration early (``break``, an exception, a cancelled task) cancels the sequence.

The decode loop defers the wake-ups of one step (``_put(item, wakes)``) and hands them to ``wake_all`` just before
its next ``llama_decode``: the event loop then gets one self-pipe write per step instead of one per sequence, and
turns the pieces into HTTP chunks while llama.cpp computes (with the GIL released), instead of taking the GIL
from the decode thread in the middle of its step.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator

from ..errors import RequestCancelledError
from ._types import Final, Piece, SamplingOptions

__all__ = ["Sequence", "wake_all"]

_ids = itertools.count(1)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _resolve_all(futs: list[asyncio.Future[None]]) -> None:
    for fut in futs:
        if not fut.done():
            fut.set_result(None)


class _LoopWake:
    """Wakes an ``async for`` consumer: resolves its future on its event loop (callable from any thread)."""

    __slots__ = ("fut", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, fut: asyncio.Future[None]) -> None:
        self.loop = loop
        self.fut = fut

    def __call__(self) -> None:
        self.loop.call_soon_threadsafe(_resolve, self.fut)


def _call(wake: Callable[[], object]) -> None:
    try:
        wake()
    except RuntimeError:  # the consumer's event loop has closed: nobody is listening any more
        pass


def wake_all(wakes: list[Callable[[], object]]) -> None:
    """Run the wake-ups ``_put(item, wakes)`` deferred, then clear the list: one ``call_soon_threadsafe`` per event
    loop for all its consumers, in the order they were queued."""
    if not wakes:
        return
    pending, wakes[:] = list(wakes), []
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for wake in pending:
        if isinstance(wake, _LoopWake):
            by_loop.setdefault(wake.loop, []).append(wake.fut)
        else:
            _call(wake)
    for loop, futs in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve_all, futs)
        except RuntimeError:  # that event loop has closed
            pass


class Sequence:
    """One submitted request. Iterate it (``for`` or ``async for``) once to get its Pieces; the last has ``done``.

    ``result`` is set (to a Final) before the last piece is delivered; ``cancel()`` stops decoding it within one
    token and frees its slot. Errors (runner closed, decode failure) are raised from the iteration.
    """

    def __init__(self, prompt: list[int], sampling: SamplingOptions, cancel: Callable[[Sequence], None]) -> None:
        self.id = next(_ids)
        self.prompt = prompt
        self.sampling = sampling
        self.result: Final | None = None
        self.cancelled = False
        self._cancel_hook = cancel
        self._lock = threading.Lock()
        self._items: deque[Piece | BaseException] = deque()
        self._wake: Callable[[], object] | None = None
        self._finished = False
        self._taken = False

    # -- producer side (decode thread) ------------------------------------------------------------------------

    def _put(self, item: Piece | BaseException, wakes: list[Callable[[], object]] | None = None) -> None:
        """Queue ``item`` for the consumer and wake it if it waits; with ``wakes``, append the wake-up there for
        ``wake_all`` instead of running it now."""
        with self._lock:
            if self._finished:
                return
            self._items.append(item)
            if isinstance(item, BaseException) or item.done:
                self._finished = True
            wake, self._wake = self._wake, None
        if wake is not None:
            if wakes is not None:
                wakes.append(wake)
            else:
                _call(wake)

    @property
    def finished(self) -> bool:
        """True once the final piece (or an error) has been queued for the consumer."""
        return self._finished

    # -- consumer side -----------------------------------------------------------------------------------------

    def cancel(self) -> None:
        """Stop this request: decoding ends within one token and its slot is freed. Safe from any thread."""
        with self._lock:
            if self._finished or self.cancelled:
                return
            self.cancelled = True
        self._cancel_hook(self)

    def _claim(self) -> None:
        with self._lock:
            if self._taken:
                raise RuntimeError("a Sequence can be iterated only once")
            self._taken = True

    def _take(self, arm: Callable[[], Callable[[], object]]) -> Piece | BaseException | None:
        with self._lock:
            if self._items:
                return self._items.popleft()
            self._wake = arm()
            return None

    def __iter__(self) -> Iterator[Piece]:
        self._claim()
        return self._iter()

    def _iter(self) -> Iterator[Piece]:
        event = threading.Event()

        def arm() -> Callable[[], object]:
            event.clear()
            return event.set

        done = False
        try:
            while True:
                item = self._take(arm)
                if item is None:
                    event.wait()
                    continue
                if isinstance(item, BaseException):
                    done = True
                    raise item
                done = item.done
                yield item
                if done:
                    return
        finally:
            if not done:
                self.cancel()

    async def _aiter(self) -> AsyncIterator[Piece]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] | None = None

        def arm() -> Callable[[], object]:
            nonlocal fut
            fut = loop.create_future()
            return _LoopWake(loop, fut)

        done = False
        try:
            while True:
                item = self._take(arm)
                if item is None:
                    assert fut is not None
                    await fut
                    continue
                if isinstance(item, BaseException):
                    done = True
                    raise item
                done = item.done
                yield item
                if done:
                    return
        finally:
            if not done:
                self.cancel()

    def __aiter__(self) -> AsyncIterator[Piece]:
        self._claim()
        return self._aiter()

    def _fail_cancelled(self) -> None:
        self._put(RequestCancelledError())
