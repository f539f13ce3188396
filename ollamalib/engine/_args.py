"""Turning the arguments of Engine methods into checked values: options, images, messages, tools, think."""

from __future__ import annotations

import base64
import inspect
import math
import os
import re
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import InvalidOptionError, PayloadTooLargeError
from ..types import Message, Options, Tool

OptionsArg = Mapping[str, Any] | Options | None
FormatArg = str | Mapping[str, Any] | None
KeepAlive = float | str | None

THINK_LEVELS = ("high", "medium", "low", "max")
THINK_BLOCK = re.compile(r"<think>.*?</think>\s*", re.DOTALL)


def now() -> datetime:
    """``created_at``: the current UTC time."""
    return datetime.now(UTC)


def options_dict(options: OptionsArg) -> dict[str, Any]:
    """Request options as a plain dict (from a dict, our Options or the official client's)."""
    if options is None:
        return {}
    if isinstance(options, Options):
        return options.model_dump(exclude_none=True)
    if hasattr(options, "model_dump"):  # the official client's Options
        return {k: v for k, v in options.model_dump().items() if v is not None}
    return dict(options)


def image_b64(image: str | bytes | Path | Any) -> str:
    """An image argument as the standard base64 string Ollama carries (paths and raw bytes are encoded)."""
    value = getattr(image, "value", image)  # the official client's Image wrapper
    if isinstance(value, Path):
        return base64.b64encode(value.read_bytes()).decode()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, str):
        if len(value) < 1024:
            try:
                path = Path(os.path.expanduser(value))
                if path.is_file():
                    return base64.b64encode(path.read_bytes()).decode()
            except (OSError, ValueError):
                pass
        try:
            base64.b64decode(value, validate=True)
        except ValueError:
            raise InvalidOptionError("illegal base64 data in image") from None
        return value
    raise InvalidOptionError(f"invalid image: {type(value).__name__}")


def to_message(value: Message | Mapping[str, Any]) -> Message:
    """A message argument (dict, our Message or the official client's) as a Message with base64 images."""
    data = value.model_dump(exclude_none=True) if hasattr(value, "model_dump") else dict(value)
    if data.get("images"):
        data["images"] = [image_b64(i) for i in data["images"]]
    if data.get("tool_calls"):
        data["tool_calls"] = [tc.model_dump(exclude_none=True) if hasattr(tc, "model_dump") else tc
                              for tc in data["tool_calls"]]
    return Message.model_validate(data)


PY_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean", list: "array", dict: "object"}


def to_tool(value: Tool | Mapping[str, Any] | Callable[..., Any]) -> Tool:
    """A tool argument as a Tool: dicts and Tools as they are, Python functions described from their signature."""
    if isinstance(value, Tool):
        return value
    if isinstance(value, Mapping):
        return Tool.model_validate(dict(value))
    if hasattr(value, "model_dump"):
        return Tool.model_validate(value.model_dump(exclude_none=True))
    if callable(value):
        return tool_from_function(value)
    raise InvalidOptionError(f"invalid tool: {value!r}")


def tool_from_function(fn: Callable[..., Any]) -> Tool:
    """Describe a function as a tool: name, the docstring's summary, parameters from annotations and ``Args:``."""
    doc = inspect.getdoc(fn) or ""
    summary, _, rest = doc.partition("\n\n")
    arg_docs: dict[str, str] = {}
    in_args = False
    for line in rest.splitlines():
        stripped = line.strip()
        if stripped.lower() in ("args:", "arguments:", "parameters:"):
            in_args = True
            continue
        if in_args:
            m = re.match(r"(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)", stripped)
            if m:
                arg_docs[m.group(1)] = m.group(2)
            elif stripped.endswith(":"):
                in_args = False
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable annotations: describe those parameters as strings
        hints = {}
    props: dict[str, Any] = {}
    required: list[str] = []
    for name, param in inspect.signature(fn).parameters.items():
        ann = hints.get(name, param.annotation)
        origin = typing.get_origin(ann) or ann
        prop: dict[str, Any] = {"type": PY_TYPES.get(origin, "string")}
        if name in arg_docs:
            prop["description"] = arg_docs[name]
        props[name] = prop
        if param.default is inspect.Parameter.empty:
            required.append(name)
    return Tool.model_validate(
        {
            "type": "function",
            "function": {
                "name": fn.__name__,
                "description": summary.replace("\n", " ").strip(),
                "parameters": {"type": "object", "properties": props, "required": required},
            },
        }
    )


def check_think(think: bool | str | None) -> bool | str | None:
    """A valid ``think`` value (bool or level); anything else gets Ollama's error."""
    if think is None or isinstance(think, bool):
        return think
    if isinstance(think, str) and think in THINK_LEVELS:
        return think
    if isinstance(think, str) and think in ("true", "false"):
        return think == "true"
    raise InvalidOptionError(f'invalid think value: "{think}" (must be "high", "medium", "low", "max", true, or false)')


def check_top_logprobs(top_logprobs: int | None) -> None:
    """Ollama accepts 0 to 20 alternatives per token."""
    if top_logprobs is not None and not 0 <= top_logprobs <= 20:
        raise InvalidOptionError("top_logprobs must be between 0 and 20")


def check_message_count(messages: Sequence[Any] | None, limit: int) -> None:
    """At most ``limit`` messages in one chat (Settings.max_messages), checked before any is converted."""
    if messages is not None and len(messages) > limit:
        raise InvalidOptionError(f"too many messages: {len(messages):,}, more than the {limit:,} allowed "
                                 "(OLLAMALIB_MAX_MESSAGES)")


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
