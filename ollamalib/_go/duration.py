"""Go's time.Duration: parsing (``time.ParseDuration``), printing (``Duration.String``) and its range.

Durations are seconds as floats here; Go counts int64 nanoseconds, so MAX_DURATION is the longest one.
"""

from __future__ import annotations

import re

from ..errors import InvalidOptionError

__all__ = ["MAX_DURATION", "format_duration", "parse_duration"]

MAX_DURATION = (2**63 - 1) / 1e9
"""Go's longest time.Duration, in seconds. Beyond it Go overflows; Ollama then keeps a model forever."""

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Parse a Go duration string (``"5m"``, ``"1h30m"``, ``"-1m"``, ``"0"``) into seconds.

    Raises InvalidOptionError with Go's message, e.g. ``time: missing unit in duration "3600"``.
    """
    s = text.strip()
    orig = s
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise InvalidOptionError(f'time: invalid duration "{orig}"')
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            if re.fullmatch(r"[\d.]+", s[pos:]):
                raise InvalidOptionError(f'time: missing unit in duration "{orig}"')
            num = re.match(r"[\d.]+", s[pos:])
            if num:
                unit = re.match(r"[^\d.]+", s[pos + num.end() :])
                raise InvalidOptionError(f'time: unknown unit "{unit.group(0) if unit else ""}" in duration "{orig}"')
            raise InvalidOptionError(f'time: invalid duration "{orig}"')
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if total > MAX_DURATION:
        raise InvalidOptionError(f'time: invalid duration "{orig}"')
    return sign * total


def format_duration(seconds: float) -> str:
    """Format seconds the way Go prints a time.Duration (``"5m0s"``, ``"1h0m0s"``, ``"1.5s"``, ``"0s"``)."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    ns = round(abs(seconds) * 1e9)
    if ns < 1_000_000_000:
        for unit, scale in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= scale:
                return f"{sign}{_trim(ns / scale)}{unit}"
    h, rem = divmod(ns, 3600 * 10**9)
    m, rem = divmod(rem, 60 * 10**9)
    s = _trim(rem / 1e9)
    if h:
        return f"{sign}{h}h{m}m{s}s"
    if m:
        return f"{sign}{m}m{s}s"
    return f"{sign}{s}s"


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"
