"""Go's ``json.Marshal`` output for template values: compact, HTML-safe, map keys sorted.

Strings escape ``<``, ``>`` and ``&`` as ``\\u003c``-style sequences, U+2028/U+2029 always, and control
characters as ``\\n``, ``\\b``, ``\\u001f``...; floats use Go's shortest form (exponent below 1e-6 and
from 1e21); ``[]byte`` is base64. A value Go cannot marshal (NaN, a function) raises ``JSONError``.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping
from typing import Any

from .strconv import format_float
from .values import INVALID, GoMap, GoNil, GoSlice, GoStruct

__all__ = ["JSONError", "decoded", "go_json", "go_json_float", "go_json_string"]


class JSONError(ValueError):
    """json.Marshal would fail (unsupported value or type)."""


_HEX = "0123456789abcdef"


def _build_escape_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for c in range(0x20):
        table[c] = "\\u00" + _HEX[c >> 4] + _HEX[c & 0xF]
    table[0x08] = "\\b"
    table[0x0C] = "\\f"
    table[0x0A] = "\\n"
    table[0x0D] = "\\r"
    table[0x09] = "\\t"
    table[ord('"')] = '\\"'
    table[ord("\\")] = "\\\\"
    table[ord("<")] = "\\u003c"
    table[ord(">")] = "\\u003e"
    table[ord("&")] = "\\u0026"
    table[0x2028] = "\\u2028"
    table[0x2029] = "\\u2029"
    for cp in range(0xD800, 0xE000):  # lone surrogates stand for invalid UTF-8
        table[cp] = "\\ufffd"
    return table


_ESCAPE = _build_escape_table()


def go_json_string(s: str) -> str:
    """A Go JSON string literal (HTML-safe escaping, as json.Marshal does)."""
    return '"' + s.translate(_ESCAPE) + '"'


def go_json_float(f: float) -> str:
    """A float64 as encoding/json writes it."""
    if math.isnan(f) or math.isinf(f):
        raise JSONError(f"json: unsupported value: {format_float(f, 'g', -1)}")
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        text = format_float(f, "e", -1)
        if len(text) >= 4 and text[-4] == "e" and text[-3] == "-" and text[-2] == "0":
            text = text[:-2] + text[-1]
        return text
    return format_float(f, "f", -1)


def decoded(value: Any) -> Any:
    """``value`` as Go holds it after json.Unmarshal into ``interface{}``: every number a float64, lists for arrays."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): decoded(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [decoded(v) for v in value]
    return value


def go_json(v: Any) -> str:
    """json.Marshal(v) as text; raises JSONError where Go returns an error."""
    out: list[str] = []
    _encode(v, out)
    return "".join(out)


def _encode(v: Any, out: list[str]) -> None:
    if v is None or v is INVALID:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, str):
        out.append(go_json_string(v))
    elif isinstance(v, int):
        out.append(str(v))
    elif isinstance(v, float):
        out.append(go_json_float(v))
    elif isinstance(v, (bytes, bytearray)):
        out.append('"' + base64.b64encode(bytes(v)).decode("ascii") + '"')
    elif isinstance(v, GoStruct):
        marshal = getattr(v, "marshal_json", None)
        if marshal is not None:
            out.append(marshal())
            return
        out.append("{")
        first = True
        for field, name, omitempty in v.JSON:
            value = getattr(v, field)
            if omitempty and _is_empty(value):
                continue
            if not first:
                out.append(",")
            first = False
            out.append(go_json_string(name))
            out.append(":")
            _encode(value, out)
        out.append("}")
    elif isinstance(v, GoNil):
        out.append("null")
    elif isinstance(v, dict):
        if isinstance(v, GoMap) and v.nil:
            out.append("null")
            return
        out.append("{")
        keys = list(v) if isinstance(v, GoMap) and v.ordered else sorted(v, key=_key_text)
        for i, key in enumerate(keys):
            if i:
                out.append(",")
            out.append(go_json_string(_key_text(key)))
            out.append(":")
            _encode(v[key], out)
        out.append("}")
    elif isinstance(v, (list, tuple)):
        if isinstance(v, GoSlice):
            if v.nil:
                out.append("null")
                return
            json_hook = getattr(v, "marshal_json", None)
            if json_hook is not None:
                out.append(json_hook())
                return
        out.append("[")
        for i, item in enumerate(v):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif isinstance(v, complex):
        raise JSONError("json: unsupported type: complex128")
    elif hasattr(v, "model_dump"):
        _encode(v.model_dump(mode="json", by_alias=True, exclude_none=True), out)
    else:
        raise JSONError(f"json: unsupported type: {type(v).__name__}")


def _key_text(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, int) and not isinstance(k, bool):
        return str(k)
    raise JSONError(f"json: unsupported type: map[{type(k).__name__}]interface {{}}")


def _is_empty(v: Any) -> bool:
    if v is None or v is INVALID or isinstance(v, GoNil):
        return True
    if isinstance(v, (bool, int, float, complex)):
        return not v
    if isinstance(v, (str, bytes, list, tuple, dict)):
        return len(v) == 0
    return False
