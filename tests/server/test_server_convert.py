"""Safetensors import over HTTP, the way Ollama's CLI does it: files uploaded as blobs, then a ``files`` map."""

from __future__ import annotations

import json
import shutil

import ollama
import pytest

from ollamalib.gguf import GGUFInfo
from ollamalib.modelfile import files_for_model


def upload(client: ollama.Client, folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): client.create_blob(p) for p in files_for_model(folder)}


def test_official_client_uploads_and_creates(live, hf_models):
    with ollama.Client(live.url) as client:
        files = upload(client, hf_models / "qwen2")  # sharded: four safetensors files and their index
        assert sum(name.endswith(".safetensors") for name in files) > 1
        events = list(client.create("hf-qwen2", files=files, quantize="q8_0", stream=True))
        statuses = [e.status for e in events]
        assert "converting model" in statuses and statuses[-1] == "success"
        assert any(s.startswith("quantizing F16 model to Q8_0") for s in statuses)
        info = client.show("hf-qwen2")
        assert info.details.family == "qwen2" and info.details.quantization_level == "Q8_0"
        out = client.generate("hf-qwen2", prompt="hello", options={"num_predict": 3})
        assert out.done and out.eval_count >= 1
        client.delete("hf-qwen2")


def test_bad_safetensors_upload_is_a_400_with_the_cause(live, hf_models, tmp_path):
    folder = tmp_path / "foo"
    shutil.copytree(hf_models / "llama", folder)
    config = json.loads((folder / "config.json").read_text())
    config["architectures"] = ["TinyFooForCausalLM"]
    (folder / "config.json").write_text(json.dumps(config))
    with ollama.Client(live.url) as client:
        with pytest.raises(ollama.ResponseError) as info:
            client.create("hf-foo", files=upload(client, folder))
        assert info.value.status_code == 400
        assert info.value.error == 'unsupported architecture "TinyFooForCausalLM"'
        assert "hf-foo:latest" not in [m.model for m in client.list().models]
