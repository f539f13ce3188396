"""The one method surface of Engine, AsyncEngine, Client and AsyncClient, written once.

Names and arguments follow the official ``ollama`` Python client, so code written against it runs on any of
the four. Each method of ``OllamaAPI`` builds its typed request (``ollamalib.requests``, where the arguments are
checked) and hands it to ``send``, the one method an implementation writes. ``AsyncOllamaAPI`` is generated from
``OllamaAPI``: the same methods, signatures and docstrings as coroutines that await their ``send``. Both are also
Protocols: any object with these methods satisfies ``isinstance(obj, OllamaAPI)``.
"""

from __future__ import annotations

import functools
import inspect
import re
# AsyncIterator: named by the async twins' rewritten annotations, so typing.get_type_hints resolves them
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence  # noqa: F401
from pathlib import Path
from typing import Any, Concatenate, Literal, ParamSpec, Protocol, TypeVar, overload, runtime_checkable

from .names import ModelName
from .requests import (  # each method builds one
    BlobRequest, ChatRequest, CopyRequest, CreateRequest, DeleteRequest, EmbeddingsRequest, EmbedRequest,
    GenerateRequest, ListRequest, ProcessRequest, PullRequest, PushRequest, Question, Request, RerankRequest,
    ShowRequest, SystemOneContent, SystemOneRequest,
)
from .types import (
    ChatResponse, EmbeddingsResponse, EmbedResponse, GenerateResponse, ListResponse, Message, Options,
    ProcessResponse, ProgressResponse, RerankResponse, ShowResponse, StatusResponse, SystemOneResponse, Tool,
)

__all__ = ["API_METHODS", "AsyncOllamaAPI", "FormatArg", "KeepAlive", "OllamaAPI", "OptionsArg"]

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
KeepAlive = float | str | None
ImageArg = str | bytes | Path
MessageArg = Message | Mapping[str, Any]
ToolArg = Tool | Mapping[str, Any] | Callable[..., Any]


@runtime_checkable
class OllamaAPI(Protocol):
    """The synchronous surface (Engine, Client); ``stream=True`` returns an iterator of chunks.

    A subclass implements ``send``; every other method builds its request and returns ``self.send(request)``.
    """

    def send(self, request: Request, *, stream: bool = False) -> Any:
        """Run one typed request (``GenerateRequest``, ``PullRequest``...): the answer, or with ``stream`` (for
        generate, chat, pull, push and create) an iterator of its chunks."""
        ...

    @overload
    def generate(self, model: str = "", prompt: str | None = "", suffix: str | None = None, *,
                 stream: Literal[False] = False, **kwargs: Any) -> GenerateResponse: ...

    @overload
    def generate(self, model: str = "", prompt: str | None = "", suffix: str | None = None, *,
                 stream: Literal[True], **kwargs: Any) -> Iterator[GenerateResponse]: ...

    def generate(
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
        images: Sequence[ImageArg] | None = None,
        options: OptionsArg = None,
        keep_alive: KeepAlive = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> GenerateResponse | Iterator[GenerateResponse]:
        """Complete ``prompt`` with ``model`` (Ollama's /api/generate); an empty prompt just loads the model."""
        request = GenerateRequest(
            model=model, prompt=prompt or "", suffix=suffix, system=system, template=template, context=context,
            think=think, raw=raw, format=format, images=images, options=options, keep_alive=keep_alive,
            logprobs=logprobs, top_logprobs=top_logprobs, truncate=truncate, shift=shift,
        )
        return self.send(request, stream=stream)  # type: ignore[no-any-return]

    @overload
    def chat(self, model: str = "", messages: Sequence[MessageArg] | None = None, *,
             stream: Literal[False] = False, **kwargs: Any) -> ChatResponse: ...

    @overload
    def chat(self, model: str = "", messages: Sequence[MessageArg] | None = None, *,
             stream: Literal[True], **kwargs: Any) -> Iterator[ChatResponse]: ...

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
        keep_alive: KeepAlive = None,
        logprobs: bool | None = None,
        top_logprobs: int | None = None,
        truncate: bool | None = None,
        shift: bool | None = None,
    ) -> ChatResponse | Iterator[ChatResponse]:
        """Answer the conversation ``messages`` with ``model`` (Ollama's /api/chat); no messages loads the model.

        ``tool_choice`` (an ollamalib extension) is "auto", "none" (no tool is offered or called), "required" (the
        answer is a call to one of ``tools``) or ``{"type": "function", "function": {"name": ...}}`` (a call to
        that one, with arguments valid against its schema); forced calls are enforced with a grammar.
        """
        request = ChatRequest(
            model=model, messages=messages, tools=tools, tool_choice=tool_choice, think=think, format=format,
            options=options, keep_alive=keep_alive, logprobs=logprobs, top_logprobs=top_logprobs, truncate=truncate,
            shift=shift,
        )
        return self.send(request, stream=stream)  # type: ignore[no-any-return]

    def embed(
        self,
        model: str = "",
        input: str | Sequence[str] = "",
        truncate: bool | None = None,
        options: OptionsArg = None,
        keep_alive: KeepAlive = None,
        dimensions: int | None = None,
    ) -> EmbedResponse:
        """Embed one text or a list (Ollama's /api/embed): L2-normalised vectors, optionally shortened."""
        return self.send(EmbedRequest(  # type: ignore[no-any-return]
            model=model, input=input, truncate=truncate, options=options, keep_alive=keep_alive,
            dimensions=dimensions,
        ))

    def embeddings(
        self,
        model: str = "",
        prompt: str | None = None,
        options: OptionsArg = None,
        keep_alive: KeepAlive = None,
    ) -> EmbeddingsResponse:
        """The legacy single embedding (Ollama's /api/embeddings): one vector, not normalised."""
        return self.send(EmbeddingsRequest(  # type: ignore[no-any-return]
            model=model, prompt=prompt, options=options, keep_alive=keep_alive,
        ))

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
        keep_alive: KeepAlive = None,
    ) -> RerankResponse:
        """Order ``documents`` by relevance to ``query`` with a reranker model (a cross-encoder, or a generative
        reranker judging each pair yes/no); ``top_n`` keeps the best, ``return_documents`` adds their text."""
        return self.send(RerankRequest(  # type: ignore[no-any-return]
            model=model, query=query, documents=documents, top_n=top_n, return_documents=return_documents or None,
            instruction=instruction, truncate=truncate, options=options, keep_alive=keep_alive,
        ))

    def systemone(
        self,
        model: str = "",
        state: SystemOneContent = "",
        questions: Mapping[str, Question | Mapping[str, Any]] | None = None,
        keep_alive: KeepAlive = None,
    ) -> SystemOneResponse:
        """Answer typed questions about ``state`` (Ollama's /v1/systemone): each answer comes from the model's
        probabilities of the allowed answers (choice options, true/false, score levels), not from sampling."""
        return self.send(SystemOneRequest(  # type: ignore[no-any-return]
            model=model, state=state, questions=questions, keep_alive=keep_alive,
        ))

    def pull(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | Iterator[ProgressResponse]:
        """Download ``model`` from its registry into the store (Ollama's /api/pull)."""
        return self.send(PullRequest(model=model, insecure=insecure), stream=stream)  # type: ignore[no-any-return]

    def push(
        self, model: str, *, insecure: bool = False, stream: bool = False
    ) -> ProgressResponse | Iterator[ProgressResponse]:
        """Upload ``model`` from the store to its registry (Ollama's /api/push)."""
        return self.send(PushRequest(model=model, insecure=insecure), stream=stream)  # type: ignore[no-any-return]

    def create(
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
        messages: Sequence[MessageArg] | None = None,
        *,
        stream: bool = False,
        requires: str | None = None,
        draft_files: dict[str, str] | None = None,
        draft: str | None = None,
    ) -> ProgressResponse | Iterator[ProgressResponse]:
        """Create ``model`` from a base model, a GGUF or uploaded blobs (Ollama's /api/create).

        A ``from_`` naming a model that is not in the store is pulled first, its progress included, as
        Ollama's server does; one naming a local GGUF file is uploaded first by a client. ``requires`` is the
        least Ollama version the model needs (Modelfile REQUIRES). ``draft_files`` ({file name: blob digest} of
        one GGUF) is a draft model for speculative decoding; ``draft`` names a model in the store as the draft
        instead (ollamalib; a Modelfile's ``DRAFT <model>``).
        """
        request = CreateRequest(
            model=model, quantize=quantize, from_=from_, files=files, adapters=adapters, template=template,
            license=license, system=system, parameters=parameters, messages=messages, requires=requires,
            draft_files=draft_files, draft=draft,
        )
        return self.send(request, stream=stream)  # type: ignore[no-any-return]

    def create_blob(self, path: str | Path) -> str:
        """Store a local file as a blob (a client uploads it unless the server has it); its ``sha256:<hex>``."""
        return self.send(BlobRequest(path=path))  # type: ignore[no-any-return]

    def delete(self, model: str) -> StatusResponse:
        """Remove a model and the blobs no other model uses; unloads it if it is running."""
        return self.send(DeleteRequest(model=model))  # type: ignore[no-any-return]

    def copy(self, source: str, destination: str) -> StatusResponse:
        """Copy a model under a new name (the manifest only; blobs are shared)."""
        return self.send(CopyRequest(source=source, destination=destination))  # type: ignore[no-any-return]

    def list(self) -> ListResponse:
        """The models in the store, newest first (Ollama's /api/tags)."""
        return self.send(ListRequest())  # type: ignore[no-any-return]

    def show(self, model: str, verbose: bool = False) -> ShowResponse:
        """A model's Modelfile, template, parameters, details, GGUF metadata and capabilities."""
        return self.send(ShowRequest(model=model, verbose=verbose or None))  # type: ignore[no-any-return]

    def ps(self) -> ProcessResponse:
        """The models loaded now, with when they expire (Ollama's /api/ps)."""
        return self.send(ProcessRequest())  # type: ignore[no-any-return]


P = ParamSpec("P")
R = TypeVar("R")
_ITERATOR = re.compile(r"\bIterator\[")


def _coroutine(method: Callable[Concatenate[Any, P], R]) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]:
    """The async twin of an ``OllamaAPI`` method: its signature and docstring (``Iterator`` results read
    ``AsyncIterator``), running its body, whose ``self.send(...)`` is a coroutine on the async classes."""

    @functools.wraps(method)
    async def twin(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await method(self, *args, **kwargs)  # type: ignore[misc,no-any-return]

    signature = inspect.signature(method)
    returns = _ITERATOR.sub("AsyncIterator[", str(signature.return_annotation))
    twin.__signature__ = signature.replace(return_annotation=returns)  # type: ignore[attr-defined]  # help() reads it
    twin.__annotations__ = {**method.__annotations__, "return": returns}
    twin.__qualname__ = f"AsyncOllamaAPI.{method.__name__}"
    return twin


@runtime_checkable
class AsyncOllamaAPI(Protocol):
    """The asynchronous surface (AsyncEngine, AsyncClient): OllamaAPI's methods as coroutines, generated from them;
    ``stream=True`` returns an async iterator of chunks. A subclass implements ``async def send``."""

    async def send(self, request: Request, *, stream: bool = False) -> Any:
        """Run one typed request: the answer, or with ``stream`` an async iterator of its chunks."""
        ...

    chat = _coroutine(OllamaAPI.chat)
    copy = _coroutine(OllamaAPI.copy)
    create = _coroutine(OllamaAPI.create)
    create_blob = _coroutine(OllamaAPI.create_blob)
    delete = _coroutine(OllamaAPI.delete)
    embed = _coroutine(OllamaAPI.embed)
    embeddings = _coroutine(OllamaAPI.embeddings)
    generate = _coroutine(OllamaAPI.generate)
    list = _coroutine(OllamaAPI.list)
    ps = _coroutine(OllamaAPI.ps)
    pull = _coroutine(OllamaAPI.pull)
    push = _coroutine(OllamaAPI.push)
    rerank = _coroutine(OllamaAPI.rerank)
    show = _coroutine(OllamaAPI.show)
    systemone = _coroutine(OllamaAPI.systemone)
