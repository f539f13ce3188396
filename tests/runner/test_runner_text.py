"""Incremental UTF-8 decoding and stop-string matching, fed byte by byte and piece by piece."""

from __future__ import annotations

import pytest

from ollamalib.runner._text import StopMatcher, TextStream


def feed_all(matcher: StopMatcher, chunks: list[str]) -> tuple[list[str], bool]:
    out: list[str] = []
    for chunk in chunks:
        text, stopped = matcher.feed(chunk)
        out.append(text)
        if stopped:
            return out, True
    out.append(matcher.flush())
    return out, False


@pytest.mark.parametrize(
    ("chunks", "stops", "expected", "stopped"),
    [
        (["Hello ", "wor", "ld"], ["world"], "Hello ", True),
        (["Hel", "lo w", "o", "rld"], ["o w"], "Hell", True),
        (["abc"], ["b", "c"], "a", True),
        (["a", "b", "x"], ["abc"], "abx", False),  # a partial match that never completes is released
        (["ab", "ab", "abc"], ["abc"], "abab", True),
        (["xyz"], [], "xyz", False),
        (["a", "bb", "c"], ["bbc", "abb"], "", True),  # the earliest occurrence wins
        (["</", "end", ">tail"], ["</end>"], "", True),
    ],
)
def test_stop_matcher(chunks: list[str], stops: list[str], expected: str, stopped: bool) -> None:
    out, was_stopped = feed_all(StopMatcher(stops), chunks)
    assert "".join(out) == expected
    assert was_stopped is stopped


def test_stop_matcher_never_emits_a_prefix_of_a_stop_that_completes() -> None:
    matcher = StopMatcher(["STOP"])
    emitted = ""
    for ch in "one two three STOP four":
        part, stopped = matcher.feed(ch)
        emitted += part
        assert "one two three ".startswith(emitted)
        if stopped:
            break
    assert stopped and emitted == "one two three "


def test_text_stream_keeps_utf8_characters_whole() -> None:
    stream = TextStream([])
    data = "né 日本 😀".encode()
    pieces = [stream.feed(data[i : i + 1])[0] for i in range(len(data))]
    assert "".join(pieces) + stream.finish() == "né 日本 😀"
    assert all("\ufffd" not in p for p in pieces)
    assert pieces[1] == "" and pieces[2] == "é"  # the first byte of "é" waits for the second


def test_text_stream_stop_inside_multibyte_text() -> None:
    stream = TextStream(["本 😀"])
    data = "日本 😀 x".encode()
    out = ""
    for i in range(len(data)):
        text, stopped = stream.feed(data[i : i + 1])
        out += text
        if stopped:
            break
    assert stopped and out == "日"


def test_text_stream_flushes_incomplete_tail_as_replacement() -> None:
    stream = TextStream([])
    assert stream.feed(b"a\xe6\x97")[0] == "a"
    assert stream.finish() == "\ufffd"
