"""Picking Ollama's named Go template for a GGUF's Jinja chat template (template.Named).

A directory laid out like Ollama's ``template/`` holds ``index.json`` (``[{name, template}]``, the Jinja
text each named template stands for), ``<name>.gotmpl`` and ``<name>.json`` (default parameters such as
``stop``). The closest Jinja text by Levenshtein distance wins if the distance is under 100; ties go to
the first entry, as in Ollama.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["MAX_DISTANCE", "NamedTemplate", "levenshtein", "load_named_templates", "match_named_template"]

MAX_DISTANCE = 100
"""A named template matches when its Jinja text is closer than this (Ollama's ``score < 100``)."""


@dataclass(frozen=True)
class NamedTemplate:
    """A named Go template with its default parameters (the ``<name>.json`` next to it)."""

    name: str
    template: str
    parameters: dict[str, Any] = field(default_factory=dict)
    jinja: str = ""

    @property
    def stop(self) -> list[str]:
        """The default stop sequences (empty when the template has none)."""
        stop = self.parameters.get("stop")
        return [str(s) for s in stop] if isinstance(stop, list) else []


def levenshtein(a: str, b: str, bound: int | None = None) -> int:
    """Edit distance between two strings, counted in code points (Myers' bit-parallel algorithm).

    With ``bound``, any result >= bound may be reported as ``bound`` (a cheap early exit).
    """
    if a == b:
        return 0
    # common prefix and suffix do not change the distance
    start = 0
    n = min(len(a), len(b))
    while start < n and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = a[start:end_a], b[start:end_b]
    if len(a) > len(b):
        a, b = b, a
    m = len(a)
    if m == 0:
        return len(b) if bound is None else min(len(b), bound)
    if bound is not None and len(b) - m >= bound:
        return bound
    peq: dict[str, int] = {}
    for i, ch in enumerate(a):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    full = (1 << m) - 1
    high = 1 << (m - 1)
    pv, mv, score = full, 0, m
    remaining = len(b)
    for ch in b:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = ((((eq & pv) + pv) & full) ^ pv) | eq
        ph = mv | (~(xh | pv) & full)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = ((ph << 1) | 1) & full
        mh = (mh << 1) & full
        pv = mh | (~(xv | ph) & full)
        mv = ph & xv
        remaining -= 1
        if bound is not None and score - remaining >= bound:
            return bound
    return score


@lru_cache(maxsize=8)
def _load(directory: str, mtime: float) -> tuple[NamedTemplate, ...]:
    base = Path(directory)
    entries = json.loads((base / "index.json").read_text(encoding="utf-8"))
    out: list[NamedTemplate] = []
    for entry in entries:
        name = str(entry["name"])
        text = (base / f"{name}.gotmpl").read_bytes().replace(b"\r\n", b"\n").decode("utf-8")
        params_path = base / f"{name}.json"
        params = json.loads(params_path.read_text(encoding="utf-8")) if params_path.is_file() else {}
        out.append(NamedTemplate(name=name, template=text, parameters=params, jinja=str(entry["template"])))
    return tuple(out)


def load_named_templates(directory: str | os.PathLike[str]) -> tuple[NamedTemplate, ...]:
    """Every entry of ``<directory>/index.json`` with its Go template and parameters, in index order."""
    index = Path(directory) / "index.json"
    return _load(str(Path(directory).resolve()), index.stat().st_mtime)


def match_named_template(jinja_text: str, directory: str | os.PathLike[str]) -> NamedTemplate | None:
    """The named template Ollama would pick for this Jinja chat template, or None when none is close."""
    best: NamedTemplate | None = None
    score = MAX_DISTANCE
    for named in load_named_templates(directory):
        d = levenshtein(jinja_text, named.jinja, bound=score)
        if d < score:
            score, best = d, named
    return best
