"""Human formats and plain tables, as Ollama's ``format`` package and its borderless tablewriter print them."""

from __future__ import annotations

import math
import shutil
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import IO, Any

__all__ = [
    "go_duration",
    "human_bytes",
    "human_duration",
    "human_number",
    "human_time",
    "metrics_summary",
    "render_table",
    "terminal_width",
]

_KB, _MB, _GB = 1000, 1000**2, 1000**3


def human_bytes(n: int | float) -> str:
    """Decimal units with one decimal, like Ollama's ``format.HumanBytes`` (``4.7 GB``, ``512 B``)."""
    if n > _GB:
        return f"{n / _GB:.1f} GB"
    if n > _MB:
        return f"{n / _MB:.1f} MB"
    if n > _KB:
        return f"{n / _KB:.1f} KB"
    return f"{int(n)} B"


def human_number(n: int | float) -> str:
    """Parameter counts like ``format.HumanNumber``: ``8B``, ``2.7B``, ``268.1M``, ``512``."""
    n = int(n)
    for scale, unit in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if n >= scale:
            value = n / scale
            return f"{value:.0f}{unit}" if value == math.floor(value) else f"{value:.1f}{unit}"
    return str(n)


def human_duration(seconds: float) -> str:
    """A rough duration like Ollama's ``humanDuration``: ``About a minute``, ``3 hours``, ``2 weeks``."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds // 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(math.floor(seconds / 3600 + 0.5))
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def human_time(when: datetime | None, zero: str = "Never", *, now: datetime | None = None) -> str:
    """``2 weeks ago`` / ``4 minutes from now`` / ``Forever`` (more than 20 years ahead), as ``format.HumanTime``."""
    if when is None:
        return zero
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    delta = (now - when).total_seconds()
    if delta / 3600 / 24 / 365 < -20:
        return "Forever"
    if delta < 0:
        return human_duration(-delta) + " from now"
    return human_duration(delta) + " ago"


def render_table(
    rows: Sequence[Sequence[str]],
    header: Sequence[str] | None = None,
    *,
    padding: str = "    ",
    indent: str = "",
) -> str:
    """Left-aligned columns separated by ``padding``, no borders, trailing spaces trimmed (tablewriter-like)."""
    all_rows = ([list(header)] if header else []) + [list(r) for r in rows]
    if not all_rows:
        return ""
    ncols = max(len(r) for r in all_rows)
    widths = [0] * ncols
    for r in all_rows:
        for i, cell in enumerate(r):
            widths[i] = max(widths[i], _width(cell))
    lines = []
    for r in all_rows:
        cells = [cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(r)]
        lines.append((indent + padding.join(cells)).rstrip())
    return "\n".join(lines) + "\n"


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def go_duration(ns: int) -> str:
    """Nanoseconds printed like Go's ``time.Duration`` (``1.234567s``, ``97.885315ms``)."""
    from ollamalib.config import format_duration

    return format_duration(ns / 1e9)


def metrics_summary(resp: Any) -> str:
    """Ollama's ``--verbose`` timing block (api/types.go ``Metrics.Summary``) for a final response."""
    get = (lambda k: getattr(resp, k, None)) if not isinstance(resp, dict) else resp.get
    out: list[str] = []
    total, load = get("total_duration") or 0, get("load_duration") or 0
    pcount, pdur = get("prompt_eval_count") or 0, get("prompt_eval_duration") or 0
    ecount, edur = get("eval_count") or 0, get("eval_duration") or 0
    if total > 0:
        out.append(f"total duration:       {go_duration(total)}")
    if load > 0:
        out.append(f"load duration:        {go_duration(load)}")
    if pcount > 0:
        out.append(f"prompt eval count:    {pcount} token(s)")
    if pdur > 0:
        out.append(f"prompt eval duration: {go_duration(pdur)}")
        out.append(f"prompt eval rate:     {pcount / (pdur / 1e9):.2f} tokens/s")
    if ecount > 0:
        out.append(f"eval count:           {ecount} token(s)")
    if edur > 0:
        out.append(f"eval duration:        {go_duration(edur)}")
        out.append(f"eval rate:            {ecount / (edur / 1e9):.2f} tokens/s")
    return "".join(line + "\n" for line in out)


def truncation_notice(resp: Any) -> str:
    """A warning line when the server cut the prompt to fit its context (empty when it fit), so the CLI never
    loses context silently as Ollama's does."""
    cut = getattr(resp, "truncation", None) if not isinstance(resp, dict) else resp.get("truncation")
    if not cut:
        return ""
    get = (lambda k: getattr(cut, k, None)) if not isinstance(cut, dict) else cut.get
    what = f"the {get('n_dropped_tokens')} oldest token(s)"
    if get("n_dropped_messages"):
        what = f"the {get('n_dropped_messages')} oldest message(s)"
    return (f"warning: the prompt ({get('n_prompt_tokens')} tokens) did not fit the context ({get('n_ctx')} tokens): "
            f"{what} were left out; set a larger num_ctx to keep them\n")


def terminal_width(stream: IO[str] | None = None) -> int:
    """Columns of the terminal behind ``stream`` (0 when it is not a terminal)."""
    stream = stream or sys.stdout
    try:
        if not stream.isatty():
            return 0
    except (AttributeError, ValueError):
        return 0
    return shutil.get_terminal_size((0, 0)).columns
