"""Fixtures for the CLI tests: an in-process CLI on a temporary store, a scripted tiny model, a live server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import CLI, SCRIPT, default_server_running, make_cli, start_server
from gguf_factory import CHATML_TEMPLATE, write_tiny_gguf


@pytest.fixture
def cli(tmp_path: Path) -> CLI:
    """In-process mode: no OLLAMA_HOST, nothing at the default address (else the test is skipped)."""
    if default_server_running():
        pytest.skip("something listens on 127.0.0.1:11434, so the CLI would use it instead of running in-process")
    return make_cli(tmp_path / "cli")


@pytest.fixture(scope="session")
def script_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny chat model that answers every prompt with ``SCRIPT``."""
    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "scripted.gguf", chat_template=CHATML_TEMPLATE,
                           script=SCRIPT, name="scripted")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[CLI]:
    """A live server on a free port and a CLI whose OLLAMA_HOST points at it (same store)."""
    local = make_cli(tmp_path / "live")
    server = start_server(local)
    try:
        yield local.with_host(server.url)
    finally:
        server.stop()
