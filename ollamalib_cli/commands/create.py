"""``ollamalib create MODEL -f Modelfile``: upload the Modelfile's local files as blobs, then create."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..context import Context
from ..errors import CLIError
from ..progress import ProgressView

__all__ = ["add_create", "create_arguments"]


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
        kwargs = create_arguments(ctx.api, modelfile, base, view)
        for event in ctx.api.create(args.model, quantize=args.quantize, stream=True, **kwargs):
            view.update(event)
    return 0


def _upload(api: Any, path: Path, view: ProgressView) -> str:
    view.set_status(f"copying file {path.name}")
    digest = str(api.create_blob(path))
    view.set_status(f"copying file {digest} 100%")
    return digest


def create_arguments(api: Any, modelfile: Any, base: Path, view: ProgressView) -> dict[str, Any]:
    """Turn a parsed Modelfile into ``create`` keyword arguments, uploading its local files through ``api``."""
    if not modelfile.froms:
        raise CLIError("no FROM line")
    args = modelfile.create_args(base)
    kw: dict[str, Any] = {}
    if args.from_:
        kw["from_"] = args.from_
    if args.files:
        kw["files"] = {Path(f).name: _upload(api, Path(f), view) for f in args.files}
    if args.adapters:
        kw["adapters"] = {Path(f).name: _upload(api, Path(f), view) for f in args.adapters}
    if args.draft_files:
        kw["draft_files"] = {Path(f).name: _upload(api, Path(f), view) for f in args.draft_files}
    if args.template is not None:
        kw["template"] = args.template
    if args.system is not None:
        kw["system"] = args.system
    if args.parameters:
        kw["parameters"] = dict(args.parameters)
    if args.messages:
        kw["messages"] = [{"role": role, "content": content} for role, content in args.messages]
    if args.license:
        kw["license"] = list(args.license)
    if args.requires:
        kw["requires"] = args.requires
    return kw
