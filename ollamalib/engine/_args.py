"""Small helpers of the Engine: timestamps, vector normalisation, think-tag filtering.

Requests are coerced and checked in ``ollamalib.requests``, not here."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime

from ..errors import PayloadTooLargeError
from ..types import Message

THINK_BLOCK = re.compile(r"<think>.*?</think>\s*", re.DOTALL)


def now() -> datetime:
    """``created_at``: the current UTC time."""
    return datetime.now(UTC)


def check_text_size(texts: Iterable[str | None], limit: int) -> None:
    """At most ``limit`` UTF-8 bytes of prompt text in one request (Settings.max_prompt_bytes), else a 413."""
    total = 0
    for text in texts:
        if text:
            total += len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
            if total > limit:
                raise PayloadTooLargeError(f"prompt too large: its text is more than {limit:,} bytes "
                                           "(OLLAMALIB_MAX_PROMPT_BYTES)")


def message_texts(messages: Iterable[Message]) -> Iterator[str | None]:
    """The text fields of ``messages`` that reach the template (what check_text_size counts)."""
    for msg in messages:
        yield msg.content
        yield msg.thinking
        for call in msg.tool_calls or []:
            yield str(call.function.arguments)


def normalize(vec: Sequence[float]) -> list[float]:
    """L2-normalise as Ollama does (routes.go ``normalize``)."""
    norm = math.sqrt(sum(v * v for v in vec))
    scale = 1.0 / max(norm, 1e-12)
    return [v * scale for v in vec]


def filter_think_tags(msgs: list[Message]) -> list[Message]:
    """Drop ``<think>`` blocks from assistant turns before the last user message (routes.go filterThinkTags)."""
    last_user = max((i for i, x in enumerate(msgs) if x.role == "user"), default=-1)
    out = []
    for i, msg in enumerate(msgs):
        if i < last_user and msg.role == "assistant" and msg.content and "<think>" in msg.content:
            msg = msg.model_copy(update={"content": THINK_BLOCK.sub("", msg.content)})
        out.append(msg)
    return out
