"""Quantizing tiny F16/BF16/F32 GGUFs with llama.cpp, under Ollama's type rules and error texts."""

from __future__ import annotations

from pathlib import Path

import llama_cpp
import pytest
from gguf_factory import write_tiny_gguf

from ollamalib.errors import UnsupportedQuantizationError
from ollamalib.gguf import GGUFInfo
from ollamalib.runner.quantize import normalize_quantization, quantize

SCRIPT = "Quantized, still 😀!"


@pytest.fixture(scope="module")
def f16_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An f16 model with 256-wide rows (K-quants apply) that always answers SCRIPT."""
    return write_tiny_gguf(tmp_path_factory.mktemp("q") / "f16.gguf", file_type="f16", script=SCRIPT)


@pytest.mark.parametrize(
    ("given", "name"),
    [("q4_K_M", "Q4_K_M"), ("Q4_K_M", "Q4_K_M"), ("q4_k_m", "Q4_K_M"), ("q4_K", "Q4_K_M"), ("q4_K_S", "Q4_K_S"),
     ("q8_0", "Q8_0"), ("f16", "F16"), ("F32", "F32"), ("bf16", "BF16")],
)
def test_normalize_accepts_ollamas_types(given: str, name: str) -> None:
    assert normalize_quantization(given) == name


@pytest.mark.parametrize("given", ["q5_0", "Q4_0", "q6_K", "q4_K_L", ""])
def test_normalize_rejects_others_with_ollamas_text(given: str) -> None:
    with pytest.raises(UnsupportedQuantizationError) as excinfo:
        normalize_quantization(given)
    assert str(excinfo.value) == (
        f"unsupported quantization type {given.upper()} - supported types are F32, F16, Q4_K_S, Q4_K_M, Q8_0"
    )
    assert excinfo.value.status_code == 400


@pytest.mark.parametrize(("qtype", "file_type", "tensor_type"),
                         [("q4_K_M", "Q4_K_M", "Q4_K"), ("q4_K_S", "Q4_K_S", "Q4_K"), ("q8_0", "Q8_0", "Q8_0")])
def test_quantize_f16_model_that_still_runs(f16_script: Path, tmp_path: Path, qtype: str, file_type: str,
                                            tensor_type: str) -> None:
    calls: list[tuple[int, int]] = []
    dst = quantize(f16_script, tmp_path / "out.gguf", qtype, progress=lambda done, total: calls.append((done, total)))
    info = GGUFInfo.read(dst)
    assert info.file_type == file_type
    assert tensor_type in {t.type for t in info.tensors}
    assert {t.type for t in info.tensors if len(t.shape) == 1} == {"F32"}
    assert dst.stat().st_size < f16_script.stat().st_size
    total = f16_script.stat().st_size
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert len(calls) > 3 and [c for c, _ in calls] == sorted(c for c, _ in calls)
    llm = llama_cpp.Llama(model_path=str(dst), verbose=False, n_ctx=64)
    out = llm.create_completion("Say it", max_tokens=40, temperature=0)
    assert out["choices"][0]["text"] == SCRIPT and out["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("source", ["f32", "bf16"])
def test_quantize_from_f32_and_bf16(tmp_path: Path, source: str) -> None:
    src = write_tiny_gguf(tmp_path / "src.gguf", file_type=source)  # type: ignore[arg-type]
    dst = quantize(src, tmp_path / "dst.gguf", "Q8_0")
    assert GGUFInfo.read(dst).file_type == "Q8_0"
    llama_cpp.Llama(model_path=str(dst), verbose=False, n_ctx=64).create_completion("hi", max_tokens=2)


def test_quantized_source_is_refused(f16_script: Path, tmp_path: Path) -> None:
    q8 = quantize(f16_script, tmp_path / "q8.gguf", "q8_0")
    with pytest.raises(UnsupportedQuantizationError) as excinfo:
        quantize(q8, tmp_path / "again.gguf", "q4_K_M")
    assert str(excinfo.value) == "quantization is only supported for F16, BF16 and F32 models"
    assert not (tmp_path / "again.gguf").exists()


def test_type_is_checked_before_source(tmp_path: Path, f16_script: Path) -> None:
    q8 = quantize(f16_script, tmp_path / "q8.gguf", "q8_0")
    with pytest.raises(UnsupportedQuantizationError, match="unsupported quantization type Q3_K_M"):
        quantize(q8, tmp_path / "x.gguf", "q3_K_M")


def test_same_type_is_copied(f16_script: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    dst = quantize(f16_script, tmp_path / "copy.gguf", "F16", progress=lambda d, t: calls.append((d, t)))
    assert dst.read_bytes() == f16_script.read_bytes()
    assert calls == [(0, dst.stat().st_size), (dst.stat().st_size, dst.stat().st_size)]


def test_progress_error_aborts_and_leaves_nothing(f16_script: Path, tmp_path: Path) -> None:
    def stop(done: int, total: int) -> None:
        if done > 0:
            raise KeyboardInterrupt("cancelled")

    with pytest.raises(KeyboardInterrupt, match="cancelled"):
        quantize(f16_script, tmp_path / "out.gguf", "q8_0", progress=stop)
    assert not (tmp_path / "out.gguf").exists()


def test_quantize_is_quiet_and_restores_logging(
    f16_script: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import ctypes

    before = llama_cpp.llama_log_callback()
    llama_cpp.llama_log_get(ctypes.byref(before), ctypes.byref(ctypes.c_void_p()))
    quantize(f16_script, tmp_path / "out.gguf", "q4_K_M")
    after = llama_cpp.llama_log_callback()
    llama_cpp.llama_log_get(ctypes.byref(after), ctypes.byref(ctypes.c_void_p()))
    assert ctypes.cast(before, ctypes.c_void_p).value == ctypes.cast(after, ctypes.c_void_p).value
    err = capfd.readouterr().err
    assert "llama_model_loader" not in err and "converting to" not in err
