"""``ollamalib prune``: a hidden maintenance command that removes dead processes' leftovers at once."""

from __future__ import annotations

import signal

from store_check import start_holder

from ollamalib.store import ModelStore


def test_prune_removes_a_killed_writers_leftovers_and_is_not_listed(cli) -> None:
    store = ModelStore(cli.models)
    proc = start_holder(store.root)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert list(store.root.glob(".tmp-*")) and list(store.blobs_dir.glob("*-tmp-*"))
    result = cli("prune", check=True)
    assert result.stdout.startswith("removed 2 files from ")
    assert not list(store.root.glob(".tmp-*")) and not list(store.blobs_dir.glob("*-tmp-*"))
    assert "prune" not in cli("--help", check=True).stdout
