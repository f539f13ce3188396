"""How blobs are fetched: the request economy (no HEAD, no separate probe, one GET for small blobs), one
stream while it is fast and parallel parts when it is not, a manifest with a wrong size, a client without
socket access, and a corrupt small blob."""

from __future__ import annotations

import json
import os

import httpx
import pytest
from regtest_models import blob_names, model_digest, synthetic_model
from regtest_servers import FakeRegistry, Logged, LoggingProxy, make_manifest

from ollamalib.errors import DigestMismatchError
from ollamalib.registry._download import RATE_WINDOW, SMALL_BLOB
from ollamalib.types import MEDIA_TYPE_MODEL


def blob_gets(log: list[Logged], digest: str) -> list[Logged]:
    return [e for e in log if e.method == "GET" and e.path.endswith(f"/blobs/{digest}")]


def overlapping(entries: list[Logged], slack: float = 0.02) -> bool:
    """Whether two requests were in flight together for more than ``slack`` seconds (the proxy notes a
    response's end only after its last write returns, when the client may already have sent the next one)."""
    spans = sorted((e.started, e.ended) for e in entries)
    return any(later[0] < earlier[1] - slack for earlier, later in zip(spans, spans[1:]))


def push_synthetic(docker_registry, make_store, make_registry, repo_name, size: int, label: str) -> tuple[str, bytes]:
    name = repo_name(docker_registry.host, label)
    source = make_store("source")
    raw = synthetic_model(source, name, size)
    list(make_registry(source).push(name))
    return name, raw


def test_fresh_pull_needs_no_head_no_probe_and_one_get_per_small_blob(
    docker_registry, make_store, make_registry, repo_name
):
    name, raw = push_synthetic(docker_registry, make_store, make_registry, repo_name, 300_000, "economy")
    with LoggingProxy(docker_registry.host) as proxy:
        via = name.replace(docker_registry.host, proxy.host)
        dest = make_store("dest")
        list(make_registry(dest, part_size=100_000).pull(via))
        weights = str(model_digest(raw))
        config = json.loads(raw)["config"]["digest"]
        assert not [e for e in proxy.log if e.method == "HEAD"]
        assert sorted(e.range for e in blob_gets(proxy.log, weights)) == [
            "bytes=0-99999",
            "bytes=100000-199999",
            "bytes=200000-299999",
        ]
        assert [e.range for e in blob_gets(proxy.log, config)] == [None]
        assert dest.resolve(via).raw == raw
        assert not [n for n in blob_names(dest) if "partial" in n]


def test_a_fast_stream_fetches_the_parts_one_after_another_in_order(
    docker_registry, make_store, make_registry, repo_name
):
    name, raw = push_synthetic(docker_registry, make_store, make_registry, repo_name, 2_000_000, "solo")
    with LoggingProxy(docker_registry.host, rate=4_000_000, chunk=16 * 1024) as proxy:  # 62 ms a part
        via = name.replace(docker_registry.host, proxy.host)
        dest = make_store("dest")
        registry = make_registry(dest, part_size=250_000, max_parts=4, solo_rate=1.0)  # any stream is fast enough
        list(registry.pull(via))
        gets = blob_gets(proxy.log, str(model_digest(raw)))
        assert [e.range for e in gets] == [f"bytes={o}-{o + 249_999}" for o in range(0, 2_000_000, 250_000)]
        assert not overlapping(gets)
        assert dest.resolve(via).raw == raw


def test_a_slow_stream_is_joined_by_the_other_parts(docker_registry, make_store, make_registry, repo_name):
    name, raw = push_synthetic(docker_registry, make_store, make_registry, repo_name, 2_000_000, "widen")
    with LoggingProxy(docker_registry.host, rate=2_000_000, chunk=16 * 1024) as proxy:
        via = name.replace(docker_registry.host, proxy.host)
        dest = make_store("dest")
        list(make_registry(dest, part_size=250_000, max_parts=4).pull(via))
        gets = sorted(blob_gets(proxy.log, str(model_digest(raw))), key=lambda e: e.started)
        assert len(gets) == 8 and len({e.range for e in gets}) == 8
        joined = [e for e in gets if any(o.started < e.started < o.ended for o in gets)]
        assert joined, "no part ever ran in parallel"
        assert joined[0].started - gets[0].started >= RATE_WINDOW * 0.9  # the first stream ran alone for a while
        assert dest.resolve(via).raw == raw


def test_without_solo_rate_all_parts_start_at_once(docker_registry, make_store, make_registry, repo_name):
    name, raw = push_synthetic(docker_registry, make_store, make_registry, repo_name, 1_000_000, "ollama")
    with LoggingProxy(docker_registry.host, rate=1_000_000, chunk=16 * 1024) as proxy:
        via = name.replace(docker_registry.host, proxy.host)
        dest = make_store("dest")
        registry = make_registry(dest, part_size=250_000, max_parts=4, solo_rate=None)
        list(registry.pull(via))
        gets = sorted(blob_gets(proxy.log, str(model_digest(raw))), key=lambda e: e.started)
        assert len(gets) == 4
        assert all(e.started < gets[0].ended for e in gets)  # the others only waited for the first answer
        assert dest.resolve(via).raw == raw


def test_a_manifest_with_a_wrong_size_starts_over_with_the_registry_size(make_store, make_registry):
    data = os.urandom(300_000)
    with FakeRegistry() as fake:
        raw, blobs = make_manifest([(MEDIA_TYPE_MODEL, data)], b'{"model_format":"gguf"}')
        manifest = json.loads(raw)
        manifest["layers"][0]["size"] = 250_000
        raw = json.dumps(manifest).encode()
        fake.add_model("library/sized:latest", blobs, raw)
        store = make_store("s")
        events = list(make_registry(store, part_size=100_000).pull(f"{fake.host}/library/sized:latest"))
        digest = manifest["layers"][0]["digest"]
        assert store.read_blob(digest) == data
        assert [e.total for e in events if e.digest == digest][-1] == 300_000
        assert not [n for n in blob_names(store) if "partial" in n]


def test_a_corrupt_small_blob_is_rejected_and_nothing_stays(make_store, make_registry):
    with FakeRegistry() as fake:
        raw, blobs = make_manifest([(MEDIA_TYPE_MODEL, os.urandom(200_000))], b'{"model_format":"gguf"}')
        config = json.loads(raw)["config"]["digest"]
        fake.state.blobs.update(blobs)
        fake.state.blobs[config] = b'{"model_format":"ggml"}'
        fake.state.manifests["library/bad:latest"] = raw
        store = make_store("s")
        expected = f"^digest mismatch, file must be downloaded again: want {config}, got sha256:"
        with pytest.raises(DigestMismatchError, match=expected):
            list(make_registry(store).pull(f"{fake.host}/library/bad:latest"))
        assert not store.has_blob(config)
        assert not [n for n in blob_names(store) if config.removeprefix("sha256:") in n]
        assert not store.exists(f"{fake.host}/library/bad:latest")


def test_a_client_without_socket_access_reads_through_httpx(make_store, make_registry):
    """A custom httpx client (here a mock transport) gives no socket to read from: bodies come via httpx."""
    data = os.urandom(250_000)
    raw, blobs = make_manifest([(MEDIA_TYPE_MODEL, data)], b'{"model_format":"gguf"}')
    ranges: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v2/library/mock/manifests/latest":
            return httpx.Response(200, content=raw)
        digest = path.rsplit("/", 1)[1]
        body = blobs[digest]
        rng = request.headers.get("Range")
        ranges.append(rng)
        if rng is None:
            return httpx.Response(200, content=body)
        start, end = (int(x) for x in rng.removeprefix("bytes=").split("-"))
        headers = {"Content-Range": f"bytes {start}-{end}/{len(body)}"}
        return httpx.Response(206, content=body[start : end + 1], headers=headers)

    store = make_store("s")
    client = httpx.Client(transport=httpx.MockTransport(handler))
    try:
        list(make_registry(store, http=client, part_size=100_000).pull("example.test/library/mock:latest"))
    finally:
        client.close()
    weights = str(model_digest(raw))
    assert store.read_blob(weights) == data
    assert sorted(r for r in ranges if r) == ["bytes=0-99999", "bytes=100000-199999", "bytes=200000-249999"]
    assert len(blobs[json.loads(raw)["config"]["digest"]]) <= SMALL_BLOB and ranges.count(None) == 1
