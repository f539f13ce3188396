"""Go's ``encoding/json`` for request bodies: the types, the checks and the decoder's error texts.

A request type is a ``Struct`` of fields with Go types (see ``bodies.py``). Decoding checks the JSON value of
every known field against its type (unknown keys are ignored and names match case-insensitively, as in Go),
and the same table produces the request body schema of the OpenAPI document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema

from ollamalib.errors import BadRequestError, InvalidOptionError
from ollamalib.parsers import json_brackets
from ollamalib.requests import json_kind


__all__ = [
    "AnyValue",
    "Bool",
    "Custom",
    "Float",
    "GoType",
    "Int",
    "Map",
    "Slice",
    "String",
    "MAX_DEPTH",
    "Struct",
    "body_operation",
    "decode_body",
    "go_syntax_error",
    "json_kind",
    "parse_json",
]

_MAX_INT = 2**63


class GoType:
    """A Go type a JSON value is decoded into: checks the value and describes it for OpenAPI."""

    go: str = "interface {}"
    zero: Any = None

    def check(self, value: Any, where: str) -> Any:
        return value

    def schema(self) -> Schema:
        return Schema()


def _mismatch(value: Any, where: str, go: str, kind: str | None = None) -> InvalidOptionError:
    return InvalidOptionError(f"json: cannot unmarshal {kind or json_kind(value)} into Go struct field {where} of type {go}")


class String(GoType):
    go = "string"
    zero = ""

    def check(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, str):
            return value
        raise _mismatch(value, where, self.go)

    def schema(self) -> Schema:
        return Schema(type=OpenAPIType.STRING)


class Bool(GoType):
    go = "bool"
    zero = False

    def check(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, bool):
            return value
        raise _mismatch(value, where, self.go)

    def schema(self) -> Schema:
        return Schema(type=OpenAPIType.BOOLEAN)


class Int(GoType):
    go = "int"
    zero = 0

    def check(self, value: Any, where: str) -> Any:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            if -_MAX_INT <= value < _MAX_INT:
                return value
            raise _mismatch(value, where, self.go, f"number {value}")
        if isinstance(value, float):
            raise _mismatch(value, where, self.go, f"number {value!r}")
        raise _mismatch(value, where, self.go)

    def schema(self) -> Schema:
        return Schema(type=OpenAPIType.INTEGER)


class Float(GoType):
    go = "float64"
    zero = 0.0

    def __init__(self, go: str = "float64") -> None:
        self.go = go

    def check(self, value: Any, where: str) -> Any:
        if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            return value
        raise _mismatch(value, where, self.go)

    def schema(self) -> Schema:
        return Schema(type=OpenAPIType.NUMBER)


class AnyValue(GoType):
    """A field Go decodes into ``any`` or ``json.RawMessage``: every JSON value passes."""

    def __init__(self, schema: Schema | None = None, description: str | None = None) -> None:
        self._schema = schema
        self._description = description

    def check(self, value: Any, where: str) -> Any:
        if isinstance(value, (dict, list)):
            _bound_and_clean(value, False, FIELD_DEPTH)  # free-form JSON is the only part that can nest deeply
        return value

    def schema(self) -> Schema:
        if self._schema is not None:
            return self._schema
        return Schema(description=self._description)


class Slice(GoType):
    def __init__(self, elem: GoType, go: str | None = None) -> None:
        self.elem = elem
        self.go = go or f"[]{elem.go}"

    def check(self, value: Any, where: str) -> Any:
        if value is None:
            return None
        if not isinstance(value, list):
            raise _mismatch(value, where, self.go)
        elem = self.elem
        out = []
        for item in value:
            checked = elem.check(item, where)
            out.append(elem.zero if checked is None else checked)
        return out

    def schema(self) -> Schema:
        return Schema(type=OpenAPIType.ARRAY, items=self.elem.schema())


class Map(GoType):
    def __init__(self, elem: GoType, go: str | None = None, schema: Schema | None = None) -> None:
        self.elem = elem
        self.go = go or f"map[string]{elem.go}"
        self._schema = schema

    def check(self, value: Any, where: str) -> Any:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _mismatch(value, where, self.go)
        if isinstance(self.elem, AnyValue):
            _bound_and_clean(value, False, FIELD_DEPTH)
            return value
        return {k: self.elem.check(v, where) for k, v in value.items()}

    def schema(self) -> Schema:
        if self._schema is not None:
            return self._schema
        return Schema(type=OpenAPIType.OBJECT, additional_properties=self.elem.schema())


class Struct(GoType):
    """A Go struct: a JSON object whose known keys are checked; field names match case-insensitively."""

    def __init__(self, name: str, fields: Mapping[str, GoType], *, required: tuple[str, ...] = (),
                 description: str | None = None) -> None:
        self.name = name
        self.go = f"api.{name}"
        self.fields = dict(fields)
        self._folded = {k.lower(): k for k in self.fields}
        self.required = required
        self.description = description

    @property
    def zero(self) -> dict[str, Any]:  # type: ignore[override]
        return {}

    def check(self, value: Any, where: str) -> Any:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _mismatch(value, where, self.go)
        return self.check_fields(value, where)

    def check_fields(self, value: dict[str, Any], where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        fields = self.fields
        for key, item in value.items():
            name = key if key in fields else self._folded.get(key.lower())
            if name is None:
                continue
            out[name] = fields[name].check(item, f"{where}.{name}")
        return out

    def schema(self) -> Schema:
        return Schema(
            type=OpenAPIType.OBJECT,
            properties={k: t.schema() for k, t in self.fields.items()},
            required=list(self.required) or None,
            description=self.description,
        )


class Custom(GoType):
    """A Go type with its own UnmarshalJSON: ``validate`` returns the value or raises BadRequestError(text)."""

    def __init__(self, go: str, validate: Callable[[Any], Any], schema: Schema) -> None:
        self.go = go
        self._validate = validate
        self._schema = schema

    def check(self, value: Any, where: str) -> Any:
        if value is None:
            return None
        return self._validate(value)

    def schema(self) -> Schema:
        return self._schema


# --- decoding -------------------------------------------------------------------------------------------


class _Constant(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _Constant(name)


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_WHITESPACE = " \t\r\n"


MAX_DEPTH = 100
"""How deeply a request body's JSON may nest (Go allows 10000, but Python code downstream recurses per level)."""

FIELD_DEPTH = 2  # the level of a body's fields; typed structure above free-form values is shallow
_DEPTH_TEXT = f"exceeded max depth: JSON nested more than {MAX_DEPTH} levels"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # may be a lone surrogate after decoding
_SURROGATES = re.compile("[\ud800-\udfff]+")


def decode_body(body: bytes, spec: Struct) -> dict[str, Any]:
    """Decode a request body into a dict of ``spec``'s fields, or raise an OllamalibError with Go's text.

    As Go's decoder does, invalid UTF-8 and lone UTF-16 surrogates (``"\\ud800"``) become U+FFFD, so every
    string that reaches the engine can be encoded. Free-form values (``AnyValue``: schemas, tool arguments,
    options) nesting past MAX_DEPTH are a 400; typed fields cannot nest, and unknown keys are dropped.
    """
    text = body.decode("utf-8", "replace").lstrip(_WHITESPACE)
    if not text:
        raise BadRequestError("missing request body")
    try:
        value, _ = _DECODER.raw_decode(text)
    except json.JSONDecodeError as exc:
        raise BadRequestError(go_syntax_error(exc, text)) from None
    except _Constant as exc:
        raise BadRequestError(f"invalid character {_quote_char(str(exc)[0])} looking for beginning of value") from None
    except RecursionError:
        raise BadRequestError(_DEPTH_TEXT) from None
    if _SURROGATE_ESCAPE.search(text) is not None:  # rare: only then walk the whole value
        value = _bound_and_clean(value, True)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidOptionError(f"json: cannot unmarshal {json_kind(value)} into Go value of type {spec.go}")
    return spec.check_fields(value, spec.name)


def parse_json(text: str) -> Any:
    """``json.loads`` for JSON nested in a string field (OpenAI's tool arguments), bounded and cleaned alike.

    Raises ValueError for bad syntax and BadRequestError past MAX_DEPTH.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise BadRequestError(_DEPTH_TEXT) from None
    surrogates = _SURROGATE_ESCAPE.search(text) is not None
    if surrogates or text.count("{") + text.count("[") > MAX_DEPTH:
        value = _bound_and_clean(value, surrogates)
    return value


def _replace_surrogates(text: str) -> str:
    return _SURROGATES.sub(lambda m: "\ufffd" * len(m.group()), text)


def _bound_and_clean(value: Any, surrogates: bool, depth: int = 1) -> Any:
    """Reject nesting deeper than MAX_DEPTH and (``surrogates``) replace lone surrogates, without recursion.

    ``depth`` is the level of ``value`` itself (1: the whole body).
    """
    fix = _replace_surrogates
    if isinstance(value, str):
        return fix(value) if surrogates else value
    stack: list[tuple[Any, int]] = [(value, depth)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadRequestError(_DEPTH_TEXT)
        if isinstance(node, dict):
            if surrogates:
                items = [(fix(k), fix(v) if isinstance(v, str) else v) for k, v in node.items()]
                node.clear()
                node.update(items)
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list)))
        else:
            for i, item in enumerate(node):
                if isinstance(item, (dict, list)):
                    stack.append((item, depth + 1))
                elif surrogates and isinstance(item, str):
                    node[i] = fix(item)
    return value


def go_syntax_error(exc: json.JSONDecodeError, text: str) -> str:
    """Translate Python's JSON syntax error into the message Go's decoder gives for the same input."""
    msg, pos = exc.msg, exc.pos
    if pos >= len(text) or msg.startswith("Unterminated string"):
        return "unexpected EOF"
    if msg.startswith("Invalid \\escape"):
        return f"invalid character {_quote_char(text[pos + 1: pos + 2] or ' ')} in string escape code"
    if msg.startswith("Invalid \\uXXXX"):
        bad = next((c for c in text[pos + 1: pos + 5] if c not in "0123456789abcdefABCDEF"), None)
        if bad is None:
            return "unexpected EOF"
        return f"invalid character {_quote_char(bad)} in \\u hexadecimal character escape"
    c = _quote_char(text[pos])
    if msg == "Expecting ':' delimiter":
        return f"invalid character {c} after object key"
    if msg == "Expecting ',' delimiter":
        where = "object key:value pair" if _inside_object(text, pos) else "array element"
        return f"invalid character {c} after {where}"
    if msg.startswith("Expecting property name"):
        return f"invalid character {c} looking for beginning of object key string"
    if msg.startswith("Invalid control character"):
        return f"invalid character {c} in string literal"
    return f"invalid character {c} looking for beginning of value"


def _inside_object(text: str, pos: int) -> bool:
    stack: list[str] = []
    for _, ch in json_brackets(text, 0, pos):
        if ch in "{[":
            stack.append(ch)
        elif stack:
            stack.pop()
    return bool(stack) and stack[-1] == "{"


_CHAR_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
                 "\\": "\\\\"}


def _quote_char(ch: str) -> str:
    """Go's ``quoteChar``: the offending character in single quotes."""
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    if ch in _CHAR_ESCAPES:
        return f"'{_CHAR_ESCAPES[ch]}'"
    if not ch.isprintable():
        return f"'\\x{ord(ch):02x}'" if ord(ch) < 0x80 else f"'\\u{ord(ch):04x}'"
    return f"'{ch}'"


# --- OpenAPI ----------------------------------------------------------------------------------------------


def body_operation(spec: Struct, description: str | None = None) -> type[Operation]:
    """An Operation class that documents ``spec`` as the JSON request body (handlers read raw bodies)."""

    @dataclass
    class _Documented(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                content={"application/json": OpenAPIMediaType(schema=spec.schema())},
                required=True,
                description=description,
            )

    _Documented.__name__ = f"{spec.name}Operation"
    return _Documented
