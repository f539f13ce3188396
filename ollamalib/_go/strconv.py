"""Go's strconv: quoting and unquoting, float formatting (FormatFloat) and number/bool parsing.

Byte-for-byte what Go prints and accepts; used by the template interpreter, Ollama's option typing,
the server's error texts and the CLI.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction

__all__ = [
    "QuoteSyntaxError",
    "format_float",
    "go_quote",
    "go_quote_ascii",
    "is_print",
    "parse_bool",
    "parse_float",
    "parse_float32",
    "parse_int",
    "parse_int64",
    "quote_rune",
    "shortest_digits",
    "underscore_ok",
    "unquote",
    "unquote_char",
]


# --- floats ---------------------------------------------------------------------------------------------


def shortest_digits(f: float) -> tuple[str, int]:
    """The shortest digits that round-trip ``abs(f)`` and the decimal point position: 0.25 -> ("25", 0)."""
    r = repr(abs(f))
    mant, _, exp_s = r.partition("e")
    exp = int(exp_s) if exp_s else 0
    int_part, _, frac = mant.partition(".")
    combined = int_part + frac
    stripped = combined.lstrip("0")
    lead = len(combined) - len(stripped)
    digits = stripped.rstrip("0")
    if not digits:
        return "0", 1
    return digits, len(int_part) - lead + exp


def _fmt_e(neg: bool, digits: str, dp: int, prec: int, echar: str) -> str:
    first = digits[0] if digits else "0"
    out = "-" if neg else ""
    out += first
    if prec > 0:
        rest = digits[1 : prec + 1]
        out += "." + rest + "0" * (prec - len(rest))
    exp = 0 if digits == "0" else dp - 1
    sign = "-" if exp < 0 else "+"
    exp = abs(exp)
    return out + echar + sign + (f"{exp:02d}")


def _fmt_f(neg: bool, digits: str, dp: int, prec: int) -> str:
    out = "-" if neg else ""
    if dp > 0:
        whole = digits[:dp]
        out += whole + "0" * (dp - len(whole))
    else:
        out += "0"
    if prec > 0:
        frac = []
        for i in range(prec):
            j = dp + i
            frac.append(digits[j] if 0 <= j < len(digits) else "0")
        out += "." + "".join(frac)
    return out


def _hex_float(f: float, prec: int, upper: bool) -> str:
    """strconv's %x of a float64: -0x1.8p+01 style, shortest mantissa digits unless a precision is given."""
    neg = math.copysign(1.0, f) < 0
    f = abs(f)
    if f == 0:
        mant, exp = 0, 0
    else:
        m, e = math.frexp(f)  # f = m * 2**e, 0.5 <= m < 1
        mant = int(m * (1 << 53))
        exp = e - 1
        # mant has its leading 1 at bit 52
    frac = mant & ((1 << 52) - 1)
    hex_digits = f"{frac:013x}"
    if prec < 0:
        hex_digits = hex_digits.rstrip("0")
    elif prec < 13:
        # round to prec hex digits, half to even
        shift = (13 - prec) * 4
        full = (1 << 52) | frac if f != 0 else 0
        q, r = divmod(full, 1 << shift)
        half = 1 << (shift - 1)
        if r > half or (r == half and q & 1):
            q += 1
        lead = q >> (prec * 4)
        if lead > 1:
            q >>= 1
            exp += 1
        frac_q = q & ((1 << (prec * 4)) - 1)
        hex_digits = f"{frac_q:0{prec}x}" if prec else ""
    else:
        hex_digits = hex_digits + "0" * (prec - 13)
    lead_digit = "1" if f != 0 else "0"
    out = ("-" if neg else "") + "0x" + lead_digit
    if hex_digits:
        out += "." + hex_digits
    sign = "-" if exp < 0 else "+"
    out += "p" + sign + f"{abs(exp):02d}"
    return out.upper().replace("0X", "0X") if upper else out


def format_float(f: float, verb: str, prec: int) -> str:
    """strconv.FormatFloat(f, verb, prec, 64) for verbs e E f g G x X b (prec -1 means shortest)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    neg = math.copysign(1.0, f) < 0
    if verb in "xX":
        return _hex_float(f, prec, verb == "X")
    if verb == "b":
        m, e = math.frexp(abs(f))
        mant = int(m * (1 << 53)) if f != 0 else 0
        exp = e - 53 if f != 0 else -1074
        return ("-" if neg else "") + f"{mant}p{'-' if exp < 0 else '+'}{abs(exp)}"
    if verb == "F":
        verb = "f"
    if prec < 0:
        digits, dp = shortest_digits(f)
        if verb in "eE":
            return _fmt_e(neg, digits, dp, len(digits) - 1, verb)
        if verb == "f":
            return _fmt_f(neg, digits, dp, max(len(digits) - dp, 0))
        # %g shortest: exponent form when the exponent is < -4 or >= 6
        exp = dp - 1 if digits != "0" else 0
        if exp < -4 or exp >= 6:
            return _fmt_e(neg, digits, dp, len(digits) - 1, "e" if verb == "g" else "E")
        return _fmt_f(neg, digits, dp, max(len(digits) - dp, 0))
    if verb in "eEf":
        return f"{f:.{prec}{verb}}"
    # %g / %G with a precision: Python's rules agree with Go's here
    if prec == 0:
        prec = 1
    out = f"{f:.{prec}{verb}}"
    return out


# --- quoting --------------------------------------------------------------------------------------------

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def quote_rune(ch: str, quote: str, ascii_only: bool) -> str:
    if ch == quote or ch == "\\":
        return "\\" + ch
    cp = ord(ch)
    if 0xDC80 <= cp <= 0xDCFF:  # an invalid byte carried by surrogateescape
        return f"\\x{cp - 0xDC00:02x}"
    if ascii_only:
        if cp < 0x80 and ch.isprintable():
            return ch
    elif ch.isprintable():
        return ch
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if cp < 0x20 or cp == 0x7F:
        return f"\\x{cp:02x}"
    if 0xD800 <= cp <= 0xDFFF:
        cp = 0xFFFD
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def go_quote(s: str, quote: str = '"') -> str:
    """strconv.Quote: a double-quoted Go string literal, non-printable runes escaped."""
    return quote + "".join(quote_rune(ch, quote, False) for ch in s) + quote


def go_quote_ascii(s: str, quote: str = '"') -> str:
    """strconv.QuoteToASCII."""
    return quote + "".join(quote_rune(ch, quote, True) for ch in s) + quote


def is_print(ch: str) -> bool:
    """strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space."""
    return ch.isprintable()


# --- unquoting and number literals -------------------------------------------------------------------------

_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_HEXDIGITS = "0123456789abcdefABCDEF"


class QuoteSyntaxError(ValueError):
    """A quoted literal strconv.Unquote rejects."""


def unquote_char(s: str, i: int, quote: str) -> tuple[str | bytes, int]:
    """strconv.UnquoteChar at s[i]: one character or escape; returns (char or byte, next index)."""
    ch = s[i]
    if ch == quote and quote in "'\"":
        raise QuoteSyntaxError
    if ch != "\\":
        return ch, i + 1
    if i + 1 >= len(s):
        raise QuoteSyntaxError
    c = s[i + 1]
    i += 2
    if c in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[c], i
    if c in "xuU":
        n = {"x": 2, "u": 4, "U": 8}[c]
        digits = s[i : i + n]
        if len(digits) < n or any(d not in _HEXDIGITS for d in digits):
            raise QuoteSyntaxError
        v = int(digits, 16)
        if c == "x":
            return bytes([v]), i + n
        if v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
            raise QuoteSyntaxError
        return chr(v), i + n
    if "0" <= c <= "7":
        digits = s[i - 1 : i + 2]
        if len(digits) < 3 or any(d not in "01234567" for d in digits):
            raise QuoteSyntaxError
        v = int(digits, 8)
        if v > 255:
            raise QuoteSyntaxError
        return bytes([v]), i + 2
    if c == quote and quote in "'\"":
        return c, i
    raise QuoteSyntaxError


def unquote(quoted: str) -> str:
    """strconv.Unquote for "..." and `...` literals; raises ValueError("invalid syntax")."""
    if len(quoted) < 2 or quoted[0] != quoted[-1]:
        raise ValueError("invalid syntax")
    q = quoted[0]
    body = quoted[1:-1]
    if q == "`":
        if "`" in body:
            raise ValueError("invalid syntax")
        return body.replace("\r", "")
    if q != '"':
        raise ValueError("invalid syntax")
    if "\\" not in body and '"' not in body and "\n" not in body:
        return body
    parts: list[str] = []
    pending = bytearray()
    i = 0
    try:
        while i < len(body):
            if body[i] == "\n":
                raise QuoteSyntaxError
            piece, i = unquote_char(body, i, '"')
            if isinstance(piece, bytes):
                pending += piece
                continue
            if pending:
                parts.append(pending.decode("utf-8", "surrogateescape"))
                pending = bytearray()
            parts.append(piece)
    except QuoteSyntaxError:
        raise ValueError("invalid syntax") from None
    if pending:
        parts.append(pending.decode("utf-8", "surrogateescape"))
    return "".join(parts)


def underscore_ok(s: str) -> bool:
    """strconv's underscoreOK: underscores only between digits (or after a base prefix)."""
    saw = "^"
    i = 0
    if s[:1] in ("+", "-"):
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in "box":
        i = 2
        saw = "0"
        hexa = s[1].lower() == "x"
    while i < len(s):
        c = s[i]
        if "0" <= c <= "9" or (hexa and "a" <= c.lower() <= "f"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
        i += 1
    return saw != "_"


def parse_int(text: str, *, signed: bool) -> int | None:
    """strconv.ParseInt / ParseUint with base 0 (prefixes 0x 0o 0b 0 and underscores)."""
    if "_" in text and not underscore_ok(text):
        return None
    s = text.replace("_", "")
    neg = False
    if s[:1] in ("+", "-"):
        if not signed:
            return None
        neg = s[0] == "-"
        s = s[1:]
    if not s:
        return None
    base = 10
    if len(s) > 1 and s[0] == "0":
        kind = s[1].lower()
        if kind == "x":
            base, s = 16, s[2:]
        elif kind == "o":
            base, s = 8, s[2:]
        elif kind == "b":
            base, s = 2, s[2:]
        else:
            base, s = 8, s[1:]
    if not s or s[0] in "+-":
        return None
    try:
        v = int(s, base)
    except ValueError:
        return None
    if neg:
        v = -v
    if signed and not -(1 << 63) <= v < (1 << 63):
        return None
    if not signed and not 0 <= v < (1 << 64):
        return None
    return v


def parse_float(text: str) -> float | None:
    if "_" in text:
        is_hex = text.lower().lstrip("+-").startswith("0x")
        mantissa = re.split("[pP]" if is_hex else "[eE]", text)[0]
        if not underscore_ok(mantissa):
            return None
    s = text.replace("_", "")
    try:
        low = s.lower().lstrip("+-")
        if low.startswith("0x"):
            if "p" not in low:
                return None
            f = float.fromhex(s)
            return None if math.isinf(f) else f
        if low.startswith(("0o", "0b")) or low in ("inf", "infinity", "nan") or "n" in low or "i" in low:
            return None
        f = float(s)
    except (ValueError, OverflowError):
        return None
    return None if math.isinf(f) else f


# --- options' number parsing (base 10, float32) ----------------------------------------------------------------

_GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


def parse_bool(text: str) -> bool | None:
    """strconv.ParseBool; None on a syntax error."""
    return _GO_BOOLS.get(text)


_GO_INT = re.compile(r"[+-]?[0-9]+")


def parse_int64(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64): ASCII digits with an optional sign, within int64."""
    if not _GO_INT.fullmatch(text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


def parse_float32(text: str) -> float | None:
    """strconv.ParseFloat(text, 32) then Go's float32 JSON form, read back as a Python float.

    Returns None on a syntax or range error. The float returned is the one Ollama stores: Go marshals the
    float32 with its shortest digits (``0.7`` stays ``0.7``) and the server reads them back as float64.
    """
    exact = _float_syntax(text)
    if exact is None:
        return None
    if isinstance(exact, float):  # inf / nan
        return exact
    f32 = _round_to_float32(exact)
    if f32 is None:
        return None
    return float(_shortest_float32(f32))


_SPECIAL = re.compile(r"([+-]?)(inf|infinity)|nan", re.IGNORECASE)


def _float_syntax(text: str) -> Fraction | float | None:
    """Parse Go float syntax (decimal, hex with p exponent, underscores, inf/infinity/nan) exactly."""
    m = _SPECIAL.fullmatch(text)
    if m:
        if m.group(2) is None:
            return math.nan
        return -math.inf if m.group(1) == "-" else math.inf
    s = text
    neg = s[:1] == "-"
    if s[:1] in "+-":
        s = s[1:]
    hexa = len(s) > 2 and s[0] == "0" and s[1] in "xX"
    body = s[2:] if hexa else s
    digit_chars = "0123456789abcdefABCDEF" if hexa else "0123456789"
    exp_char = "pP" if hexa else "eE"
    i, int_digits, frac_digits, saw_dot, underscores = 0, "", "", False, False
    while i < len(body):
        c = body[i]
        if c == "_":
            underscores = True
        elif c == ".":
            if saw_dot:
                return None
            saw_dot = True
        elif c in digit_chars:
            if saw_dot:
                frac_digits += c
            else:
                int_digits += c
        else:
            break
        i += 1
    if not int_digits and not frac_digits:
        return None
    exp = 0
    if i < len(body) and body[i] in exp_char:
        i += 1
        esign = 1
        if i < len(body) and body[i] in "+-":
            esign = -1 if body[i] == "-" else 1
            i += 1
        edigits = ""
        while i < len(body) and ((body[i].isascii() and body[i].isdigit()) or body[i] == "_"):
            if body[i] == "_":
                underscores = True
            else:
                edigits += body[i]
            i += 1
        if not edigits:
            return None
        exp = esign * int(edigits)
    elif hexa:
        return None  # a hex float needs its p exponent
    if i != len(body):
        return None
    if underscores and not underscore_ok(text[: len(text) - len(body) + i]):
        return None
    if hexa:
        mant = int(int_digits + frac_digits or "0", 16)
        value = Fraction(mant) * Fraction(2) ** (exp - 4 * len(frac_digits))
    else:
        dec = Decimal(f"{int_digits or '0'}.{frac_digits or '0'}E{exp}")
        if dec != 0 and dec.adjusted() > 60:
            value = Fraction(2) ** 200  # certainly out of float32 range
        elif dec != 0 and dec.adjusted() < -80:
            value = Fraction(0)  # certainly rounds to zero
        else:
            value = Fraction(dec)
    return -value if neg else value


_F32_MAX_EDGE = Fraction(2**128 - 2**103)  # halfway between MaxFloat32 and 2**128: rounds to infinity


def _round_to_float32(value: Fraction) -> float | None:
    """Round an exact value to the nearest float32 (ties to even); None when it overflows."""
    if value == 0:
        return 0.0
    sign = -1.0 if value < 0 else 1.0
    a = abs(value)
    if a >= _F32_MAX_EDGE:
        return None
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    quantum = max(e - 23, -149)
    n = round(a / Fraction(2) ** quantum)  # Fraction rounds half to even
    return sign * float(n * Fraction(2) ** quantum)


def _shortest_float32(value: float) -> str:
    """The shortest decimal string that reads back as this float32 (Go's strconv 'g', -1, 32 digits)."""
    if value == 0 or not math.isfinite(value):
        return repr(value)
    exact = Fraction(value)
    for digits in range(1, 10):
        base = Decimal(f"{value:.{digits - 1}e}")
        unit = Decimal(1).scaleb(base.adjusted() - (digits - 1))
        best = None
        for cand in (base - unit, base, base + unit):
            if cand != 0 and _round_to_float32(Fraction(cand)) == value:
                dist = abs(Fraction(cand) - exact)
                if best is None or dist < best[0]:
                    best = (dist, cand)
        if best is not None:
            return str(best[1])
    return repr(value)
