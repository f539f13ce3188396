"""A pull that runs out of disk space, on a real full file system (a 20 MB tmpfs): it says Ollama's
``no space left on device``, leaves no partial file filling the disk, and the store keeps working (creates,
copies and the retried pull), also after a restart."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from regtest_models import blob_names, model_digest, synthetic_model
from regtest_servers import LoggingProxy

from gguf_factory import write_tiny_gguf
from store_check import integrity_problems
from ollamalib.create import create_model
from ollamalib.engine import Engine
from ollamalib.errors import NoSpaceError
from ollamalib.store import ModelStore

MB = 1000 * 1000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 20 MB file system (needs root, as `make test` runs; mounting is required, not optional)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


WEIGHTS: dict[str, str] = {}  # model name -> blob file name of its weights


def _push(docker_registry, make_store, make_registry, repo_name, size: int, label: str) -> str:
    name = repo_name(docker_registry.host, label)
    source = make_store("source")
    WEIGHTS[name] = model_digest(synthetic_model(source, name, size, seed=label.encode())).filename
    list(make_registry(source).push(name))
    return name


def _store_still_works(store: ModelStore, tmp_path: Path) -> None:
    gguf = write_tiny_gguf(tmp_path / "after.gguf")
    list(create_model(store, "after-full", from_=str(gguf)))
    store.copy("after-full", "after-full-copy")
    assert integrity_problems(store) == []


def test_a_pull_too_big_for_the_disk_fails_at_once_and_leaves_nothing(
    small_disk, tmp_path, docker_registry, make_store, make_registry, repo_name
):
    name = _push(docker_registry, make_store, make_registry, repo_name, 30 * MB, "toobig")
    store = ModelStore(small_disk / "models")
    with pytest.raises(NoSpaceError, match="^no space left on device$"):
        list(make_registry(store).pull(name))
    assert not [n for n in blob_names(store) if "partial" in n or "-tmp-" in n]
    _store_still_works(store, tmp_path)


def test_pulls_that_fill_the_disk_midway_clean_up_and_can_be_redone_after_a_restart(
    small_disk, tmp_path, docker_registry, make_store, make_registry, repo_name
):
    names = [_push(docker_registry, make_store, make_registry, repo_name, 12 * MB, f"half{i}") for i in range(2)]
    store = ModelStore(small_disk / "models")
    outcomes: dict[str, str] = {}
    with LoggingProxy(docker_registry.host, rate=40 * MB) as proxy:  # slow enough that both are under way

        def pull(name: str) -> None:
            via = name.replace(docker_registry.host, proxy.host)
            try:
                list(make_registry(store, max_parts=1).pull(via))
                outcomes[name] = "ok"
            except NoSpaceError as exc:
                outcomes[name] = str(exc)
            except Exception as exc:  # noqa: BLE001 - reported below
                outcomes[name] = f"{type(exc).__name__}: {exc}"

        threads = [threading.Thread(target=pull, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert set(outcomes.values()) <= {"ok", "no space left on device"}, outcomes
    assert "no space left on device" in outcomes.values(), outcomes
    # Whatever was kept of a failed download leaves the store room to work.
    assert store.free_space_reserve_left() >= 0
    _store_still_works(store, tmp_path)
    # After a restart (a new Engine on the same store) the failed pulls are redone, one at a time (both do
    # not fit together), each whole, then deleted to make room for the next.
    with Engine(models=store.root) as engine:
        resumable = {p.name.split("-partial")[0] for p in store.blobs_dir.glob("*-partial")}

        def order(name: str) -> tuple[bool, bool]:  # the pulled ones first, then one that kept its progress
            return outcomes[name] != "ok", WEIGHTS[name] not in resumable

        for name in sorted(names, key=order):
            if outcomes[name] != "ok":
                list(make_registry(engine.store).pull(name))
                assert integrity_problems(engine.store) == []
            engine.delete(name)
    assert not [n for n in blob_names(store) if "partial" in n or "-tmp-" in n]
