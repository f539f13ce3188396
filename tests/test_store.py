import hashlib
import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from ollamalib.errors import BlobNotFoundError, DigestMismatchError, InvalidNameError, ModelNotFoundError
from ollamalib.names import Digest
from ollamalib.store import ModelStore
from ollamalib.types import MEDIA_TYPE_CONFIG, MEDIA_TYPE_MODEL, MEDIA_TYPE_TEMPLATE, Layer, Manifest


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_model(store: ModelStore, name: str, weights: bytes, template: bytes | None = None) -> Manifest:
    config = json.dumps({"model_format": "gguf", "model_family": "llama", "file_type": "Q4_K_M", "model_type": "1B"}).encode()
    store.put_blob(config)
    store.put_blob(weights)
    layers = [Layer(mediaType=MEDIA_TYPE_MODEL, digest=sha(weights), size=len(weights))]
    if template is not None:
        store.put_blob(template)
        layers.append(Layer(mediaType=MEDIA_TYPE_TEMPLATE, digest=sha(template), size=len(template)))
    manifest = Manifest(config=Layer(mediaType=MEDIA_TYPE_CONFIG, digest=sha(config), size=len(config)), layers=layers)
    store.put_manifest(name, manifest)
    return manifest


def test_put_blob_verifies_and_names_by_digest(store):
    d = store.put_blob(b"hello", sha(b"hello"))
    assert str(d) == sha(b"hello")
    assert store.blob_path(d).name == "sha256-" + d.hex
    assert store.has_blob(d) and store.read_blob(d) == b"hello"
    assert oct(store.blob_path(d).stat().st_mode & 0o777) == "0o644"


def test_put_blob_streams_file_objects_and_iterables(store, tmp_path):
    src = tmp_path / "f.bin"
    src.write_bytes(os.urandom(3 << 20))
    assert store.put_blob_file(src) == Digest.parse(sha(src.read_bytes()))
    assert store.put_blob(iter([b"a", b"b"])) == Digest.parse(sha(b"ab"))


def test_digest_mismatch_leaves_nothing_behind(store):
    wrong = sha(b"other")
    with pytest.raises(DigestMismatchError) as exc:
        store.put_blob(b"hello", wrong)
    assert "digest mismatch" in str(exc.value) and isinstance(exc.value, OSError)
    assert not store.has_blob(wrong) and not store.has_blob(sha(b"hello"))
    assert list(store.blobs_dir.iterdir()) == []


def test_missing_blob_is_a_lookup_error(store):
    with pytest.raises(BlobNotFoundError) as exc:
        store.read_blob(sha(b"nope"))
    assert isinstance(exc.value, LookupError)


def test_manifest_round_trip_byte_for_byte(store):
    raw = b'{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:' + b"0" * 64 + b'","size":2},"layers":[],  "extra":true}'
    stored = store.put_manifest("example.com/ns/m:t", raw)
    assert stored.path == store.root / "manifests/example.com/ns/m/t"
    assert stored.path.read_bytes() == raw
    assert store.resolve("EXAMPLE.com/NS/M:T").raw == raw
    assert store.resolve("example.com/ns/m:t").digest == hashlib.sha256(raw).hexdigest()


def test_lookup_is_case_insensitive_and_keeps_disk_casing(store):
    make_model(store, "MyModel:Tag", b"w")
    found = store.resolve("mymodel:tag")
    assert found.name.model == "MyModel" and found.name.tag == "Tag"
    make_model(store, "mymodel:TAG", b"w2")  # overwrites the same model, keeps the casing on disk
    assert [p.name for p in (store.manifests_dir / "registry.ollama.ai/library").iterdir()] == ["MyModel"]
    assert store.record("MYMODEL:tag").model_path == store.blob_path(sha(b"w2"))


def test_not_found_names_the_model_as_given(store):
    with pytest.raises(ModelNotFoundError, match="model 'ghost' not found") as exc:
        store.resolve("ghost")
    assert isinstance(exc.value, LookupError)


def test_names_cannot_escape_the_store(store):
    for bad in ["../x", "../../etc/passwd", "a/../../b", "/abs"]:
        with pytest.raises(InvalidNameError):
            store.manifest_path(bad)


def test_list_fields_and_order(store):
    m1 = make_model(store, "old:latest", b"one")
    time.sleep(0.01)
    os.utime(store.manifest_path("old"), (time.time() - 100, time.time() - 100))
    make_model(store, "user/new:1", b"two-two")
    models = store.list()
    assert [m.name for m in models] == ["user/new:1", "old:latest"]
    old = models[1]
    assert old.model == "old:latest"
    assert old.size == m1.size == len(b"one") + m1.config.size
    assert old.digest == hashlib.sha256(store.manifest_path("old").read_bytes()).hexdigest()
    assert old.details.family == "llama" and old.details.quantization_level == "Q4_K_M"
    assert old.details.parameter_size == "1B" and old.details.format == "gguf"


def test_copy_shares_blobs_and_delete_keeps_shared_ones(store):
    make_model(store, "a", b"shared", template=b"{{ .Prompt }}")
    store.copy("a", "b")
    assert store.resolve("b").raw == store.resolve("a").raw
    store.delete("a")
    assert not store.exists("a")
    assert store.has_blob(sha(b"shared"))
    store.delete("b")
    assert not store.has_blob(sha(b"shared")) and not store.has_blob(sha(b"{{ .Prompt }}"))
    assert list(store.manifests_dir.iterdir()) == []  # empty directories removed


def test_delete_unknown_model(store):
    with pytest.raises(ModelNotFoundError):
        store.delete("ghost")


def test_prune_removes_old_unreferenced_blobs_and_partials(store):
    make_model(store, "keep", b"kept")
    orphan = store.put_blob(b"orphan")
    young = store.put_blob(b"young")
    partial = store.blobs_dir / ("sha256-" + "1" * 64 + "-partial")
    partial.write_bytes(b"x")
    old = time.time() - 7200
    for p in (store.blob_path(orphan), partial, store.blob_path(sha(b"kept"))):
        os.utime(p, (old, old))
    removed = store.prune()
    assert set(removed) == {store.blob_path(orphan), partial}
    assert store.has_blob(young) and store.has_blob(sha(b"kept"))


def test_prune_does_nothing_when_a_manifest_is_corrupt(store):
    orphan = store.put_blob(b"orphan")
    os.utime(store.blob_path(orphan), (0, 0))
    bad = store.manifests_dir / "registry.ollama.ai/library/bad/latest"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    assert store.prune() == []
    assert store.has_blob(orphan)


def _writer(root: str, payload: bytes, rounds: int) -> None:
    store = ModelStore(root)
    for i in range(rounds):
        store.put_blob(payload, sha(payload))
        make_model(store, "race:latest", payload)
        assert store.read_blob(sha(payload)) == payload
        assert store.resolve("race").manifest.layers[0].digest == sha(payload)


def test_two_processes_writing_the_same_blob_and_manifest(tmp_path):
    root = tmp_path / "models"
    payload = os.urandom(2 << 20)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(root), payload, 15)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    store = ModelStore(root)
    assert store.read_blob(sha(payload)) == payload
    leftovers = [p.name for p in store.blobs_dir.iterdir() if "tmp" in p.name]
    assert leftovers == []
    assert len(store.list()) == 1


OLLAMA_CONFIG = b'{"model_format":"gguf","model_family":"llama","model_families":["llama"],"model_type":"3.2B","file_type":"Q4_K_M","architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:dde5aa3fc5ffc17176b5e8bdc82f587b24b2678c6c66101bf7da77af9f7ccdff"]}}'


def write_ollama_store(root: Path) -> dict[str, bytes]:
    """A store laid out byte for byte the way Ollama writes one (Go's json.Marshal, sha256-<hex> blobs)."""
    blobs = {
        "model": b"GGUF" + b"\0" * 60,
        "template": b"<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>",
        "license": b"LLAMA 3.2 COMMUNITY LICENSE AGREEMENT",
        "params": b'{"stop":["<|start_header_id|>","<|end_header_id|>","<|eot_id|>"]}',
        "config": OLLAMA_CONFIG,
    }
    (root / "blobs").mkdir(parents=True)
    for data in blobs.values():
        (root / "blobs" / ("sha256-" + hashlib.sha256(data).hexdigest())).write_bytes(data)

    def layer(mt, key):
        return '{"mediaType":"%s","digest":"%s","size":%d}' % (mt, sha(blobs[key]), len(blobs[key]))

    manifest = (
        '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",'
        '"config":%s,"layers":[%s,%s,%s,%s]}'
        % (
            layer("application/vnd.docker.container.image.v1+json", "config"),
            layer("application/vnd.ollama.image.model", "model"),
            layer("application/vnd.ollama.image.template", "template"),
            layer("application/vnd.ollama.image.license", "license"),
            layer("application/vnd.ollama.image.params", "params"),
        )
    ).encode()
    path = root / "manifests/registry.ollama.ai/library/llama3.2/latest"
    path.parent.mkdir(parents=True)
    path.write_bytes(manifest)
    blobs["manifest"] = manifest
    return blobs


def test_reads_a_store_written_by_ollama(tmp_path):
    root = tmp_path / "ollama-models"
    blobs = write_ollama_store(root)
    store = ModelStore(root)
    [model] = store.list()
    assert model.name == "llama3.2:latest"
    assert model.digest == hashlib.sha256(blobs["manifest"]).hexdigest()
    assert model.size == sum(len(v) for k, v in blobs.items() if k != "manifest")
    assert model.details.families == ["llama"] and model.details.parameter_size == "3.2B"
    rec = store.record("llama3.2")
    assert rec.template == blobs["template"].decode()
    assert rec.parameters == {"stop": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]}
    assert rec.license == ["LLAMA 3.2 COMMUNITY LICENSE AGREEMENT"]
    assert rec.model_path == root / "blobs" / ("sha256-" + hashlib.sha256(blobs["model"]).hexdigest())
    # writing through ollamalib keeps Ollama's bytes: a copy is byte-identical
    store.copy("llama3.2", "mine")
    assert (root / "manifests/registry.ollama.ai/library/mine/latest").read_bytes() == blobs["manifest"]
