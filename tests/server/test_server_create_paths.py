"""/api/create over HTTP reads no server file a client names (issue 12 item 3): only names and blob digests,
server paths only under OLLAMALIB_CREATE_PATHS, and blobs never wider than the store's permissions."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import httpx
import ollama
import pytest

from gguf_factory import CHATML_TEMPLATE, write_tiny_gguf
from ollamalib.client import Client
from ollamalib.config import Settings
from ollamalib.store import ModelStore


def _store_files(models: Path) -> set[str]:
    """Every file under the store (blobs, temporary blobs, manifests), to prove a refusal wrote nothing."""
    return {str(p.relative_to(models)) for p in models.rglob("*") if p.is_file() and "locks" not in p.parts}


def _create(srv, **body) -> httpx.Response:
    return httpx.post(srv.url + "/api/create", json={"model": "stolen", "stream": False, **body}, timeout=60)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "id_rsa"
    path.parent.mkdir()
    path.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
    return path


@pytest.fixture
def own_store(tmp_path: Path) -> Path:
    models = tmp_path / "own-models"
    models.mkdir()
    return models


def test_server_paths_in_from_are_refused_and_nothing_is_written(server_factory, own_store, secret, tmp_path,
                                                                 monkeypatch):
    srv = server_factory(models=own_store)
    # A file the server can read, under a relative path that is also a valid model name (its host refuses
    # connections, so treating it as a name fails fast): before the fix the server copied it into the store.
    monkeypatch.chdir(tmp_path)
    relative = Path("127.0.0.1:9") / "ns" / "leak.gguf"
    relative.parent.mkdir(parents=True)
    write_tiny_gguf(relative)
    before = _store_files(own_store)
    for value in ("/etc/passwd", "/proc/self/environ", str(secret), "~/.ssh/id_rsa", "./id_rsa", "../x.gguf"):
        r = _create(srv, **{"from": value})
        assert (r.status_code, r.json()) == (400, {"error": "invalid model name"}), value
    for value in (str(relative), str(relative.parent)):  # a file, a folder of model files
        r = _create(srv, **{"from": value})
        assert r.status_code >= 400 and "success" not in r.text, value
    r = _create(srv, **{"from": str(secret.parent)})
    assert (r.status_code, r.json()) == (400, {"error": "invalid model name"})
    assert _store_files(own_store) == before
    assert not srv.engine.store.exists("stolen")
    # files and adapters take digests only
    for field in ("files", "adapters"):
        r = _create(srv, **{"from": "x", field: {"id_rsa": str(secret)}})
        assert (r.status_code, r.json()) == (400, {"error": "invalid digest format"})
    assert _store_files(own_store) == before


def test_allowed_directories(server_factory, own_store, secret, tmp_path):
    allowed = tmp_path / "allowed"
    (allowed / "sub").mkdir(parents=True)
    gguf = write_tiny_gguf(allowed / "sub" / "model.gguf", chat_template=CHATML_TEMPLATE)
    (allowed / "notes.txt").write_text("not a model\n")
    (allowed / "link.gguf").symlink_to(secret)
    (allowed / "dirlink").symlink_to(secret.parent, target_is_directory=True)
    srv = server_factory(models=own_store, create_paths=(allowed,))
    before = _store_files(own_store)
    outside = 'is not under a directory in OLLAMALIB_CREATE_PATHS'
    for value in (str(secret), str(allowed / "link.gguf"), str(allowed / "dirlink" / "id_rsa"),
                  f"{allowed}/sub/../../outside/id_rsa", f"{allowed}/../outside/id_rsa"):
        r = _create(srv, **{"from": value})
        assert r.status_code == 400 and outside in r.json()["error"], (value, r.text)
    r = _create(srv, **{"from": str(allowed / "notes.txt")})
    assert (r.status_code, r.json()) == (400, {"error": "invalid file magic"})
    r = _create(srv, **{"from": str(allowed / "missing.gguf")})
    assert r.status_code == 400 and "not found" in r.json()["error"]
    r = _create(srv, **{"from": "127.0.0.1:9/sub/model.gguf"})  # a name, not a path (pulling it fails fast)
    assert r.status_code >= 400 and "success" not in r.text
    assert _store_files(own_store) == before

    r = _create(srv, model="imported", **{"from": str(gguf)})
    assert (r.status_code, r.json()) == (200, {"status": "success"})
    assert srv.engine.store.exists("imported")


def test_official_client_uploads_then_creates(server_factory, own_store, tmp_path):
    srv = server_factory(models=own_store)
    gguf = write_tiny_gguf(tmp_path / "local.gguf", chat_template=CHATML_TEMPLATE)
    client = ollama.Client(host=srv.url)
    digest = client.create_blob(gguf)
    assert client.create("via-ollama", files={"local.gguf": digest}, system="Hi.").status == "success"
    with pytest.raises(ollama.ResponseError) as info:
        client.create("via-path", from_=str(gguf))  # the official client sends paths as they are: refused
    assert info.value.status_code == 400 and info.value.error == "invalid model name"
    # ollamalib's Client uploads a local from_ first, so the same call works
    with Client(srv.url) as ours:
        assert ours.create("via-ollamalib", from_=str(gguf)).status == "success"
    assert {m.model for m in client.list().models} >= {"via-ollama:latest", "via-ollamalib:latest"}


@pytest.mark.parametrize(("root_mode", "expected"), [(0o700, 0o600), (0o750, 0o640), (0o755, 0o644)])
def test_uploaded_blobs_keep_the_store_permissions(server_factory, tmp_path, root_mode, expected):
    models = tmp_path / f"models-{root_mode:o}"
    models.mkdir()
    os.chmod(models, root_mode)
    srv = server_factory(models=models)
    data = b"GGUF" + os.urandom(64)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert httpx.post(f"{srv.url}/api/blobs/{digest}", content=data).status_code == 201
    umask = os.umask(0o022)
    os.umask(umask)
    mode = stat.S_IMODE(ModelStore(models).blob_path(digest).stat().st_mode)
    assert mode == expected & ~umask


def test_settings_read_create_paths(tmp_path):
    env = {"OLLAMALIB_CREATE_PATHS": f"{tmp_path}/a{os.pathsep}{os.pathsep}~/b"}
    assert Settings.from_env(env).create_paths == (tmp_path / "a", Path.home() / "b")
    assert Settings.from_env({}).create_paths == ()
