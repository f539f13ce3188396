"""Registry auth: Ollama's ed25519-signed token exchange, HTTP basic through htpasswd, the key pair."""

from __future__ import annotations

import base64
import hashlib
import os
import stat

import pytest
from regtest_models import create_gguf_model, model_digest, synthetic_model
from regtest_servers import PASSWORD, USER, FakeRegistry, make_manifest

from ollamalib.errors import RegistryError, UnauthorizedError
from ollamalib.registry import load_or_create_key
from ollamalib.registry._auth import Challenge, parse_challenge, signed_payload, token_url
from ollamalib.registry.keys import sign
from ollamalib.types import MEDIA_TYPE_MODEL

# -- key pair ------------------------------------------------------------------------------------------------


def test_key_pair_is_created_in_openssh_format_then_reused(home):
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    key, line, created = load_or_create_key(home)
    assert created
    private = home / "id_ed25519"
    assert private.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    pub = (home / "id_ed25519.pub").read_text()
    assert pub == line + "\n" and line.startswith("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5")

    again, line2, created2 = load_or_create_key(home)
    assert not created2 and line2 == line
    header = sign(again, b"payload")
    key_b64, sig_b64 = header.split(":")
    assert key_b64 == line.split(" ")[1]
    load_ssh_public_key(pub.encode()).verify(base64.b64decode(sig_b64), b"payload")


def test_existing_key_from_another_tool_is_used(home):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    home.mkdir(parents=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    (home / "id_ed25519").write_bytes(pem)
    os.chmod(home / "id_ed25519", 0o600)
    loaded, line, created = load_or_create_key(home)
    assert not created
    assert loaded.public_key().public_bytes_raw() == key.public_key().public_bytes_raw()


# -- challenge and token URL ---------------------------------------------------------------------------------


def test_parse_challenge():
    c = parse_challenge(
        'Bearer realm="https://ollama.com:443/token",service="ollama.com",scope="repository:library/x:pull"'
    )
    assert c == Challenge("bearer", "https://ollama.com:443/token", "ollama.com", "repository:library/x:pull")
    assert parse_challenge('Basic realm="registry"') == Challenge("basic", "registry")


def test_token_url_is_gos_sorted_encoding():
    scope = "repository:library/x:pull repository:a/b:push"
    c = Challenge("bearer", "https://ollama.com/token?a=1", "ollama.com", scope)
    url = token_url(c, now=1700000000, nonce="bm9uY2U")
    assert url == (
        "https://ollama.com/token?a=1&nonce=bm9uY2U&scope=repository%3Alibrary%2Fx%3Apull"
        "&scope=repository%3Aa%2Fb%3Apush&service=ollama.com&ts=1700000000"
    )
    empty = base64.b64encode(hashlib.sha256(b"").hexdigest().encode()).decode()
    assert signed_payload("GET", url) == f"GET,{url},{empty}".encode()


# -- bearer exchange against a token endpoint that verifies the signature ---------------------------------------


def _bearer_registry(size: int = 150_000):
    fake = FakeRegistry()
    raw, blobs = make_manifest([(MEDIA_TYPE_MODEL, os.urandom(size))], b'{"model_format":"gguf"}')
    fake.add_model("library/secret:latest", blobs, raw)
    fake.state.bearer = True
    return fake, raw, blobs


def test_bearer_token_exchange_is_signed_with_the_ed25519_key(make_store, make_registry, home):
    _, line, _ = load_or_create_key(home)
    fake, raw, blobs = _bearer_registry()
    with fake, FakeRegistry() as cdn:
        fake.state.public_keys.add(line.split(" ")[1])
        cdn.state.blobs.update(blobs)
        fake.state.redirect_to = f"localhost:{cdn.port}"
        store = make_store("s")
        events = list(make_registry(store, part_size=64 * 1024).pull(f"{fake.host}/library/secret:latest"))
        assert events[-1].status == "success"
        assert store.resolve(f"{fake.host}/library/secret:latest").raw == raw
        weights = str(model_digest(raw))
        assert store.read_blob(weights) == blobs[weights]

        tokens = fake.state.token_requests
        assert tokens and all(t["ok"] for t in tokens), tokens
        query = tokens[0]["query"]
        assert query["service"] == "fake-registry" and query["scope"] == "repository:library/secret:pull"
        assert len(base64.urlsafe_b64decode(query["nonce"] + "==")) == 16
        registry_calls = [h for m, p, h in fake.state.requests if p.startswith("/v2/library/")]
        assert any(h.get("Authorization", "").startswith("Bearer ") for h in registry_calls)
        assert all(h.get("User-Agent", "").startswith("ollamalib/") for h in registry_calls)
        cdn_calls = [h for m, p, h in cdn.state.requests]
        assert cdn_calls and not any("Authorization" in h for h in cdn_calls)  # no credentials cross-host


def test_token_endpoint_refusing_the_key_is_an_error(make_store, make_registry, home):
    load_or_create_key(home)
    fake, _, _ = _bearer_registry(10)
    with fake:
        fake.state.public_keys.add("AAAAC3NzaC1lZDI1NTE5AAAAIOtherKeyOtherKeyOtherKeyOtherKeyOtherKey")
        with pytest.raises(RegistryError, match=r'^pull model manifest: 401: \{"error":"invalid signature"\}$'):
            list(make_registry(make_store("s")).pull(f"{fake.host}/library/secret:latest"))
        assert fake.state.token_requests and not fake.state.token_requests[0]["ok"]


def test_realm_on_another_host_is_refused(make_store, make_registry, home):
    fake, _, _ = _bearer_registry(10)
    with fake:
        fake.state.realm_host = f"localhost:{fake.port}"
        with pytest.raises(RegistryError) as info:
            list(make_registry(make_store("s")).pull(f"{fake.host}/library/secret:latest"))
        assert str(info.value) == (
            f'pull model manifest: realm host "localhost:{fake.port}" does not match original host "{fake.host}"'
        )
        assert not fake.state.token_requests
        assert not (home / "id_ed25519").exists()  # nothing was signed


# -- HTTP basic through docker-registry's htpasswd --------------------------------------------------------------


def test_push_and_pull_through_htpasswd_basic_auth(
    htpasswd_registry, tiny_gguf, make_store, make_registry, repo_name, reg_settings
):
    creds = reg_settings.replace(registry_username=USER, registry_password=PASSWORD,
                                 registry_host=htpasswd_registry.host, insecure_registries=(htpasswd_registry.host,))
    name = repo_name(htpasswd_registry.host)
    store = make_store("local")
    raw = create_gguf_model(store, name, tiny_gguf)
    blobs = {d: store.read_blob(d) for d in store.resolve(name).manifest.digests()}
    assert list(make_registry(store, settings=creds).push(name))[-1].status == "success"

    fresh = make_store("fresh")
    assert list(make_registry(fresh, settings=creds).pull(name))[-1].status == "success"
    assert fresh.resolve(name).raw == raw
    assert {d: fresh.read_blob(d) for d in blobs} == blobs


def test_basic_auth_without_or_with_wrong_credentials_is_unauthorized(
    htpasswd_registry, make_store, make_registry, repo_name, reg_settings
):
    name = repo_name(htpasswd_registry.host)
    store = make_store("s")
    synthetic_model(store, name, 100)
    with pytest.raises(UnauthorizedError, match="^unauthorized: access denied$"):
        list(make_registry(store).push(name))
    wrong = reg_settings.replace(registry_username=USER, registry_password="nope",
                                 registry_host=htpasswd_registry.host, insecure_registries=(htpasswd_registry.host,))
    with pytest.raises(UnauthorizedError, match="^pull model manifest: unauthorized: access denied$"):
        list(make_registry(make_store("t"), settings=wrong).pull(name))
