"""Models for the registry tests: a real tiny GGUF model made by create, or a synthetic one of any size."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ollamalib.create import create_model
from ollamalib.names import Digest
from ollamalib.store import ModelStore
from ollamalib.types import MEDIA_TYPE_CONFIG, MEDIA_TYPE_MANIFEST, MEDIA_TYPE_MODEL, MEDIA_TYPE_SYSTEM


def create_gguf_model(store: ModelStore, name: str, gguf_path: Path, **kw) -> bytes:
    """``create`` a model from a GGUF file (as ``ollamalib create`` would); returns the manifest bytes."""
    for _ in create_model(store, name, from_=str(gguf_path), **kw):
        pass
    return store.resolve(name).raw


def synthetic_model(store: ModelStore, name: str, size: int, *, seed: bytes = b"", system: str | None = None) -> bytes:
    """A model whose weights are ``size`` random bytes, with a pretty-printed manifest; returns its bytes."""
    weights = os.urandom(size)
    model = store.put_blob(weights)
    config = json.dumps({"model_format": "gguf", "seed": seed.hex()}).encode()
    cfg = store.put_blob(config)
    layers = [{"mediaType": MEDIA_TYPE_MODEL, "digest": str(model), "size": size}]
    if system is not None:
        sys_digest = store.put_blob(system.encode())
        layers.append({"mediaType": MEDIA_TYPE_SYSTEM, "digest": str(sys_digest), "size": len(system.encode())})
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_MANIFEST,
        "config": {"mediaType": MEDIA_TYPE_CONFIG, "digest": str(cfg), "size": len(config)},
        "layers": layers,
    }
    raw = json.dumps(manifest, indent=2).encode()
    store.put_manifest(name, raw)
    return raw


def model_digest(raw: bytes) -> Digest:
    """The digest of a manifest's model layer."""
    layer = next(l for l in json.loads(raw)["layers"] if l["mediaType"] == MEDIA_TYPE_MODEL)
    return Digest.parse(layer["digest"])


def blob_names(store: ModelStore) -> list[str]:
    return sorted(p.name for p in store.blobs_dir.iterdir()) if store.blobs_dir.is_dir() else []
