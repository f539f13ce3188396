"""Quantize an F16/BF16/F32 GGUF with llama.cpp's own quantizer, under Ollama's rules (fs/ggml/type.go).

llama.cpp reports no progress to Python, so progress comes from its per-tensor log lines ("[  3/ 20] ..."),
caught by a log callback installed for the duration of the call (the previous one is restored after).
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

from ..errors import OllamalibError, UnsupportedQuantizationError
from ..gguf import QUANTIZATION_TYPES, QUANTIZE_SOURCES, GGUFInfo, normalize_quantization

__all__ = ["QUANTIZATION_TYPES", "QUANTIZE_SOURCES", "normalize_quantization", "quantize"]

_TENSOR_LINE = re.compile(rb"^\[\s*(\d+)/\s*(\d+)\]")
_lock = threading.Lock()

Progress = Callable[[int, int], None]


def quantize(src: str | Path, dst: str | Path, type: str, progress: Progress | None = None) -> Path:
    """Write ``src`` quantized to ``type`` into ``dst`` and return ``dst``.

    ``progress(completed, total)`` is called in bytes of the source file: 0 first, then after each tensor,
    ``total`` last. A source already of the target type is copied as is. Raises UnsupportedQuantizationError
    for an unknown type or a source that is not F16, BF16 or F32.
    """
    src, dst = Path(src), Path(dst)
    target = normalize_quantization(type)
    source_type = GGUFInfo.read(src).file_type
    if source_type not in QUANTIZE_SOURCES:
        raise UnsupportedQuantizationError("quantization is only supported for F16, BF16 and F32 models")
    total = src.stat().st_size
    report = progress or (lambda completed, total: None)
    report(0, total)
    if source_type == target:
        shutil.copyfile(src, dst)
        report(total, total)
        return dst

    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANTIZATION_TYPES[target]
    params.nthread = os.cpu_count() or 1
    errors: list[BaseException] = []

    def on_tensor(done: int, count: int) -> None:
        if errors:
            return
        try:
            report(total * done // count, total)
        except BaseException as e:  # re-raised once llama.cpp returns
            errors.append(e)

    with _lock, _log_capture(llama_cpp, on_tensor):
        rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if errors or rc != 0:
        dst.unlink(missing_ok=True)
        if errors:
            raise errors[0]
        raise OllamalibError(f"llama_model_quantize: {rc}")
    report(total, total)
    return dst


class _log_capture:
    """Route llama.cpp's log to ``on_tensor`` for the per-tensor lines; pass warnings and errors on."""

    def __init__(self, llama_cpp: object, on_tensor: Callable[[int, int], None]) -> None:
        self.lib = llama_cpp
        self.on_tensor = on_tensor

    def __enter__(self) -> _log_capture:
        lib = self.lib
        previous = lib.llama_log_callback()  # type: ignore[attr-defined]
        user_data = ctypes.c_void_p()
        lib.llama_log_get(ctypes.byref(previous), ctypes.byref(user_data))  # type: ignore[attr-defined]
        self.previous, self.user_data = previous, user_data

        def callback(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
            match = _TENSOR_LINE.match(text or b"")
            if match:
                self.on_tensor(int(match.group(1)) - 1, int(match.group(2)))
            elif level in (3, 4) and previous:  # GGML_LOG_LEVEL_WARN, GGML_LOG_LEVEL_ERROR
                previous(level, text, user_data)

        self.callback = lib.llama_log_callback(callback)  # type: ignore[attr-defined]
        lib.llama_log_set(self.callback, ctypes.c_void_p(0))  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        self.lib.llama_log_set(self.previous, self.user_data)  # type: ignore[attr-defined]
