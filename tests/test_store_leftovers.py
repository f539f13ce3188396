"""Leftovers of killed processes (temporary blobs, ``.tmp-*`` folders, claims) are removed at once at the next
start; those of live processes are kept. The processes here are real and are killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ollamalib.engine import Engine
from ollamalib.store import ModelStore

TESTS = Path(__file__).resolve().parent

# Writes a blob that never ends, holds a scratch folder and claims a blob, then waits to be killed.
HOLDER = r"""
import sys, time
from ollamalib.store import ModelStore
store = ModelStore(sys.argv[1])
def chunks():
    yield b"x" * 4096
    print("writing", flush=True)
    time.sleep(3600)
    yield b""
with store.temp_dir() as tmp, store.claim() as claim:
    (tmp / "quantized.gguf").write_bytes(b"q" * 4096)
    claim.add("sha256:" + "ab" * 32)
    store.put_blob(chunks())
"""


def _holder(root: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(TESTS.parent)}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    return proc


def _temporaries(store: ModelStore) -> list[str]:
    names = [p.name for p in store.root.glob(".tmp-*")]
    names += [p.name for p in store.blobs_dir.glob("*-tmp-*")]
    names += [p.name for p in (store.locks_dir / "claims").glob("*")]
    return sorted(names)


def test_leftovers_of_a_killed_process_go_at_once_and_a_live_ones_stay(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    dead, live = _holder(store.root), _holder(store.root)
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
    live = _holder(store.root)
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
