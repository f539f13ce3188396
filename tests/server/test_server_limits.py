"""Limits for what one client may hold (issue 12, item 10): body sizes, stalled connections, the API key's scheme.

JSON bodies are read whole and so have a modest limit (``max_request_bytes``); blob uploads stream to disk with
their own large one (``max_blob_bytes``). A client that stalls in its headers is cut off by the protocol after
``header_timeout``, one that stalls in its body gets a 408 after ``body_timeout``; both tested with raw sockets.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time

import httpx
import pytest

from ollamalib.config import Settings
from srvutil import build_store, start_server_process

MiB = 1 << 20


def test_defaults_and_environment():
    s = Settings.from_env({})
    assert (s.max_request_bytes, s.max_blob_bytes, s.header_timeout, s.body_timeout) == (64 * MiB, 1 << 40, 30.0, 60.0)
    s = Settings.from_env({"OLLAMALIB_MAX_REQUEST_BYTES": "1000", "OLLAMALIB_MAX_BLOB_BYTES": "5000",
                           "OLLAMALIB_HEADER_TIMEOUT": "2s", "OLLAMALIB_BODY_TIMEOUT": "1.5"})
    assert (s.max_request_bytes, s.max_blob_bytes, s.header_timeout, s.body_timeout) == (1000, 5000, 2.0, 1.5)
    assert Settings.from_env({"OLLAMALIB_BODY_TIMEOUT": "0"}).body_timeout == 0


@pytest.mark.parametrize("header", ["Bearer s3cret", "bearer s3cret", "BEARER s3cret", "bEaReR  s3cret"])
def test_bearer_scheme_in_any_case(server_factory, header):
    srv = server_factory(api_key="s3cret")
    assert httpx.get(srv.url + "/api/tags", headers={"Authorization": header}).status_code == 200


@pytest.mark.parametrize("header", ["Basic s3cret", "s3cret", "Bearer", "Bearers3cret", "Bearer s3cret2", ""])
def test_other_authorization_values_are_refused(server_factory, header):
    srv = server_factory(api_key="s3cret")
    r = httpx.get(srv.url + "/api/tags", headers={"Authorization": header})
    assert (r.status_code, r.json()) == (401, {"error": "unauthorized"})


def test_json_body_limit_has_a_clear_413(server_factory):
    srv = server_factory(max_request_bytes=1000)
    text = "http: request body too large (the limit is 1000 bytes; OLLAMALIB_MAX_REQUEST_BYTES raises it)"
    r = httpx.post(srv.url + "/api/chat", content=b"{" + b" " * 2000 + b"}")
    assert (r.status_code, r.json()) == (413, {"error": text})
    r = httpx.post(srv.url + "/api/chat", content=iter([b" " * 600, b" " * 600]))  # chunked: counted as read
    assert (r.status_code, r.json()) == (413, {"error": text})
    r = httpx.post(srv.url + "/v1/chat/completions", content=b" " * 2000)
    assert r.status_code == 413 and r.json()["error"]["message"] == text
    assert httpx.post(srv.url + "/api/show", json={"model": "hello"}).status_code == 200


def test_a_chat_with_large_images_fits_the_default(server_factory, tmp_path):
    """Three 12 MiB images (16 MiB of base64 each) are under the default limit and reach the model."""
    srv = server_factory()
    image = __import__("base64").b64encode(os.urandom(12 * MiB)).decode()
    body = {"model": "hello", "stream": False, "messages": [{"role": "user", "content": "hi", "images": [image] * 3}]}
    r = httpx.post(srv.url + "/api/chat", json=body, timeout=120)
    assert r.status_code != 413, r.text[:200]
    assert r.status_code < 500, r.text[:200]


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """A server process with small limits and short timeouts (its RSS is its own, so it can be measured)."""
    tmp = tmp_path_factory.mktemp("limits")
    build_store(tmp / "models", tmp / "gguf")
    srv = start_server_process(tmp, tmp / "models", OLLAMALIB_MAX_REQUEST_BYTES=str(MiB),
                               OLLAMALIB_MAX_BLOB_BYTES=str(160 * MiB), OLLAMALIB_HEADER_TIMEOUT="1s",
                               OLLAMALIB_BODY_TIMEOUT="1s")
    srv.models = tmp / "models"
    yield srv
    srv.stop()


def _peak_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _leftovers(models) -> list[str]:
    return [p.name for p in (models / "blobs").iterdir() if "tmp" in p.name]


def test_blob_upload_streams_to_disk_past_the_json_limit(limited):
    size, piece = 128 * MiB, os.urandom(MiB)
    digest = hashlib.sha256()
    for i in range(size // MiB):
        digest.update(piece[i:] + piece[:i])
    name = "sha256:" + digest.hexdigest()
    before = _peak_rss(limited.process.pid)

    def body():
        for i in range(size // MiB):
            yield piece[i:] + piece[:i]

    r = httpx.post(f"{limited.url}/api/blobs/{name}", content=body(), timeout=300)
    assert r.status_code == 201, r.text
    growth = _peak_rss(limited.process.pid) - before
    assert growth < 48 * MiB, f"peak RSS grew by {growth / MiB:.0f} MiB for a {size // MiB} MiB upload"
    assert (limited.models / "blobs" / name.replace(":", "-")).stat().st_size == size
    assert _leftovers(limited.models) == []


def test_blob_upload_has_its_own_bound(limited):
    big = b"z" * (161 * MiB)
    name = "sha256:" + hashlib.sha256(big).hexdigest()
    text = "http: request body too large (the limit is 167772160 bytes; OLLAMALIB_MAX_BLOB_BYTES raises it)"
    r = httpx.post(f"{limited.url}/api/blobs/{name}", content=big, timeout=300)  # announced: refused at once
    assert (r.status_code, r.json()) == (413, {"error": text})
    r = httpx.post(f"{limited.url}/api/blobs/{name}", content=iter([big[: 80 * MiB], big[80 * MiB:]]), timeout=300)
    assert (r.status_code, r.json()) == (413, {"error": text})
    assert httpx.head(f"{limited.url}/api/blobs/{name}").status_code == 404
    assert _leftovers(limited.models) == []


def _raw(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


@pytest.mark.parametrize("sent", [b"", b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le"])
def test_stalled_headers_are_cut_off(limited, sent):
    sock = _raw(limited.url)
    start = time.monotonic()
    sock.sendall(sent)
    assert _read_until_closed(sock) == b""  # closed by the server, well before the socket's 30 s timeout
    assert time.monotonic() - start >= 0.9
    sock.close()
    assert httpx.get(limited.url + "/api/version").status_code == 200


def test_stalled_headers_after_a_keep_alive_request_are_cut_off(limited):
    sock = _raw(limited.url)
    sock.sendall(b"GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    first = b""
    while not first.endswith(b"}"):
        first += sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    sock.sendall(b"GET /api/version HTTP/1.1\r\nHo")
    assert _read_until_closed(sock) == b""
    sock.close()


@pytest.mark.parametrize("path", ["/api/chat", "/api/blobs/sha256:" + "0" * 64, "/v1/chat/completions"])
def test_stalled_body_gets_408(limited, path):
    sock = _raw(limited.url)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n".encode() + b'{"mo')
    reply = _read_until_closed(sock)
    sock.close()
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert b"timed out reading the request body" in reply
    assert _leftovers(limited.models) == []


def test_slow_but_steady_body_is_not_cut_off(limited):
    sock = _raw(limited.url)
    body = b'{"model": "hello"}'
    sock.sendall(f"POST /api/show HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
                 f"Connection: close\r\n\r\n".encode())
    for i in range(0, len(body), 6):
        time.sleep(0.4)
        sock.sendall(body[i : i + 6])
    reply = _read_until_closed(sock)
    sock.close()
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]


def test_server_survives(limited):
    assert limited.alive()
    r = httpx.post(limited.url + "/api/generate", json={"model": "hello", "prompt": "Hi", "stream": False}, timeout=60)
    assert r.status_code == 200
