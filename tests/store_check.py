"""Full integrity check of a store (every manifest's blobs exist and hash to their digests), and a process
that holds temporary files for the leftover tests."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from ollamalib.names import Digest
from ollamalib.store import ModelStore


def integrity_problems(store: ModelStore) -> list[str]:
    """One line per manifest blob that is missing or does not match its digest (empty when all is well)."""
    problems = []
    hashed: dict[str, str] = {}
    for stored in store.iter_manifests():
        for digest in sorted(stored.manifest.digests()):
            path = store.blob_path(digest)
            if not path.is_file():
                problems.append(f"{stored.name}: blob {digest} missing")
                continue
            if digest not in hashed:
                h = hashlib.sha256()
                with path.open("rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                hashed[digest] = h.hexdigest()
            if hashed[digest] != Digest.parse(digest).hex:
                problems.append(f"{stored.name}: blob {digest} does not match its digest")
    return problems


# Writes a blob that never ends, holds a scratch folder and claims a blob, then waits to be killed.
_HOLDER = r"""
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


def start_holder(root: Path) -> subprocess.Popen:
    """A real process holding a ``.tmp-*`` folder, a temporary blob and a claim in the store at ``root``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(root)], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    return proc
