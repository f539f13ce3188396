"""The sections ``ollamalib show`` prints, laid out as Ollama's ``showInfo`` does."""

from __future__ import annotations

from typing import Any

from ._output import human_number, render_table

__all__ = ["render_show"]

_ROW_INDENT = "    "


def _section(header: str, rows: list[list[str]]) -> str:
    return f"  {header}\n" + render_table(rows, indent=_ROW_INDENT) + "\n"


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _head(text: str, n: int) -> list[list[str]]:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    rows = [[line] for line in lines[:n]]
    if len(lines) > n:
        rows.append(["..."])
    return rows


def _go_value(value: Any) -> str:
    """A metadata value as Go's ``%v`` would print it; long arrays are cut to ``[a b ...+N more]``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        shown, width = 0, 1
        for i, item in enumerate(value):
            w = len(_go_value(item)) + (2 if i else 0)
            if width + w > 10 and i > 0:
                break
            width += w
            shown += 1
        body = " ".join(_go_value(v) for v in value[:shown])
        return f"[{body} ...+{len(value) - shown} more]" if shown < len(value) else f"[{body}]"
    return str(value)


def render_show(resp: Any, *, verbose: bool = False) -> str:
    """Model, Capabilities, Projector, Parameters, System, License (and Metadata/Tensors with verbose)."""
    info: dict[str, Any] = dict(resp.model_info or {})
    details = resp.details
    out: list[str] = []
    rows: list[list[str]] = []
    arch = info.get("general.architecture")
    if arch:
        params = details.parameter_size if details and details.parameter_size else ""
        if not params and info.get("general.parameter_count") is not None:
            params = human_number(info["general.parameter_count"])
        rows.append(["architecture", str(arch)])
        rows.append(["parameters", params])
        for label, key in (("context length", "context_length"), ("embedding length", "embedding_length")):
            if f"{arch}.{key}" in info:
                rows.append([label, _number(info[f"{arch}.{key}"])])
    else:
        rows.append(["architecture", details.family if details else ""])
        rows.append(["parameters", details.parameter_size if details else ""])
    rows.append(["quantization", details.quantization_level if details else ""])
    if getattr(resp, "requires", None):
        rows.append(["requires", resp.requires])
    out.append(_section("Model", rows))

    if resp.capabilities:
        out.append(_section("Capabilities", [[str(c)] for c in resp.capabilities]))

    projector = getattr(resp, "projector_info", None)
    if projector:
        parch = str(projector.get("general.architecture", ""))
        prow = [["architecture", parch]]
        if projector.get("general.parameter_count") is not None:
            prow.append(["parameters", human_number(projector["general.parameter_count"])])
        for label, key in (("embedding length", "vision.embedding_length"), ("dimensions", "vision.projection_dim")):
            if f"{parch}.{key}" in projector:
                prow.append([label, _number(projector[f"{parch}.{key}"])])
        out.append(_section("Projector", prow))

    if resp.parameters:
        prow = [line.split() for line in resp.parameters.splitlines() if line.strip()]
        out.append(_section("Parameters", prow))
    if resp.system:
        out.append(_section("System", _head(resp.system, 2)))
    if resp.license:
        out.append(_section("License", _head(resp.license, 2)))

    if verbose:
        meta = [[k, _go_value(info[k])] for k in sorted(info)]
        out.append(_section("Metadata", meta))
        tensors = getattr(resp, "tensors", None) or []
        if tensors:
            trows = []
            for t in tensors:
                get = t.get if isinstance(t, dict) else (lambda k, _t=t: getattr(_t, k, ""))
                trows.append([str(get("name")), str(get("type")), "[" + " ".join(str(d) for d in get("shape") or []) + "]"])
            out.append(_section("Tensors", trows))
    return "".join(out)
