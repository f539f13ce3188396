"""Full integrity check of a store: every manifest's blobs exist and hash to their digests."""

from __future__ import annotations

import hashlib

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
