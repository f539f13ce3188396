"""The functions a Go template can call: text/template's builtins and Ollama's ``json``, ``currentDate``,
``yesterdayDate`` and ``toTypeScriptType``.

Each function declares its Go parameter kinds (``VALUE`` for reflect.Value, ``ANY`` for interface{},
``STRING``), because argument checking and nil handling in Go depend on them. A function signals a Go
``error`` result by raising ``GoFuncError``; the executor reports it as ``error calling <name>: <text>``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

from .._go.fmt import sprint, sprint_value, sprintf, sprintln
from .._go.json import JSONError, go_json
from .._go.values import INVALID, GoMap, GoNil, GoSlice, GoStruct, go_type_name, is_int

__all__ = ["ANY", "BUILTINS", "OLLAMA_FUNCS", "STRING", "VALUE", "GoFunc", "GoFuncError", "python_func"]

VALUE = "reflect.Value"
ANY = "interface {}"
STRING = "string"


class GoFuncError(Exception):
    """The error result of a template function (its text follows ``error calling <name>: ``)."""


class GoFunc:
    """A callable with Go's parameter kinds: ``fixed`` parameters then an optional ``variadic`` one."""

    __slots__ = ("fixed", "fn", "name", "variadic")

    def __init__(self, name: str, fn: Callable[..., Any], fixed: tuple[str, ...], variadic: str | None = None):
        self.name = name
        self.fn = fn
        self.fixed = fixed
        self.variadic = variadic


def python_func(name: str, fn: Callable[..., Any]) -> GoFunc:
    """Wrap a Python callable as a variadic ``func(...interface{}) (interface{}, error)``."""

    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except GoFuncError:
            raise
        except Exception as exc:  # a user function failing is the template's error result
            raise GoFuncError(str(exc)) from exc

    return GoFunc(name, call, (), ANY)


# --- helpers --------------------------------------------------------------------------------------------


def indirect_iface(v: Any) -> Any:
    """indirectInterface: the value inside an interface; a nil interface becomes INVALID."""
    return INVALID if v is None else v


def _kind(v: Any) -> str:
    """A coarse reflect.Kind for comparisons."""
    if v is INVALID:
        return "invalid"
    if v is None:
        return "interface"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, complex):
        return "complex"
    if isinstance(v, str):
        return "string"
    if isinstance(v, GoNil):
        return "ptr"
    if isinstance(v, GoStruct):
        return "ptr" if v.POINTER else "struct"
    if isinstance(v, (bytes, bytearray, list, tuple)):
        return "slice"
    if isinstance(v, dict):
        return "map"
    if callable(v):
        return "func"
    return "struct"


_BASIC = {"bool", "int", "float", "complex", "string"}


def _is_nil(v: Any) -> bool:
    if v is INVALID or v is None or isinstance(v, GoNil):
        return True
    if isinstance(v, (GoSlice, GoMap)):
        return v.nil
    return False


# --- comparisons ----------------------------------------------------------------------------------------


def _eq(arg1: Any, *arg2: Any) -> bool:
    a1 = indirect_iface(arg1)
    if not arg2:
        raise GoFuncError("missing argument for comparison")
    k1 = _kind(a1)
    for arg in arg2:
        a = indirect_iface(arg)
        k2 = _kind(a)
        truth = False
        if k1 != k2 and not (k1 not in _BASIC and k2 not in _BASIC):
            if a1 is not INVALID and a is not INVALID:
                raise GoFuncError(f"incompatible types for comparison: {go_type_name(a1)} and {go_type_name(a)}")
        elif k1 in _BASIC:
            truth = a1 == a
        else:
            if not (k1 == k2 or k1 == "invalid" or k2 == "invalid"):
                raise GoFuncError(
                    f"non-comparable types {sprint_value(a1)}: {go_type_name(a1)}, {go_type_name(a)}: {sprint_value(a)}"
                )
            if _is_nil(a1) or _is_nil(a):
                truth = _is_nil(a) == _is_nil(a1)
            else:
                if k2 in ("slice", "map", "func"):
                    raise GoFuncError(f"non-comparable type {sprint_value(a)}: {go_type_name(a)}")
                truth = a1 is a if k1 == "ptr" else a1 == a
        if truth:
            return True
    return False


def _ne(arg1: Any, arg2: Any) -> bool:
    return not _eq(arg1, arg2)


def _basic_kind(v: Any) -> str:
    k = _kind(v)
    if k not in _BASIC:
        raise GoFuncError("invalid type for comparison")
    return k


def _lt(arg1: Any, arg2: Any) -> bool:
    a1 = indirect_iface(arg1)
    k1 = _basic_kind(a1)
    a2 = indirect_iface(arg2)
    k2 = _basic_kind(a2)
    if k1 != k2:
        raise GoFuncError(f"incompatible types for comparison: {go_type_name(a1)} and {go_type_name(a2)}")
    if k1 in ("bool", "complex"):
        raise GoFuncError("invalid type for comparison")
    if k1 == "string":
        return _utf8(a1) < _utf8(a2)
    return bool(a1 < a2)


def _utf8(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _le(arg1: Any, arg2: Any) -> bool:
    return _lt(arg1, arg2) or _eq(arg1, arg2)


def _gt(arg1: Any, arg2: Any) -> bool:
    return not _le(arg1, arg2)


def _ge(arg1: Any, arg2: Any) -> bool:
    return not _lt(arg1, arg2)


def _not(arg: Any) -> bool:
    from .._go.values import truth

    return not truth(indirect_iface(arg))


# --- len, index, slice, call ----------------------------------------------------------------------------


def _deref_type(v: Any) -> str:
    if isinstance(v, GoStruct):
        return v.GO_TYPE
    return go_type_name(v)


def _len(item: Any) -> int:
    if item is None or isinstance(item, GoNil):
        raise GoFuncError("len of nil pointer")
    if item is INVALID:
        raise GoFuncError("reflect: call of reflect.Value.Type on zero Value")
    if isinstance(item, str):
        return len(item) if item.isascii() else len(_utf8(item))
    if isinstance(item, (bytes, bytearray, list, tuple, dict)):
        return len(item)
    raise GoFuncError(f"len of type {_deref_type(item)}")


def _index_arg(index: Any, cap: int) -> int:
    if is_int(index):
        x = index
    elif index is INVALID:
        raise GoFuncError("cannot index slice/array with nil")
    else:
        raise GoFuncError(f"cannot index slice/array with type {go_type_name(index)}")
    if x < 0 or x > cap:
        raise GoFuncError(f"index out of range: {x}")
    return int(x)


def _map_zero(m: dict[Any, Any]) -> Any:
    return m.zero if isinstance(m, GoMap) else None


def _index(item: Any, *indexes: Any) -> Any:
    item = indirect_iface(item)
    if item is INVALID:
        raise GoFuncError("index of untyped nil")
    for index in indexes:
        index = indirect_iface(index)
        if item is None or isinstance(item, GoNil):
            raise GoFuncError("index of nil pointer")
        if isinstance(item, str):
            b = _utf8(item)
            x = _index_arg(index, len(b))
            if x == len(b):
                raise GoFuncError("reflect: string index out of range")
            item = b[x]
        elif isinstance(item, (bytes, bytearray, list, tuple)):
            x = _index_arg(index, len(item))
            if x == len(item):
                raise GoFuncError("reflect: slice index out of range")
            item = item[x]
        elif isinstance(item, dict):
            if index is INVALID:
                raise GoFuncError("value is nil; should be of type string")
            if not isinstance(index, str):
                raise GoFuncError(f"value has type {go_type_name(index)}; should be string")
            item = item[index] if index in item else _map_zero(item)
        else:
            raise GoFuncError(f"can't index item of type {_deref_type(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    item = indirect_iface(item)
    if item is INVALID:
        raise GoFuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise GoFuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise GoFuncError("cannot 3-index slice a string")
        seq: Any = _utf8(item) if not item.isascii() else item
    elif isinstance(item, (bytes, bytearray, list, tuple)):
        seq = item
    else:
        raise GoFuncError(f"can't slice item of type {_deref_type(item)}")
    cap = len(seq)
    idx = [0, len(seq), 0]
    for i, index in enumerate(indexes):
        idx[i] = _index_arg(indirect_iface(index), cap)
    if idx[0] > idx[1]:
        raise GoFuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise GoFuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
    out = seq[idx[0] : idx[1]]
    if isinstance(item, str) and isinstance(out, bytes):
        return out.decode("utf-8", "surrogateescape")
    if isinstance(item, GoSlice):
        return GoSlice(out, item.gotype, stringer=item.stringer)
    return out


def _call(fn: Any, *args: Any) -> Any:
    fn = indirect_iface(fn)
    if fn is INVALID:
        raise GoFuncError("call of nil")
    if isinstance(fn, GoFunc):
        return fn.fn(*args)
    if not callable(fn):
        raise GoFuncError(f"non-function of type {go_type_name(fn)}")
    try:
        return fn(*(None if a is INVALID else a for a in args))
    except GoFuncError:
        raise
    except Exception as exc:
        raise GoFuncError(str(exc)) from exc


# --- printing and escaping ------------------------------------------------------------------------------


def _eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(list(args), deref=True)


def html_escape_string(s: str) -> str:
    """template.HTMLEscapeString."""
    if not any(c in s for c in "'\"&<>\0"):
        return s
    return (
        s.replace("&", "&amp;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\0", "\ufffd")
    )


def js_escape_string(s: str) -> str:
    """template.JSEscapeString."""
    out: list[str] = []
    for ch in s:
        cp = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == '"':
            out.append('\\"')
        elif ch == "<":
            out.append("\\u003C")
        elif ch == ">":
            out.append("\\u003E")
        elif ch == "&":
            out.append("\\u0026")
        elif ch == "=":
            out.append("\\u003D")
        elif cp < 0x20:
            out.append(f"\\u00{cp:02X}")
        elif cp < 0x80:
            out.append(ch)
        elif ch.isprintable() and not 0xD800 <= cp <= 0xDFFF:
            out.append(ch)
        else:
            out.append(f"\\u{(0xFFFD if 0xD800 <= cp <= 0xDFFF else cp):04X}")
    return "".join(out)


def _html(*args: Any) -> str:
    return html_escape_string(_eval_args(args))


def _js(*args: Any) -> str:
    return js_escape_string(_eval_args(args))


def _urlquery(*args: Any) -> str:
    import urllib.parse

    return urllib.parse.quote_plus(_eval_args(args), safe="", encoding="utf-8", errors="surrogateescape")


def _print(*args: Any) -> str:
    return sprint(list(args))


def _println(*args: Any) -> str:
    return sprintln(list(args))


def _printf(fmt: str, *args: Any) -> str:
    return sprintf(fmt, list(args))


def _unreachable(*_: Any) -> Any:
    raise AssertionError("and/or are evaluated by the executor")


BUILTINS: dict[str, GoFunc] = {
    f.name: f
    for f in (
        GoFunc("and", _unreachable, (VALUE,), VALUE),
        GoFunc("or", _unreachable, (VALUE,), VALUE),
        GoFunc("call", _call, (VALUE,), VALUE),
        GoFunc("html", _html, (), ANY),
        GoFunc("index", _index, (VALUE,), VALUE),
        GoFunc("slice", _slice, (VALUE,), VALUE),
        GoFunc("js", _js, (), ANY),
        GoFunc("len", _len, (VALUE,)),
        GoFunc("not", _not, (VALUE,)),
        GoFunc("print", _print, (), ANY),
        GoFunc("printf", _printf, (STRING,), ANY),
        GoFunc("println", _println, (), ANY),
        GoFunc("urlquery", _urlquery, (), ANY),
        GoFunc("eq", _eq, (VALUE,), VALUE),
        GoFunc("ge", _ge, (VALUE, VALUE)),
        GoFunc("gt", _gt, (VALUE, VALUE)),
        GoFunc("le", _le, (VALUE, VALUE)),
        GoFunc("lt", _lt, (VALUE, VALUE)),
        GoFunc("ne", _ne, (VALUE, VALUE)),
    )
}


# --- Ollama's functions ---------------------------------------------------------------------------------


def _json(v: Any) -> str:
    try:
        return go_json(v)
    except JSONError:
        return ""


def _current_date(*_: str) -> str:
    return _dt.datetime.now().strftime("%Y-%m-%d")


def _yesterday_date(*_: str) -> str:
    return (_dt.datetime.now() - _dt.timedelta(days=1)).strftime("%Y-%m-%d")


def _to_typescript_type(v: Any) -> str:
    ts = getattr(v, "to_typescript_type", None)
    if isinstance(v, GoStruct) and ts is not None:
        return str(ts())
    return "any"


OLLAMA_FUNCS: dict[str, GoFunc] = {
    f.name: f
    for f in (
        GoFunc("json", _json, (ANY,)),
        GoFunc("currentDate", _current_date, (), STRING),
        GoFunc("yesterdayDate", _yesterday_date, (), STRING),
        GoFunc("toTypeScriptType", _to_typescript_type, (ANY,)),
    )
}
