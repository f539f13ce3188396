"""Embeddings on a tiny real embedding GGUF (mean pooling) and on a generative one (last token)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gguf_factory import tiny_bert_rerank_gguf, tiny_rerank_gguf  # noqa: F401  (fixtures)

from ollamalib.errors import ContextLengthError
from ollamalib.runner import LoadOptions, Runner, RunnerError, SamplingOptions


@pytest.fixture(scope="module")
def embedder(tiny_embed_gguf: Path) -> Iterator[Runner]:
    with Runner(tiny_embed_gguf, LoadOptions(num_ctx=64, embedding=True)) as runner:
        yield runner


def test_embed_shapes_and_counts(embedder: Runner) -> None:
    texts = ["hello world", "the sky is blue", "hello world", ""]
    vectors, count = embedder.embed(texts)
    assert len(vectors) == 4 and all(len(v) == embedder.n_embd for v in vectors)
    assert count == sum(len(embedder.tokenize(t)) for t in texts)
    assert vectors[0] == pytest.approx(vectors[2])
    assert vectors[0] != pytest.approx(vectors[1])
    assert all(np.isfinite(v).all() for v in vectors)
    assert not np.allclose(np.linalg.norm(vectors[0]), 1.0)  # raw: the Engine normalises


def test_batched_equals_single(embedder: Runner) -> None:
    many, _ = embedder.embed([f"one two three {i}" for i in range(40)])
    single, _ = embedder.embed(["one two three 7"])
    assert single[0] == pytest.approx(many[7], abs=1e-5)


def test_too_long_input(embedder: Runner) -> None:
    long = "one two three four five six seven eight nine ten " * 20
    with pytest.raises(ContextLengthError) as err:
        embedder.embed([long], truncate=False)
    assert str(err.value) == "the input length exceeds the context length"
    vectors, count = embedder.embed([long])
    assert count == 64 and len(vectors[0]) == embedder.n_embd


def test_embedding_runner_does_not_generate(embedder: Runner) -> None:
    assert embedder.is_embedding
    with pytest.raises(RunnerError):
        embedder.submit(embedder.tokenize("hi"), SamplingOptions())


def test_generation_runner_embeds_on_its_own_weights(babble_gguf: Path) -> None:
    """A generation runner embeds in a second context on the weights it loaded, while it keeps generating."""
    with Runner(babble_gguf, LoadOptions(num_ctx=256, num_parallel=2)) as runner:
        size = runner.stats().size
        seq = runner.submit(runner.tokenize("hello"), SamplingOptions(temperature=0, num_predict=8))
        vectors, count = runner.embed(["hello world", "the sky"])
        for _ in seq:  # the generation started before the embedding context existed finishes normally
            pass
        assert seq.result is not None and 1 <= seq.result.eval_count <= 8
        assert runner.stats().size > size and runner.stats().kv_cells_total == 2 * 256
        with Runner(babble_gguf, LoadOptions(num_ctx=256, embedding=True)) as alone:
            expected, expected_count = alone.embed(["hello world", "the sky"])
        assert count == expected_count
        assert vectors[0] == pytest.approx(expected[0], abs=1e-5) and vectors[1] == pytest.approx(expected[1], abs=1e-5)


def test_generative_model_embeds_with_its_last_token(babble_gguf: Path) -> None:
    with Runner(babble_gguf, LoadOptions(num_ctx=64, embedding=True)) as runner:
        vectors, count = runner.embed(["hello world", "the sky"])
        assert len(vectors[0]) == runner.n_embd
        assert count == len(runner.tokenize("hello world")) + len(runner.tokenize("the sky"))
        assert vectors[0] != pytest.approx(vectors[1])


def test_generative_model_reads_long_inputs_in_chunks(babble_gguf: Path) -> None:
    with Runner(babble_gguf, LoadOptions(num_ctx=512, embedding=True)) as runner:
        long = "one two three four five six seven eight nine ten " * 30
        assert 128 < len(runner.tokenize(long)) <= 512
        vectors, count = runner.embed([long, "short", long])
        assert vectors[0] == pytest.approx(vectors[2], abs=1e-5)
        assert count == 2 * len(runner.tokenize(long)) + len(runner.tokenize("short"))
        alone, _ = runner.embed(["short"])
        assert alone[0] == pytest.approx(vectors[1], abs=1e-5)


def _embedder_of(runner: Runner):  # the runner's embedding context, made on first use
    runner.embed(["x"])
    assert runner._embedder is not None
    return runner._embedder


@pytest.mark.parametrize("gguf, last_only", [("babble_gguf", True), ("tiny_rerank_gguf", True),
                                             ("tiny_embed_gguf", False), ("tiny_bert_rerank_gguf", False)])
def test_last_token_models_read_the_rest_without_outputs(gguf: str, last_only: bool,
                                                         request: pytest.FixtureRequest) -> None:
    """Where a vector is the last token's state (causal attention; no pooling, last pooling, or a causal
    cross-encoder's rank pooling) the tokens before it are read with no outputs; the vectors are those of reading
    every token with outputs, to float rounding (the last token is read in a decode of its own). Mean pooling and
    a BERT cross-encoder (bidirectional attention) read every token with outputs."""
    path = request.getfixturevalue(gguf)
    with Runner(path, LoadOptions(num_ctx=512, embedding=True)) as runner:
        embedder = _embedder_of(runner)
        assert embedder.last_only is last_only
        long = "one two three four five six seven eight nine ten " * 30
        inputs = [runner.tokenize(t) for t in ("hello world", "the sky is blue", "a", long)]
        inputs = [t[: embedder.limit] for t in inputs]
        got, _ = embedder.run(inputs)
        embedder.last_only = False
        want, _ = embedder.run(inputs)
        for g, w in zip(got, want):
            assert g == pytest.approx(w, abs=2e-3 * max(1.0, max(map(abs, w))))
