"""Fault injection: a real server process is killed with SIGKILL at random moments of create (blob upload and
quantization), pull (from a real docker-registry), copy and delete; after each restart every manifest's blobs
exist and match their digests, nothing is left over but a pull's resumable progress, and the operation can be
redone. Bounded and seeded: 12 kills."""

from __future__ import annotations

import hashlib
import random
import signal
import sys
import threading
import time
from pathlib import Path

import httpx
from regtest_models import synthetic_model
from regtest_servers import LoggingProxy

from gguf_factory import write_tiny_gguf
from store_check import integrity_problems
from ollamalib.store import ModelStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from srvutil import start_server_process  # noqa: E402

SEED = 12
ROUNDS = 12
MB = 1000 * 1000


def _leftovers(store: ModelStore) -> list[str]:
    """Temporary files, folders and claims; a pull's resumable partial download is not a leftover."""
    found = [p.name for p in store.root.glob(".tmp-*")]
    found += [p.name for p in store.blobs_dir.glob("*-tmp-*")] if store.blobs_dir.is_dir() else []
    found += [p.name for p in store.manifests_dir.glob("*/*/*/.*")] if store.manifests_dir.is_dir() else []
    claims = store.locks_dir / "claims"
    found += [p.name for p in claims.iterdir()] if claims.is_dir() else []
    return found


def _request(url: str, op: str, body: dict, data: bytes | None = None) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=120) as client:
        if op == "upload":
            return client.post(body["path"], content=data)
        if op == "delete":
            return client.request("DELETE", "/api/delete", json=body)
        resp = client.post(f"/api/{op}", json={**body, "stream": False})
        return resp


def test_sigkill_during_create_pull_copy_and_delete_never_breaks_the_store(
    tmp_path, docker_registry, make_store, make_registry, repo_name
):
    rng = random.Random(SEED)
    models = tmp_path / "models"
    store = ModelStore(models)
    gguf = write_tiny_gguf(tmp_path / "f16.gguf", file_type="f16", n_embd=512)
    data = gguf.read_bytes()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    remote = repo_name(docker_registry.host, "faults")
    source = make_store("source")
    synthetic_model(source, remote, 8 * MB)
    list(make_registry(source).push(remote))

    with LoggingProxy(docker_registry.host, rate=16 * MB) as proxy:  # a pull takes about half a second
        pulled = remote.replace(docker_registry.host, proxy.host)
        server = start_server_process(tmp_path, models)
        try:
            assert _request(server.url, "upload", {"path": f"/api/blobs/{digest}"}, data).status_code == 201
            base = {"model": "base", "files": {"m.gguf": digest}}
            assert _request(server.url, "create", base).status_code == 200
            kills = 0
            for i in range(ROUNDS):
                op = ("create", "pull", "copy", "delete")[i % 4]
                if op == "create":
                    body = {"model": f"made{i}", "from": "base", "quantize": "q8_0", "system": f"round {i}"}
                elif op == "pull":
                    body = {"model": pulled, "insecure": True}
                elif op == "copy":
                    body = {"source": "base", "destination": f"copy{i}"}
                else:
                    victims = [m["name"] for m in httpx.get(server.url + "/api/tags").json()["models"]
                               if m["name"] != "base:latest"] or ["base:latest"]
                    body = {"model": rng.choice(victims)}
                # The request runs in a thread; the server is killed at a random moment of it.
                thread = threading.Thread(target=_swallow, args=(server.url, op, body), daemon=True)
                thread.start()
                time.sleep(rng.uniform(0.0, 0.6 if op == "pull" else 0.15))
                server.process.send_signal(signal.SIGKILL)
                server.process.wait(30)
                kills += 1
                thread.join(30)
                server = start_server_process(tmp_path, models)  # its start removes dead processes' leftovers
                assert integrity_problems(store) == [], (i, op)
                assert _leftovers(store) == [], (i, op)
                if op == "delete" and body["model"] == "base:latest":
                    assert _request(server.url, "create", base).status_code == 200
                    continue
                resp = _request(server.url, op, body)  # redone after the crash
                assert resp.status_code in (200, 404) if op == "delete" else resp.status_code == 200, resp.text
                assert integrity_problems(store) == [], (i, op)
                if op == "pull":
                    assert not list(store.blobs_dir.glob("*-partial*"))
                if op == "delete" or not store.exists("base"):
                    assert _request(server.url, "create", base).status_code == 200
            assert kills == ROUNDS
        finally:
            server.stop()
    assert _leftovers(store) == []


def _swallow(url: str, op: str, body: dict) -> None:
    try:
        _request(url, op, body)
    except httpx.HTTPError:
        pass
