"""Leftovers of killed processes (temporary blobs, ``.tmp-*`` folders, claims) are removed at once at the next
start; those of live processes are kept. The processes here are real and are killed with SIGKILL."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from store_check import start_holder

from ollamalib.engine import Engine
from ollamalib.store import ModelStore


def _temporaries(store: ModelStore) -> list[str]:
    names = [p.name for p in store.root.glob(".tmp-*")]
    names += [p.name for p in store.blobs_dir.glob("*-tmp-*")]
    names += [p.name for p in (store.locks_dir / "claims").glob("*")]
    return sorted(names)


def test_leftovers_of_a_killed_process_go_at_once_and_a_live_ones_stay(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    dead, live = start_holder(store.root), start_holder(store.root)
    try:
        dead.send_signal(signal.SIGKILL)
        dead.wait(30)
        assert len(_temporaries(store)) == 6  # a folder, a blob and a claim each
        with Engine(models=store.root):  # an Engine's start removes the dead process's leftovers
            pass
        assert len(_temporaries(store)) == 3  # the live process's folder, blob and claim
    finally:
        live.send_signal(signal.SIGKILL)
        live.wait(30)
    removed = store.remove_leftovers()
    assert _temporaries(store) == []
    assert sorted(p.name[:4] for p in removed) == ['.tmp', 'sha2']
    assert list((store.locks_dir / "leases").iterdir()) == []


def test_prune_keeps_a_live_writers_old_temporary_file(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    live = start_holder(store.root)
    try:
        tmp_blob = next(store.blobs_dir.glob("*-tmp-*"))
        os.utime(tmp_blob, (1, 1))  # older than any age rule
        store.prune()
        assert tmp_blob.exists()
    finally:
        live.send_signal(signal.SIGKILL)
        live.wait(30)
    store.prune()
    assert not tmp_blob.exists()
