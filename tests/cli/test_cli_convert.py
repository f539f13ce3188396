"""``ollamalib create`` with a safetensors FROM folder and a PEFT ADAPTER folder against a real server."""

from __future__ import annotations

import json

from cli_support import make_cli, start_server
from ollamalib.gguf import GGUFInfo


def test_cli_create_from_folder_against_a_server(hf_models, tmp_path):
    cli = make_cli(tmp_path / "cli")
    server = start_server(cli)
    try:
        (tmp_path / "Modelfile").write_text(f"FROM {hf_models / 'llama'}\nADAPTER {hf_models / 'lora'}\n")
        proc = cli.with_host(server.url)("create", "hf-llama", "-f", str(tmp_path / "Modelfile"), timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert "converting model" in proc.stderr and "success" in proc.stderr
        stored = [m for m in (cli.models / "manifests").rglob("latest")]
        assert len(stored) == 1
        layers = json.loads(stored[0].read_text())["layers"]
        kinds = {layer["mediaType"].rsplit(".", 1)[-1] for layer in layers}
        assert {"model", "adapter"} <= kinds
        adapter = next(layer for layer in layers if layer["mediaType"].endswith("adapter"))
        blob = cli.models / "blobs" / adapter["digest"].replace(":", "-")
        assert GGUFInfo.read(blob).metadata.get("adapter.type") == "lora"
    finally:
        server.stop()
