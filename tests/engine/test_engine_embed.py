"""Engine.embed and the legacy Engine.embeddings on a tiny embedding model (and a generative one)."""

from __future__ import annotations

import math

import pytest

from ollamalib.engine import Engine
from ollamalib.errors import ContextLengthError, InvalidNameError, InvalidOptionError, ModelNotFoundError


@pytest.fixture
def embedder(engine: Engine, tiny_embed_gguf) -> str:
    engine.create("embedder", from_=str(tiny_embed_gguf))
    return "embedder"


def _norm(v):
    return math.sqrt(sum(x * x for x in v))


def test_embed_normalised_batch(engine: Engine, embedder):
    resp = engine.embed(model=embedder, input=["the sky is blue", "a cat and a dog", "the sky is blue"])
    assert resp.model == embedder and len(resp.embeddings) == 3
    assert all(len(v) == 64 for v in resp.embeddings)
    assert all(_norm(v) == pytest.approx(1.0, abs=1e-5) for v in resp.embeddings)
    assert resp.embeddings[0] == pytest.approx(resp.embeddings[2])
    assert resp.embeddings[0] != pytest.approx(resp.embeddings[1])
    assert resp.prompt_eval_count and resp.prompt_eval_count >= 3 * 4
    assert resp.total_duration and resp.load_duration is not None
    single = engine.embed(model=embedder, input="the sky is blue")
    assert single.embeddings[0] == pytest.approx(resp.embeddings[0], abs=1e-5)


def test_embed_dimensions_renormalise(engine: Engine, embedder):
    full = engine.embed(model=embedder, input="hello world").embeddings[0]
    short = engine.embed(model=embedder, input="hello world", dimensions=8).embeddings[0]
    assert len(short) == 8 and _norm(short) == pytest.approx(1.0, abs=1e-5)
    scale = _norm(full[:8])
    assert short == pytest.approx([x / scale for x in full[:8]], abs=1e-5)
    assert len(engine.embed(model=embedder, input="hello", dimensions=1000).embeddings[0]) == 64


def test_embed_truncate(engine: Engine, embedder):
    text = "word " * 3000
    resp = engine.embed(model=embedder, input=text, options={"num_ctx": 128})
    assert resp.prompt_eval_count <= 128
    with pytest.raises(ContextLengthError, match="^the input length exceeds the context length$"):
        engine.embed(model=embedder, input=text, truncate=False, options={"num_ctx": 128})


def test_embed_empty_input_loads(engine: Engine, embedder):
    resp = engine.embed(model=embedder, input=[])
    assert resp.embeddings == [] and [m.name for m in engine.ps().models] == ["embedder:latest"]
    assert engine.embed(model=embedder, input="").embeddings == []


def test_embed_errors(engine: Engine, embedder):
    with pytest.raises(InvalidOptionError, match="^invalid input type$"):
        engine.embed(model=embedder, input=[1, 2])
    with pytest.raises(ModelNotFoundError, match="^model 'nope' not found$"):
        engine.embed(model="nope", input="x")


def test_embed_with_a_generative_model(engine: Engine, tiny):
    resp = engine.embed(model=tiny, input=["one", "two"])
    assert len(resp.embeddings) == 2 and all(_norm(v) == pytest.approx(1.0, abs=1e-5) for v in resp.embeddings)
    assert engine.generate(model=tiny, prompt="x", options={"num_predict": 2}).done  # generation still works


def test_legacy_embeddings_not_normalised(engine: Engine, embedder):
    raw = engine.embeddings(model=embedder, prompt="the sky is blue").embedding
    norm = engine.embed(model=embedder, input="the sky is blue").embeddings[0]
    assert len(raw) == 64 and _norm(raw) != pytest.approx(1.0, abs=1e-3)
    assert [x / _norm(raw) for x in raw] == pytest.approx(norm, abs=1e-5)
    assert engine.embeddings(model=embedder, prompt="").embedding == []
    with pytest.raises(InvalidNameError, match="^model is required$"):
        engine.embeddings(model="", prompt="x")
    with pytest.raises(ModelNotFoundError, match='^model "nope" not found, try pulling it first$'):
        engine.embeddings(model="nope", prompt="x")
