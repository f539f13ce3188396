"""Turning token bytes into streamable text: whole UTF-8 characters only, stop strings never leaked.

Both steps are incremental: each token's bytes are decoded once, and stop strings are searched only in the
short tail that is still held back plus the new text, so the cost per token does not grow with the output.
"""

from __future__ import annotations

import codecs

__all__ = ["StopMatcher", "TextStream"]


class StopMatcher:
    """Finds stop strings in streamed text and holds back any tail that could still become one."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in dict.fromkeys(stops) if s]
        self._held = ""
        self.matched: str | None = None  # the stop string that ended the text, once one did

    def feed(self, text: str) -> tuple[str, bool]:
        """Add text; return (text safe to emit, whether a stop string was found).

        When a stop is found the emitted text ends right before its earliest occurrence and the rest is dropped.
        """
        if not self.stops:
            return text, False
        buf = self._held + text
        cut = -1
        for stop in self.stops:
            at = buf.find(stop)
            if at != -1 and (cut == -1 or at < cut):
                cut, self.matched = at, stop
        if cut != -1:
            self._held = ""
            return buf[:cut], True
        keep = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(buf)), keep, -1):
                if buf.endswith(stop[:n]):
                    keep = n
                    break
        self._held = buf[len(buf) - keep:] if keep else ""
        return (buf[:len(buf) - keep] if keep else buf), False

    def flush(self) -> str:
        """The held-back tail, released at the end of generation when no stop completed."""
        held, self._held = self._held, ""
        return held


class TextStream:
    """Bytes in, text out: UTF-8 decoded incrementally, then passed through a StopMatcher."""

    def __init__(self, stops: list[str]) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.matcher = StopMatcher(stops)
        self.produced = 0  # characters decoded so far (before stop handling)
        self.emitted = 0  # characters handed out so far

    def feed(self, data: bytes) -> tuple[str, bool]:
        text = self._decoder.decode(data)
        self.produced += len(text)
        out, stopped = self.matcher.feed(text)
        self.emitted += len(out)
        return out, stopped

    def finish(self) -> str:
        """Flush an incomplete trailing character (as U+FFFD) and the held-back tail."""
        text = self._decoder.decode(b"", final=True)
        self.produced += len(text)
        out, stopped = self.matcher.feed(text)
        if not stopped:
            out += self.matcher.flush()
        self.emitted += len(out)
        return out
