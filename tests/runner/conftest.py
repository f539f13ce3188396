"""Runner fixtures: tiny real GGUF models (random or scripted) and, for e2e tests, Gemma 3 270M."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gguf_factory import CHATML_TEMPLATE, write_tiny_gguf
from runner_models import SCRIPT

from ollamalib.runner import LoadOptions, Runner


@pytest.fixture(scope="session")
def script_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model that answers every prompt with SCRIPT and then its end-of-generation token."""
    return write_tiny_gguf(tmp_path_factory.mktemp("runner") / "script.gguf", script=SCRIPT)


@pytest.fixture(scope="session")
def babble_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight model: it babbles, so sampling settings and seeds show in its output."""
    return write_tiny_gguf(tmp_path_factory.mktemp("runner") / "babble.gguf", chat_template=CHATML_TEMPLATE, seed=7)


@pytest.fixture(scope="module")
def script_runner(script_gguf: Path) -> Iterator[Runner]:
    with Runner(script_gguf, LoadOptions(num_ctx=256, num_parallel=2)) as runner:
        yield runner


@pytest.fixture(scope="module")
def babble_runner(babble_gguf: Path) -> Iterator[Runner]:
    with Runner(babble_gguf, LoadOptions(num_ctx=512, num_parallel=4)) as runner:
        yield runner


@pytest.fixture(scope="session")
def gemma_runner(gemma_gguf: Path) -> Iterator[Runner]:
    with Runner(gemma_gguf, LoadOptions(num_ctx=2048, num_parallel=4)) as runner:
        yield runner
