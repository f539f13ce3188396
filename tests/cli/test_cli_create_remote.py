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
