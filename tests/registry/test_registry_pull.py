"""Pull and push against real registries on loopback: round trips, resume, faults, concurrency."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from regtest_models import blob_names, create_gguf_model, model_digest, synthetic_model
from regtest_servers import FakeRegistry, LoggingProxy, fetched_bytes, make_manifest

from ollamalib.errors import DigestMismatchError, ModelNotFoundError, RegistryError
from ollamalib.names import Digest, ModelName
from ollamalib.registry import InsecureProtocolError
from ollamalib.registry._download import Part, default_part_size
from ollamalib.types import MEDIA_TYPE_MODEL

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("pull_worker.py")


def statuses(events) -> list[str]:
    out: list[str] = []
    for e in events:
        if not out or out[-1] != e.status:
            out.append(e.status)
    return out


def snapshot(store, name) -> tuple[bytes, dict[str, bytes]]:
    stored = store.resolve(name)
    return stored.raw, {d: store.read_blob(d) for d in stored.manifest.digests()}


# -- round trips -------------------------------------------------------------------------------------------


def test_push_then_pull_tiny_model_round_trips_byte_for_byte(
    docker_registry, tiny_gguf, make_store, make_registry, repo_name
):
    name = repo_name(docker_registry.host)
    store = make_store("local")
    create_gguf_model(store, name, tiny_gguf, system="You are tiny.")
    raw, blobs = snapshot(store, name)
    registry = make_registry(store)

    pushed = list(registry.push(name))
    assert pushed[0].status == "retrieving manifest"
    assert [e.status for e in pushed[-2:]] == ["pushing manifest", "success"]
    manifest = json.loads(raw)
    digests = [l["digest"] for l in manifest["layers"]] + [manifest["config"]["digest"]]
    pushing = [e for e in pushed if e.status.startswith("pushing ") and e.status != "pushing manifest"]
    assert [s for s in statuses(pushing)] == [f"pushing {Digest.parse(d).short}" for d in digests]
    assert all(e.digest in digests and e.total is not None for e in pushing)

    store.delete(name)
    assert not store.exists(name) and blob_names(store) == []
    events = list(registry.pull(name))
    assert statuses(events) == (
        ["pulling manifest"]
        + [f"pulling {Digest.parse(d).short}" for d in digests]
        + ["verifying sha256 digest", "writing manifest", "success"]
    )
    last = {e.digest: e for e in events if e.digest}
    assert all(last[d].completed == last[d].total == len(blobs[d]) for d in digests)
    assert snapshot(store, name) == (raw, blobs)
    assert store.resolve(name).path.read_bytes() == raw
    assert not [n for n in blob_names(store) if "partial" in n]


def test_pull_into_fresh_store_with_many_parts_and_repull_is_a_cache_hit(
    docker_registry, make_store, make_registry, repo_name
):
    name = repo_name(docker_registry.host, "parts")
    source = make_store("source")
    raw = synthetic_model(source, name, 1_000_000)
    list(make_registry(source).push(name))
    with LoggingProxy(docker_registry.host) as proxy:
        via = name.replace(docker_registry.host, proxy.host)
        dest = make_store("dest")
        registry = make_registry(dest, part_size=64 * 1024, max_parts=4)
        list(registry.pull(via))
        digest = str(model_digest(raw))
        ranges = proxy.ranges(digest)
        assert fetched_bytes(ranges) == 1_000_000
        assert len([r for r in ranges if r != (0, 0)]) == 16  # ceil(1e6 / 65536)
        assert dest.resolve(via).raw == raw
        assert dest.read_blob(digest) == source.read_blob(digest)

        proxy.log.clear()
        again = list(registry.pull(via))
        assert not [e for e in proxy.log if "/blobs/" in e.path]
        assert all(e.completed == e.total for e in again if e.digest)
        assert statuses(again)[-1] == "success" and "removing unused layers" not in statuses(again)


def test_unknown_model_raises_ollamas_error(docker_registry, make_store, make_registry):
    registry = make_registry(make_store("s"))
    name = f"{docker_registry.host}/test/does-not-exist:latest"
    events = registry.pull(name)
    assert next(events).status == "pulling manifest"
    with pytest.raises(ModelNotFoundError) as info:
        next(events)
    assert str(info.value) == "pull model manifest: file does not exist"


def test_http_scheme_needs_insecure(make_store, make_registry):
    registry = make_registry(make_store("s"), insecure=False)
    with pytest.raises(InsecureProtocolError, match="^insecure protocol http$"):
        list(registry.pull("http://127.0.0.1:9/library/x:latest"))
    store = make_store("s")
    synthetic_model(store, "http://127.0.0.1:9/library/x:latest", 10)
    events = registry.push("http://127.0.0.1:9/library/x:latest")
    assert next(events).status == "retrieving manifest"
    with pytest.raises(InsecureProtocolError):
        next(events)


def test_new_manifest_for_a_tag_removes_unused_layers(docker_registry, make_store, make_registry, repo_name):
    name = repo_name(docker_registry.host, "retag")
    source, dest = make_store("source"), make_store("dest")
    first = synthetic_model(source, name, 5000, system="shared system prompt")
    list(make_registry(source).push(name))
    registry = make_registry(dest)
    list(registry.pull(name))
    old_weights = str(model_digest(first))
    assert dest.has_blob(old_weights)

    second = synthetic_model(source, name, 6000, system="shared system prompt", seed=b"2")
    list(make_registry(source).push(name))
    events = list(registry.pull(name))
    assert statuses(events)[-3:] == ["writing manifest", "removing unused layers", "success"]
    assert dest.resolve(name).raw == second
    assert not dest.has_blob(old_weights)
    assert dest.has_blob(str(model_digest(second)))
    system = [l["digest"] for l in json.loads(second)["layers"] if l["digest"] != str(model_digest(second))][0]
    assert dest.has_blob(system)  # still used by the new manifest


def test_noprune_keeps_old_layers(docker_registry, make_store, make_registry, repo_name, reg_settings):
    name = repo_name(docker_registry.host, "noprune")
    source, dest = make_store("source"), make_store("dest")
    first = synthetic_model(source, name, 3000)
    list(make_registry(source).push(name))
    registry = make_registry(dest, settings=reg_settings.replace(noprune=True))
    list(registry.pull(name))
    synthetic_model(source, name, 3000, seed=b"x")
    list(make_registry(source).push(name))
    assert "removing unused layers" not in statuses(registry.pull(name))
    assert dest.has_blob(str(model_digest(first)))


# -- faults --------------------------------------------------------------------------------------------------


def _fake_model(fake: FakeRegistry, size: int, repo_tag: str = "library/fake:latest") -> tuple[bytes, dict[str, bytes]]:
    raw, blobs = make_manifest([(MEDIA_TYPE_MODEL, os.urandom(size))], b'{"model_format":"gguf"}')
    fake.add_model(repo_tag, blobs, raw)
    return raw, blobs


def test_corrupt_blob_is_rejected_and_nothing_stays(make_store, make_registry):
    with FakeRegistry() as fake:
        raw, blobs = _fake_model(fake, 300_000)
        weights = str(model_digest(raw))
        bad = bytearray(blobs[weights])
        bad[123_456] ^= 0xFF
        fake.state.blobs[weights] = bytes(bad)
        store = make_store("s")
        registry = make_registry(store, part_size=100_000)
        with pytest.raises(DigestMismatchError) as info:
            list(registry.pull(f"{fake.host}/library/fake:latest"))
        got = "sha256:" + hashlib.sha256(bad).hexdigest()
        assert str(info.value) == f"digest mismatch, file must be downloaded again: want {weights}, got {got}"
        assert blob_names(store) == []
        assert not store.exists(f"{fake.host}/library/fake:latest")


def test_stalled_part_is_retried_from_where_it_stopped(make_store, make_registry):
    with FakeRegistry() as fake:
        raw, blobs = _fake_model(fake, 400_000)
        weights = str(model_digest(raw))
        fake.state.stall_once.add(weights)
        fake.state.stall_seconds = 3.0
        store = make_store("s")
        registry = make_registry(store, part_size=400_000, stall_timeout=0.3)
        started = time.monotonic()
        list(registry.pull(f"{fake.host}/library/fake:latest"))
        assert time.monotonic() - started < 2.5  # did not wait for the stalled response to end
        assert store.read_blob(weights) == blobs[weights]
        gets = [r for r in fake.ranged_gets(weights) if r != (0, 0)]
        assert gets[0] == (0, 399_999)
        assert gets[1][0] > 0 and gets[1][1] == 399_999  # resumed mid-part, not from the start


def test_failing_part_is_retried_then_resumable_after_giving_up(make_store, make_registry):
    with FakeRegistry() as fake:
        raw, blobs = _fake_model(fake, 200_000)
        weights = str(model_digest(raw))
        name = f"{fake.host}/library/fake:latest"
        fake.state.fail_times[weights] = 2
        store = make_store("s")
        list(make_registry(store, part_size=100_000, max_parts=1).pull(name))
        assert store.read_blob(weights) == blobs[weights]

        store2 = make_store("s2")
        fake.state.fail_times[weights] = 100
        with pytest.raises(RegistryError, match="max retries exceeded"):
            list(make_registry(store2, part_size=100_000, max_parts=1, max_retries=3).pull(name))
        leftovers = blob_names(store2)
        assert any(n.endswith("-partial") for n in leftovers) and any("-partial-" in n for n in leftovers)
        fake.state.fail_times[weights] = 0
        list(make_registry(store2, part_size=100_000).pull(name))
        assert store2.read_blob(weights) == blobs[weights]
        assert not [n for n in blob_names(store2) if "partial" in n]


def test_cross_host_redirect_fetches_parts_from_the_final_url(make_store, make_registry):
    with FakeRegistry() as fake, FakeRegistry() as cdn:
        raw, blobs = _fake_model(fake, 250_000)
        cdn.state.blobs.update(blobs)
        fake.state.redirect_to = f"localhost:{cdn.port}"  # another host name: parts go there directly
        store = make_store("s")
        list(make_registry(store, part_size=100_000).pull(f"{fake.host}/library/fake:latest"))
        weights = str(model_digest(raw))
        assert store.read_blob(weights) == blobs[weights]
        cdn_gets = [r for r in cdn.ranged_gets(weights) if r != (0, 0)]
        assert sorted(cdn_gets) == [(0, 99_999), (100_000, 199_999), (200_000, 249_999)]
        # only the first part's request reached the registry (Ollama's directURL probe); it was redirected
        assert [r for r in fake.ranged_gets(weights)] == [(0, 99_999)]


# -- concurrency -------------------------------------------------------------------------------------------


def test_two_threads_pulling_the_same_model_download_each_blob_once(
    docker_registry, make_store, make_registry, repo_name
):
    name = repo_name(docker_registry.host, "threads")
    source = make_store("source")
    raw = synthetic_model(source, name, 2_000_000)
    list(make_registry(source).push(name))
    with LoggingProxy(docker_registry.host, rate=8_000_000) as proxy:
        via = name.replace(docker_registry.host, proxy.host)
        dest = make_store("dest")
        results: list[object] = []

        def pull() -> None:
            try:
                results.append(statuses(make_registry(dest, part_size=256 * 1024, max_parts=4).pull(via))[-1])
            except Exception as exc:  # noqa: BLE001
                results.append(exc)

        threads = [threading.Thread(target=pull) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert results == ["success", "success"]
        weights = str(model_digest(raw))
        assert fetched_bytes(proxy.ranges(weights)) == 2_000_000
        assert dest.read_blob(weights) == source.read_blob(weights)


def _worker(store: Path, home: Path, name: str, part_size: int, max_parts: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(store), str(home), name, str(part_size), str(max_parts)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )


def test_two_processes_pulling_the_same_model_download_each_blob_once(
    docker_registry, make_store, make_registry, repo_name, home
):
    name = repo_name(docker_registry.host, "procs")
    source = make_store("source")
    raw = synthetic_model(source, name, 3_000_000)
    list(make_registry(source).push(name))
    with LoggingProxy(docker_registry.host, rate=6_000_000) as proxy:
        via = name.replace(docker_registry.host, proxy.host)
        dest = make_store("dest")
        procs = [_worker(dest.root, home, via, 256 * 1024, 4) for _ in range(2)]
        outputs = [p.communicate(timeout=60) for p in procs]
        for p, (out, err) in zip(procs, outputs):
            assert p.returncode == 0, err
            assert json.loads(out.strip().splitlines()[-1]) == {"status": "success"}
        weights = str(model_digest(raw))
        assert fetched_bytes(proxy.ranges(weights)) == 3_000_000
        assert dest.read_blob(weights) == source.read_blob(weights)
        assert dest.resolve(via).raw == raw


def test_killed_pull_resumes_without_refetching_completed_parts(
    docker_registry, make_store, make_registry, repo_name, home
):
    size, part = 6_000_000, 500_000
    name = repo_name(docker_registry.host, "resume")
    source = make_store("source")
    raw = synthetic_model(source, name, size)
    list(make_registry(source).push(name))
    weights = model_digest(raw)
    with LoggingProxy(docker_registry.host, rate=1_500_000, chunk=16 * 1024) as proxy:
        via = name.replace(docker_registry.host, proxy.host)
        dest = make_store("dest")
        final = dest.blob_path(weights)
        proc = _worker(dest.root, home, via, part, 2)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                states = _part_states(final)
                if sum(p.completed == p.size for p in states) >= 3:
                    break
                assert proc.poll() is None, proc.stderr.read()
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(10)
        assert not final.exists()
        before = _part_states(final)
        assert len(before) == size // part
        done = [p for p in before if p.completed == p.size]
        assert 3 <= len(done) < len(before)
        assert final.with_name(final.name + "-partial").stat().st_size == size

        time.sleep(0.2)  # let the proxy log requests the killed process had already sent
        proxy.log.clear()
        proxy.rate = None
        events = list(make_registry(dest, part_size=part, max_parts=4).pull(via))
        assert statuses(events)[-1] == "success"
        assert dest.read_blob(weights) == source.read_blob(weights)
        ranges = [r for r in proxy.ranges(str(weights)) if r != (0, 0)]
        for p in done:
            assert not [r for r in ranges if r[0] <= p.stops_at - 1 and r[1] >= p.offset], f"part {p.n} refetched"
        expected = sorted((p.starts_at, p.stops_at - 1) for p in before if p.completed < p.size)
        assert sorted(ranges) == expected
        assert fetched_bytes(ranges) == size - sum(p.completed for p in before)
        first = next(e for e in events if e.digest == str(weights))
        assert first.completed == sum(p.completed for p in before)  # progress starts where it stopped
        assert not [n for n in blob_names(dest) if "partial" in n]


def _part_states(final: Path) -> list[Part]:
    states = []
    for path in final.parent.glob(final.name + "-partial-*"):
        if path.name.rsplit("-", 1)[1].isdigit():
            try:
                states.append(Part.decode(path.read_bytes()))
            except (ValueError, KeyError):
                continue
    return sorted(states, key=lambda p: p.n)


# -- push details ------------------------------------------------------------------------------------------


def test_push_skips_blobs_the_registry_has_and_mounts_from_another_repo(
    docker_registry, make_store, make_registry, repo_name
):
    source_name = repo_name(docker_registry.host, "base")
    store = make_store("s")
    raw = synthetic_model(store, source_name, 300_000)
    list(make_registry(store).push(source_name))
    base = ModelName.parse(source_name)

    manifest = json.loads(raw)
    for layer in manifest["layers"]:
        layer["from"] = f"{base.namespace}/{base.model}:{base.tag}"
    derived_raw = json.dumps(manifest).encode()
    derived = repo_name(docker_registry.host, "derived", namespace="other")
    store.put_manifest(derived, derived_raw)
    with LoggingProxy(docker_registry.host) as proxy:
        via = derived.replace(docker_registry.host, proxy.host)
        store.put_manifest(via, derived_raw)
        events = list(make_registry(store).push(via))
        assert statuses(events)[-1] == "success"
        weights = str(model_digest(raw))
        posts = [e for e in proxy.log if e.method == "POST"]
        mount = [e for e in posts if f"mount={weights.replace(':', '%3A')}" in e.path]
        assert mount and mount[0].status == 201
        assert f"from={base.namespace}%2F{base.model}" in mount[0].path
        assert not [e for e in proxy.log if e.method == "PATCH" and e.status < 300 and weights in e.path]

        proxy.log.clear()
        list(make_registry(store).push(via))
        assert not [e for e in proxy.log if e.method in ("POST", "PATCH")]
        assert [e.status for e in proxy.log if e.method == "HEAD"] == [200, 200]

    pulled = make_store("pulled")
    list(make_registry(pulled).pull(derived))
    assert pulled.resolve(derived).raw == derived_raw


# -- unit facts ----------------------------------------------------------------------------------------------


def test_part_state_files_are_ollamas_json():
    part = Part(3, 300, 100, 42)
    assert part.encode() == b'{"N":3,"Offset":300,"Size":100,"Completed":42}\n'
    assert Part.decode(part.encode()) == part


def test_default_part_size_is_total_over_16_clamped():
    assert default_part_size(10) == 100_000_000
    assert default_part_size(3_200_000_000) == 200_000_000
    assert default_part_size(100_000_000_000) == 1_000_000_000


def test_closing_the_pull_early_saves_part_states_for_the_next_pull(make_store, make_registry):
    with FakeRegistry() as fake, LoggingProxy(fake.host, rate=4_000_000, chunk=16 * 1024) as proxy:
        raw, blobs = _fake_model(fake, 2_000_000)
        weights = str(model_digest(raw))
        name = f"{proxy.host}/library/fake:latest"
        store = make_store("s")
        registry = make_registry(store, part_size=250_000, max_parts=2)
        events = registry.pull(name)
        for event in events:
            if event.digest == weights and (event.completed or 0) >= 600_000:
                events.close()
                break
        before = _part_states(store.blob_path(weights))
        saved = sum(p.completed for p in before)
        assert len(before) == 8 and 600_000 <= saved < 2_000_000
        assert not store.has_blob(weights)

        proxy.log.clear()
        proxy.rate = None
        list(registry.pull(name))
        assert store.read_blob(weights) == blobs[weights]
        assert fetched_bytes(proxy.ranges(weights)) == 2_000_000 - saved


def test_empty_blob_layer(make_store, make_registry):
    with FakeRegistry() as fake:
        layers = [(MEDIA_TYPE_MODEL, os.urandom(1000)), ("application/vnd.ollama.image.license", b"")]
        raw, blobs = make_manifest(layers, b"{}")
        fake.add_model("library/empty:latest", blobs, raw)
        store = make_store("s")
        assert statuses(make_registry(store).pull(f"{fake.host}/library/empty:latest"))[-1] == "success"
        empty = "sha256:" + hashlib.sha256(b"").hexdigest()
        assert store.read_blob(empty) == b""
        assert store.resolve(f"{fake.host}/library/empty:latest").raw == raw


def test_create_from_a_model_that_is_not_local_pulls_it_first(
    docker_registry, tiny_gguf, make_store, make_registry, repo_name, reg_settings, monkeypatch
):
    from ollamalib import Engine

    name = repo_name(docker_registry.host, model="base")
    store = make_store("local")
    create_gguf_model(store, name, tiny_gguf)
    list(make_registry(store).push(name))
    store.delete(name)
    with Engine(store=store, settings=reg_settings) as engine:
        real = engine._pull_events
        # Ollama's create pulls with default options; the loopback registry speaks plain http.
        monkeypatch.setattr(engine, "_pull_events", lambda model, insecure: real(model, True))
        events = list(engine.create("derived", from_=name, system="Be brief.", requires="0.14.0", stream=True))
        seen = statuses(events)
        assert seen[:2] == ["pulling manifest", seen[1]] and seen[1].startswith("pulling ")
        assert seen.index("success") < len(seen) - 1  # the pull's success, then create's own statuses
        assert seen[-2:] == ["writing manifest", "success"]
        assert store.exists(name) and store.exists("derived")
        shown = engine.show("derived")
        assert shown.system == "Be brief." and shown.requires == "0.14.0"
        again = list(engine.create("derived2", from_=name, stream=True))
        assert "pulling manifest" not in statuses(again)  # local now: no second pull
