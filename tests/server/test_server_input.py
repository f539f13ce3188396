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


@pytest.mark.parametrize("bound", [{"minLength": 10**8}, {"minLength": 10**9}, {"maxLength": 10**8}])
def test_a_huge_schema_is_a_400_natively_and_under_v1(live, bound):
    import json

    import openai

    schema = {"type": "object", "properties": {"city": {"type": "string", **bound}}}
    client = ollama.Client(live.url)
    with pytest.raises(ollama.ResponseError) as e:
        client.chat("jsonbot", [{"role": "user", "content": "weather?"}], format=schema)
    assert e.value.status_code == 400 and "OLLAMALIB_MAX_GRAMMAR_REPEATS" in e.value.error
    with pytest.raises(ollama.ResponseError) as e:
        list(client.generate("jsonbot", "weather?", format=schema, stream=True))
    assert e.value.status_code == 400
    with openai.OpenAI(base_url=live.url + "/v1", api_key="unused", max_retries=0) as oa:
        with pytest.raises(openai.BadRequestError, match="OLLAMALIB_MAX_GRAMMAR_REPEATS"):
            oa.chat.completions.create(
                model="jsonbot", messages=[{"role": "user", "content": "weather?"}],
                response_format={"type": "json_schema", "json_schema": {"name": "w", "schema": schema}})
    fine = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 64}, "sunny": {"type": "boolean"}}}
    out = client.chat("jsonbot", [{"role": "user", "content": "weather?"}], format=fine)
    assert json.loads(out.message.content) == {"city": "Paris", "sunny": True}
