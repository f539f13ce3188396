"""Structured output: turn a request's ``format`` ("json" or a JSON schema) into a GBNF grammar.

Built on llama-cpp-python's grammar tools. Ollama's generic JSON grammar lets whitespace run on forever; the
one used here caps it (as llama.cpp's own json.gbnf does), so a small model cannot stall in blank space.

The converter writes every repetition out: ``minLength: 100000000`` becomes a hundred million ``char``
references (gigabytes, before llama.cpp parses it). ``schema_repeats`` counts those repetitions first, so a
schema past ``max_repeats`` gets a 400 in microseconds instead.

A forced tool call (``tool_choice`` "required" or a named function) is the same machinery: ``tool_call_grammar``
turns the tools' parameter schemas into one grammar that writes a single call in the model's own tool-call text
(``<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`` for a Qwen-style template), which the
tool-call parser then reads back as a call.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..config import Settings
from ..errors import InvalidFormatError

__all__ = ["JSON_GRAMMAR", "check_schema_size", "format_to_grammar", "schema_repeats", "tool_call_grammar"]

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
    return _schema_grammar(schema, "format")


MAX_INT_RANGE = 1000  # integer ranges up to this many values become an enum the converter enforces


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int_bounds(schema: dict[str, Any]) -> tuple[int | None, int | None]:
    """The least and greatest integer a schema's ``minimum``/``maximum``/``exclusive*`` bounds allow."""
    low = high = None
    lo, hi, ex_lo, ex_hi = (schema.get(k) for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"))
    if _is_number(lo):
        low = math.ceil(lo) + (1 if ex_lo is True and lo == math.ceil(lo) else 0)  # draft 4's boolean form
    if _is_number(ex_lo):
        low = max(low if low is not None else -math.inf, math.floor(ex_lo) + 1)
    if _is_number(hi):
        high = math.floor(hi) - (1 if ex_hi is True and hi == math.floor(hi) else 0)
    if _is_number(ex_hi):
        high = min(high if high is not None else math.inf, math.ceil(ex_hi) - 1)
    return low, high


def _int_ranges_as_enums(schema: Any) -> Any:
    """``schema`` with each small bounded integer range (``minimum``..``maximum``) spelled as an ``enum``.

    The bundled converter ignores numeric bounds; an enum of the allowed values it does enforce. Larger or
    one-sided ranges are left as they are (and not enforced)."""
    if isinstance(schema, list):
        return [_int_ranges_as_enums(x) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _int_ranges_as_enums(v) for k, v in schema.items()}
    if out.get("type") == "integer" and "enum" not in out:
        low, high = _int_bounds(out)
        if low is not None and high is not None and 0 < high - low + 1 <= MAX_INT_RANGE:
            out["enum"] = list(range(int(low), int(high) + 1))
    return out


def _schema_grammar(schema: dict[str, Any], where: str) -> str:
    """GBNF (rule ``root``) for a JSON schema; a schema the converter cannot handle is a 400 naming ``where``."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        grammar = json_schema_to_gbnf(json.dumps(_int_ranges_as_enums(schema)))
    except Exception as exc:  # the converter raises bare Exceptions/KeyErrors on schemas it cannot handle
        raise InvalidFormatError(f"invalid JSON schema in {where}: {exc}") from None
    return grammar.replace(_LOOSE_CHAR, _JSON_CHAR)


def _arguments_schema(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """A tool's ``parameters`` as the schema of its arguments: always a JSON object."""
    if not parameters:  # a tool without parameters takes none
        return {"type": "object", "properties": {}}
    schema = dict(parameters)
    if not schema.get("type") and not any(k in schema for k in ("anyOf", "oneOf", "allOf", "$ref", "enum", "const")):
        schema["type"] = "object"
    return schema


_CALL_RULE = "forced-tool-call"


def tool_call_grammar(
    tools: Sequence[tuple[str, Mapping[str, Any] | None]],
    prefix: str,
    closing: str = "",
    max_repeats: int = DEFAULT_MAX_REPEATS,
) -> str:
    """GBNF for exactly one call to one of ``tools`` ((name, parameters schema) pairs), in the model's own text.

    The call is the JSON object ``{"name": <one of the names>, "arguments": <valid against that tool's
    parameters>}``. ``prefix`` is the template's tool-call tag (``<tool_call>``) or ``{`` for templates that
    call tools with bare JSON; ``closing`` (``</tool_call>``) is written after the call when the template uses
    one. A tag that opens a list (``[TOOL_CALLS]``) gets the call inside ``[...]``.
    """
    if not tools:
        raise InvalidFormatError("a forced tool call needs at least one tool")
    alternatives = []
    for name, parameters in tools:
        arguments = _arguments_schema(parameters)
        check_schema_size(arguments, max_repeats)
        alternatives.append({"type": "object", "properties": {"name": {"const": name}, "arguments": arguments},
                             "required": ["name", "arguments"]})
    schema = alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}
    names = ", ".join(name for name, _ in tools)
    body = _schema_grammar(schema, f"the parameters of tool {names}")
    body = re.sub(r"^root ::=", f"{_CALL_RULE} ::=", body, count=1, flags=re.MULTILINE)
    # no blank after the call's closing brace: with bare JSON calls it would be left over as content
    body = re.sub(rf'^((?:{_CALL_RULE}|alternative-\d+) ::= .*"}}") space$', r"\1", body, flags=re.MULTILINE)
    call = _CALL_RULE
    if prefix in ("", "{", "["):
        root = call
    elif prefix.startswith("<") and prefix.endswith(">"):
        root = f'{_literal(prefix)} "\\n" {call}' + (f' "\\n" {_literal(closing)}' if closing else "")
    elif prefix.endswith("["):
        root = f'{_literal(prefix)} {call} "]"'
    else:
        root = f'{_literal(prefix)} "[" {call} "]"'
    return f"root ::= {root}\n{body}"


def _literal(text: str) -> str:
    """``text`` as a GBNF string literal."""
    return json.dumps(text, ensure_ascii=False)
