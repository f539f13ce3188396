"""One generate or chat request, from scheduling to the final chunk, shared by Engine and AsyncEngine."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import anyio
import anyio.to_thread

from ..errors import CapabilityError, ContextOverflowError, RequestCancelledError
from ..gguf import GGUFInfo
from ..names import ModelName
from ..parsers import ThinkingParser, ToolCallParser
from ..scheduler import Lease, LoadSpec, Scheduler
from ..store import ModelRecord
from ..template import Template
from ..types import ChatResponse, GenerateResponse, Logprob, Message, Tool, ToolCall, Truncation
from ._args import now
from ._images import split_at_tags

if TYPE_CHECKING:
    from ..runner import SamplingOptions  # the runner (and llama.cpp) loads on first use, not on import

T = TypeVar("T")

log = logging.getLogger("ollamalib.engine")

DEFAULT_THINK_TAGS = ("<think>", "</think>")


@dataclass
class Model:
    """A resolved model: its store record, GGUF header, template and capabilities."""

    requested: str
    name: ModelName
    record: ModelRecord
    info: GGUFInfo | None
    template: Template
    capabilities: list[str]

    @property
    def is_embedding(self) -> bool:
        return "embedding" in self.capabilities

    def require(self, capability: str, *, quoted: bool = False) -> None:
        if capability in self.capabilities:
            return
        verb = {"completion": "generate"}.get(capability, capability)
        who = f'"{self.requested}"' if quoted else self.name.full
        raise CapabilityError(f"{who} does not support {verb}")


@dataclass
class Plan:
    """Everything one generate or chat call needs, decided once from its request: the resolved model, merged
    options, what to load, how to sample, and how to build the prompt. A Run executes it without the Engine."""

    kind: Literal["generate", "chat"]
    model: Model
    options: dict[str, Any]
    keep_alive: float | None
    load: LoadSpec
    sampling: SamplingOptions  # without the grammar: Run adds it (after the thinking, for a thinking model)
    build_prompt: Callable[[Run, Any], str]  # (run, tokenizer) -> prompt; sets run.images
    vocabulary: Callable[[], Any]  # the model's tokenizer alone, to prepare the prompt without holding a runner
    grammar: str | None = None
    think: bool | str | None = None
    tools: list[Tool] | None = None
    raw: bool = False
    truncate: bool = True
    shift: bool = True
    overflow: str = "truncate"  # context_overflow: "truncate" (cut and report) or "error" (ContextOverflowError)
    started_ns: int = field(default_factory=time.perf_counter_ns)


@dataclass
class Run:
    """One generate or chat request from scheduling to the final chunk (shared by Engine and AsyncEngine)."""

    plan: Plan
    scheduler: Scheduler
    lease: Lease | None = None
    seq: Any = None
    prompt: str = ""
    images: list[bytes] = field(default_factory=list)  # set by build_prompt: the images its [img-N] tags name
    fitted: tuple[int, int] | None = None  # set by a chat's build_prompt: (messages dropped, tokens of them all)
    truncation: Truncation | None = None  # how the prompt was cut to fit, for the final chunk
    thinking_parser: ThinkingParser | None = None
    tool_parser: ToolCallParser | None = None
    format_after_thinking: str | None = None  # a thinking model's grammar, applied once its thinking ends
    switch: bool = False  # the thinking has ended: restart decoding with the grammar
    _raw: list[str] = field(default_factory=list)
    _closed: bool = False
    _state: threading.Lock = field(default_factory=threading.Lock)  # close() may come from another thread

    @property
    def model(self) -> Model:
        return self.plan.model

    # -- blocking part: schedule, render, tokenize, submit -----------------------------------------------

    def acquire(self) -> Lease:
        """The runner the plan names, loaded if needed."""
        if self.lease is None:
            lease = self.scheduler.acquire(self.plan.load, self.plan.keep_alive)
            with self._state:
                self.lease = lease
        return self.lease

    def start(self) -> None:
        """Build the prompt, acquire a runner (loading it if needed) and start decoding.

        The prompt is rendered, fitted and tokenized with the model's Vocabulary before a runner is acquired, so
        a long preparation holds no slot. ``close()`` from another thread (the client went away) stops the
        preparation at its next step and hands back whatever was acquired; ``start`` then raises
        RequestCancelledError.
        """
        plan = self.plan
        vocab = plan.vocabulary()
        self.prompt = plan.build_prompt(self, vocab)
        tokens = None if self.images else vocab.tokenize(strip_bos(vocab, self.prompt))
        self.check_cancelled()
        runner = self.acquire().runner
        self.check_cancelled()
        if tokens is None:
            tokens = self._tokenize(runner, self.prompt)
        if plan.think and "thinking" in plan.model.capabilities:
            tags = plan.model.template.thinking_tags
            opening, closing = tags if tags and all(tags) else DEFAULT_THINK_TAGS
            started = self.prompt.rstrip().endswith(opening)
            self.thinking_parser = ThinkingParser(opening, closing, started=started)
        if plan.tools:
            self.tool_parser = ToolCallParser(plan.model.template.tool_call_prefix or "{")
        grammar = plan.grammar
        if grammar and self.thinking_parser is not None:  # Ollama constrains the answer, not the thinking
            self.format_after_thinking, grammar = grammar, None
        sampling = replace(plan.sampling, grammar=grammar)
        n_prompt, n_ctx = len(tokens), runner.context_length
        if plan.overflow == "error" and n_prompt >= n_ctx:  # llama-server's test: no position left to generate
            raise ContextOverflowError(n_prompt, n_ctx)
        seq = runner.submit(tokens, sampling, shift=plan.shift, truncate=plan.truncate)
        with self._state:
            self.seq = seq
        self._report_truncation(n_prompt, len(seq.prompt), n_ctx)
        self.check_cancelled()

    def _report_truncation(self, n_prompt: int, n_evaluated: int, n_ctx: int) -> None:
        """Say (log WARNING, and ``truncation`` for the final chunk) when dropped messages or the runner's cut
        left part of the prompt out; Ollama does this silently."""
        messages, n_total = self.fitted or (0, n_prompt)
        if not messages and n_evaluated >= n_prompt:
            return
        n_total = max(n_total, n_prompt)
        self.truncation = Truncation(
            n_prompt_tokens=n_total, n_ctx=n_ctx, n_dropped_tokens=n_total - n_evaluated,
            n_dropped_messages=messages if self.plan.kind == "chat" else None,
        )
        log.warning(
            "prompt truncated: %d tokens do not fit the context of %d (model %s); dropped %d tokens%s. "
            'Set the context_overflow option to "error" to refuse such prompts, or raise num_ctx',
            n_total, n_ctx, self.model.requested, n_total - n_evaluated,
            f" ({messages} oldest messages)" if messages else "",
        )

    def check_cancelled(self) -> None:
        """Raise RequestCancelledError once ``close()`` was called (and release what ``start`` holds)."""
        if self._closed:
            self._free()
            raise RequestCancelledError()

    def restart_with_format(self) -> None:
        """The thinking has ended: decode the answer again from prompt + thinking, under the grammar."""
        assert self.lease is not None and self.thinking_parser is not None
        self.seq.cancel()
        raw = "".join(self._raw)
        end = raw.find(self.thinking_parser.closing)
        thought = raw[: end + len(self.thinking_parser.closing)] if end >= 0 else ""
        runner = self.lease.runner
        tokens = self._tokenize(runner, self.prompt + thought)
        sampling = replace(self.plan.sampling, grammar=self.format_after_thinking)
        self.thinking_parser = None
        self.format_after_thinking = None
        self.switch = False
        self.seq = runner.submit(tokens, sampling, shift=self.plan.shift, truncate=self.plan.truncate)

    def _tokenize(self, runner: Any, prompt: str) -> Any:
        """Token ids of the prompt, or an ImagePrompt when its ``[img-N]`` tags name images."""
        text = strip_bos(runner, prompt)
        if self.images:
            parts = split_at_tags(text, self.images)
            if any(isinstance(p, bytes) for p in parts):
                return runner.tokenize_images(parts)
        return runner.tokenize(text)

    def close(self) -> None:
        """Stop decoding (if still running) and hand the runner back; safe to call twice, and from another
        thread while ``start`` runs (which then stops at its next step)."""
        self._closed = True
        self._free()

    def _free(self) -> None:
        with self._state:
            seq, lease = self.seq, self.lease
        try:
            if seq is not None:
                seq.cancel()
        finally:
            if lease is not None:
                lease.release()

    # -- per piece: split thinking and tool calls, build chunks ------------------------------------------

    def handle(self, piece: Any) -> list[GenerateResponse | ChatResponse]:
        """Turn one decoded piece into the chunks to send (none while text is held back)."""
        out: list[GenerateResponse | ChatResponse] = []
        text = getattr(piece, "text", "") or ""
        logprobs = self._logprobs(piece)
        if self.format_after_thinking is not None:
            self._raw.append(text)
        thinking, content, calls = self._parse(text, final=False)
        if self.format_after_thinking is not None and self.thinking_parser and self.thinking_parser.past_thinking:
            self.switch = True  # the answer is decoded again under the grammar; drop this unconstrained start
            return [self._chunk("", thinking, [], None)] if thinking else []
        if thinking or content or calls or logprobs:
            out.append(self._chunk(content, thinking, calls, logprobs))
        if getattr(piece, "done_reason", None) or getattr(piece, "done", False):
            thinking, content, calls = self._parse("", final=True)
            if thinking or content or calls:
                out.append(self._chunk(content, thinking, calls, None))
            out.append(self._final(piece))
        return out

    def _parse(self, text: str, *, final: bool) -> tuple[str, str, list[ToolCall]]:
        thinking = ""
        content = text
        if self.thinking_parser is not None:
            if final:
                t1, c1 = self.thinking_parser.add(text) if text else ("", "")
                t2, c2 = self.thinking_parser.finish()
                thinking, content = t1 + t2, c1 + c2
            else:
                thinking, content = self.thinking_parser.add(text)
        calls: list[ToolCall] = []
        if self.tool_parser is not None:
            calls, content = self.tool_parser.add(content)
            if final:
                more, rest = self.tool_parser.finish()
                calls += more
                content += rest
        return thinking, content, calls

    def _logprobs(self, piece: Any) -> list[Logprob] | None:
        if not self.plan.sampling.logprobs:
            return None
        raw = getattr(piece, "logprobs", None)
        if not raw:
            return None
        return [lp if isinstance(lp, Logprob) else Logprob.model_validate(as_dict(lp)) for lp in raw]

    def _chunk(
        self, content: str, thinking: str, calls: list[ToolCall], logprobs: list[Logprob] | None
    ) -> GenerateResponse | ChatResponse:
        if self.plan.kind == "generate":
            return GenerateResponse(
                model=self.model.requested,
                created_at=now(),
                response=content,
                thinking=thinking or None,
                tool_calls=calls or None,
                done=False,
                logprobs=logprobs,
            )
        return ChatResponse(
            model=self.model.requested,
            created_at=now(),
            message=Message(role="assistant", content=content, thinking=thinking or None, tool_calls=calls or None),
            done=False,
            logprobs=logprobs,
        )

    def _cached(self, piece: Any) -> int | None:
        """How many of the prompt's tokens the runner reused from its cache instead of evaluating them."""
        evaluated, seq = getattr(piece, "prompt_eval_count", None), self.seq
        if evaluated is None or seq is None:
            return None
        return (len(seq.prompt) - evaluated) or None

    def _final(self, piece: Any) -> GenerateResponse | ChatResponse:
        metrics = {
            "done": True,
            "done_reason": getattr(piece, "done_reason", None) or "stop",
            "stop_sequence": getattr(piece, "stop_sequence", None),
            "total_duration": time.perf_counter_ns() - self.plan.started_ns,
            "load_duration": self.lease.load_duration_ns if self.lease else 0,
            "prompt_eval_count": getattr(piece, "prompt_eval_count", None),
            "prompt_cached_count": self._cached(piece),
            "prompt_eval_duration": getattr(piece, "prompt_eval_duration_ns", None),
            "eval_count": getattr(piece, "eval_count", None),
            "eval_duration": getattr(piece, "eval_duration_ns", None),
            "draft_count": getattr(piece, "draft_count", 0) or None,
            "draft_accepted_count": (getattr(piece, "draft_accepted_count", 0)
                                     if getattr(piece, "draft_count", 0) else None),
        }
        if self.truncation is not None:
            metrics["truncated"] = True
            metrics["truncation"] = self.truncation
        if self.plan.kind == "generate":
            context = None if self.plan.raw else list(getattr(piece, "context", None) or [])
            return GenerateResponse(model=self.model.requested, created_at=now(), response="", context=context,
                                    **metrics)
        return ChatResponse(model=self.model.requested, created_at=now(),
                            message=Message(role="assistant", content=""), **metrics)


def strip_bos(runner: Any, text: str) -> str:
    """Drop a BOS the template wrote when the tokenizer adds one anyway (Jinja templates print bos_token)."""
    bos = getattr(runner, "bos_token", "")
    if bos and getattr(runner, "add_bos", False) and text.startswith(bos):
        return text[len(bos) :]
    return text


def as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    return dict(vars(value))


def aggregate(chunks: Iterable[T]) -> T:
    """Fold streamed chunks into the single response a non-streaming call returns."""
    content: list[str] = []
    thinking: list[str] = []
    calls: list[ToolCall] = []
    logprobs: list[Logprob] = []
    last: Any = None
    for chunk in chunks:
        last = chunk
        if isinstance(chunk, GenerateResponse):
            content.append(chunk.response)
            thinking.append(chunk.thinking or "")
            calls += chunk.tool_calls or []
        elif isinstance(chunk, ChatResponse):
            content.append(chunk.message.content or "")
            thinking.append(chunk.message.thinking or "")
            calls += chunk.message.tool_calls or []
        logprobs += getattr(chunk, "logprobs", None) or []
    assert last is not None, "a generation always ends with a final chunk"
    if isinstance(last, GenerateResponse):
        last.response = "".join(content)
        last.thinking = "".join(thinking) or None
        last.tool_calls = calls or None
    elif isinstance(last, ChatResponse):
        last.message = Message(role="assistant", content="".join(content), thinking="".join(thinking) or None,
                               tool_calls=calls or None)
    if logprobs:
        last.logprobs = logprobs
    return last


def iterate(run: Run) -> Iterator[Any]:
    """The chunks of a run, decoding in the calling thread's pace; closing it cancels the run."""
    try:
        run.start()
        while True:
            for piece in run.seq:
                yield from run.handle(piece)
                if run.switch:
                    break
            if not run.switch:
                return
            run.restart_with_format()
    finally:
        run.close()


async def aiterate(run: Run, limiter: anyio.CapacityLimiter | None = None) -> AsyncIterator[Any]:
    """The chunks of a run for ``async for``: blocking steps in worker threads, decoding awaited."""
    try:
        # abandon_on_cancel: a client that goes away does not wait for the preparation; the close() below
        # makes it stop at its next step.
        await anyio.to_thread.run_sync(run.start, limiter=limiter, abandon_on_cancel=True)
        while True:
            async for piece in run.seq:
                for chunk in run.handle(piece):
                    yield chunk
                if run.switch:
                    break
            if not run.switch:
                return
            await anyio.to_thread.run_sync(run.restart_with_format)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(run.close)
