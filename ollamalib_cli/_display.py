"""Streaming a model's answer to the terminal: word wrap, the thinking frame, tool calls (cmd.go displayResponse)."""

from __future__ import annotations

import json
import unicodedata
from typing import IO, Any

from ._output import terminal_width

__all__ = ["AnswerPrinter", "WordWrapper", "tool_calls_text"]

GREY, BOLD, RESET = "\x1b[38;5;245m", "\x1b[1m", "\x1b[0m"


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


class WordWrapper:
    """Writes text to a terminal, moving a word that would cross the right margin to the next line."""

    def __init__(self, stream: IO[str], enabled: bool, width: int | None = None) -> None:
        self.stream = stream
        self.width = terminal_width(stream) if width is None else width
        self.enabled = enabled and self.width >= 10
        self.line_length = 0
        self.word = ""

    def reset(self) -> None:
        self.line_length = 0
        self.word = ""

    def write(self, text: str) -> None:
        if not self.enabled:
            self.stream.write(text)
            self.stream.flush()
            return
        out: list[str] = []
        for ch in text:
            w = _char_width(ch)
            if ch != "\n" and self.line_length + w > self.width - 5:
                word_width = sum(_char_width(c) for c in self.word)
                if ch == " ":
                    out.append("\n")
                    self.line_length, self.word = 0, ""
                    continue
                if word_width and word_width <= self.width - 10:
                    out.append(f"\x1b[{word_width}D\x1b[K\n{self.word}")
                    self.line_length = word_width
                else:
                    out.append("\n")
                    self.line_length, self.word = 0, ""
            out.append(ch)
            if ch == "\n":
                self.line_length, self.word = 0, ""
            elif ch == " " or w >= 2:
                self.line_length += w
                self.word = ""
            else:
                self.line_length += w
                self.word += ch
        self.stream.write("".join(out))
        self.stream.flush()


def tool_calls_text(calls: list[Any], plain: bool) -> str:
    """Ollama's notice for tool calls the CLI cannot run (no tools are registered in the CLI)."""
    lines = []
    for call in calls:
        fn = call["function"] if isinstance(call, dict) else call.function
        name = fn["name"] if isinstance(fn, dict) else fn.name
        args = fn.get("arguments") if isinstance(fn, dict) else fn.arguments
        lines.append(f"  Model called a non-existent function '{name}()' with arguments: "
                     f"{json.dumps(args or {}, separators=(',', ':'))}")
    text = "\n".join(lines)
    return text if plain else GREY + BOLD + text + RESET


class AnswerPrinter:
    """Prints streamed thinking and content: ``Thinking...`` / ``...done thinking.`` around the thinking."""

    def __init__(self, stream: IO[str], *, wordwrap: bool, hide_thinking: bool = False,
                 plain: bool | None = None, width: int | None = None) -> None:
        self.stream = stream
        self.plain = (not _isatty(stream)) if plain is None else plain
        self.wrapper = WordWrapper(stream, wordwrap, width)
        self.hide_thinking = hide_thinking
        self.thinking_open = False
        self.thinking = ""
        self.content = ""
        self.printed = False

    def feed(self, thinking: str | None = None, content: str | None = None, tool_calls: list[Any] | None = None
             ) -> None:
        if thinking:
            self.thinking += thinking
            if not self.hide_thinking:
                if not self.thinking_open:
                    self._raw("Thinking...\n" if self.plain else GREY + BOLD + "Thinking...\n" + RESET + GREY)
                    self.thinking_open = True
                self.wrapper.write(thinking)
                self.printed = True
        if self.thinking_open and (content or tool_calls):
            self._close_thinking()
        if content:
            self.content += content
            self.wrapper.write(content)
            self.printed = True
        if tool_calls:
            self._raw(tool_calls_text(tool_calls, self.plain))
            self.printed = True

    def _close_thinking(self) -> None:
        if not self.thinking.endswith("\n"):
            self._raw("\n")
        self._raw("...done thinking.\n\n" if self.plain else GREY + BOLD + "...done thinking.\n\n" + RESET)
        self.thinking_open = False
        self.wrapper.reset()

    def finish(self) -> None:
        """Close an unterminated thinking frame (an answer that was all thinking)."""
        if self.thinking_open:
            self._close_thinking()

    def _raw(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
