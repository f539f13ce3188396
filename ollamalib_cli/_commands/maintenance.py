"""``ollamalib prune`` (hidden; Ollama has no such command): clean the local store now, without a server.

It does what a server start does: leftovers of dead processes (temporary blobs, ``.tmp-*`` folders, claims)
go at once, unused blobs and stale partial downloads when older than an hour, as Ollama prunes.
"""

from __future__ import annotations

import argparse
from typing import Any

from .._context import Context

__all__ = ["add_prune"]


def add_prune(sub: Any, common: argparse.ArgumentParser, fmt: type) -> None:
    p = sub.add_parser("prune", formatter_class=fmt,  # no help=: not listed, as Ollama lists no such command
                       description="Remove leftovers of dead processes and unused blobs from OLLAMA_MODELS.")
    p.set_defaults(func=prune)


def prune(ctx: Context, args: argparse.Namespace) -> int:
    from ollamalib.store import ModelStore

    store = ModelStore(ctx.settings.models)
    removed = store.prune()
    ctx.out(f"removed {len(removed)} files from {store.root}")
    return 0
