"""End to end on the bundled Gemma 3 270M: generate, chat, JSON output and embeddings."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import pytest

from ollamalib.config import Settings
from ollamalib.demo import DEMO_MODEL, install_demo_model
from ollamalib.engine import Engine

pytestmark = pytest.mark.e2e

GREEDY = {"temperature": 0, "num_ctx": 1024}


@pytest.fixture(scope="module")
def gemma(tmp_path_factory: pytest.TempPathFactory, gemma_gguf: Path):
    settings = Settings.from_env({}, models=tmp_path_factory.mktemp("gemma") / "models")
    engine = Engine(settings)
    install_demo_model(engine.store)
    try:
        yield engine
    finally:
        engine.close()


def test_generate(gemma: Engine):
    resp = gemma.generate(model=DEMO_MODEL, prompt="Paris is the capital of", raw=True,
                          options={**GREEDY, "num_predict": 4})
    assert resp.response.startswith(" France")
    assert resp.eval_count and resp.eval_duration and resp.prompt_eval_count and resp.context is None
    chunks = gemma.generate(model=DEMO_MODEL, prompt="Paris is the capital of", raw=True, stream=True,
                            options={**GREEDY, "num_predict": 4})
    streamed = "".join(c.response for c in chunks)
    assert streamed == resp.response


def test_chat_with_history(gemma: Engine):
    messages = [
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "The capital of France is Paris."},
        {"role": "user", "content": "What is the capital of Italy?"},
    ]
    chunks = list(gemma.chat(model=DEMO_MODEL, messages=messages, stream=True, options={**GREEDY, "num_predict": 8}))
    answer = "".join(c.message.content for c in chunks)
    assert chunks[-1].done and chunks[-1].prompt_eval_count > 15 and "Rome" in answer


def test_json_output(gemma: Engine):
    schema = {"type": "object", "properties": {"capital": {"type": "string", "maxLength": 20}},
              "required": ["capital"]}
    resp = gemma.generate(model=DEMO_MODEL, prompt="What is the capital of France? Answer in JSON.", format=schema,
                          options={**GREEDY, "num_predict": 24})
    assert resp.done_reason == "stop"
    data = json.loads(resp.response)
    jsonschema.validate(data, schema)
    assert data == {"capital": "Paris"}


def test_embed(gemma: Engine):
    resp = gemma.embed(model=DEMO_MODEL, input=["The cat sat on the mat.", "A cat was sitting on a mat.",
                                                "Quarterly revenue grew by ten percent."])
    vecs = resp.embeddings
    assert len(vecs) == 3 and len(vecs[0]) == 640
    assert all(math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, abs_tol=1e-4) for v in vecs)

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(vecs[0], vecs[1]) > cos(vecs[0], vecs[2])
