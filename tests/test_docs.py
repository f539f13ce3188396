"""The ```python blocks of README.md and docs/*.md run, in order, against tiny real models.

Blocks of one file share a namespace (later blocks use what earlier ones built). A block preceded by
``<!-- not-run: reason -->`` is skipped, and the reason is shown; keep those few. docs/server.md's blocks need a
server and run in tests/server/test_server_docs.py.

The folder a block runs in holds the files the docs name: ``gemma-3-270m-q4_k_m.gguf`` (a tiny ChatML model),
``model.gguf`` + ``mmproj.gguf`` + ``cat.png`` (a tiny vision pair), and OLLAMA_MODELS holds the names they use
(``qwen3`` answers with tool calls, ``smollm2:135m`` is a scripted chat model; ``~/.ollama/models`` has ``llama3.2``).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from ollamalib import AsyncEngine, Engine
from ollamalib.store import ModelStore
from server.srvutil import HELLO_SCRIPT, JSON_SCRIPT, build_store
from vision_factory import png_bytes, write_tiny_mmproj

from gguf_factory import CHATML_TEMPLATE, write_tiny_gguf

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted(p for p in (REPO / "docs").glob("*.md") if p.name != "server.md")]
BLOCK = re.compile(r"(?:<!-- not-run: (?P<reason>.*?) -->\n)?```python\n(?P<code>.*?)```", re.S)


def blocks(doc: Path) -> list[tuple[str | None, str]]:
    """(not-run reason or None, code) of each python block, in order."""
    return [(m.group("reason"), m.group("code")) for m in BLOCK.finditer(doc.read_text())]


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the files and stores the examples name, built once."""
    root = tmp_path_factory.mktemp("docs")
    store = build_store(root / "models", root / "gguf")
    store.copy("toolbot", "qwen3")
    store.copy("hello", "smollm2:135m")  # what `make run` imports from the [demo] extra
    work = root / "work"
    work.mkdir()
    # scripted models: their answers end by themselves instead of running to num_predict
    write_tiny_gguf(work / "gemma-3-270m-q4_k_m.gguf", chat_template=CHATML_TEMPLATE, script=JSON_SCRIPT)
    write_tiny_gguf(work / "model.gguf", chat_template=CHATML_TEMPLATE, name="tiny-vision", script=HELLO_SCRIPT)
    write_tiny_mmproj(work / "mmproj.gguf", text_n_embd=64)
    (work / "cat.png").write_bytes(png_bytes())
    home_store = root / "home" / ".ollama" / "models"
    shutil.copytree(root / "models", home_store)
    ModelStore(home_store).copy("tiny", "llama3.2")
    return root


def test_docs_have_examples_and_few_skips():
    found = [b for doc in DOCS for b in blocks(doc)]
    assert len(found) >= 20
    assert sum(reason is not None for reason, _ in found) <= 4


@pytest.mark.parametrize("doc", [d for d in DOCS if blocks(d)], ids=lambda d: d.name)
def test_doc_examples_run(doc: Path, material: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.chdir(material / "work")
    monkeypatch.setenv("HOME", str(material / "home"))
    monkeypatch.setenv("OLLAMA_MODELS", str(material / "models"))
    monkeypatch.setenv("OLLAMA_CONTEXT_LENGTH", "256")  # bounds what a tiny random model may generate
    namespace: dict[str, object] = {"__name__": "__docs__"}
    skipped = []
    try:
        for index, (reason, code) in enumerate(blocks(doc)):
            if reason is not None:
                skipped.append(f"block {index}: {reason}")
                continue
            exec(compile(code, f"{doc.name}[{index}]", "exec"), namespace)
    finally:
        for value in namespace.values():
            if isinstance(value, Engine):
                value.close()
            elif isinstance(value, AsyncEngine):
                value.engine.close()
    capsys.readouterr()
    if skipped:
        print(f"{doc.name}: not run: " + "; ".join(skipped))
