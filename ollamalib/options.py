"""Model options: Ollama's option table and defaults, typing of PARAMETER strings and request ``options``.

Mirrors api/types.go (``Options``, ``DefaultOptions``, ``FormatParams``, ``Options.FromMap``) and the
``parameters`` text of ``/api/show`` (routes.go), including Go's number and string formatting, so values,
error texts and printed forms match Ollama's.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Literal

from .errors import InvalidOptionError

__all__ = [
    "DEFAULT_OPTIONS",
    "DEPRECATED_OPTIONS",
    "DEPRECATED_PARAMETERS",
    "OPTIONS",
    "RUNNER_OPTIONS",
    "OptionSpec",
    "default_options",
    "format_parameters",
    "format_params",
    "merge_options",
    "params_json",
    "validate_options",
]

log = logging.getLogger(__name__)

OptionKind = Literal["int", "float", "bool", "list"]


@dataclass(frozen=True)
class OptionSpec:
    """One option: its JSON name, Go kind, code default (None = unset) and whether it is fixed at load time."""

    name: str
    kind: OptionKind
    default: Any
    runner: bool
    description: str


_SPECS = (
    OptionSpec("num_ctx", "int", None, True, "context window in tokens; default from OLLAMA_CONTEXT_LENGTH/VRAM"),
    OptionSpec("num_batch", "int", 512, True, "prompt tokens processed per batch"),
    OptionSpec("num_gpu", "int", -1, True, "layers offloaded to the GPU; -1 automatic, 0 CPU only"),
    OptionSpec("main_gpu", "int", None, True, "GPU used for small tensors"),
    OptionSpec("use_mmap", "bool", None, True, "memory-map the model file; unset means automatic"),
    OptionSpec("num_thread", "int", 0, True, "CPU threads; 0 lets the runtime decide"),
    OptionSpec("draft_num_predict", "int", None, True, "tokens a draft model proposes per step (4 with a draft)"),
    OptionSpec("num_keep", "int", 4, False, "prompt tokens kept when the context shifts"),
    OptionSpec("seed", "int", -1, False, "random seed; -1 picks a random one"),
    OptionSpec("num_predict", "int", -1, False, "maximum tokens to generate; -1 until a stop condition"),
    OptionSpec("top_k", "int", 40, False, "sample from the k most likely tokens"),
    OptionSpec("top_p", "float", 0.9, False, "nucleus sampling threshold"),
    OptionSpec("min_p", "float", 0.0, False, "minimum probability relative to the most likely token"),
    OptionSpec("typical_p", "float", 1.0, False, "locally typical sampling; 1.0 disables"),
    OptionSpec("repeat_last_n", "int", 64, False, "tokens looked back for repeat penalties; 0 off, -1 num_ctx"),
    OptionSpec("temperature", "float", 0.8, False, "sampling temperature"),
    OptionSpec("repeat_penalty", "float", 1.0, False, "penalty for repeated tokens"),
    OptionSpec("presence_penalty", "float", 0.0, False, "penalty for tokens already present"),
    OptionSpec("frequency_penalty", "float", 0.0, False, "penalty scaled by token frequency"),
    OptionSpec("stop", "list", None, False, "stop sequences (a list; repeat PARAMETER stop to add more)"),
)

OPTIONS: Mapping[str, OptionSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})
"""Every option Ollama accepts, by JSON name, in api/types.go order."""

RUNNER_OPTIONS: frozenset[str] = frozenset(spec.name for spec in _SPECS if spec.runner)
"""Options fixed when a model is loaded; changing one means reloading the runner."""

DEFAULT_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {spec.name: spec.default for spec in _SPECS if spec.default is not None}
)
"""Ollama's code defaults for the options that have one (num_ctx depends on settings: see default_options)."""

DEPRECATED_PARAMETERS: tuple[str, ...] = (
    "penalize_newline",
    "low_vram",
    "f16_kv",
    "logits_all",
    "vocab_only",
    "use_mlock",
    "mirostat",
    "mirostat_tau",
    "mirostat_eta",
)
"""PARAMETER names Ollama's Modelfile parser ignores with ``warning: parameter X is deprecated``."""

DEPRECATED_OPTIONS: tuple[str, ...] = (*DEPRECATED_PARAMETERS, "numa")
"""Option names Ollama no longer has; in request ``options`` they are ignored with a warning."""


def default_options(num_ctx: int, *, has_draft: bool = False) -> dict[str, Any]:
    """Ollama's DefaultOptions with ``num_ctx`` from settings; ``draft_num_predict`` is 4 with a draft, else 0."""
    opts = dict(DEFAULT_OPTIONS)
    opts["num_ctx"] = num_ctx
    opts["draft_num_predict"] = 4 if has_draft else 0
    return opts


# --- FormatParams: PARAMETER strings -> typed values ------------------------------------------------------


def format_params(params: Mapping[str, Sequence[str] | str]) -> dict[str, Any]:
    """Type Modelfile / ``/set parameter`` strings the way Ollama's FormatParams does.

    Each key maps to its string values (a plain string counts as one). ``stop`` keeps all values as a list;
    other options parse the first value. Deprecated names are skipped with a logged warning. Raises
    InvalidOptionError with Ollama's texts: ``unknown parameter 'X'``, ``invalid int value [x]``,
    ``invalid float value [x]``, ``invalid bool value [x]``.
    """
    out: dict[str, Any] = {}
    for key, raw in params.items():
        vals = [raw] if isinstance(raw, str) else [str(v) for v in raw]
        if key in DEPRECATED_PARAMETERS:
            log.warning("parameter %s is deprecated", key)
            continue
        spec = OPTIONS.get(key)
        if spec is None:
            raise InvalidOptionError(f"unknown parameter '{key}'")
        shown = "[" + " ".join(vals) + "]"
        first = vals[0] if vals else ""
        if spec.kind == "list":
            out[key] = list(vals)
        elif spec.kind == "int":
            value = _parse_go_int(first)
            if value is None:
                raise InvalidOptionError(f"invalid int value {shown}")
            out[key] = value
        elif spec.kind == "float":
            fvalue = _parse_go_float32(first)
            if fvalue is None:
                raise InvalidOptionError(f"invalid float value {shown}")
            out[key] = fvalue
        else:
            bvalue = _GO_BOOLS.get(first)
            if bvalue is None:
                raise InvalidOptionError(f"invalid bool value {shown}")
            out[key] = bvalue
    return out


_GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}
_GO_INT = re.compile(r"[+-]?[0-9]+")


def _parse_go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64): ASCII digits with an optional sign, within int64."""
    if not _GO_INT.fullmatch(text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


def _parse_go_float32(text: str) -> float | None:
    """strconv.ParseFloat(text, 32) then Go's float32 JSON form, read back as a Python float.

    Returns None on a syntax or range error. The float returned is the one Ollama stores: Go marshals the
    float32 with its shortest digits (``0.7`` stays ``0.7``) and the server reads them back as float64.
    """
    exact = _go_float_syntax(text)
    if exact is None:
        return None
    if isinstance(exact, float):  # inf / nan
        return exact
    f32 = _round_to_float32(exact)
    if f32 is None:
        return None
    return float(_shortest_float32(f32))


_SPECIAL = re.compile(r"([+-]?)(inf|infinity)|nan", re.IGNORECASE)


def _go_float_syntax(text: str) -> Fraction | float | None:
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
    if underscores and not _underscore_ok(text[: len(text) - len(body) + i]):
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


def _underscore_ok(s: str) -> bool:
    """Go's strconv.underscoreOK: underscores only between digits, or between a base prefix and a digit."""
    if s[:1] in ("+", "-"):
        s = s[1:]
    saw, i, hexa = "^", 0, False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in "box":
        i, saw, hexa = 2, "0", s[1].lower() == "x"
    for c in s[i:]:
        if c.isascii() and (c.isdigit() or (hexa and c.lower() in "abcdef")):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


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


# --- Options.FromMap: request options -> checked values ---------------------------------------------------

_KIND_NAMES = {"int": "integer", "float": "float32", "bool": "boolean", "list": "array"}


def validate_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check request ``options`` the way Ollama's Options.FromMap does and return the cleaned values.

    Unknown keys are dropped with a logged warning, ``None`` values are skipped. Numbers are accepted for
    both integer and float options (a float for an integer option is truncated, as Go does). A wrong type
    raises InvalidOptionError(``option "X" must be of type integer|float32|boolean|array``).
    """
    out: dict[str, Any] = {}
    for key, val in (options or {}).items():
        spec = OPTIONS.get(key)
        if spec is None:
            if key in DEPRECATED_OPTIONS:
                log.warning("invalid option provided: option %s is deprecated", key)
            else:
                log.warning("invalid option provided: option %s", key)
            continue
        if val is None:
            continue
        out[key] = _check_option(spec, val)
    return out


def _check_option(spec: OptionSpec, val: Any) -> Any:
    err = InvalidOptionError(f"option {_go_quote(spec.name)} must be of type {_KIND_NAMES[spec.kind]}")
    is_number = isinstance(val, (int, float)) and not isinstance(val, bool)
    if spec.kind == "int":
        if not is_number or (isinstance(val, float) and not math.isfinite(val)):
            raise err
        return int(val)
    if spec.kind == "float":
        if not is_number:
            raise err
        return float(val)
    if spec.kind == "bool":
        if not isinstance(val, bool):
            raise err
        return val
    if not isinstance(val, (list, tuple)):
        raise err
    if not all(isinstance(item, str) for item in val):
        raise InvalidOptionError(f"option {_go_quote(spec.name)} must be of an array of strings")
    return list(val)


def merge_options(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge option layers (defaults, Modelfile parameters, request options); later layers win.

    ``None`` layers and ``None`` values are skipped; lists (``stop``) are replaced, not concatenated.
    """
    out: dict[str, Any] = {}
    for layer in layers:
        if not layer:
            continue
        for key, val in layer.items():
            if val is not None:
                out[key] = list(val) if isinstance(val, (list, tuple)) else val
    return out


# --- printed forms -----------------------------------------------------------------------------------------


def format_parameters(params: Mapping[str, Any] | None) -> str:
    """The ``parameters`` text of ``/api/show``: ``%-30s %#v`` per option, one line per list value.

    Values print as Go prints the JSON-decoded params layer: numbers as float64 (``0.7``, ``1``,
    ``1e+06``), strings quoted (``"<|im_end|>"``), booleans ``true``/``false``.
    """
    lines = []
    for key, val in (params or {}).items():
        for item in val if isinstance(val, (list, tuple)) else [val]:
            lines.append(f"{key:<30} {_go_format(item, sharp=True)}")
    return "\n".join(lines)


def params_json(params: Mapping[str, Any]) -> bytes:
    """The params layer blob exactly as Ollama writes it (Go json.Encoder: sorted keys, HTML-escaped, newline)."""
    return (_go_json(dict(params)) + "\n").encode()


def _go_json(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _go_json_float(float(value))
    if isinstance(value, str):
        return _go_json_string(value)
    if isinstance(value, Mapping):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{_go_json_string(k)}:{_go_json(v)}" for k, v in items) + "}"
    if isinstance(value, Iterable):
        return "[" + ",".join(_go_json(v) for v in value) + "]"
    raise TypeError(f"json: unsupported type: {type(value).__name__}")


def _go_json_float(x: float) -> str:
    if not math.isfinite(x):
        raise ValueError(f"json: unsupported value: {_go_format(x)}")
    if x != 0 and (abs(x) < 1e-6 or abs(x) >= 1e21):
        digits, point = _shortest_digits(x)
        text = _fmt_e(x < 0, digits, point)
        return re.sub(r"e-0(\d)$", r"e-\1", text)
    digits, point = _shortest_digits(x)
    return _fmt_f(x < 0 or math.copysign(1.0, x) < 0, digits, point)


_JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _go_json_string(s: str) -> str:
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch in _JSON_ESCAPES:
            out.append(_JSON_ESCAPES[ch])
        elif c < 0x20 or ch in "<>&" or c in (0x2028, 0x2029):
            out.append(f"\\u{c:04x}")
        elif 0xD800 <= c <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


# --- Go fmt helpers (also used by modelfile.py) ----------------------------------------------------------


def _is_print(ch: str) -> bool:
    """Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space."""
    if " " <= ch <= "~":
        return True
    if ch < "\xa1":
        return False
    return unicodedata.category(ch)[0] in "LMNPS"


_QUOTE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _go_quote(s: str) -> str:
    """Go's strconv.Quote (what ``%q`` and ``%#v`` print for a string)."""
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif _is_print(ch) and not 0xD800 <= c <= 0xDFFF:
            out.append(ch)
        elif ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif c < 0x20 or c == 0x7F:
            out.append(f"\\x{c:02x}")
        elif 0xD800 <= c <= 0xDFFF:
            out.append("\\ufffd")
        elif c < 0x10000:
            out.append(f"\\u{c:04x}")
        else:
            out.append(f"\\U{c:08x}")
    out.append('"')
    return "".join(out)


def _go_format(value: Any, *, sharp: bool = False) -> str:
    """Go's ``%v`` (or ``%#v`` with sharp) of a JSON-decoded value; every number is a float64."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _go_float_v(float(value))
    if isinstance(value, str):
        return _go_quote(value) if sharp else value
    if isinstance(value, Mapping):
        items = sorted((str(k), v) for k, v in value.items())
        if sharp:
            inner = ", ".join(f"{_go_quote(k)}:{_go_format(v, sharp=True)}" for k, v in items)
            return "map[string]interface {}{" + inner + "}"
        return "map[" + " ".join(f"{k}:{_go_format(v)}" for k, v in items) + "]"
    if isinstance(value, Iterable):
        if sharp:
            return "[]interface {}{" + ", ".join(_go_format(v, sharp=True) for v in value) + "}"
        return "[" + " ".join(_go_format(v) for v in value) + "]"
    return str(value)


def _go_float_v(x: float) -> str:
    """Go's ``%v`` of a float64: shortest digits, exponent form below 1e-4 or from 1e+06 (``1e+06``)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    neg = math.copysign(1.0, x) < 0
    digits, point = _shortest_digits(x)
    exp = point - 1
    if digits != "0" and (exp < -4 or exp >= 6):
        return _fmt_e(neg, digits, point)
    return _fmt_f(neg, digits, point)


def _shortest_digits(x: float) -> tuple[str, int]:
    """Shortest round-trip digits of a float64 and the decimal point position (0.25 -> ("25", 0))."""
    if x == 0:
        return "0", 1
    _, digit_tuple, exponent = Decimal(repr(abs(x))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    assert isinstance(exponent, int)
    point = len(digit_tuple) + exponent
    return digits or "0", point


def _fmt_e(neg: bool, digits: str, point: int) -> str:
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exp = point - 1
    return f"{'-' if neg else ''}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _fmt_f(neg: bool, digits: str, point: int) -> str:
    if digits == "0":
        return "-0" if neg else "0"
    if point <= 0:
        text = "0." + "0" * (-point) + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = digits[:point] + "." + digits[point:]
    return ("-" if neg else "") + text
