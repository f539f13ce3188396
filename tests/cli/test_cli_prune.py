"""``ollamalib prune``: a hidden maintenance command that removes dead processes' leftovers at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from ollamalib.store import ModelStore

# Holds a scratch folder and writes a temporary blob, then waits to be killed.
HOLDER = r"""
import sys, time
from ollamalib.store import ModelStore
store = ModelStore(sys.argv[1])
def chunks():
    yield b"x" * 4096
    print("writing", flush=True)
    time.sleep(3600)
    yield b""
with store.temp_dir():
    store.put_blob(chunks())
"""


def test_prune_removes_a_killed_writers_leftovers_and_is_not_listed(cli) -> None:
    store = ModelStore(cli.models)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(store.root)], env=env, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert list(store.root.glob(".tmp-*")) and list(store.blobs_dir.glob("*-tmp-*"))
    result = cli("prune", check=True)
    assert result.stdout.startswith("removed 2 files from ")
    assert not list(store.root.glob(".tmp-*")) and not list(store.blobs_dir.glob("*-tmp-*"))
    assert "prune" not in cli("--help", check=True).stdout
