"""CORS, the DNS-rebinding Host check, the optional API key and the request body limit, on real servers."""

from __future__ import annotations

import hashlib

import httpx
import ollama
import openai
import pytest

from ollamalib.client import Client
from ollamalib.errors import UnauthorizedError
from ollamalib_server._middleware import host_allowed, origin_allowed


def test_cors_default_origins(live):
    for origin in ("http://localhost", "http://localhost:3000", "https://127.0.0.1:8080", "app://obsidian.md",
                   "vscode-webview://abc", "chrome-extension://abcdef"):
        r = httpx.get(live.url + "/api/version", headers={"Origin": origin})
        assert r.status_code == 200, origin
        assert r.headers["access-control-allow-origin"] == origin
    r = httpx.get(live.url + "/api/version", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers


def test_cors_preflight(live):
    headers = {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type,authorization"}
    r = httpx.options(live.url + "/api/chat", headers=headers)
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "POST" in r.headers["access-control-allow-methods"]
    allowed = r.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "x-stainless-lang" in allowed


def test_cors_extra_origins(server_factory):
    srv = server_factory(origins=("https://chat.example.com", "https://*.example.org"))
    for origin in ("https://chat.example.com", "https://app.example.org"):
        r = httpx.get(srv.url + "/api/version", headers={"Origin": origin})
        assert r.headers.get("access-control-allow-origin") == origin
    assert httpx.get(srv.url + "/api/version", headers={"Origin": "https://example.net"}).status_code == 403
    star = server_factory(origins=("*",))
    r = httpx.get(star.url + "/api/version", headers={"Origin": "https://anything.example"})
    assert r.headers["access-control-allow-origin"] == "*"


def test_origin_patterns():
    assert origin_allowed("http://localhost:1234", ["http://localhost:*"])
    assert not origin_allowed("http://localhostx", ["http://localhost"])
    assert origin_allowed("moz-extension://id", [])


def test_host_header_check_on_loopback(live):
    for host in ("localhost", "localhost:11434", "127.0.0.1", "10.1.2.3:80", "[::1]:11434", "my.localhost",
                 "box.local", "svc.internal", "0.0.0.0"):
        r = httpx.get(live.url + "/api/version", headers={"Host": host})
        assert r.status_code == 200, host
    for host in ("evil.example.com", "8.8.8.8", "localhost.evil.com"):
        r = httpx.get(live.url + "/api/version", headers={"Host": host})
        assert (r.status_code, r.content) == (403, b""), host
    r = httpx.options(live.url + "/api/version", headers={"Host": "localhost"})
    assert r.status_code == 204


def test_host_allowed_rules():
    assert host_allowed("localhost:1") == (True, True)
    assert host_allowed("192.168.1.2") == (True, False)
    assert host_allowed("example.com") == (False, False)


@pytest.fixture
def keyed(server_factory):
    return server_factory(api_key="s3cret")


def test_api_key_required(keyed):
    assert httpx.get(keyed.url + "/").status_code == 200
    assert httpx.head(keyed.url + "/").status_code == 200
    r = httpx.get(keyed.url + "/api/tags")
    assert (r.status_code, r.json()) == (401, {"error": "unauthorized"})
    assert httpx.get(keyed.url + "/api/tags", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert httpx.get(keyed.url + "/api/tags", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert httpx.get(keyed.url + "/schema/openapi.json").status_code == 401
    r = httpx.post(keyed.url + "/v1/chat/completions", json={})
    assert r.status_code == 401 and r.json()["error"]["message"] == "unauthorized"


def test_api_key_with_clients(keyed, monkeypatch):
    assert ollama.Client(keyed.url, headers={"Authorization": "Bearer s3cret"}).list().models
    monkeypatch.setenv("OLLAMA_API_KEY", "s3cret")
    assert ollama.Client(keyed.url).list().models
    assert Client(keyed.url).list().models
    monkeypatch.delenv("OLLAMA_API_KEY")
    with pytest.raises(UnauthorizedError):
        Client(keyed.url).list()
    oa = openai.OpenAI(base_url=keyed.url + "/v1", api_key="s3cret", max_retries=0)
    assert oa.models.list().data
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=keyed.url + "/v1", api_key="wrong", max_retries=0).models.list()


def test_request_body_limit(server_factory):
    srv = server_factory(max_request_bytes=1000)
    r = httpx.post(srv.url + "/api/generate", content=b"{" + b" " * 2000 + b"}")
    assert r.status_code == 413
    assert r.json()["error"].startswith("http: request body too large (the limit is 1000 bytes")

    def chunked():
        for _ in range(10):
            yield b" " * 500

    r = httpx.post(srv.url + "/api/generate", content=chunked())
    assert r.status_code == 413
    small = b"x" * 500
    digest = "sha256:" + hashlib.sha256(small).hexdigest()
    assert httpx.post(f"{srv.url}/api/blobs/{digest}", content=small).status_code == 201
    big = b"y" * 5000  # blob uploads stream to disk: only max_blob_bytes bounds them
    digest = "sha256:" + hashlib.sha256(big).hexdigest()
    r = httpx.post(f"{srv.url}/api/blobs/{digest}", content=iter([big[:2500], big[2500:]]))
    assert r.status_code == 201
    assert httpx.head(f"{srv.url}/api/blobs/{digest}").status_code == 200
