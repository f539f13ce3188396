"""Go values as the template interpreter sees them: plain Python values plus markers for Go's types.

Mapping: ``str`` string, ``bool`` bool, ``int`` int, ``float`` float64, ``complex`` complex128, ``bytes``
[]byte, ``list`` []interface{}, ``dict`` map[string]interface{}, ``None`` a nil interface{} value.
``INVALID`` is Go's zero ``reflect.Value`` (what a missing value becomes once a pipeline unwraps it).
``GoStruct``, ``GoSlice``, ``GoMap`` and ``GoNil`` carry a Go type name where printing, JSON or error
texts depend on it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any, ClassVar

__all__ = [
    "INVALID",
    "MISSING",
    "GoMap",
    "GoNil",
    "GoSlice",
    "GoStruct",
    "go_type_name",
    "is_alnum",
    "is_int",
    "truth",
]


class _Invalid:
    """Go's zero reflect.Value: no value at all (prints as ``<no value>``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "INVALID"

    def __bool__(self) -> bool:
        return False


class _Missing:
    """Marks "no final argument from a previous pipeline command" (text/template's missingVal)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


INVALID: Any = _Invalid()
MISSING: Any = _Missing()


class GoNil:
    """A typed nil pointer such as ``*api.ToolPropertiesMap``; prints ``<nil>``, JSON ``null``."""

    __slots__ = ("fields", "gotype")

    def __init__(self, gotype: str, fields: frozenset[str] = frozenset()) -> None:
        self.gotype = gotype
        self.fields = fields

    def __repr__(self) -> str:
        return f"GoNil({self.gotype})"


class GoStruct:
    """Base of the Go structs a template can see; subclasses declare their Go type, fields and JSON tags.

    ``JSON`` lists ``(field, json_name, omitempty)``; ``POINTER`` marks values held as ``*T``; ``go_string``
    returns the text of a ``String()`` method, or None when the type has none.
    """

    __slots__ = ()
    GO_TYPE: ClassVar[str] = "struct"
    POINTER: ClassVar[bool] = False
    FIELDS: ClassVar[tuple[str, ...]] = ()
    JSON: ClassVar[tuple[tuple[str, str, bool], ...]] = ()
    STRINGER: ClassVar[bool] = False

    def go_string(self) -> str:
        raise NotImplementedError

    def field_values(self) -> list[Any]:
        return [getattr(self, name) for name in self.FIELDS]

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.FIELDS)
        return f"{type(self).__name__}({inner})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.field_values() == other.field_values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return id(self)


class GoSlice(list):  # type: ignore[type-arg]
    """A slice with a Go type name; ``nil`` tells a nil slice (JSON null) from an empty one."""

    __slots__ = ("gotype", "nil", "stringer")

    def __init__(
        self,
        items: Any = (),
        gotype: str = "[]interface {}",
        *,
        nil: bool = False,
        stringer: Callable[[Any], str] | None = None,
    ) -> None:
        super().__init__(items)
        self.gotype = gotype
        self.nil = nil and not self
        self.stringer = stringer


class GoMap(dict):  # type: ignore[type-arg]
    """A string-keyed map with a Go type name, the zero value of its elements and an optional String()."""

    __slots__ = ("gotype", "nil", "ordered", "stringer", "zero")

    def __init__(
        self,
        items: Any = (),
        gotype: str = "map[string]interface {}",
        *,
        zero: Any = None,
        nil: bool = False,
        ordered: bool = False,
        stringer: Callable[[Any], str] | None = None,
    ) -> None:
        super().__init__(items)
        self.gotype = gotype
        self.zero = zero
        self.nil = nil and not self
        self.ordered = ordered
        self.stringer = stringer


def is_int(v: Any) -> bool:
    """True for a Go integer (a Python int that is not a bool)."""
    return type(v) is int or (isinstance(v, int) and not isinstance(v, bool))


def go_type_name(v: Any) -> str:
    """The name Go's reflect would print for the dynamic type of ``v`` (as in error messages and %T)."""
    if v is None:
        return "interface {}"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, complex):
        return "complex128"
    if isinstance(v, (bytes, bytearray)):
        return "[]uint8"
    if isinstance(v, GoStruct):
        return ("*" if v.POINTER else "") + v.GO_TYPE
    if isinstance(v, (GoSlice, GoMap, GoNil)):
        return v.gotype
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if callable(v):
        return "func(...interface {}) interface {}"
    return type(v).__name__


def truth(v: Any) -> bool:
    """Go's template truth: false, 0, nil and empty strings, slices and maps are false; structs are true."""
    if v is INVALID or v is None:
        return False
    if isinstance(v, (bool, int, float, complex, str, bytes, list, tuple, dict)):
        return bool(v)
    if isinstance(v, GoNil):
        return False
    return True


def is_alnum(ch: str) -> bool:
    """Go's isAlphaNumeric: underscore, a Unicode letter or a decimal digit."""
    if ch.isascii():
        return ch.isalnum() or ch == "_"
    return ch.isalpha() or unicodedata.category(ch) == "Nd"
