"""Every notebook under notebooks/ runs top to bottom without errors (on a temporary store)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
# Text a notebook's printed output must contain (beyond running without errors).
EXPECTED = {"01_quickstart.ipynb": ["success", "Paris", "{'capital': 'Paris'}"],
            "03_rag.ipynb": ["'rerank']", "Paris"]}


@pytest.mark.e2e
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gemma_gguf: Path) -> None:
    import nbclient
    import nbformat

    monkeypatch.setenv("OLLAMALIB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OLLAMA_MODELS", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the kernel imports this checkout's ollamalib
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    for expected in EXPECTED.get(path.name, []):
        assert expected in text
