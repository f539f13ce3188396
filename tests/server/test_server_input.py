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


# A real Go template whose every render is quadratic in the messages: a long preparation without any fake.
SLOW_TEMPLATE = ('{{- range .Messages }}{{ range $.Messages }}{{ if eq .Role "x" }}{{ end }}{{ end }}'
                 "<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n")


@pytest.fixture
def slow_store(tmp_path: Path) -> Path:
    from gguf_factory import write_tiny_gguf

    from ollamalib.create import create_model
    from ollamalib.store import ModelStore

    store = ModelStore(tmp_path / "slow-models")
    gguf = write_tiny_gguf(tmp_path / "slow.gguf", script="Hi there")
    for _ in create_model(store, "slow", from_=str(gguf), template=SLOW_TEMPLATE):
        pass
    return store.root


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_leaving_during_a_long_preparation_frees_the_model(server_factory, slow_store, stream):
    """One slot (num_parallel=1): a chat whose preparation takes seconds must not hold it, and once its client
    hangs up the preparation stops at its next step instead of going on to decode for nobody."""
    import json
    import socket
    import threading
    import time

    srv = server_factory(models=slow_store, num_parallel=1)
    eng = srv.engine.engine
    renders: list[list] = []  # [messages, started, ended]: a spy, the template runs for real
    real = eng._render

    def spy(m, template, **kw):
        entry = [len(kw.get("messages") or ()), time.monotonic(), None]
        renders.append(entry)
        try:
            return real(m, template, **kw)
        finally:
            entry[2] = time.monotonic()

    eng._render = spy
    client = ollama.Client(srv.url)
    assert client.generate("slow", "warm up", options={"num_predict": 2}).response == "Hi"
    before = sum(m.requests_total for m in eng.metrics())

    messages = [{"role": ("user", "assistant")[i % 2], "content": f"m{i}"} for i in range(1400)]
    body = json.dumps({"model": "slow", "messages": messages, "stream": stream}).encode()
    host, port = srv.host.split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(b"POST /api/chat HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)
    deadline = time.monotonic() + 60
    while not any(r[0] == 1400 for r in renders):
        assert time.monotonic() < deadline, "the long preparation never started"
        time.sleep(0.01)
    big = next(r for r in renders if r[0] == 1400)

    answered = client.generate("slow", "meanwhile", options={"num_predict": 2})  # the slot is free
    done_at = time.monotonic()
    assert answered.response == "Hi"
    sock.close()  # the client of the long chat goes away
    while big[2] is None:
        assert time.monotonic() < deadline + 120, "the long render never ended"
        time.sleep(0.05)
    assert done_at < big[2]  # answered while the long preparation was still rendering
    time.sleep(1.0)
    assert [r for r in renders if r[1] > big[2] and r[0] > 1] == []  # stopped: no fitting after the hang-up
    assert sum(m.requests_total for m in eng.metrics()) == before + 1  # and nothing was decoded for it
    assert client.generate("slow", "after", options={"num_predict": 2}).response == "Hi"


def test_message_count_and_text_limits_over_http(server_factory):
    import openai

    srv = server_factory(max_messages=100, max_prompt_bytes=10_000)
    client = ollama.Client(srv.url)
    many = [{"role": ("user", "assistant")[i % 2], "content": "hi"} for i in range(101)]
    with pytest.raises(ollama.ResponseError) as e:
        client.chat("hello", many)
    assert e.value.status_code == 400 and "OLLAMALIB_MAX_MESSAGES" in e.value.error
    with pytest.raises(ollama.ResponseError) as e:
        list(client.chat("hello", [{"role": "user", "content": "x" * 10_001}], stream=True))
    assert e.value.status_code == 413 and "OLLAMALIB_MAX_PROMPT_BYTES" in e.value.error
    with pytest.raises(ollama.ResponseError) as e:
        client.generate("hello", "x" * 10_001)
    assert e.value.status_code == 413
    with openai.OpenAI(base_url=srv.url + "/v1", api_key="unused", max_retries=0) as oa:
        with pytest.raises(openai.APIStatusError) as err:
            oa.chat.completions.create(model="hello", messages=many)
        assert err.value.status_code == 400
    assert client.chat("hello", many[:100]).message.content == "Hello there, friend!"
