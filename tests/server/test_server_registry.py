"""/api/push and /api/pull through the server, against Debian's real docker-registry on loopback."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import httpx
import ollama
import pytest

from ollamalib.client import Client
from ollamalib.errors import ModelNotFoundError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "registry"))
from regtest_servers import DOCKER_REGISTRY, start_docker_registry  # noqa: E402


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    if not Path(DOCKER_REGISTRY).exists():
        pytest.fail(f"{DOCKER_REGISTRY} not installed (Debian package docker-registry; `make test` installs it)")
    reg = start_docker_registry(tmp_path_factory.mktemp("server-registry"))
    yield reg
    reg.stop()


def test_push_then_pull_with_the_official_client(live, registry):
    client = ollama.Client(live.url)
    name = f"{registry.host}/test/tiny-{uuid.uuid4().hex[:8]}:latest"
    client.copy("tiny", name)
    events = list(client.push(name, insecure=True, stream=True))
    statuses = [e.status for e in events]
    assert statuses[0] == "retrieving manifest" and statuses[-2:] == ["pushing manifest", "success"]
    assert any(s.startswith("pushing ") and e.digest for s, e in zip(statuses, events))
    digest = next(m.digest for m in client.list().models if m.model == name)
    client.delete(name)
    assert client.pull(name, insecure=True).status == "success"
    pulled = next(m for m in client.list().models if m.model == name)
    assert pulled.digest == digest
    again = [e.status for e in client.pull(name, insecure=True, stream=True)]
    assert again[0] == "pulling manifest" and again[-1] == "success"
    client.delete(name)


def test_pull_unknown_model(live, registry):
    name = f"{registry.host}/test/ghost-{uuid.uuid4().hex[:8]}:latest"
    with httpx.stream("POST", live.url + "/api/pull", json={"model": name, "insecure": True}) as r:
        assert r.status_code == 200
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert lines[0] == {"status": "pulling manifest"}
    assert lines[-1] == {"error": "pull model manifest: file does not exist"}
    r = httpx.post(live.url + "/api/pull", json={"model": name, "insecure": True, "stream": False})
    assert (r.status_code, r.json()) == (500, {"error": "pull model manifest: file does not exist"})
    with pytest.raises(ModelNotFoundError, match="pull model manifest"):
        Client(live.url).pull(name, insecure=True)


def test_push_pull_with_ollamalib_client(live, registry):
    with Client(live.url) as client:
        name = f"{registry.host}/test/hello-{uuid.uuid4().hex[:8]}:latest"
        client.copy("hello", name)
        assert client.push(name, insecure=True).status == "success"
        client.delete(name)
        events = list(client.pull(name, insecure=True, stream=True))
        assert events[-1].status == "success"
        assert client.generate(name, "Hi").response
        client.delete(name)
