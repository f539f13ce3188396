"""``ollamalib create -f Modelfile`` against a server uploads the Modelfile's local files as blobs: the server
accepts no paths over HTTP (issue 12 item 3), so a success proves that only digests were sent."""

from __future__ import annotations

import json
import re

from gguf_factory import CHATML_TEMPLATE, write_tiny_gguf


def test_create_with_relative_from_and_adapter_against_a_server(live, tmp_path):
    work = tmp_path / "project"
    work.mkdir()
    write_tiny_gguf(work / "model.gguf", chat_template=CHATML_TEMPLATE)
    write_tiny_gguf(work / "adapter.gguf", name="adapter")
    (work / "Modelfile").write_text("FROM ./model.gguf\nADAPTER adapter.gguf\nSYSTEM Be brief.\n")
    proc = live("create", "remote-made", "-f", str(work / "Modelfile"), check=True)
    assert proc.stderr.splitlines()[-1] == "success"
    assert len(re.findall(r"^copying file sha256:[0-9a-f]{64} 100%$", proc.stderr, re.M)) == 2
    manifest = live.models / "manifests" / "registry.ollama.ai" / "library" / "remote-made" / "latest"
    media = [layer["mediaType"] for layer in json.loads(manifest.read_text())["layers"]]
    assert "application/vnd.ollama.image.adapter" in media and "application/vnd.ollama.image.model" in media


def test_create_with_a_draft_model_name_against_a_server(live, tmp_path):
    write_tiny_gguf(tmp_path / "model.gguf", seed=7, n_layer=2)
    write_tiny_gguf(tmp_path / "small.gguf", seed=7, n_layer=1)
    (tmp_path / "Small").write_text("FROM ./small.gguf\n")
    (tmp_path / "Modelfile").write_text("FROM ./model.gguf\nDRAFT remote-small\n")
    live("create", "remote-small", "-f", str(tmp_path / "Small"), check=True)
    proc = live("create", "remote-drafted", "-f", str(tmp_path / "Modelfile"), check=True)
    assert proc.stderr.splitlines()[-1] == "success"
    layers = {}
    for name in ("remote-small", "remote-drafted"):
        manifest = live.models / "manifests" / "registry.ollama.ai" / "library" / name / "latest"
        layers[name] = {layer["mediaType"]: layer["digest"] for layer in json.loads(manifest.read_text())["layers"]}
    assert layers["remote-drafted"]["application/vnd.ollama.image.draft"] == \
        layers["remote-small"]["application/vnd.ollama.image.model"]
    (tmp_path / "Missing").write_text("FROM ./model.gguf\nDRAFT no-such-small\n")
    missing = live("create", "remote-bad", "-f", str(tmp_path / "Missing"))
    assert missing.returncode != 0 and "model 'no-such-small' not found" in missing.stderr
