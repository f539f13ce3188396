"""``pull`` and ``push``: registry transfers with a progress bar per layer."""

from __future__ import annotations

import argparse
from typing import Any

from .._context import Context
from .._errors import CLIError
from .._progress import show_progress

__all__ = ["add_pull", "add_push", "pull_model"]

PUSH_DENIED = "you are not authorized to push to this namespace, create the model under a namespace you own"


def add_pull(sub: Any, common: argparse.ArgumentParser, fmt: type) -> None:
    p = sub.add_parser("pull", parents=[common], formatter_class=fmt, help="Pull a model from a registry",
                       description="Download a model from a registry into the store.")
    p.add_argument("model", metavar="MODEL", help="Model name (host/namespace/model:tag)")
    p.add_argument("--insecure", action="store_true", help="Use an insecure registry")
    p.set_defaults(func=pull)


def pull_model(ctx: Context, model: str, insecure: bool = False) -> None:
    """Pull ``model`` with progress on stderr (``run`` uses it for a model not in the store)."""
    show_progress(ctx.api.pull(model, insecure=insecure, stream=True), verb="pulling", skip_empty=True,
                  stream=ctx.stderr)


def pull(ctx: Context, args: argparse.Namespace) -> int:
    pull_model(ctx, args.model, args.insecure)
    return 0


def add_push(sub: Any, common: argparse.ArgumentParser, fmt: type) -> None:
    p = sub.add_parser("push", parents=[common], formatter_class=fmt, help="Push a model to a registry",
                       description="Upload a model from the store to a registry.")
    p.add_argument("model", metavar="MODEL", help="Model name (host/namespace/model:tag)")
    p.add_argument("--insecure", action="store_true", help="Use an insecure registry")
    p.set_defaults(func=push)


def push(ctx: Context, args: argparse.Namespace) -> int:
    from ollamalib.errors import OllamalibError, UnauthorizedError
    from ollamalib.names import ModelName

    name = ModelName.parse(args.model)
    try:
        show_progress(ctx.api.push(args.model, insecure=args.insecure, stream=True), verb="pushing",
                      stream=ctx.stderr)
    except OllamalibError as exc:
        if isinstance(exc, UnauthorizedError) or "access denied" in str(exc):
            raise CLIError(PUSH_DENIED) from None
        raise
    destination = name.full
    if name.host.endswith((".ollama.ai", ".ollama.com")):
        short = name.display_shortest
        destination = "https://ollama.com/" + (short[: -len(":latest")] if short.endswith(":latest") else short)
    ctx.out("\nYou can find your model at:\n")
    ctx.out(f"\t{destination}")
    return 0
