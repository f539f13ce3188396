"""``ollamalib create MODEL -f Modelfile``: upload the Modelfile's local files as blobs, then create."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._context import Context
from .._errors import CLIError
from .._progress import ProgressView

__all__ = ["add_create"]


def add_create(sub: Any, common: argparse.ArgumentParser, fmt: type) -> None:
    p = sub.add_parser("create", parents=[common], formatter_class=fmt, help="Create a model from a Modelfile",
                       description="Create a model from a Modelfile. Without -f, ./Modelfile is used; when it "
                                   "does not exist, the model files in the current directory (FROM .).")
    p.add_argument("model", metavar="MODEL", help="Name of the new model")
    p.add_argument("-f", "--file", metavar="PATH", help='Name of the Modelfile (default "Modelfile")')
    p.add_argument("-q", "--quantize", metavar="TYPE", help="Quantize model to this level (e.g. q4_K_M)")
    p.set_defaults(func=create)


def create(ctx: Context, args: argparse.Namespace) -> int:
    from ollamalib.modelfile import Modelfile
    from ollamalib.requests import CreateRequest

    path = Path(args.file or "Modelfile").expanduser().absolute()
    if path.is_file():
        text, base = path.read_bytes(), path.parent
    elif args.file:
        raise CLIError("specified Modelfile wasn't found")
    else:
        text, base = b"FROM .\n", Path.cwd()
    modelfile = Modelfile.parse(text)
    with ProgressView(ctx.stderr, verb="pulling") as view:
        view.set_status("gathering model components")
        request = CreateRequest.from_modelfile(modelfile, args.model, lambda p: _upload(ctx.api, p, view),
                                               base_dir=base, quantize=args.quantize)
        for event in ctx.api.create(**_arguments(request), stream=True):
            view.update(event)
    return 0


def _upload(api: Any, path: Path, view: ProgressView) -> str:
    view.set_status(f"copying file {path.name}")
    digest = str(api.create_blob(path))
    view.set_status(f"copying file {digest} 100%")
    return digest


def _arguments(request: Any) -> dict[str, Any]:
    """A CreateRequest as the keyword arguments of ``create`` on an Engine or a Client."""
    return {name: value for name in request.model_fields_set
            if name != "stream" and (value := getattr(request, name)) is not None}
