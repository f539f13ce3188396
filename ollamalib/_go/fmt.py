"""Go's fmt package as templates use it: Sprint, Sprintln, Sprintf and the default %v format of values.

Covers the verbs %v %+v %s %q %d %b %o %O %x %X %c %U %e %E %f %F %g %G %t %T %%, flags (``+ - # 0``
and space), width and precision (also ``*`` and ``[n]`` argument indexes), and Go's error forms such as
``%!d(string=hi)``, ``%!s(MISSING)`` and ``%!(EXTRA int=1)``.
"""

from __future__ import annotations

import base64
import math
from typing import Any

from .strconv import format_float, go_quote, go_quote_ascii, quote_rune
from .values import INVALID, GoMap, GoNil, GoSlice, GoStruct, go_type_name, is_int

__all__ = [
    "go_trim_space",
    "sprint",
    "sprintf",
    "sprintln",
    "sprint_value",
]

_GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def go_trim_space(s: str) -> str:
    """strings.TrimSpace: strip Unicode white space (Go's set, which excludes U+001C..U+001F)."""
    start, end = 0, len(s)
    while start < end and s[start] in _GO_SPACE:
        start += 1
    while end > start and s[end - 1] in _GO_SPACE:
        end -= 1
    return s[start:end]


def _can_backquote(s: str) -> bool:
    for ch in s:
        if ch == "`" or ch == "\ufeff":
            return False
        if ch != "\t" and (ord(ch) < 0x20 or ord(ch) == 0x7F):
            return False
    return True


def _utf8(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


# --- the printer ----------------------------------------------------------------------------------------


def _is_stringer(v: Any) -> bool:
    if isinstance(v, GoStruct):
        return v.STRINGER
    if isinstance(v, (GoSlice, GoMap)):
        return v.stringer is not None
    return False


def _stringer_text(v: Any) -> str:
    if isinstance(v, GoStruct):
        return v.go_string()
    return v.stringer(v)  # type: ignore[no-any-return]


class _Printer:
    """One formatting run (Go's pp + fmt): an output buffer and the flags of the current verb."""

    __slots__ = (
        "buf",
        "deref",
        "erroring",
        "minus",
        "plus",
        "plus_v",
        "prec",
        "prec_present",
        "sharp",
        "sharp_v",
        "space",
        "wid",
        "wid_present",
        "zero",
    )

    def __init__(self, deref: bool = False) -> None:
        self.buf: list[str] = []
        self.erroring = False
        self.deref = deref
        self.clear_flags()

    def clear_flags(self) -> None:
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.plus_v = self.sharp_v = False
        self.wid = self.prec = 0
        self.wid_present = self.prec_present = False

    # padding -------------------------------------------------------------------------------------------

    def _padding(self, n: int) -> str:
        if n <= 0:
            return ""
        return ("0" if self.zero and not self.minus else " ") * n

    def pad(self, s: str) -> None:
        if not self.wid_present or self.wid == 0:
            self.buf.append(s)
            return
        width = self.wid - len(s)
        if width <= 0:
            self.buf.append(s)
        elif not self.minus:
            self.buf.append(self._padding(width) + s)
        else:
            self.buf.append(s + " " * width)

    # basic kinds ---------------------------------------------------------------------------------------

    def fmt_bool(self, v: bool, verb: str, arg: Any) -> None:
        if verb in "tv":
            self.pad("true" if v else "false")
        else:
            self.bad_verb(verb, arg)

    def fmt_integer(self, v: int, verb: str, arg: Any, *, unsigned: bool = False) -> None:
        if verb in "vd":
            self._integer(v, 10, verb, "0123456789abcdefx")
        elif verb == "b":
            self._integer(v, 2, verb, "0123456789abcdefx")
        elif verb in "oO":
            self._integer(v, 8, verb, "0123456789abcdefx")
        elif verb == "x":
            self._integer(v, 16, verb, "0123456789abcdefx")
        elif verb == "X":
            self._integer(v, 16, verb, "0123456789ABCDEFX")
        elif verb == "c":
            self.pad(_rune_text(v))
        elif verb == "q":
            self.pad(_quote_char(v, self.plus))
        elif verb == "U":
            text = f"U+{v:04X}" if v >= 0 else f"U+{v & 0xFFFFFFFFFFFFFFFF:04X}"
            if self.sharp and 0 <= v <= 0x10FFFF and chr(v).isprintable():
                text += " '" + chr(v) + "'"
            self.pad(text)
        else:
            self.bad_verb(verb, arg)

    def _integer(self, v: int, base: int, verb: str, digits: str) -> None:
        negative = v < 0
        u = -v if negative else v
        prec = 0
        if self.prec_present:
            prec = self.prec
            if prec == 0 and u == 0:
                old, self.zero = self.zero, False
                self.buf.append(self._padding(self.wid) if self.wid_present else "")
                self.zero = old
                return
        elif self.zero and not self.minus and self.wid_present:
            prec = self.wid
            if negative or self.plus or self.space:
                prec -= 1
        if u == 0:
            body = "0"
        else:
            chars = []
            while u:
                u, r = divmod(u, base)
                chars.append(digits[r])
            body = "".join(reversed(chars))
        if len(body) < prec:
            body = "0" * (prec - len(body)) + body
        if self.sharp:
            if base == 2:
                body = "0b" + body
            elif base == 8 and body[0] != "0":
                body = "0" + body
            elif base == 16:
                body = "0" + digits[16] + body
        if verb == "O":
            body = "0o" + body
        if negative:
            body = "-" + body
        elif self.plus:
            body = "+" + body
        elif self.space:
            body = " " + body
        old, self.zero = self.zero, False
        self.pad(body)
        self.zero = old

    def fmt_float(self, v: float, verb: str, arg: Any) -> None:
        if verb == "v":
            self._float(v, "g", -1)
        elif verb in "bgGxX":
            self._float(v, verb, -1)
        elif verb in "eEfF":
            self._float(v, verb, 6)
        else:
            self.bad_verb(verb, arg)

    def _float(self, v: float, verb: str, prec: int) -> None:
        if self.prec_present:
            prec = self.prec
        num = format_float(v, verb, prec)
        if num[0] not in "+-":
            num = "+" + num
        if self.space and num[0] == "+" and not self.plus:
            num = " " + num[1:]
        if num[1] in "IN":
            old, self.zero = self.zero, False
            if num[1] == "N" and not self.space and not self.plus:
                num = num[1:]
            self.pad(num)
            self.zero = old
            return
        if self.sharp and verb != "b":
            num = _sharp_float(num, verb, prec)
        if self.plus or num[0] != "+":
            if self.zero and not self.minus and self.wid_present and self.wid > len(num):
                self.buf.append(num[0] + "0" * (self.wid - len(num)) + num[1:])
                return
            self.pad(num)
            return
        self.pad(num[1:])

    def fmt_complex(self, v: complex, verb: str, arg: Any) -> None:
        if verb not in "vbgGxXfFeE":
            self.bad_verb(verb, arg)
            return
        old_plus = self.plus
        self.buf.append("(")
        self.fmt_float(v.real, verb, arg)
        self.plus = True
        self.fmt_float(v.imag, verb, arg)
        self.buf.append("i)")
        self.plus = old_plus

    def fmt_string(self, s: str, verb: str, arg: Any) -> None:
        if verb == "v":
            if self.sharp_v:
                self._quoted(s)
            else:
                self._s(s)
        elif verb == "s":
            self._s(s)
        elif verb in "xX":
            self._hex_bytes(_utf8(s), verb)
        elif verb == "q":
            self._quoted(s)
        else:
            self.bad_verb(verb, arg)

    def _truncate(self, s: str) -> str:
        if self.prec_present and len(s) > self.prec:
            return s[: self.prec]
        return s

    def _s(self, s: str) -> None:
        self.pad(self._truncate(s))

    def _quoted(self, s: str) -> None:
        s = self._truncate(s)
        if self.sharp and _can_backquote(s):
            self.pad("`" + s + "`")
        elif self.plus:
            self.pad(go_quote_ascii(s))
        else:
            self.pad(go_quote(s))

    def _hex_bytes(self, b: bytes, verb: str) -> None:
        digits = "0123456789abcdef" if verb == "x" else "0123456789ABCDEF"
        length = len(b)
        if self.prec_present and self.prec < length:
            length = self.prec
        out: list[str] = []
        for i in range(length):
            if self.space and i > 0:
                out.append(" ")
            if self.sharp and (self.space or i == 0):
                out.append("0x" if verb == "x" else "0X")
            c = b[i]
            out.append(digits[c >> 4] + digits[c & 0xF])
        text = "".join(out)
        self.pad(text)

    def fmt_bytes(self, b: bytes, verb: str, arg: Any, typename: str) -> None:
        if verb in "vd":
            self.buf.append("[")
            for i, c in enumerate(b):
                if i:
                    self.buf.append(" ")
                self._integer(c, 10, verb, "0123456789abcdefx")
            self.buf.append("]")
        elif verb == "s":
            self._s(b.decode("utf-8", "surrogateescape"))
        elif verb in "xX":
            self._hex_bytes(bytes(b), verb)
        elif verb == "q":
            self._quoted(b.decode("utf-8", "surrogateescape"))
        else:
            self.print_value(list(b), verb, 0, elem_bytes=True)

    # errors --------------------------------------------------------------------------------------------

    def bad_verb(self, verb: str, arg: Any) -> None:
        self.erroring = True
        self.buf.append("%!" + verb + "(")
        if arg is None or arg is INVALID:
            self.buf.append("<nil>")
        else:
            self.buf.append(go_type_name(arg) + "=")
            self.print_arg(arg, "v")
        self.buf.append(")")
        self.erroring = False

    # dispatch ------------------------------------------------------------------------------------------

    def print_arg(self, arg: Any, verb: str) -> None:
        if arg is None or arg is INVALID:
            if verb in "Tv":
                self.pad("<nil>")
            else:
                self.bad_verb(verb, arg)
            return
        if verb == "T":
            self._s(go_type_name(arg))
            return
        if verb == "p":
            self._pointer(arg, verb)
            return
        self.print_value(arg, verb, 0)

    def _pointer(self, arg: Any, verb: str) -> None:
        if isinstance(arg, (GoStruct, GoSlice, GoMap, GoNil, list, dict)) or callable(arg):
            if isinstance(arg, GoNil):
                self.pad("%!p(<nil>)" if verb != "v" else "<nil>")
            else:
                self.pad(f"0x{0xC000010000 + (id(arg) & 0xFFFFF0):x}")
        else:
            self.bad_verb(verb, arg)

    def handle_methods(self, v: Any, verb: str) -> bool:
        if self.erroring or verb not in "vsxXq" or self.sharp_v:
            return False
        if _is_stringer(v):
            self.fmt_string(_stringer_text(v), verb, v)
            return True
        return False

    def print_value(self, v: Any, verb: str, depth: int, *, elem_bytes: bool = False) -> None:
        if self.handle_methods(v, verb):
            return
        if v is INVALID:
            if depth == 0:
                self.buf.append("<invalid reflect.Value>")
            elif verb == "v":
                self.buf.append("<nil>")
            else:
                self.bad_verb(verb, None)
            return
        if v is None:
            if depth == 0 and verb not in "v":
                self.bad_verb(verb, None)
            else:
                self.pad("<nil>") if depth == 0 else self.buf.append("<nil>")
            return
        if isinstance(v, bool):
            self.fmt_bool(v, verb, v)
        elif isinstance(v, int):
            if elem_bytes and verb in "vd":
                self._integer(v, 10, verb, "0123456789abcdefx")
            else:
                self.fmt_integer(v, verb, v)
        elif isinstance(v, float):
            self.fmt_float(v, verb, v)
        elif isinstance(v, str):
            self.fmt_string(v, verb, v)
        elif isinstance(v, complex):
            self.fmt_complex(v, verb, v)
        elif isinstance(v, (bytes, bytearray)):
            self.fmt_bytes(bytes(v), verb, v, "[]uint8")
        elif isinstance(v, GoNil):
            if verb in "vp":
                self.pad("<nil>")
            else:
                self.bad_verb(verb, v)
        elif isinstance(v, GoStruct):
            if v.POINTER and depth > 0:
                self._pointer(v, verb)
                return
            if v.POINTER and not self.deref:
                self.buf.append("&")
            self._struct(v, verb, depth + (1 if v.POINTER else 0))
        elif isinstance(v, dict):
            self._map(v, verb, depth)
        elif isinstance(v, (list, tuple)):
            if verb in "sqxX" and _all_bytes_elems(v):
                self.fmt_string(bytes(v).decode("utf-8", "surrogateescape"), verb, v)
                return
            if self.sharp_v:
                self._go_syntax(v, getattr(v, "gotype", "[]interface {}"), list(v), verb, depth)
                return
            self.buf.append("[")
            for i, item in enumerate(v):
                if i:
                    self.buf.append(" ")
                self.print_value(item, verb, depth + 1)
            self.buf.append("]")
        elif callable(v):
            self._pointer(v, verb)
        else:
            self._object(v, verb, depth)

    def _struct(self, v: GoStruct, verb: str, depth: int) -> None:
        self.buf.append("{")
        for i, name in enumerate(v.FIELDS):
            if i:
                self.buf.append(" ")
            if self.plus_v:
                self.buf.append(name + ":")
            self.print_value(getattr(v, name), verb, depth + 1)
        self.buf.append("}")

    def _go_syntax(self, v: Any, gotype: str, items: list[Any], verb: str, depth: int) -> None:
        """%#v of a map or slice: its Go type, then ``{a, b}`` or ``{k:v, k:v}``; nil ones print ``(nil)``."""
        self.buf.append(gotype)
        if getattr(v, "nil", False):
            self.buf.append("(nil)")
            return
        self.buf.append("{")
        for i, item in enumerate(items):
            if i:
                self.buf.append(", ")
            if isinstance(v, dict):
                self.print_value(item, verb, depth + 1)
                self.buf.append(":")
                item = v[item]
            self.print_value(item, verb, depth + 1)
        self.buf.append("}")

    def _map(self, v: dict[Any, Any], verb: str, depth: int) -> None:
        if self.sharp_v:
            self._go_syntax(v, getattr(v, "gotype", "map[string]interface {}"), sorted_keys(v), verb, depth)
            return
        self.buf.append("map[")
        for i, key in enumerate(sorted_keys(v)):
            if i:
                self.buf.append(" ")
            self.print_value(key, verb, depth + 1)
            self.buf.append(":")
            self.print_value(v[key], verb, depth + 1)
        self.buf.append("]")

    def _object(self, v: Any, verb: str, depth: int) -> None:
        fields = getattr(type(v), "model_fields", None)
        if fields is not None:
            self.buf.append("{")
            for i, name in enumerate(fields):
                if i:
                    self.buf.append(" ")
                if self.plus_v:
                    self.buf.append(name + ":")
                self.print_value(getattr(v, name), verb, depth + 1)
            self.buf.append("}")
            return
        self.fmt_string(str(v), verb, v)


def _sharp_float(num: str, verb: str, prec: int) -> str:
    """The # flag on floats: always a decimal point, and %g keeps zeros up to its precision."""
    digits = 0
    if verb in "vgGx":
        digits = 6 if prec == -1 else prec
    tail = ""
    has_point = False
    saw_nonzero = False
    i = 1
    while i < len(num):
        ch = num[i]
        if ch == ".":
            has_point = True
        elif ch in "pP" or (ch in "eE" and verb not in "xX"):
            tail = num[i:]
            num = num[:i]
            break
        else:
            if ch != "0":
                saw_nonzero = True
            if saw_nonzero:
                digits -= 1
        i += 1
    if not has_point:
        if len(num) == 2 and num[1] == "0":
            digits -= 1
        num += "."
    if digits > 0:
        num += "0" * digits
    return num + tail


def _all_bytes_elems(v: Any) -> bool:
    return isinstance(v, GoSlice) and v.gotype == "[]uint8"


def _rune_text(v: int) -> str:
    if 0 <= v <= 0x10FFFF and not (0xD800 <= v <= 0xDFFF):
        return chr(v)
    return "\ufffd"


def _quote_char(v: int, ascii_only: bool) -> str:
    ch = _rune_text(v)
    return "'" + quote_rune(ch, "'", ascii_only) + "'"


def sorted_keys(m: dict[Any, Any]) -> list[Any]:
    """Map keys in Go's fmtsort order: numbers numerically, strings bytewise, false before true."""
    keys = list(m)
    if getattr(m, "ordered", False):
        return keys
    try:
        return sorted(keys, key=_sort_key)
    except TypeError:
        return sorted(keys, key=lambda k: (type(k).__name__, str(k)))


def _sort_key(k: Any) -> Any:
    if isinstance(k, float) and math.isnan(k):
        return (1, -math.inf, 0)
    if isinstance(k, (int, float)) and not isinstance(k, bool):
        return (1, k, 0)
    if isinstance(k, bool):
        return (0, int(k), 0)
    return (2, 0, k)


# --- entry points ---------------------------------------------------------------------------------------


def sprint_value(v: Any, *, deref: bool = False) -> str:
    """fmt.Sprint(v) of one value; ``deref`` prints a top-level *struct as the struct (as actions do)."""
    if type(v) is str:
        return v
    p = _Printer(deref)
    p.print_arg(v, "v")
    return "".join(p.buf)


def sprint(args: list[Any], *, deref: bool = False) -> str:
    """fmt.Sprint: operands in %v, a space between two operands when neither is a string."""
    p = _Printer(deref)
    prev_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i > 0 and not is_string and not prev_string:
            p.buf.append(" ")
        p.print_arg(arg, "v")
        prev_string = is_string
    return "".join(p.buf)


def sprintln(args: list[Any]) -> str:
    """fmt.Sprintln: operands in %v separated by spaces, then a newline."""
    p = _Printer()
    for i, arg in enumerate(args):
        if i > 0:
            p.buf.append(" ")
        p.print_arg(arg, "v")
    p.buf.append("\n")
    return "".join(p.buf)


def _parse_num(s: str, i: int, end: int) -> tuple[int, bool, int]:
    if i >= end or not s[i].isdigit() or not s[i].isascii():
        return 0, False, i
    num = 0
    while i < end and s[i].isascii() and s[i].isdigit():
        if num > 1_000_000:
            return 0, False, end
        num = num * 10 + ord(s[i]) - 48
        i += 1
    return num, True, i


class _ArgState:
    __slots__ = ("good", "reordered")

    def __init__(self) -> None:
        self.good = True
        self.reordered = False


def _arg_number(st: _ArgState, arg_num: int, s: str, i: int, num_args: int) -> tuple[int, int, bool]:
    if i >= len(s) or s[i] != "[":
        return arg_num, i, False
    st.reordered = True
    for j in range(i + 1, len(s)):
        if s[j] == "]":
            width, ok, new_i = _parse_num(s, i + 1, j)
            if not ok or new_i != j:
                st.good = False
                return arg_num, j + 1, True
            index = width - 1
            if 0 <= index < num_args:
                return index, j + 1, True
            st.good = False
            return arg_num, j + 1, True
    st.good = False
    return arg_num, i + 1, False


def _int_from_arg(args: list[Any], arg_num: int) -> tuple[int, bool, int]:
    num, ok = 0, False
    if arg_num < len(args):
        arg = args[arg_num]
        if is_int(arg):
            num, ok = arg, True
            if not -1_000_000 <= num <= 1_000_000:
                num, ok = 0, False
        arg_num += 1
    return num, ok, arg_num


def sprintf(fmt: str, args: list[Any]) -> str:
    """fmt.Sprintf with Go's verbs, flags, widths, precisions and error notations."""
    p = _Printer()
    st = _ArgState()
    end = len(fmt)
    arg_num = 0
    after_index = False
    i = 0
    while i < end:
        st.good = True
        last = i
        i = fmt.find("%", i)
        if i < 0:
            i = end
        if i > last:
            p.buf.append(fmt[last:i])
        if i >= end:
            break
        i += 1
        p.clear_flags()
        simple_done = False
        while i < end:
            c = fmt[i]
            if c == "#":
                p.sharp = True
            elif c == "0":
                p.zero = not p.minus
            elif c == "+":
                p.plus = True
            elif c == "-":
                p.minus = True
                p.zero = False
            elif c == " ":
                p.space = True
            else:
                if "a" <= c <= "z" and arg_num < len(args):
                    if c == "v":
                        p.sharp_v, p.sharp = p.sharp, False
                        p.plus_v, p.plus = p.plus, False
                    p.print_arg(args[arg_num], c)
                    arg_num += 1
                    i += 1
                    simple_done = True
                break
            i += 1
        if simple_done:
            continue

        arg_num, i, after_index = _arg_number(st, arg_num, fmt, i, len(args))

        if i < end and fmt[i] == "*":
            i += 1
            p.wid, p.wid_present, arg_num = _int_from_arg(args, arg_num)
            if not p.wid_present:
                p.buf.append("%!(BADWIDTH)")
            if p.wid < 0:
                p.wid = -p.wid
                p.minus = True
                p.zero = False
            after_index = False
        else:
            p.wid, p.wid_present, i = _parse_num(fmt, i, end)
            if after_index and p.wid_present:
                st.good = False

        if i + 1 < end and fmt[i] == ".":
            i += 1
            if after_index:
                st.good = False
            arg_num, i, after_index = _arg_number(st, arg_num, fmt, i, len(args))
            if i < end and fmt[i] == "*":
                i += 1
                p.prec, p.prec_present, arg_num = _int_from_arg(args, arg_num)
                if p.prec < 0:
                    p.prec = 0
                    p.prec_present = False
                if not p.prec_present:
                    p.buf.append("%!(BADPREC)")
                after_index = False
            else:
                p.prec, p.prec_present, i = _parse_num(fmt, i, end)
                if not p.prec_present:
                    p.prec = 0
                    p.prec_present = True

        if not after_index:
            arg_num, i, after_index = _arg_number(st, arg_num, fmt, i, len(args))

        if i >= end:
            p.buf.append("%!(NOVERB)")
            break

        verb = fmt[i]
        i += 1
        if verb == "%":
            p.buf.append("%")
        elif not st.good:
            p.buf.append("%!" + verb + "(BADINDEX)")
        elif arg_num >= len(args):
            p.buf.append("%!" + verb + "(MISSING)")
        else:
            if verb == "v":
                p.sharp_v, p.sharp = p.sharp, False
                p.plus_v, p.plus = p.plus, False
            p.print_arg(args[arg_num], verb)
            arg_num += 1

    if not st.reordered and arg_num < len(args):
        p.clear_flags()
        p.buf.append("%!(EXTRA ")
        for j, arg in enumerate(args[arg_num:]):
            if j:
                p.buf.append(", ")
            if arg is None or arg is INVALID:
                p.buf.append("<nil>")
            else:
                p.buf.append(go_type_name(arg) + "=")
                p.print_arg(arg, "v")
        p.buf.append(")")
    return "".join(p.buf)


def base64_std(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")
