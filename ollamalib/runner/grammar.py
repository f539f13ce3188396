"""Structured output: turn a request's ``format`` ("json" or a JSON schema) into a GBNF grammar.

Built on llama-cpp-python's grammar tools. Ollama's generic JSON grammar lets whitespace run on forever; the
one used here caps it (as llama.cpp's own json.gbnf does), so a small model cannot stall in blank space.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidFormatError

__all__ = ["JSON_GRAMMAR", "format_to_grammar"]

JSON_GRAMMAR = r"""
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws

object ::=
  "{" ws (
            string ":" ws value
    ("," ws string ":" ws value)*
  )? "}" ws

array  ::=
  "[" ws (
            value
    ("," ws value)*
  )? "]" ws

string ::=
  "\"" (
    [^"\\\x7F\x00-\x1F] |
    "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
  )* "\"" ws

number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})? ws

ws ::= | " " | "\n" [ \t]{0,20}
"""


# The bundled converter lets raw control characters into strings, which JSON forbids.
_LOOSE_CHAR = r'char ::= [^"\\]'
_JSON_CHAR = r'char ::= [^"\\\x7F\x00-\x1F]'


def _invalid(value: Any) -> InvalidFormatError:
    shown = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return InvalidFormatError(f'invalid format: "{shown}"; expected "json" or a valid JSON Schema object')


def format_to_grammar(format: str | dict[str, Any] | None) -> str | None:
    """GBNF text for a request's ``format``; None when unset (``None`` or ``""``).

    Raises InvalidFormatError with Ollama's text for anything but "json" or a JSON schema object.
    """
    if format is None or format == "":
        return None
    schema: Any = format
    if isinstance(format, str):
        text = format.strip()
        if text == "json":
            return JSON_GRAMMAR
        if text in ("null", '""'):
            return None
        if not text.startswith("{"):
            raise _invalid(format)
        try:
            schema = json.loads(text)
        except ValueError:
            raise _invalid(format) from None
    if not isinstance(schema, dict):
        raise _invalid(format)
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        grammar = json_schema_to_gbnf(json.dumps(schema))
    except Exception as exc:  # the converter raises bare Exceptions/KeyErrors on schemas it cannot handle
        raise InvalidFormatError(f"invalid JSON schema in format: {exc}") from None
    return grammar.replace(_LOOSE_CHAR, _JSON_CHAR)
