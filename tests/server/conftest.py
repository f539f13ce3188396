"""Fixtures for the server tests: a store of tiny real models and real uvicorn servers on loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest


from ollamalib.engine import AsyncEngine  # noqa: E402
from srvutil import LiveServer, build_store, make_settings, start_server  # noqa: E402


@pytest.fixture(scope="session")
def server_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("server-models")
    build_store(root / "models", root / "gguf")
    return root / "models"


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, server_models: Path) -> Iterator[LiveServer]:
    """One real server for the session, over the shared tiny-model store (tests must not delete its models)."""
    tmp = tmp_path_factory.mktemp("live")
    settings = make_settings(tmp, server_models, context_length=512)
    srv = start_server(AsyncEngine(settings), settings)
    yield srv
    srv.stop()


@pytest.fixture
def oa(live: LiveServer) -> Iterator[openai.OpenAI]:
    """The official openai SDK against the session's server (no retries, so errors surface at once)."""
    with openai.OpenAI(base_url=live.url + "/v1", api_key="unused", max_retries=0) as c:
        yield c


@pytest.fixture
def claude(live: LiveServer) -> Iterator[anthropic.Anthropic]:
    """The official anthropic SDK against the session's server."""
    with anthropic.Anthropic(base_url=live.url, api_key="unused", max_retries=0) as c:
        yield c


@pytest.fixture
def server_factory(tmp_path: Path, server_models: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start extra servers with their own settings (API key, queue size...); stopped after the test."""
    started: list[LiveServer] = []

    def start(*, wrap: Callable[[Any], Any] | None = None, **overrides: Any) -> LiveServer:
        """``wrap`` turns the real AsyncEngine into what the app serves (for fault injection)."""
        overrides.setdefault("context_length", 512)
        settings = make_settings(tmp_path, overrides.pop("models", server_models), **overrides)
        engine = AsyncEngine(settings)
        srv = start_server(wrap(engine) if wrap else engine, settings)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()
