"""ollamalib.requests: ChatRequest's ``tool_choice``, checked once for every surface."""

from __future__ import annotations

import pytest

from ollamalib.errors import InvalidOptionError
from ollamalib.requests import ChatRequest, parse_tool_choice

TOOLS = [{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "b"}}]


@pytest.mark.parametrize(("value", "parsed"), [
    (None, None), ("auto", "auto"), ("none", "none"), ("required", "required"),
    ({"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "a"}}),
    ({"function": {"name": "a", "extra": 1}}, {"type": "function", "function": {"name": "a"}}),
])
def test_tool_choice_forms(value, parsed):
    assert parse_tool_choice(value) == parsed


@pytest.mark.parametrize("value", ["any", "", 1, True, [], {"type": "tool", "name": "a"}, {"type": "function"},
                                   {"type": "function", "function": {"name": ""}}])
def test_tool_choice_rejects_other_values(value):
    with pytest.raises(InvalidOptionError, match=r"^invalid tool_choice: .* \(must be \"auto\", \"none\", "):
        parse_tool_choice(value)


def test_offered_and_forced_tools():
    assert ChatRequest(tools=TOOLS).forced_tools() is None
    assert [t.function.name for t in ChatRequest(tools=TOOLS).offered_tools()] == ["a", "b"]
    assert ChatRequest(tools=TOOLS, tool_choice="none").offered_tools() == []
    assert ChatRequest(tools=TOOLS, tool_choice="none").forced_tools() is None
    assert [t.function.name for t in ChatRequest(tools=TOOLS, tool_choice="required").forced_tools()] == ["a", "b"]
    named = ChatRequest(tools=TOOLS, tool_choice={"type": "function", "function": {"name": "b"}})
    assert [t.function.name for t in named.forced_tools()] == ["b"]
    assert ChatRequest(tool_choice="none").offered_tools() == []  # "none" and "auto" need no tools


def test_tool_choice_against_the_tools():
    with pytest.raises(InvalidOptionError, match=r'^tool_choice names the function "c", which is not among the '
                                                 r'tools \("a", "b"\)$'):
        ChatRequest(tools=TOOLS, tool_choice={"type": "function", "function": {"name": "c"}})
    with pytest.raises(InvalidOptionError, match="^tool_choice required needs tools, but the request has none$"):
        ChatRequest(tool_choice="required")


def test_tool_choice_on_the_wire():
    req = ChatRequest(model="m", tools=TOOLS, tool_choice={"function": {"name": "a"}})
    wire = req.to_wire()
    assert wire["tool_choice"] == {"type": "function", "function": {"name": "a"}}
    assert ChatRequest.from_wire(wire) == req
    assert "tool_choice" not in ChatRequest(model="m").to_wire()
    with pytest.raises(InvalidOptionError):
        ChatRequest.from_wire({"model": "m", "tool_choice": 5})
