"""A draft model of the demo model for the speculative benchmarks: its first blocks, written with the ``gguf``
package, cached outside the repository.

No smaller model with Gemma 3's 262k-token vocabulary ships, so the draft is the demo GGUF cut short: the first
``layers`` of its 18 blocks, the output norm and the tied token embeddings (which are also its output projection),
with the block count in the metadata adjusted and everything else (tokenizer, chat template) copied as is. Both
ollamalib and llama-server accept it as a draft (the same vocabulary). ``head`` optionally gives it an output
projection of its own in a smaller quantization (``Q4_0``: half of ``Q8_0``'s bytes), since that projection is most
of the cost of a draft step.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import gguf
import numpy as np
from gguf.gguf_reader import ReaderTensor

__all__ = ["draft_of", "gemma_draft_path"]

_BLOCK = re.compile(r"blk\.(\d+)\.")


def draft_of(target: Path, out: Path, *, blocks: Sequence[int], head: str | None = None) -> Path:
    """Write ``out``: ``target``'s ``blocks`` (renumbered from 0) plus its output norm and embeddings (a draft
    model with the same vocabulary); ``head`` (a ``gguf.GGMLQuantizationType`` name) adds an ``output.weight``
    quantized so."""
    reader = gguf.GGUFReader(target)
    arch = str(reader.fields[gguf.Keys.General.ARCHITECTURE].contents())
    count_key = gguf.Keys.LLM.BLOCK_COUNT.format(arch=arch)
    total = int(reader.fields[count_key].contents())
    if not blocks or sorted(set(blocks)) != list(blocks) or not 0 <= blocks[0] <= blocks[-1] < total:
        raise ValueError(f"a draft takes ascending blocks of 0 to {total - 1}, not {list(blocks)}")
    layers = len(blocks)
    new_index = {old: new for new, old in enumerate(blocks)}
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    writer = gguf.GGUFWriter(tmp, arch, endianess=reader.endianess)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # written by GGUFWriter itself
        value = field.contents()
        if field.name == count_key:
            value = layers
        elif field.name == gguf.Keys.General.NAME:
            value = f"{value} draft ({layers} of {total} blocks)"
        sub = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, field.types[0], sub_type=sub)
    kept: list[tuple[str, ReaderTensor]] = []
    for t in reader.tensors:
        m = _BLOCK.match(t.name)
        if m is None:
            kept.append((t.name, t))
        elif int(m.group(1)) in new_index:
            kept.append((f"blk.{new_index[int(m.group(1))]}.{t.name[m.end():]}", t))
    extra: list[tuple[str, np.ndarray, gguf.GGMLQuantizationType]] = []
    if head is not None and not any(name == "output.weight" for name, _ in kept):
        embd = next(t for name, t in kept if name == "token_embd.weight")
        qtype = gguf.GGMLQuantizationType[head]
        weights = gguf.quants.dequantize(embd.data, embd.tensor_type)
        extra.append(("output.weight", gguf.quants.quantize(weights, qtype), qtype))
    for name, t in kept:
        writer.add_tensor_info(name, t.data.shape, t.data.dtype, t.data.nbytes, t.tensor_type)
    for name, data, qtype in extra:
        writer.add_tensor_info(name, data.shape, data.dtype, data.nbytes, qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _, t in kept:
        writer.write_tensor_data(t.data, tensor_endianess=reader.endianess)
    for _, data, _ in extra:
        writer.write_tensor_data(data)
    writer.close()
    tmp.replace(out)
    return out


def gemma_draft_path(cache: Path, *, blocks: Sequence[int], head: str | None = None) -> Path:
    """The demo model's draft of ``blocks``, written once into ``cache`` (``~/.cache/ollamalib-bench``)."""
    from _common import gemma_path

    target = gemma_path()
    tag = "-".join(map(str, blocks))
    out = cache / "drafts" / f"{target.stem}-blocks-{tag}{'-' + head.lower() if head else ''}.gguf"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        draft_of(target, out, blocks=blocks, head=head)
    return out
