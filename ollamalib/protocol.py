"""The one method surface shared by Engine, AsyncEngine, Client and AsyncClient, stated as Protocols.

Names and arguments follow the official ``ollama`` Python client, so code written against it runs on any of
the four. ``OllamaAPI`` is the synchronous surface and ``AsyncOllamaAPI`` the ``async def`` twin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .types import (
    ChatResponse,
    EmbeddingsResponse,
    EmbedResponse,
    GenerateResponse,
    ListResponse,
    Message,
    Options,
    ProcessResponse,
    ProgressResponse,
    RerankResponse,
    ShowResponse,
    StatusResponse,
    SystemOneResponse,
    Tool,
)

__all__ = ["API_METHODS", "AsyncOllamaAPI", "OllamaAPI"]

API_METHODS = (
    "chat",
    "copy",
    "create",
    "create_blob",
    "delete",
    "embed",
    "embeddings",
    "generate",
    "list",
    "ps",
    "pull",
    "push",
    "rerank",
    "show",
    "systemone",
)
"""The method names every implementation exposes (checked by the parity test)."""

OptionsArg = Mapping[str, Any] | Options | None
FormatArg = str | Mapping[str, Any] | None
ImageArg = str | bytes | Path
MessageArg = Message | Mapping[str, Any]
StateArg = str | Mapping[str, Any] | Sequence[Any]
ToolArg = Tool | Mapping[str, Any] | Any


@runtime_checkable
class OllamaAPI(Protocol):
    """The synchronous surface (Engine, Client); ``stream=True`` returns an iterator of chunks."""

    def generate(
        self,
        model: str = "",
        prompt: str = "",
        suffix: str | None = None,
        *,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        stream: bool = False,
        think: bool | str | None = None,
        raw: bool | None = None,
        format: FormatArg = None,
        images: Sequence[ImageArg] | None = None,
        options: OptionsArg = None,
        keep_alive: float | str | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> GenerateResponse | Iterator[GenerateResponse]: ...

    def chat(
        self,
        model: str = "",
        messages: Sequence[MessageArg] | None = None,
        *,
        tools: Sequence[ToolArg] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        stream: bool = False,
        think: bool | str | None = None,
        format: FormatArg = None,
        options: OptionsArg = None,
        keep_alive: float | str | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> ChatResponse | Iterator[ChatResponse]: ...

    def embed(
        self,
        model: str = "",
        input: str | Sequence[str] = "",
        truncate: bool | None = None,
        options: OptionsArg = None,
        keep_alive: float | str | None = None,
        dimensions: int | None = None,
    ) -> EmbedResponse: ...

    def embeddings(
        self,
        model: str = "",
        prompt: str | None = None,
        options: OptionsArg = None,
        keep_alive: float | str | None = None,
    ) -> EmbeddingsResponse: ...

    def rerank(
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
        keep_alive: float | str | None = None,
    ) -> RerankResponse: ...

    def systemone(
        self,
        model: str = "",
        state: StateArg = "",
        questions: Mapping[str, Any] | None = None,
        keep_alive: float | str | None = None,
    ) -> SystemOneResponse: ...

    def pull(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | Iterator[ProgressResponse]: ...

    def push(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | Iterator[ProgressResponse]: ...

    def create(
        self,
        model: str,
        quantize: str | None = None,
        from_: str | None = None,
        files: dict[str, str] | None = None,
        adapters: dict[str, str] | None = None,
        template: str | None = None,
        license: str | list[str] | None = None,
        system: str | None = None,
        parameters: OptionsArg = None,
        messages: Sequence[MessageArg] | None = None,
        *,
        stream: bool = False,
        requires: str | None = None,
        draft_files: dict[str, str] | None = None,
    ) -> ProgressResponse | Iterator[ProgressResponse]: ...

    def create_blob(self, path: str | Path) -> str: ...

    def delete(self, model: str) -> StatusResponse: ...

    def copy(self, source: str, destination: str) -> StatusResponse: ...

    def list(self) -> ListResponse: ...

    def show(self, model: str, verbose: bool = False) -> ShowResponse: ...

    def ps(self) -> ProcessResponse: ...


@runtime_checkable
class AsyncOllamaAPI(Protocol):
    """The asynchronous surface (AsyncEngine, AsyncClient); ``stream=True`` returns an async iterator."""

    async def generate(
        self,
        model: str = "",
        prompt: str = "",
        suffix: str | None = None,
        *,
        system: str | None = None,
        template: str | None = None,
        context: Sequence[int] | None = None,
        stream: bool = False,
        think: bool | str | None = None,
        raw: bool | None = None,
        format: FormatArg = None,
        images: Sequence[ImageArg] | None = None,
        options: OptionsArg = None,
        keep_alive: float | str | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> GenerateResponse | AsyncIterator[GenerateResponse]: ...

    async def chat(
        self,
        model: str = "",
        messages: Sequence[MessageArg] | None = None,
        *,
        tools: Sequence[ToolArg] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        stream: bool = False,
        think: bool | str | None = None,
        format: FormatArg = None,
        options: OptionsArg = None,
        keep_alive: float | str | None = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> ChatResponse | AsyncIterator[ChatResponse]: ...

    async def embed(
        self,
        model: str = "",
        input: str | Sequence[str] = "",
        truncate: bool | None = None,
        options: OptionsArg = None,
        keep_alive: float | str | None = None,
        dimensions: int | None = None,
    ) -> EmbedResponse: ...

    async def embeddings(
        self,
        model: str = "",
        prompt: str | None = None,
        options: OptionsArg = None,
        keep_alive: float | str | None = None,
    ) -> EmbeddingsResponse: ...

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
        keep_alive: float | str | None = None,
    ) -> RerankResponse: ...

    async def systemone(
        self,
        model: str = "",
        state: StateArg = "",
        questions: Mapping[str, Any] | None = None,
        keep_alive: float | str | None = None,
    ) -> SystemOneResponse: ...

    async def pull(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | AsyncIterator[ProgressResponse]: ...

    async def push(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | AsyncIterator[ProgressResponse]: ...

    async def create(
        self,
        model: str,
        quantize: str | None = None,
        from_: str | None = None,
        files: dict[str, str] | None = None,
        adapters: dict[str, str] | None = None,
        template: str | None = None,
        license: str | list[str] | None = None,
        system: str | None = None,
        parameters: OptionsArg = None,
        messages: Sequence[MessageArg] | None = None,
        *,
        stream: bool = False,
        requires: str | None = None,
        draft_files: dict[str, str] | None = None,
    ) -> ProgressResponse | AsyncIterator[ProgressResponse]: ...

    async def create_blob(self, path: str | Path) -> str: ...

    async def delete(self, model: str) -> StatusResponse: ...

    async def copy(self, source: str, destination: str) -> StatusResponse: ...

    async def list(self) -> ListResponse: ...

    async def show(self, model: str, verbose: bool = False) -> ShowResponse: ...

    async def ps(self) -> ProcessResponse: ...
