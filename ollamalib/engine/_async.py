"""AsyncEngine: Engine's methods as coroutines; blocking work runs in worker threads, decoding is awaited."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from ..config import Settings
from ..protocol import AsyncOllamaAPI
from ..requests import (
    ChatRequest,
    EmbeddingsRequest,
    EmbedRequest,
    GenerateRequest,
    Request,
    RerankRequest,
    SystemOneRequest,
)
from ..scheduler import ModelMetrics
from ..store import ModelStore
from ..types import EmbeddingsResponse, EmbedResponse, RerankResponse, SystemOneResponse
from ._engine import Engine
from ._run import Plan, Run, aggregate, aiterate

__all__ = ["AsyncEngine"]

T = TypeVar("T")

class AsyncEngine(AsyncOllamaAPI):
    """Engine's methods as coroutines: blocking work runs in worker threads, decoding is awaited.

    Shares nothing with other engines unless given one: ``AsyncEngine(engine=Engine(...))`` wraps an
    existing Engine (the server does this), otherwise one is created from the same arguments.
    """

    def __init__(
        self, settings: Settings | None = None, *, store: ModelStore | None = None, engine: Engine | None = None,
        **overrides: Any,
    ) -> None:
        self.engine = engine if engine is not None else Engine(settings, store=store, **overrides)
        self.settings = self.engine.settings
        self.store = self.engine.store
        self._limiter: anyio.CapacityLimiter | None = None

    def _waiting(self) -> anyio.CapacityLimiter:
        """Threads for requests that may wait for a model slot, apart from anyio's default pool, so a full
        queue of generations never starves quick calls such as ``ps`` or ``list``."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(max(40, self.settings.max_queue + 8))
        return self._limiter

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self.engine.close)

    async def __aenter__(self) -> AsyncEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @staticmethod
    async def _run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))

    @staticmethod
    async def _collect(stream: AsyncIterator[T]) -> T:
        return aggregate([chunk async for chunk in stream])

    async def send(self, request: Request, *, stream: bool = False) -> Any:
        """Engine.send as a coroutine: a generate or chat request is planned in a worker thread and its decoding
        awaited; any other runs in a worker thread (one that may wait for a model slot in ``_waiting()``)."""
        if isinstance(request, GenerateRequest | ChatRequest):
            plan = await self._run(self.engine.plan, request)
            if not isinstance(plan, Plan):
                return _aiter_one(plan) if stream else plan
            chunks = aiterate(Run(plan, self.engine.scheduler), self._waiting())
            return chunks if stream else await self._collect(chunks)
        limiter = self._waiting() if isinstance(request, _WAITING) else None
        result = await anyio.to_thread.run_sync(partial(self.engine.send, request, stream=stream), limiter=limiter)
        return _athread_iter(lambda: result) if isinstance(result, Iterator) else result

    async def embed_request(self, request: EmbedRequest) -> EmbedResponse:
        """Engine.embed_request in a worker thread."""
        return await self.send(request)  # type: ignore[no-any-return]

    async def embeddings_request(self, request: EmbeddingsRequest) -> EmbeddingsResponse:
        """Engine.embeddings_request in a worker thread."""
        return await self.send(request)  # type: ignore[no-any-return]

    async def rerank_request(self, request: RerankRequest) -> RerankResponse:
        """Engine.rerank_request in a worker thread."""
        return await self.send(request)  # type: ignore[no-any-return]

    async def systemone_request(self, request: SystemOneRequest) -> SystemOneResponse:
        """Engine.systemone_request in a worker thread."""
        return await self.send(request)  # type: ignore[no-any-return]

    async def render_prompt(self, request: GenerateRequest | ChatRequest | str, /, **kwargs: Any) -> tuple[str, int]:
        """``Engine.render_prompt`` in a worker thread: the prompt and image count, without running the model."""
        call = partial(self.engine.render_prompt, request, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=self._waiting())

    async def count_tokens(self, request: GenerateRequest | ChatRequest | str, /, **kwargs: Any) -> int:
        """``Engine.count_tokens`` in a worker thread: the prompt's length in tokens, without running the model."""
        call = partial(self.engine.count_tokens, request, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=self._waiting())

    def metrics(self) -> list[ModelMetrics]:
        """The Engine's metrics snapshot; cheap and lock-bound only, so safe to call on the event loop."""
        return self.engine.metrics()


_WAITING = (EmbedRequest, EmbeddingsRequest, RerankRequest, SystemOneRequest)
"""Requests that run a model, so may wait for a slot: their threads come from ``AsyncEngine._waiting()``."""


async def _aiter_one(item: T) -> AsyncIterator[T]:
    yield item


_DONE = object()


async def _athread_iter(make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Iterate a blocking iterator in worker threads, one item per hop, closing it if the consumer leaves."""
    iterator = await anyio.to_thread.run_sync(make)
    try:
        while True:
            item = await anyio.to_thread.run_sync(next, iterator, _DONE)
            if item is _DONE:
                return
            yield item  # type: ignore[misc]
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(close)
