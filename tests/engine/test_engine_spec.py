"""Speculative decoding through the Engine: a Modelfile DRAFT stored as a layer, options per request or per
model, acceptance in the final chunk and in the metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from gguf_factory import write_tiny_gguf

from ollamalib.create import create_from_modelfile
from ollamalib.engine import Engine
from ollamalib.errors import ModelfileError, ModelNotFoundError
from ollamalib.types import MEDIA_TYPE_DRAFT

PROMPT = "the cat and the dog went to the city"
GREEDY = {"temperature": 0, "num_predict": 32}


@pytest.fixture(scope="module")
def spec_ggufs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 4-layer random model and its first three layers (same seed: same vocabulary and embeddings)."""
    folder = tmp_path_factory.mktemp("engine-spec")
    write_tiny_gguf(folder / "copy.gguf", seed=7, n_layer=4)  # the target itself as a draft (DRAFT != FROM path)
    return (write_tiny_gguf(folder / "target.gguf", seed=7, n_layer=4),
            write_tiny_gguf(folder / "draft.gguf", seed=7, n_layer=3))


def create(engine: Engine, name: str, modelfile: str, base: Path) -> None:
    for _ in create_from_modelfile(engine.store, name, modelfile, base_dir=base):
        pass


def test_a_modelfile_draft_becomes_a_layer_and_drafts_greedy_tokens(engine: Engine,
                                                                    spec_ggufs: tuple[Path, Path]) -> None:
    target, draft = spec_ggufs
    create(engine, "plain", f"FROM {target.name}\n", target.parent)
    create(engine, "drafted", f"FROM {target.name}\nDRAFT {draft.name}\n", target.parent)
    create(engine, "self-drafted", f"FROM {target.name}\nDRAFT copy.gguf\n", target.parent)
    record = engine.store.record("drafted")
    layers = {layer.mediaType: layer for layer in record.stored.manifest.layers}
    assert record.draft is not None and record.draft.read_bytes() == draft.read_bytes()
    assert layers[MEDIA_TYPE_DRAFT].size == draft.stat().st_size
    assert engine.store.record("self-drafted").draft == engine.store.record("plain").model_path  # one blob
    shown = engine.show("drafted").modelfile.splitlines()
    assert f"DRAFT {record.draft}" in shown  # as Ollama's show prints it, after FROM
    assert shown.index(f"DRAFT {record.draft}") == shown.index(f"FROM {record.model_path}") + 1

    expected = engine.generate("plain", PROMPT, options=GREEDY)
    assert expected.draft_count is None and "draft_count" not in expected.model_dump(exclude_none=True)
    final = engine.generate("drafted", PROMPT, options=GREEDY)
    assert final.response == expected.response and final.eval_count == expected.eval_count
    assert final.draft_count and 0 <= final.draft_accepted_count <= final.draft_count  # type: ignore[operator]
    same = engine.generate("self-drafted", PROMPT, options=GREEDY)
    assert same.response == expected.response and same.draft_accepted_count == same.draft_count > 0
    chunks = list(engine.generate("self-drafted", PROMPT, options=GREEDY, stream=True))
    assert chunks[-1].done and chunks[-1].draft_count == same.draft_count
    assert all(c.draft_count is None for c in chunks[:-1])
    off = engine.generate("drafted", PROMPT, options={**GREEDY, "draft_num_predict": 0})
    assert off.response == expected.response and off.draft_count is None

    metrics = {m.name: m for m in engine.metrics()}
    assert metrics["self-drafted:latest"].draft_tokens_total == metrics["self-drafted:latest"].draft_accepted_total > 0
    assert metrics["drafted:latest"].draft_tokens_total >= final.draft_count  # type: ignore[operator]
    assert metrics["plain:latest"].draft_tokens_total == 0


def test_ngram_lookup_per_request_and_per_model(engine: Engine, spec_ggufs: tuple[Path, Path]) -> None:
    target, _ = spec_ggufs
    create(engine, "plain", f"FROM {target.name}\n", target.parent)
    # draft_num_predict fixes the draft length (without it the runner's planner picks it from timings)
    create(engine, "ngram", f"FROM {target.name}\nPARAMETER draft_ngram 3\nPARAMETER draft_num_predict 6\n",
           target.parent)
    prompt = PROMPT + " and the cat and the dog"
    expected = engine.generate("plain", prompt, options=GREEDY)
    per_request = engine.generate("plain", prompt, options={**GREEDY, "draft_ngram": 3, "draft_num_predict": 6})
    per_model = engine.chat("ngram", [{"role": "user", "content": prompt}], options=GREEDY)
    assert per_request.response == expected.response and per_request.draft_count
    assert engine.generate("plain", prompt, options={**GREEDY, "draft_ngram": 3}).response == expected.response
    assert per_model.draft_count and per_model.draft_accepted_count is not None
    assert engine.generate("ngram", prompt, options={**GREEDY, "draft_ngram": 0}).draft_count is None


def test_a_draft_must_be_one_gguf(engine: Engine, spec_ggufs: tuple[Path, Path], tmp_path: Path) -> None:
    target, _ = spec_ggufs
    (tmp_path / "folder").mkdir()
    for name in ("a.gguf", "b.gguf"):  # a folder of two GGUFs is no draft model
        write_tiny_gguf(tmp_path / "folder" / name, seed=ord(name[0]), n_layer=1)
    with pytest.raises(ModelfileError, match="single GGUF"):
        create(engine, "bad", f"FROM {target}\nDRAFT folder\n", tmp_path)


def test_a_modelfile_draft_may_name_a_model_in_the_store(engine: Engine, spec_ggufs: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    target, draft = spec_ggufs
    create(engine, "plain", f"FROM {target.name}\n", target.parent)
    create(engine, "tiny-draft:3l", f"FROM {draft.name}\n", draft.parent)
    create(engine, "named", f"FROM {target.name}\nDRAFT tiny-draft:3l\n", target.parent)
    record = engine.store.record("named")
    assert record.draft == engine.store.record("tiny-draft:3l").model_path  # the draft model's own blob, shared
    layers = [layer for layer in record.stored.manifest.layers if layer.mediaType == MEDIA_TYPE_DRAFT]
    assert len(layers) == 1 and layers[0].size == draft.stat().st_size
    expected = engine.generate("plain", PROMPT, options=GREEDY)
    final = engine.generate("named", PROMPT, options=GREEDY)
    assert final.response == expected.response and final.draft_count

    # The same through Engine.create's keyword, and a name replacing an inherited draft layer.
    engine.create("named-again", from_="named", draft="tiny-draft:3l")
    assert engine.store.record("named-again").draft == record.draft

    with pytest.raises(ModelNotFoundError) as missing:
        create(engine, "bad", f"FROM {target.name}\nDRAFT no-such-draft\n", target.parent)
    assert str(missing.value) == "model 'no-such-draft' not found"
    with pytest.raises(ModelfileError, match="single GGUF"):  # a name and a file at once
        create(engine, "bad", f"FROM {target.name}\nDRAFT {draft.name}\nDRAFT tiny-draft:3l\n", target.parent)
    with pytest.raises(ModelfileError, match="no such file"):  # a path-looking value stays a missing file
        create(engine, "bad", f"FROM {target.name}\nDRAFT tiny-draft.gguf\n", tmp_path)
    assert not engine.store.exists("bad")
