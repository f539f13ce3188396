"""A draft model of the demo model for the speculative benchmarks: its first blocks, written with the ``gguf``
package, cached outside the repository.

No smaller model with Gemma 3's 262k-token vocabulary ships, so the draft is the demo GGUF cut short: the first
``layers`` of its 18 blocks, the output norm and the tied token embeddings (which are also its output projection),
with the block count in the metadata adjusted and everything else (tokenizer, chat template) copied as is. Both
ollamalib and llama-server accept it as a draft (the same vocabulary).

Gemma 3 270M has no cheap draft in it: its tied 262k-token output projection is 70% of the GGUF's bytes and 63% of a
step's arithmetic, so a draft step costs at least that share of a target step whatever blocks it keeps; and the
blocks do not skip well (greedy agreement with the full model, 64 tokens of speculative.py's two workloads: the first
3, 6 or 9 blocks 0-5%; blocks 0-5 and 12-17 3%; all but block 16 about 90%).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import gguf
from gguf.gguf_reader import ReaderTensor

__all__ = ["draft_of", "gemma_draft_path"]

_BLOCK = re.compile(r"blk\.(\d+)\.")


def draft_of(target: Path, out: Path, *, blocks: Sequence[int]) -> Path:
    """Write ``out``: ``target``'s ``blocks`` (renumbered from 0) plus its output norm and embeddings (a draft
    model with the same vocabulary)."""
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
    for name, t in kept:
        writer.add_tensor_info(name, t.data.shape, t.data.dtype, t.data.nbytes, t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _, t in kept:
        writer.write_tensor_data(t.data, tensor_endianess=reader.endianess)
    writer.close()
    tmp.replace(out)
    return out


def gemma_draft_path(cache: Path, *, blocks: Sequence[int]) -> Path:
    """The demo model's draft of ``blocks``, written once into ``cache`` (``~/.cache/ollamalib-bench``)."""
    from _common import gemma_path

    target = gemma_path()
    tag = "-".join(map(str, blocks))
    out = cache / "drafts" / f"{target.stem}-blocks-{tag}.gguf"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        draft_of(target, out, blocks=blocks)
    return out
