"""Model management: show, stop, list/ls, ps, cp, rm."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import Any

from .._context import Context
from .._errors import CLIError, UsageError
from .._output import human_bytes, human_time, render_table
from .._showinfo import render_show

__all__ = ["add_cp", "add_list", "add_ps", "add_rm", "add_show", "add_stop", "is_loaded", "unload"]

_SHOW_FIELDS = ("license", "modelfile", "parameters", "system", "template")


def add_show(sub: Any, common: argparse.ArgumentParser, fmt: type) -> None:
    p = sub.add_parser("show", parents=[common], formatter_class=fmt, help="Show information for a model",
                       description="Show information for a model.")
    p.add_argument("model", metavar="MODEL", help="Model to show")
    p.add_argument("--license", action="store_true", help="Show license of a model")
    p.add_argument("--modelfile", action="store_true", help="Show Modelfile of a model")
    p.add_argument("--parameters", action="store_true", help="Show parameters of a model")
    p.add_argument("--system", action="store_true", help="Show system message of a model")
    p.add_argument("--template", action="store_true", help="Show template of a model")
    p.add_argument("-v", "--verbose", action="store_true", help="Show detailed model information")
    p.set_defaults(func=show)


def show(ctx: Context, args: argparse.Namespace) -> int:
    chosen = [name for name in _SHOW_FIELDS if getattr(args, name)]
    if len(chosen) > 1:
        raise UsageError("only one of '--license', '--modelfile', '--parameters', '--system', or '--template' "
                         "can be specified")
    resp = ctx.api.show(args.model, verbose=args.verbose)
    if chosen:
        value = getattr(resp, chosen[0]) or ""
        ctx.out(value, end="" if chosen[0] in ("system", "template") else "\n")
        return 0
    ctx.out(render_show(resp, verbose=args.verbose), end="")
    return 0


def add_stop(sub: Any, common: argparse.ArgumentParser, fmt: type) -> None:
    p = sub.add_parser("stop", parents=[common], formatter_class=fmt, help="Stop a running model",
                       description="Unload a running model from memory.")
    p.add_argument("model", metavar="MODEL", help="Model to unload")
    p.set_defaults(func=stop)


def _same_model(a: str, b: str) -> bool:
    from ollamalib.names import ModelName

    try:
        return ModelName.parse(a) == ModelName.parse(b)
    except ValueError:
        return a == b


def is_loaded(api: Any, model: str) -> bool:
    """Whether ``model`` is among the running models."""
    return any(_same_model(m.name, model) or _same_model(m.model, model) for m in api.ps().models)


def unload(api: Any, model: str) -> bool:
    """Unload ``model`` if it is running (a load request with keep_alive 0); True when it was."""
    if not is_loaded(api, model):
        return False
    api.generate(model=model, keep_alive=0)
    return True


def stop(ctx: Context, args: argparse.Namespace) -> int:
    from ollamalib.errors import ModelNotFoundError

    try:
        if not unload(ctx.api, args.model):
            ctx.api.show(args.model)
    except ModelNotFoundError:
        raise CLIError(f'couldn\'t find model "{args.model}" to stop') from None
    return 0


def add_list(sub: Any, common: argparse.ArgumentParser, fmt: type) -> None:
    p = sub.add_parser("list", aliases=["ls"], parents=[common], formatter_class=fmt, help="List models",
                       description="List the models in the store, newest first.")
    p.add_argument("prefix", nargs="?", metavar="PREFIX", help="Only models whose name starts with this")
    p.set_defaults(func=list_models)


def _matches(name: str, prefix: str | None) -> bool:
    return not prefix or name.lower().startswith(prefix.lower())


def list_models(ctx: Context, args: argparse.Namespace) -> int:
    rows = [
        [m.name, m.digest[:12], human_bytes(m.size), human_time(m.modified_at)]
        for m in ctx.api.list().models
        if _matches(m.name, args.prefix)
    ]
    ctx.out(render_table(rows, ["NAME", "ID", "SIZE", "MODIFIED"]), end="")
    return 0


def add_ps(sub: Any, common: argparse.ArgumentParser, fmt: type) -> None:
    p = sub.add_parser("ps", parents=[common], formatter_class=fmt, help="List running models",
                       description="List the models loaded in memory.")
    p.add_argument("prefix", nargs="?", metavar="PREFIX", help="Only models whose name starts with this")
    p.set_defaults(func=ps)


def processor(size: int, size_vram: int) -> str:
    """``100% CPU``, ``100% GPU``, ``48%/52% CPU/GPU`` or ``Unknown``, as Ollama's ps prints it."""
    if size_vram == 0:
        return "100% CPU"
    if size_vram == size:
        return "100% GPU"
    if size_vram > size or size == 0:
        return "Unknown"
    cpu = round((size - size_vram) / size * 100)
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


def until(expires_at: datetime | None) -> str:
    if expires_at is not None:
        when = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=timezone.utc)
        if when < datetime.now(timezone.utc):
            return "Stopping..."
    return human_time(expires_at, "Forever")


def ps(ctx: Context, args: argparse.Namespace) -> int:
    models = [m for m in ctx.api.ps().models if _matches(m.name, args.prefix)]
    slots = any(getattr(m, "num_parallel", None) for m in models)
    header = ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT"] + (["SLOTS"] if slots else []) + ["UNTIL"]
    rows = []
    for m in models:
        row = [m.name, m.digest[:12], human_bytes(m.size), processor(m.size, m.size_vram or 0),
               str(m.context_length or "")]
        if slots:
            row.append(f"{m.slots_in_use or 0}/{m.num_parallel}" if m.num_parallel else "")
        row.append(until(m.expires_at))
        rows.append(row)
    ctx.out(render_table(rows, header), end="")
    return 0


def add_cp(sub: Any, common: argparse.ArgumentParser, fmt: type) -> None:
    p = sub.add_parser("cp", parents=[common], formatter_class=fmt, help="Copy a model",
                       description="Copy a model under a new name (the manifest only; blobs are shared).")
    p.add_argument("source", metavar="SOURCE", help="Model to copy")
    p.add_argument("destination", metavar="DESTINATION", help="New name")
    p.set_defaults(func=cp)


def cp(ctx: Context, args: argparse.Namespace) -> int:
    ctx.api.copy(args.source, args.destination)
    ctx.out(f"copied '{args.source}' to '{args.destination}'")
    return 0


def add_rm(sub: Any, common: argparse.ArgumentParser, fmt: type) -> None:
    p = sub.add_parser("rm", parents=[common], formatter_class=fmt, help="Remove a model",
                       description="Remove models (unloading them first when they are running).")
    p.add_argument("models", nargs="+", metavar="MODEL", help="Models to remove")
    p.set_defaults(func=rm)


def rm(ctx: Context, args: argparse.Namespace) -> int:
    for name in args.models:
        try:
            unload(ctx.api, name)
        except Exception as exc:  # a model that cannot be stopped can still be deleted
            ctx.err(f"Warning: unable to stop model '{name}': {exc}")
        ctx.api.delete(name)
        ctx.out(f"deleted '{name}'")
    return 0
