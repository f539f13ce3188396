"""AsyncEngine: Engine's methods as coroutines; blocking work runs in worker threads, decoding is awaited."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from ..config import Settings
from ..errors import InvalidNameError
from ..names import ModelName
from ..scheduler import ModelMetrics
from ..requests import (
    ChatRequest,
    EmbeddingsRequest,
    EmbedRequest,
    GenerateRequest,
    Question,
    RerankRequest,
    SystemOneContent,
    SystemOneRequest,
)
from ..store import ModelStore
from ..types import (
    ChatResponse,
    EmbeddingsResponse,
    EmbedResponse,
    GenerateResponse,
    ListResponse,
    Message,
    ProcessResponse,
    ProgressResponse,
    RerankResponse,
    ShowResponse,
    StatusResponse,
    SystemOneResponse,
    Tool,
)
from ._args import FormatArg, KeepAlive, OptionsArg
from ._engine import Engine
from ._run import Plan, Run, aggregate, aiterate

__all__ = ["AsyncEngine"]

T = TypeVar("T")

class AsyncEngine:
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

    async def generate(
        self,
        model: str = "",
        prompt: str | None = "",
        suffix: str | None = None,
        *,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        stream: bool = False,
        think: bool | str | None = None,
        raw: bool | None = None,
        format: FormatArg = None,
        images: Sequence[str | bytes | Path] | None = None,
        options: OptionsArg = None,
        keep_alive: KeepAlive = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> GenerateResponse | AsyncIterator[GenerateResponse]:
        """Engine.generate as a coroutine; ``stream=True`` returns an async iterator."""
        request = GenerateRequest(
            model=model, prompt=prompt or "", suffix=suffix, system=system, template=template, context=context,
            think=think, raw=raw, format=format, images=images, options=options, keep_alive=keep_alive,
            logprobs=logprobs, top_logprobs=top_logprobs, truncate=truncate, shift=shift,
        )
        return await self.send(request, stream=stream)

    async def chat(
        self,
        model: str = "",
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        *,
        tools: Sequence[Tool | Mapping[str, Any] | Callable[..., Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        stream: bool = False,
        think: bool | str | None = None,
        format: FormatArg = None,
        options: OptionsArg = None,
        keep_alive: KeepAlive = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> ChatResponse | AsyncIterator[ChatResponse]:
        """Engine.chat as a coroutine; ``stream=True`` returns an async iterator."""
        request = ChatRequest(
            model=model, messages=messages, tools=tools, tool_choice=tool_choice, think=think, format=format,
            options=options, keep_alive=keep_alive, logprobs=logprobs, top_logprobs=top_logprobs, truncate=truncate,
            shift=shift,
        )
        return await self.send(request, stream=stream)

    async def send(self, request: GenerateRequest | ChatRequest, *, stream: bool = False) -> Any:
        """Engine.send as a coroutine: plan in a worker thread, then decode awaited."""
        plan = await self._run(self.engine.plan, request)
        if not isinstance(plan, Plan):
            return _aiter_one(plan) if stream else plan
        chunks = aiterate(Run(plan, self.engine.scheduler), self._waiting())
        return chunks if stream else await self._collect(chunks)

    async def embed(
        self,
        model: str = "",
        input: str | Sequence[str] = "",
        truncate: bool | None = None,
        options: OptionsArg = None,
        keep_alive: KeepAlive = None,
        dimensions: int | None = None,
    ) -> EmbedResponse:
        request = EmbedRequest(model=model, input=input, truncate=truncate, options=options, keep_alive=keep_alive,
                               dimensions=dimensions)
        return await self.embed_request(request)

    async def embed_request(self, request: EmbedRequest) -> EmbedResponse:
        """Engine.embed_request in a worker thread."""
        return await anyio.to_thread.run_sync(self.engine.embed_request, request, limiter=self._waiting())

    async def embeddings(
        self, model: str = "", prompt: str | None = None, options: OptionsArg = None, keep_alive: KeepAlive = None
    ) -> EmbeddingsResponse:
        request = EmbeddingsRequest(model=model, prompt=prompt, options=options, keep_alive=keep_alive)
        return await self.embeddings_request(request)

    async def embeddings_request(self, request: EmbeddingsRequest) -> EmbeddingsResponse:
        """Engine.embeddings_request in a worker thread."""
        return await anyio.to_thread.run_sync(self.engine.embeddings_request, request, limiter=self._waiting())

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
        keep_alive: KeepAlive = None,
    ) -> RerankResponse:
        request = RerankRequest(model=model, query=query, documents=documents, top_n=top_n,
                                return_documents=return_documents or None, instruction=instruction,
                                truncate=truncate, options=options, keep_alive=keep_alive)
        return await self.rerank_request(request)

    async def rerank_request(self, request: RerankRequest) -> RerankResponse:
        """Engine.rerank_request in a worker thread."""
        return await anyio.to_thread.run_sync(self.engine.rerank_request, request, limiter=self._waiting())

    async def systemone(
        self,
        model: str = "",
        state: SystemOneContent = "",
        questions: Mapping[str, Question | Mapping[str, Any]] | None = None,
        keep_alive: KeepAlive = None,
    ) -> SystemOneResponse:
        request = SystemOneRequest(model=model, state=state, questions=questions, keep_alive=keep_alive)
        return await self.systemone_request(request)

    async def systemone_request(self, request: SystemOneRequest) -> SystemOneResponse:
        """Engine.systemone_request in a worker thread."""
        return await anyio.to_thread.run_sync(self.engine.systemone_request, request, limiter=self._waiting())

    async def render_prompt(self, request: GenerateRequest | ChatRequest | str, /, **kwargs: Any) -> tuple[str, int]:
        """``Engine.render_prompt`` in a worker thread: the prompt and image count, without running the model."""
        call = partial(self.engine.render_prompt, request, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=self._waiting())

    async def count_tokens(self, request: GenerateRequest | ChatRequest | str, /, **kwargs: Any) -> int:
        """``Engine.count_tokens`` in a worker thread: the prompt's length in tokens, without running the model."""
        call = partial(self.engine.count_tokens, request, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=self._waiting())

    async def pull(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | AsyncIterator[ProgressResponse]:
        if stream:
            return _athread_iter(partial(self.engine.pull, model, insecure=insecure, stream=True))
        return await self._run(self.engine.pull, model, insecure=insecure)

    async def push(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | AsyncIterator[ProgressResponse]:
        if not model:
            raise InvalidNameError("model is required")
        if stream:
            return _athread_iter(partial(self.engine.push, model, insecure=insecure, stream=True))
        return await self._run(self.engine.push, model, insecure=insecure)

    async def create(
        self,
        model: str,
        quantize: str | None = None,
        from_: str | ModelName | None = None,
        files: dict[str, str] | None = None,
        adapters: dict[str, str] | None = None,
        template: str | None = None,
        license: str | list[str] | None = None,
        system: str | None = None,
        parameters: OptionsArg = None,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        *,
        stream: bool = False,
        requires: str | None = None,
        draft_files: dict[str, str] | None = None,
    ) -> ProgressResponse | AsyncIterator[ProgressResponse]:
        call = partial(self.engine.create, model, quantize, from_, files, adapters, template, license, system,
                       parameters, messages, requires=requires, draft_files=draft_files)
        if stream:
            events = await self._run(call, stream=True)
            return _athread_iter(lambda: events)
        return await self._run(call, stream=False)

    async def create_blob(self, path: str | Path) -> str:
        return await self._run(self.engine.create_blob, path)

    async def delete(self, model: str) -> StatusResponse:
        return await self._run(self.engine.delete, model)

    async def copy(self, source: str, destination: str) -> StatusResponse:
        return await self._run(self.engine.copy, source, destination)

    async def list(self) -> ListResponse:
        return await self._run(self.engine.list)

    async def show(self, model: str, verbose: bool = False) -> ShowResponse:
        return await self._run(self.engine.show, model, verbose)

    async def ps(self) -> ProcessResponse:
        return await self._run(self.engine.ps)

    def metrics(self) -> list[ModelMetrics]:
        """The Engine's metrics snapshot; cheap and lock-bound only, so safe to call on the event loop."""
        return self.engine.metrics()


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
