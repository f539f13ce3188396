"""Fixtures for the registry tests: a real docker-registry (plain and htpasswd), stores, Registry factories."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from regtest_servers import (
    DOCKER_REGISTRY,
    PASSWORD,
    USER,
    DockerRegistry,
    start_docker_registry,
    write_htpasswd,
)

from ollamalib.config import Settings
from ollamalib.create import create_model
from ollamalib.registry import Registry
from ollamalib.store import ModelStore

def _require_docker_registry() -> None:
    if not Path(DOCKER_REGISTRY).exists():
        pytest.fail(f"{DOCKER_REGISTRY} not installed (Debian package docker-registry; `make test` installs it)")


@pytest.fixture(scope="session")
def docker_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerRegistry]:
    """Debian's docker-registry on a free loopback port, filesystem storage, deletes enabled."""
    _require_docker_registry()
    reg = start_docker_registry(tmp_path_factory.mktemp("docker-registry"))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def htpasswd_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerRegistry]:
    """The same registry behind htpasswd basic auth (user ``ollama-user``)."""
    _require_docker_registry()
    root = tmp_path_factory.mktemp("docker-registry-auth")
    htpasswd = root / "htpasswd"
    try:
        write_htpasswd(htpasswd, USER, PASSWORD)
    except ImportError:
        pytest.fail("neither the bcrypt package nor apache2-utils' htpasswd is available to write an htpasswd file")
    reg = start_docker_registry(root / "registry", htpasswd=htpasswd)
    yield reg
    reg.stop()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "dot-ollama"


@pytest.fixture
def reg_settings(home: Path, tmp_path: Path) -> Settings:
    return Settings.from_env({}, models=tmp_path / "models", data_dir=tmp_path, home_dir=home)


@pytest.fixture
def make_store(tmp_path: Path) -> Callable[[str], ModelStore]:
    def make(label: str) -> ModelStore:
        return ModelStore(tmp_path / f"store-{label}")

    return make


@pytest.fixture
def make_registry(reg_settings: Settings) -> Iterator[Callable[..., Registry]]:
    """Registry factory with test-friendly retry timings (insecure: the loopback servers speak plain http)."""
    made: list[Registry] = []

    def make(store: ModelStore, **kw) -> Registry:
        kw.setdefault("settings", reg_settings)
        kw.setdefault("insecure", True)
        kw.setdefault("retry_backoff", 0.01)
        kw.setdefault("stall_timeout", 5.0)
        kw.setdefault("model_builder", lambda name, files: create_model(store, name, files=files))
        reg = Registry(store, **kw)
        made.append(reg)
        return reg

    yield make
    for reg in made:
        reg.close()


@pytest.fixture
def repo_name() -> Callable[[str, str], str]:
    """A fresh ``host/namespace/model:tag`` per call, so tests sharing the session registry never collide."""

    def make(host: str, model: str = "tiny", tag: str = "latest", namespace: str = "test") -> str:
        return f"{host}/{namespace}/{model}-{uuid.uuid4().hex[:8]}:{tag}"

    return make
