"""show: everything /api/show returns that needs no inference, read from the store and the GGUF header."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .errors import ModelNotFoundError
from .gguf import GGUFInfo
from .modelfile import modelfile_for_show
from .names import ModelName
from .options import format_parameters
from .rerank import reranker_for
from .store import ModelRecord, ModelStore
from .template import Template
from .types import ShowResponse

__all__ = ["capabilities", "effective_template", "read_gguf", "show_model"]


@lru_cache(maxsize=64)
def _read_gguf(path: str, size: int, mtime_ns: int) -> GGUFInfo:
    return GGUFInfo.read(path)


def read_gguf(path: Path) -> GGUFInfo:
    """GGUF facts of a blob, cached: blobs are content-addressed, so a path with the same size and mtime
    has the same header (reading a large vocabulary takes a noticeable fraction of a second)."""
    st = path.stat()
    return _read_gguf(str(path), st.st_size, st.st_mtime_ns)


def effective_template(record: ModelRecord, info: GGUFInfo | None) -> Template:
    """The template a model renders prompts with: its TEMPLATE layer, else the GGUF's Jinja, else the default."""
    if record.template is not None:
        return Template(record.template, kind="go")
    if info is not None and info.chat_template:
        return Template(info.chat_template, kind="jinja")
    return Template(Template.DEFAULT, kind="go")


def capabilities(record: ModelRecord, info: GGUFInfo | None = None) -> list[str]:
    """Ollama's capability list for a stored model (completion/embedding, tools, insert, thinking, vision), and
    ``rerank`` for a reranker (ollamalib.rerank)."""
    if info is None and record.model_path is not None and record.model_path.is_file():
        info = read_gguf(record.model_path)
    if info is None:
        return ["completion"]
    hints = set(effective_template(record, info).capabilities)
    caps = info.capabilities(hints, has_projector=bool(record.projectors))
    if reranker_for(record, info) is not None:
        caps.append("rerank")
    return caps


def show_model(store: ModelStore, name: str | ModelName, *, verbose: bool = False) -> ShowResponse:
    """Build the /api/show response for ``name``; raises ModelNotFoundError in Ollama's words."""
    try:
        record = store.record(name)
    except ModelNotFoundError:
        shown = ModelName.parse(name).display_shortest
        raise ModelNotFoundError(shown) from None
    info = read_gguf(record.model_path) if record.model_path and record.model_path.is_file() else None
    template = effective_template(record, info)
    modelfile = modelfile_for_show(
        name=record.name.display_shortest,
        from_path=str(record.model_path) if record.model_path else "",
        adapters=[str(p) for p in record.adapters],
        draft=str(record.draft) if record.draft else None,
        projectors=[str(p) for p in record.projectors],
        template=template.text,
        system=record.system,
        parameters=record.parameters,
        license=record.license,
        messages=[(m.role, m.content or "") for m in record.messages],
    )
    projector_info = None
    if record.projectors:
        projector_info = read_gguf(record.projectors[0]).model_info(verbose=verbose)
    return ShowResponse(
        license="\n".join(record.license) if record.license else None,
        modelfile=modelfile,
        parameters=format_parameters(record.parameters) if record.parameters else None,
        template=template.text,
        system=record.system,
        details=record.details,
        messages=record.messages or None,
        model_info=info.model_info(verbose=verbose) if info else {},
        projector_info=projector_info,
        tensors=[t for t in info.tensor_summaries()] if (verbose and info) else None,
        capabilities=capabilities(record, info),
        modified_at=record.stored.modified_at,
        requires=record.config.requires,
    )

