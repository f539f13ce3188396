"""Hostile input over HTTP with the official clients: the server answers 400 and stays up.

The token-id test runs the server in a child process: the bug it guards against aborted the whole process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ollama
import pytest

from srvutil import ServerProcess, start_server_process


@pytest.fixture(scope="module")
def proc(tmp_path_factory: pytest.TempPathFactory, server_models: Path) -> Iterator[ServerProcess]:
    srv = start_server_process(tmp_path_factory.mktemp("input-proc"), server_models, OLLAMA_CONTEXT_LENGTH="512")
    yield srv
    srv.stop()


@pytest.mark.parametrize("bad", [-1, 100000, 2**40])
@pytest.mark.parametrize("stream", [False, True])
def test_context_outside_the_vocabulary_is_a_400_and_the_server_stays_up(proc: ServerProcess, bad, stream):
    client = ollama.Client(proc.url)
    with pytest.raises(ollama.ResponseError) as e:
        out = client.generate(model="hello", prompt="hi", context=[1, bad], stream=stream)
        if stream:
            list(out)
    assert e.value.status_code == 400
    assert e.value.error.startswith(f"invalid token {bad} in context: the model's token ids are 0 to ")
    assert proc.alive(), proc.output
    assert client.generate(model="hello", prompt="hi", options={"num_predict": 4}).response == "Hell"
