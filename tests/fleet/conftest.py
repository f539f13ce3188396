"""Fixtures for the fleet tests: a TLS docker-registry holding a tiny real model, shared by the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fleetutil import TlsRegistry, publish_tiny_model, start_tls_registry
from regtest_servers import DOCKER_REGISTRY


@pytest.fixture(scope="session")
def fleet_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRegistry]:
    """Debian's docker-registry over https on loopback (``make test`` installs it: a missing one fails)."""
    assert Path(DOCKER_REGISTRY).exists(), f"{DOCKER_REGISTRY} missing: `make test` installs docker-registry"
    reg = start_tls_registry(tmp_path_factory.mktemp("fleet-registry"))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def tiny_ref(fleet_registry: TlsRegistry, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``HOST:PORT/library/tiny:latest``: a tiny scripted chat model pushed to the registry."""
    return publish_tiny_model(fleet_registry, tmp_path_factory.mktemp("fleet-publish"))


@pytest.fixture(scope="session")
def babble_ref(fleet_registry: TlsRegistry, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny model with random weights: greedy decoding babbles until ``num_predict`` (long streams)."""
    return publish_tiny_model(fleet_registry, tmp_path_factory.mktemp("fleet-babble"), "library/babble", script=None)
