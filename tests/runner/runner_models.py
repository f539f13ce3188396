"""Constants and writers shared by the runner tests (a distinct name: ``conftest`` is taken by tests/)."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

# Each UTF-8 byte of the script is its own token, so "é", "ö", "日" and "😀" arrive split over 2-4 tokens.
SCRIPT = "Héllo wörld! STOP here 日本 😀 end"


def write_lora(path: Path, *, n_embd: int = 64, n_ff: int = 128, n_layer: int = 2, rank: int = 4) -> Path:
    """A real LoRA adapter GGUF for the tiny llama models (random low-rank updates of attn_q and ffn_up)."""
    rng = np.random.default_rng(1)
    w = gguf.GGUFWriter(path, "llama")
    w.add_string("general.type", "adapter")
    w.add_string("adapter.type", "lora")
    w.add_float32("adapter.lora.alpha", float(rank))
    for i in range(n_layer):
        for name, n_out in (("attn_q", n_embd), ("ffn_up", n_ff)):
            w.add_tensor(f"blk.{i}.{name}.weight.lora_a", rng.normal(0, 0.5, (rank, n_embd)).astype(np.float32))
            w.add_tensor(f"blk.{i}.{name}.weight.lora_b", rng.normal(0, 0.5, (n_out, rank)).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
