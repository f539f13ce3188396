"""format -> GBNF (ollamalib.runner.grammar): Ollama's accepted values and error texts."""

from __future__ import annotations

import pytest

from ollamalib.errors import InvalidFormatError
from ollamalib.runner.grammar import JSON_GRAMMAR, format_to_grammar


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
