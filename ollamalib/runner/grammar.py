"""Structured output: turn a request's ``format`` ("json" or a JSON schema) into a GBNF grammar.

Built on llama-cpp-python's grammar tools. Ollama's generic JSON grammar lets whitespace run on forever; the
one used here caps it (as llama.cpp's own json.gbnf does), so a small model cannot stall in blank space.

The converter writes every repetition out: ``minLength: 100000000`` becomes a hundred million ``char``
references (gigabytes, before llama.cpp parses it). ``schema_repeats`` counts those repetitions first, so a
schema past ``max_repeats`` gets a 400 in microseconds instead.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ..config import Settings
from ..errors import InvalidFormatError

__all__ = ["JSON_GRAMMAR", "check_schema_size", "format_to_grammar", "schema_repeats"]

DEFAULT_MAX_REPEATS: int = Settings.max_grammar_repeats  # 100,000 repetitions make a grammar of about 2 MB

_BOUNDS = (("minLength", "maxLength"), ("minItems", "maxItems"))
_QUANTIFIER = re.compile(r"\{\s*(\d*)\s*(?:,\s*(\d*)\s*)?\}")

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


def _count(value: Any) -> float:
    """A schema bound as a repetition count (0 for what the converter ignores or rejects on its own)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return value if value > 0 else 0


def schema_repeats(schema: Any) -> float:
    """How many repeated items the grammar of ``schema`` spells out: the larger of each min/max length and item
    bound, plus every ``{m,n}`` of each ``pattern``, over the whole schema (the converter names sub-rules, so
    nested bounds add up rather than multiply). Walks iteratively: a schema may be nested very deep."""
    total: float = 0
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for low, high in _BOUNDS:
                total += max(_count(node.get(low)), _count(node.get(high)))
            pattern = node.get("pattern")
            if isinstance(pattern, str):
                for m, n in _QUANTIFIER.findall(pattern):
                    total += max(int(m or 0), int(n or 0))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return total


def check_schema_size(schema: Any, max_repeats: int) -> None:
    """InvalidFormatError (400) when ``schema`` would expand past ``max_repeats`` repetitions."""
    repeats = schema_repeats(schema)
    if repeats > max_repeats:
        shown = "an unbounded number of" if math.isinf(repeats) else f"{int(repeats):,}"
        raise InvalidFormatError(
            f"invalid JSON schema in format: its minLength/maxLength/minItems/maxItems and pattern repetitions "
            f"add up to {shown} repeated items, more than the {max_repeats:,} allowed "
            "(OLLAMALIB_MAX_GRAMMAR_REPEATS)"
        )


def format_to_grammar(format: str | dict[str, Any] | None, max_repeats: int = DEFAULT_MAX_REPEATS) -> str | None:
    """GBNF text for a request's ``format``; None when unset (``None`` or ``""``).

    Raises InvalidFormatError with Ollama's text for anything but "json" or a JSON schema object, and a clear
    400 for a schema whose grammar would hold more than ``max_repeats`` repetitions.
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
    check_schema_size(schema, max_repeats)
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        grammar = json_schema_to_gbnf(json.dumps(schema))
    except Exception as exc:  # the converter raises bare Exceptions/KeyErrors on schemas it cannot handle
        raise InvalidFormatError(f"invalid JSON schema in format: {exc}") from None
    return grammar.replace(_LOOSE_CHAR, _JSON_CHAR)
