"""End to end on Gemma 3 270M: the official ``ollama`` and ``openai`` clients against a real server."""

from __future__ import annotations

import json

import ollama
import openai
import pytest

from ollamalib.create import create_model
from ollamalib.store import ModelStore
from srvutil import make_settings, start_server

pytestmark = pytest.mark.e2e

GEMMA = "gemma3:270m"
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.fixture(scope="module")
def gemma_server(tmp_path_factory, gemma_gguf):
    from ollamalib.engine import AsyncEngine

    tmp = tmp_path_factory.mktemp("gemma-server")
    for _ in create_model(ModelStore(tmp / "models"), GEMMA, from_=str(gemma_gguf)):
        pass
    settings = make_settings(tmp, tmp / "models", context_length=1024)
    srv = start_server(AsyncEngine(settings), settings)
    yield srv
    srv.stop()


def test_ollama_client_generate_and_chat(gemma_server):
    client = ollama.Client(gemma_server.url)
    r = client.generate(GEMMA, "The capital of France is", options={"num_predict": 16, "temperature": 0})
    assert r.done and r.eval_count and r.response.strip()
    chunks = list(client.chat(GEMMA, [{"role": "user", "content": "Say hello."}], stream=True,
                              options={"num_predict": 16, "temperature": 0}))
    assert chunks[-1].done and "".join(c.message.content for c in chunks).strip()
    out = client.chat(GEMMA, [{"role": "user", "content": "Name a city as JSON."}], format=CITY,
                      options={"num_predict": 48, "temperature": 0})
    assert isinstance(json.loads(out.message.content)["city"], str)
    assert any(m.model == GEMMA for m in client.ps().models)
    assert "completion" in client.show(GEMMA).capabilities


def test_openai_client(gemma_server):
    client = openai.OpenAI(base_url=gemma_server.url + "/v1", api_key="unused", max_retries=0)
    r = client.chat.completions.create(model=GEMMA, messages=[{"role": "user", "content": "Say hello."}],
                                       max_tokens=16, temperature=0)
    assert r.choices[0].message.content.strip() and r.usage.completion_tokens <= 16
    stream = client.chat.completions.create(model=GEMMA, messages=[{"role": "user", "content": "Count to three."}],
                                            max_tokens=16, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()
    assert chunks[-1].usage.completion_tokens > 0
    out = client.chat.completions.create(
        model=GEMMA, messages=[{"role": "user", "content": "Name a city as JSON."}], max_tokens=48, temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": CITY}},
    )
    assert isinstance(json.loads(out.choices[0].message.content)["city"], str)
    text = client.completions.create(model=GEMMA, prompt="1, 2, 3,", max_tokens=8, temperature=0)
    assert text.choices[0].text.strip()
    assert GEMMA in [m.id for m in client.models.list().data]
