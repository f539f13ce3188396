"""Streaming parsers for model output: tool calls (Ollama's generic parser) and thinking tags.

Both take text chunks as they are decoded and hand back what can be shown now, holding back only the few
characters that might still turn out to be part of a tag; ``finish()`` flushes whatever is left.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .types import ToolCall, ToolCallFunction

__all__ = ["ThinkingParser", "ToolCallParser", "json_brackets", "new_tool_call_id", "parse_tool_calls"]

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_tool_call_id() -> str:
    """A tool-call id in Ollama's form: ``call_`` and 8 characters of ``[a-z0-9]``."""
    return "call_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag`` (0 when none)."""
    for n in range(min(len(text), len(tag) - 1), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


# --- thinking -------------------------------------------------------------------------------------------


@dataclass
class ThinkingParser:
    """Split output into thinking and content using an opening and a closing tag (``<think>``/``</think>``).

    Thinking only counts when the output starts with the opening tag (after whitespace); a prompt that already
    ends with the opening tag is signalled with ``started=True``. Whitespace right after either tag is dropped,
    as Ollama does.
    """

    opening: str = "<think>"
    closing: str = "</think>"
    started: bool = False
    _state: str = field(default="looking", init=False)
    _acc: str = field(default="", init=False)

    def __post_init__(self) -> None:
        if self.started:
            self._state = "eat_after_open"

    @property
    def in_thinking(self) -> bool:
        return self._state in ("eat_after_open", "thinking")

    @property
    def past_thinking(self) -> bool:
        """True once the thinking has closed, or the output turned out to have none."""
        return self._state in ("eat_after_close", "done")

    def add(self, text: str) -> tuple[str, str]:
        """Feed a chunk; returns (thinking, content) that can be released now."""
        self._acc += text
        thinking: list[str] = []
        content: list[str] = []
        while True:
            progressed = self._step(thinking, content)
            if not progressed:
                break
        return "".join(thinking), "".join(content)

    def finish(self) -> tuple[str, str]:
        """Flush the held-back text at the end of output."""
        acc, self._acc = self._acc, ""
        if self._state in ("thinking", "eat_after_open"):
            return acc, ""
        if self._state == "looking":
            self._state = "done"
            return "", acc
        return "", acc

    def _step(self, thinking: list[str], content: list[str]) -> bool:
        acc = self._acc
        if not acc:
            return False
        state = self._state
        if state == "looking":
            trimmed = acc.lstrip()
            if trimmed.startswith(self.opening):
                self._acc = trimmed[len(self.opening) :]
                self._state = "eat_after_open"
                return True
            if not trimmed or self.opening.startswith(trimmed):
                return False
            self._state = "done"
            return True
        if state == "eat_after_open":
            stripped = acc.lstrip()
            self._acc = stripped
            if not stripped:
                return False
            self._state = "thinking"
            return True
        if state == "thinking":
            i = acc.find(self.closing)
            if i >= 0:
                thinking.append(acc[:i])
                self._acc = acc[i + len(self.closing) :]
                self._state = "eat_after_close"
                return True
            keep = _partial_suffix(acc, self.closing)
            thinking.append(acc[: len(acc) - keep])
            self._acc = acc[len(acc) - keep :]
            return False
        if state == "eat_after_close":
            stripped = acc.lstrip()
            self._acc = stripped
            if not stripped:
                return False
            self._state = "done"
            return True
        content.append(acc)
        self._acc = ""
        return False


# --- tool calls -----------------------------------------------------------------------------------------


def json_brackets(text: str, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, str]]:
    """The index and character of each ``{ [ } ]`` of JSON ``text[start:stop]`` that is not inside a string."""
    in_string = escaped = False
    for i in range(start, len(text) if stop is None else min(stop, len(text))):
        c = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "{[]}":
            yield i, c


def _json_end(text: str, start: int) -> int:
    """Index just past the JSON object/array that opens at ``start``; -1 while it is incomplete."""
    depth = 0
    for i, c in json_brackets(text, start):
        depth += 1 if c in "{[" else -1
        if depth == 0:
            return i + 1
    return -1


def _calls_in(value: Any) -> list[tuple[str, dict[str, Any]]] | None:
    """The (name, arguments) pairs a parsed JSON value describes, or None if it is not a tool call."""
    if isinstance(value, list):
        calls: list[tuple[str, dict[str, Any]]] = []
        for item in value:
            found = _calls_in(item)
            if found is None:
                return None
            calls.extend(found)
        return calls or None
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("function"), dict) and "name" in value["function"]:
        return _calls_in(value["function"])
    name = value.get("name")
    if not isinstance(name, str) or not name:
        return None
    args: Any = value.get("arguments", value.get("parameters", {}))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return None
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return None
    return [(name, args)]


class ToolCallParser:
    """Ollama's generic tool-call parser, fed streamed text.

    ``prefix`` is the text a template puts before tool calls (``<tool_call>``, ``[TOOL_CALLS]``), or ``{``
    meaning "the output must start with JSON". Content before the prefix streams as it comes; text after it is
    held back until it parses into calls (JSON objects or lists of objects with ``name`` and ``arguments`` or
    ``parameters``); text that turns out not to be a call is released as content.
    """

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = prefix or "{"
        self.json_mode = self.prefix in ("{", "[")
        self.closing = "</" + self.prefix[1:] if self.prefix.startswith("<") and self.prefix.endswith(">") else ""
        self._buf = ""
        self._state = "looking"  # looking -> calling -> (looking | done)
        self._seen_content = False
        self.calls: list[ToolCall] = []

    def add(self, text: str) -> tuple[list[ToolCall], str]:
        """Feed a chunk; returns the tool calls completed by it and the content that can be released."""
        self._buf += text
        calls: list[ToolCall] = []
        content: list[str] = []
        while self._step(calls, content):
            pass
        return calls, "".join(content)

    def finish(self) -> tuple[list[ToolCall], str]:
        """End of output: parse what is complete and release the rest as content."""
        calls: list[ToolCall] = []
        content: list[str] = []
        while self._step(calls, content):
            pass
        rest, self._buf = self._buf, ""
        if self._state == "after_call":
            rest = ""
        elif self._state == "calling" and not self.json_mode:
            rest = self.prefix + rest
        content.append(rest)
        self._state = "done"
        return calls, "".join(content)

    def _emit(self, found: list[tuple[str, dict[str, Any]]], calls: list[ToolCall]) -> None:
        for name, args in found:
            call = ToolCall(
                id=new_tool_call_id(),
                function=ToolCallFunction(index=len(self.calls), name=name, arguments=args),
            )
            self.calls.append(call)
            calls.append(call)

    def _step(self, calls: list[ToolCall], content: list[str]) -> bool:
        buf = self._buf
        if not buf:
            return False
        if self._state == "done":
            content.append(buf)
            self._buf = ""
            return False
        if self._state == "after_call":
            return self._after_call()
        if self._state == "looking":
            if self.json_mode:
                stripped = buf.lstrip()
                if not stripped:
                    return False
                if self._seen_content or stripped[0] not in "{[":
                    self._state = "done"
                    return True
                self._state = "calling"
                return True
            i = buf.find(self.prefix)
            if i >= 0:
                if buf[:i]:
                    content.append(buf[:i])
                    self._seen_content = True
                self._buf = buf[i + len(self.prefix) :]
                self._state = "calling"
                return True
            keep = _partial_suffix(buf, self.prefix)
            if len(buf) > keep:
                content.append(buf[: len(buf) - keep])
                self._seen_content = True
            self._buf = buf[len(buf) - keep :]
            return False
        # calling: the buffer starts right after the prefix (or at the JSON in json mode)
        stripped = buf.lstrip()
        if not stripped:
            return False
        lead = len(buf) - len(stripped)
        if stripped[0] not in "{[":
            return self._not_a_call(content)
        end = _json_end(stripped, 0)
        if end < 0:
            return False
        try:
            value = json.loads(stripped[:end])
        except ValueError:
            return self._not_a_call(content)
        found = _calls_in(value)
        if found is None:
            return self._not_a_call(content)
        self._emit(found, calls)
        self._buf = buf[lead + end :]
        self._state = "done" if self.json_mode else "after_call"
        return bool(self._buf)

    def _after_call(self) -> bool:
        """Between calls with a named prefix: drop whitespace and closing tags, then look for the next one."""
        rest = self._buf.lstrip()
        if self.closing and rest.startswith(self.closing):
            rest = rest[len(self.closing) :].lstrip()
        self._buf = rest
        if not rest:
            return False
        if rest.startswith(self.prefix):
            self._buf = rest[len(self.prefix) :]
            self._state = "calling"
            return True
        if self.prefix.startswith(rest) or (self.closing and self.closing.startswith(rest)):
            return False
        self._state = "looking"
        return True

    def _not_a_call(self, content: list[str]) -> bool:
        """The held text is not a tool call: give it back as content and stop looking."""
        if not self.json_mode:
            content.append(self.prefix)
        content.append(self._buf)
        self._buf = ""
        self._state = "done"
        return False


def parse_tool_calls(text: str, prefix: str | None = None) -> tuple[list[ToolCall], str]:
    """Parse a whole output at once: (tool calls, remaining content)."""
    parser = ToolCallParser(prefix)
    calls, content = parser.add(text)
    more, rest = parser.finish()
    return calls + more, content + rest

