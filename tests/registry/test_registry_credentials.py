"""Registry passwords go only where they are configured (issue 12 item 4): scoped to a host, never over plain
http unless that host is listed as insecure, never across a redirect to another host. A loopback server that
answers 401 Basic records every Authorization header it is sent."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field

import pytest
from regtest_servers import PASSWORD, USER, LoopbackServer, _Handler, make_manifest

from ollamalib.config import Settings
from ollamalib.errors import RegistryError, UnauthorizedError
from ollamalib.registry._auth import RegistryCredentials, read_auth_file
from ollamalib.types import MEDIA_TYPE_MODEL

GOOD = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


@dataclass
class Recorded:
    seen: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Authorization)
    blobs: dict[str, bytes] = field(default_factory=dict)
    manifest: bytes = b""
    redirect_to: str | None = None  # "host:port" that blob GETs are redirected to
    open_blobs: bool = False  # serve blobs without asking for credentials (a CDN)


class BasicHandler(_Handler):
    def do_GET(self) -> None:
        st: Recorded = self.owner.state
        auth = self.headers.get("Authorization")
        st.seen.append((self.path, auth))
        if "/blobs/" in self.path and st.redirect_to:
            return self._send(307, b"", {"Location": f"http://{st.redirect_to}{self.path}"})
        if not st.open_blobs and auth != GOOD:
            return self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                              {"WWW-Authenticate": 'Basic realm="recorder"', "Content-Type": "application/json"})
        if "/manifests/" in self.path:
            return self._send(200, st.manifest, {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"})
        digest = self.path.rsplit("/", 1)[1]
        data = st.blobs.get(digest)
        if data is None:
            return self._send(404)
        return self._send(200, data, {"Content-Type": "application/octet-stream"})

    do_HEAD = do_GET


class BasicRecorder(LoopbackServer):
    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(BasicHandler, host)
        self.state = Recorded()
        raw, blobs = make_manifest([(MEDIA_TYPE_MODEL, os.urandom(2000))], b'{"model_format":"gguf"}')
        self.state.manifest, self.state.blobs = raw, blobs

    def authorizations(self) -> list[str]:
        return [a for _, a in self.state.seen if a]


def _pull(make_registry, make_store, settings: Settings, name: str) -> list:
    return list(make_registry(make_store(os.urandom(4).hex()), settings=settings).pull(name))


def test_password_goes_only_to_its_host(make_registry, make_store, reg_settings):
    with BasicRecorder() as mine, BasicRecorder() as other:
        scoped = reg_settings.replace(registry_username=USER, registry_password=PASSWORD, registry_host=mine.host,
                                      insecure_registries=(mine.host, other.host))
        assert _pull(make_registry, make_store, scoped, f"{mine.host}/team/m:latest")[-1].status == "success"
        assert mine.authorizations() and set(mine.authorizations()) == {GOOD}
        with pytest.raises(UnauthorizedError, match="^pull model manifest: unauthorized: access denied$"):
            _pull(make_registry, make_store, scoped, f"{other.host}/team/m:latest")
        assert other.state.seen and other.authorizations() == []  # asked, and was sent nothing


def test_env_password_without_a_host_goes_nowhere(make_registry, make_store, reg_settings):
    with BasicRecorder() as reg:
        unscoped = reg_settings.replace(registry_username=USER, registry_password=PASSWORD,
                                        insecure_registries=(reg.host,))
        with pytest.raises(UnauthorizedError):
            _pull(make_registry, make_store, unscoped, f"{reg.host}/team/m:latest")
        assert reg.authorizations() == []


def test_no_password_over_plain_http_unless_the_host_is_insecure(make_registry, make_store, reg_settings):
    with BasicRecorder() as reg:
        plain = reg_settings.replace(registry_username=USER, registry_password=PASSWORD, registry_host=reg.host)
        # insecure=True per pull switches to http, but that alone (a client's request field) unlocks no password
        with pytest.raises(UnauthorizedError, match="over plain http; list the host in OLLAMALIB_INSECURE"):
            _pull(make_registry, make_store, plain, f"{reg.host}/team/m:latest")
        assert reg.state.seen and reg.authorizations() == []


def test_password_never_follows_a_redirect_to_another_host(make_registry, make_store, reg_settings):
    with BasicRecorder() as reg, BasicRecorder("localhost") as cdn:
        cdn.state.open_blobs = True
        cdn.state.blobs = reg.state.blobs
        reg.state.redirect_to = f"localhost:{cdn.port}"
        both = reg_settings.replace(registry_username=USER, registry_password=PASSWORD, registry_host=reg.host,
                                    insecure_registries=(reg.host, f"localhost:{cdn.port}"))
        assert _pull(make_registry, make_store, both, f"{reg.host}/team/m:latest")[-1].status == "success"
        assert GOOD in reg.authorizations()
        assert cdn.state.seen and cdn.authorizations() == []


def test_auth_file_in_dockers_shape(tmp_path, make_registry, make_store, reg_settings):
    with BasicRecorder() as reg, BasicRecorder() as other:
        path = tmp_path / "auths.json"
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        path.write_text(json.dumps({"auths": {reg.host: {"auth": token},
                                              "https://ghcr.example/v1/": {"username": "u", "password": "p"}}}))
        assert read_auth_file(path) == {reg.host: (USER, PASSWORD), "ghcr.example": ("u", "p")}
        settings = reg_settings.replace(registry_auth_file=path, insecure_registries=(reg.host, other.host))
        assert _pull(make_registry, make_store, settings, f"{reg.host}/team/m:latest")[-1].status == "success"
        with pytest.raises(UnauthorizedError):
            _pull(make_registry, make_store, settings, f"{other.host}/team/m:latest")
        assert other.authorizations() == []
    path.write_text('{"auths": {"h": {"auth": "not base64!"}}}')
    with pytest.raises(RegistryError, match="is not base64"):
        read_auth_file(path)


def test_credentials_from_the_environment(tmp_path):
    env = {"OLLAMA_REGISTRY_USERNAME": "u", "OLLAMA_REGISTRY_PASSWORD": "p",
           "OLLAMALIB_REGISTRY_HOST": "Reg.Example:5000", "OLLAMALIB_INSECURE_REGISTRIES": "reg.example:5000, x"}
    creds = RegistryCredentials.from_settings(Settings.from_env(env))
    assert creds.basic == {"reg.example:5000": ("u", "p")} and creds.insecure == {"reg.example:5000", "x"}
    assert creds.basic_header("https://reg.example:5000/v2/") == "Basic " + base64.b64encode(b"u:p").decode()
    assert creds.basic_header("http://reg.example:5000/v2/") is not None  # listed as insecure
    assert creds.basic_header("https://reg.example/v2/") is None  # another port is another host
    assert creds.basic_header("https://evil.example:5000/v2/") is None
