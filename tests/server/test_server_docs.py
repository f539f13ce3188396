"""The Python examples of docs/server.md run against a real server (tiny models stand in for gemma3:270m and qwen3)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ollamalib.store import ModelStore
from srvutil import build_store, make_settings, start_server

DOC = Path(__file__).resolve().parents[2] / "docs" / "server.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory):
    from ollamalib.engine import AsyncEngine

    tmp = tmp_path_factory.mktemp("docs-server")
    store: ModelStore = build_store(tmp / "models", tmp / "gguf")
    store.copy("hello", "gemma3:270m")
    store.copy("hello", "smollm2:135m")
    store.copy("babbler", "qwen3")  # tool-capable, random weights: the tool_choice example forces its call
    settings = make_settings(tmp, tmp / "models", context_length=512)
    srv = start_server(AsyncEngine(settings), settings)
    yield srv
    srv.stop()


def test_docs_have_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_docs_example_runs(index, docs_server, monkeypatch, capsys):
    monkeypatch.setenv("OLLAMA_HOST", docs_server.host)
    code = BLOCKS[index].replace("localhost:11434", docs_server.host)
    exec(compile(code, f"{DOC.name}[{index}]", "exec"), {"__name__": "__docs__"})
    out = capsys.readouterr().out
    if "print(" in code:
        assert "Hello there" in out
