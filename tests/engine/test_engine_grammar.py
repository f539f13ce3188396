"""format and forced tool calls -> GBNF (ollamalib.runner.grammar): Ollama's accepted values and error texts."""

from __future__ import annotations

import pytest

from ollamalib.errors import InvalidFormatError
from ollamalib.runner.grammar import JSON_GRAMMAR, format_to_grammar, tool_call_grammar


@pytest.mark.parametrize("unset", [None, "", "null", '""'])
def test_unset_formats(unset):
    assert format_to_grammar(unset) is None


def test_json_and_schemas():
    assert format_to_grammar("json") == JSON_GRAMMAR
    g = format_to_grammar({"type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "string"}},
                           "required": ["b", "a"]})
    assert 'root ::= "{" space b-kv "," space a-kv "}" space' in g  # schema order, not sorted
    assert r'char ::= [^"\\\x7F\x00-\x1F]' in g  # no raw control characters inside strings
    assert format_to_grammar('{"type": "string"}') == format_to_grammar({"type": "string"})


@pytest.mark.parametrize("bad, shown", [("yaml", "yaml"), ("[1]", "[1]"), ("{not json", "{not json")])
def test_invalid_format_text(bad, shown):
    with pytest.raises(InvalidFormatError) as err:
        format_to_grammar(bad)
    assert str(err.value) == f'invalid format: "{shown}"; expected "json" or a valid JSON Schema object'
    assert err.value.status_code == 400


def test_unusable_schema():
    with pytest.raises(InvalidFormatError, match="^invalid JSON schema in format"):
        format_to_grammar({"type": "object", "properties": {"a": {"$ref": "#/missing"}}})


def test_small_integer_ranges_are_enforced():
    g = format_to_grammar({"type": "object", "properties": {"d": {"type": "integer", "minimum": 1, "maximum": 3}},
                           "required": ["d"]})
    assert 'd ::= "1" | "2" | "3"' in g
    exclusive = format_to_grammar({"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 4})
    assert exclusive.startswith('root ::= "2" | "3"')
    assert "integral-part" in format_to_grammar({"type": "integer", "minimum": 1})  # one-sided: left as it is


WEATHER = {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris"]}}, "required": ["city"]}


def test_tool_call_grammar_writes_the_templates_call_format():
    tagged = tool_call_grammar([("get_weather", WEATHER)], "<tool_call>", "</tool_call>")
    assert tagged.startswith('root ::= "<tool_call>" "\\n" forced-tool-call "\\n" "</tool_call>"\n')
    assert 'name ::= "\\"get_weather\\""' in tagged and '"\\"Paris\\""' in tagged
    assert tool_call_grammar([("f", None)], "{").startswith("root ::= forced-tool-call\n")
    bare = tool_call_grammar([("f", None)], "{")
    assert 'forced-tool-call ::= "{" space name-kv "," space arguments-kv "}"\n' in bare  # no trailing blank
    assert 'arguments ::= "{" space  "}" space' in tool_call_grammar([("f", None)], "{")  # no parameters: {}
    listed = tool_call_grammar([("f", None)], "[TOOL_CALLS]")
    assert listed.startswith('root ::= "[TOOL_CALLS]" "[" forced-tool-call "]"')
    both = tool_call_grammar([("a", WEATHER), ("b", {})], "<tool_call>")
    assert "forced-tool-call ::= alternative-0 | alternative-1" in both and "</tool_call>" not in both


def test_tool_call_grammar_errors():
    with pytest.raises(InvalidFormatError, match="^invalid JSON schema in the parameters of tool f"):
        tool_call_grammar([("f", {"type": "object", "properties": {"a": {"$ref": "#/missing"}}})], "{")
    with pytest.raises(InvalidFormatError, match="more than the 10 allowed"):
        tool_call_grammar([("f", {"type": "object", "properties": {"a": {"type": "string", "maxLength": 50}}})],
                          "{", max_repeats=10)
