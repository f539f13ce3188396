"""Tool-call and thinking parsers on scripted model output, fed in every possible chunking."""

from __future__ import annotations

import re

import pytest

from ollamalib.parsers import ThinkingParser, ToolCallParser, new_tool_call_id, parse_tool_calls


def _chunkings(text: str):
    """The text whole, one character at a time, and in a few uneven splits."""
    yield [text]
    yield list(text)
    for size in (2, 3, 5, 7):
        yield [text[i : i + size] for i in range(0, len(text), size)]


def _run_tools(prefix, chunks):
    parser = ToolCallParser(prefix)
    calls, content, stream = [], [], []
    for chunk in chunks:
        c, t = parser.add(chunk)
        calls += c
        content.append(t)
        stream.append((len(c), t))
    c, t = parser.finish()
    return calls + c, "".join(content) + t, stream


def test_tool_call_id_format():
    ids = {new_tool_call_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"call_[a-z0-9]{8}", i) for i in ids)


ONE_CALL = '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}'


@pytest.mark.parametrize("chunks", list(_chunkings(ONE_CALL)))
def test_json_mode_single_call(chunks):
    calls, content, _ = _run_tools(None, chunks)
    assert content == ""
    assert len(calls) == 1
    fn = calls[0].function
    assert fn.name == "get_weather" and fn.index == 0
    assert list(fn.arguments) == ["city", "unit"]  # order preserved
    assert fn.arguments == {"city": "Paris", "unit": "c"}
    assert re.fullmatch(r"call_[a-z0-9]{8}", calls[0].id)


def test_json_mode_list_of_calls_with_parameters_key():
    text = ' [{"name": "a", "parameters": {"x": 1}}, {"name": "b", "arguments": "{\\"y\\": [1, 2]}"}]'
    for chunks in _chunkings(text):
        calls, content, _ = _run_tools("{", chunks)
        assert [c.function.name for c in calls] == ["a", "b"]
        assert [c.function.index for c in calls] == [0, 1]
        assert calls[0].function.arguments == {"x": 1}
        assert calls[1].function.arguments == {"y": [1, 2]}
        assert content == ""


def test_json_mode_text_first_is_content():
    text = 'Sure! {"name": "a", "arguments": {}}'
    for chunks in _chunkings(text):
        calls, content, _ = _run_tools(None, chunks)
        assert calls == [] and content == text


def test_json_mode_json_that_is_not_a_call_is_released():
    text = '{"answer": 42, "nested": {"b": "}"}}'
    for chunks in _chunkings(text):
        calls, content, _ = _run_tools(None, chunks)
        assert calls == [] and content == text


def test_json_mode_incomplete_json_released_at_end():
    calls, content, _ = _run_tools(None, ['{"name": "a", "argu'])
    assert calls == [] and content == '{"name": "a", "argu'


def test_json_mode_text_after_call_is_content():
    calls, content, _ = _run_tools(None, ['{"name": "a", "arguments": {}} done'])
    assert len(calls) == 1 and content == " done"


@pytest.mark.parametrize(
    "chunks",
    list(
        _chunkings(
            'Let me check. <tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>\n'
            '<tool_call>{"name": "get_time", "arguments": {"tz": "CET"}}</tool_call>'
        )
    ),
)
def test_tagged_calls_and_content_before(chunks):
    calls, content, stream = _run_tools("<tool_call>", chunks)
    assert content == "Let me check. "
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert [c.function.index for c in calls] == [0, 1]
    assert calls[1].function.arguments == {"tz": "CET"}
    # no chunk ever leaks part of the tag as content
    assert all("<" not in text for _, text in stream)


def test_tagged_content_streams_before_the_tag():
    parser = ToolCallParser("<tool_call>")
    assert parser.add("Hello ") == ([], "Hello ")
    assert parser.add("wor") == ([], "wor")
    assert parser.add("ld <tool") == ([], "ld ")  # "<tool" is held: it may be the tag
    calls, text = parser.add('_call>{"name": "f", "arguments": {"a": 1}}')
    assert text == "" and calls[0].function.name == "f"


def test_tagged_lookalike_is_released():
    text = "a <tool_cal> b"
    for chunks in _chunkings(text):
        calls, content, _ = _run_tools("<tool_call>", chunks)
        assert calls == [] and content == text


def test_tagged_not_json_after_tag_is_released():
    text = "x <tool_call> not json"
    for chunks in _chunkings(text):
        calls, content, _ = _run_tools("<tool_call>", chunks)
        assert calls == [] and content == text


def test_tagged_unfinished_call_released_at_end():
    text = 'x <tool_call>{"name": "f", "arguments": {'
    calls, content, _ = _run_tools("<tool_call>", list(text))
    assert calls == [] and content == text


def test_bracket_prefix_mistral_style():
    text = '[TOOL_CALLS] [{"name": "add", "arguments": {"a": 1, "b": 2}}]'
    for chunks in _chunkings(text):
        calls, content, _ = _run_tools("[TOOL_CALLS]", chunks)
        assert [c.function.arguments for c in calls] == [{"a": 1, "b": 2}]
        assert content == ""


def test_content_after_tagged_call_streams():
    calls, content = parse_tool_calls('<tool_call>{"name": "f", "arguments": {}}</tool_call>\nAll done.', "<tool_call>")
    assert len(calls) == 1 and content == "All done."


def test_function_wrapper_object():
    calls, content = parse_tool_calls('{"type": "function", "function": {"name": "f", "arguments": {"q": "z"}}}')
    assert calls[0].function.name == "f" and calls[0].function.arguments == {"q": "z"} and content == ""


# --- thinking -------------------------------------------------------------------------------------------


def _run_thinking(chunks, **kw):
    parser = ThinkingParser(**kw)
    thinking, content, stream = [], [], []
    for chunk in chunks:
        t, c = parser.add(chunk)
        thinking.append(t)
        content.append(c)
        stream.append((t, c))
    t, c = parser.finish()
    return "".join(thinking) + t, "".join(content) + c, stream


@pytest.mark.parametrize("chunks", list(_chunkings("  <think>\n I should add 2 and 2. </think>\n\nThe answer is 4.")))
def test_thinking_split(chunks):
    thinking, content, stream = _run_thinking(chunks)
    assert thinking == "I should add 2 and 2. "
    assert content == "The answer is 4."
    assert all("<" not in t and "<" not in c for t, c in stream)


def test_thinking_absent_keeps_content_whitespace():
    for chunks in _chunkings("  Just an answer <think> here"):
        thinking, content, _ = _run_thinking(chunks)
        assert thinking == "" and content == "  Just an answer <think> here"


def test_thinking_started_by_prompt_and_custom_tags():
    for chunks in _chunkings("plan it◁/think▷done"):
        thinking, content, _ = _run_thinking(chunks, opening="◁think▷", closing="◁/think▷", started=True)
        assert thinking == "plan it" and content == "done"


def test_thinking_unclosed_is_all_thinking():
    thinking, content, _ = _run_thinking(["<think>never ", "ends </thi"])
    assert thinking == "never ends </thi" and content == ""


def test_thinking_streams_incrementally():
    parser = ThinkingParser()
    assert parser.add("<thi") == ("", "")
    assert parser.add("nk>abc") == ("abc", "")
    assert parser.add("de</") == ("de", "")
    assert parser.add("think>xy") == ("", "xy")
    assert parser.add("z") == ("", "z")
