"""Engine.rerank: cross-encoder and generative rerankers, checked against scores read directly through
llama-cpp-python's low-level API on the same model (tests/score_reference.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gguf_factory import CHATML_TEMPLATE, tiny_rerank_gguf, write_tiny_gguf  # noqa: F401
from score_reference import low_level, pair_scores, yes_no_scores

from ollamalib.engine import Engine
from ollamalib.errors import CapabilityError, ContextLengthError, InvalidOptionError
from ollamalib.rerank import DEFAULT_INSTRUCTION, QWEN3_RERANK_PROMPT

QUERY = "what color is the sky"
DOCS = ["the sky is blue", "a cat and a dog", "hello world", "the night sky is black", "water and fire"]


@pytest.fixture
def reranker(engine: Engine, tiny_rerank_gguf: Path) -> str:  # noqa: F811
    engine.create("tiny-rerank", from_=str(tiny_rerank_gguf))
    return "tiny-rerank"


def test_cross_encoder_scores_and_order(engine: Engine, reranker: str, tiny_rerank_gguf: Path) -> None:  # noqa: F811
    assert "rerank" in engine.show(reranker).capabilities
    r = engine.rerank(reranker, QUERY, DOCS)
    want = pair_scores(tiny_rerank_gguf, QUERY, DOCS)
    assert sorted(x.index for x in r.results) == list(range(len(DOCS)))
    for x in r.results:
        assert x.relevance_score == pytest.approx(want[x.index], abs=1e-5)
        assert x.document is None
    assert [x.index for x in r.results] == sorted(range(len(DOCS)), key=lambda i: -want[i])
    assert r.truncated is None and r.prompt_eval_count and r.prompt_eval_count > len(DOCS)


def test_top_n_and_return_documents(engine: Engine, reranker: str) -> None:
    full = engine.rerank(reranker, QUERY, DOCS)
    top = engine.rerank(reranker, QUERY, DOCS, top_n=2, return_documents=True)
    assert [x.index for x in top.results] == [x.index for x in full.results][:2]
    assert [x.document for x in top.results] == [DOCS[x.index] for x in top.results]
    assert len(engine.rerank(reranker, QUERY, DOCS, top_n=50).results) == len(DOCS)


def test_bad_requests(engine: Engine, reranker: str, tiny: str) -> None:
    with pytest.raises(InvalidOptionError, match="documents must not be empty"):
        engine.rerank(reranker, QUERY, [])
    with pytest.raises(InvalidOptionError, match="top_n must be a positive integer"):
        engine.rerank(reranker, QUERY, DOCS, top_n=0)
    with pytest.raises(CapabilityError, match='^"tiny" does not support rerank$') as err:
        engine.rerank(tiny, QUERY, DOCS)
    assert err.value.status_code == 400
    assert "rerank" not in engine.show(tiny).capabilities


def test_long_document_is_truncated_and_reported(engine: Engine, reranker: str, tiny_rerank_gguf: Path) -> None:  # noqa: F811
    long_doc = "the sky is blue and " * 60  # ~300 tokens: more than a 128-token context holds
    docs = ["hello world", long_doc]
    r = engine.rerank(reranker, QUERY, docs, options={"num_ctx": 128})
    assert r.truncated == [1]
    assert {x.index for x in r.results} == {0, 1}
    # the cut pair is what the classifier saw: the first tokens of the document that fit with the query
    with low_level(tiny_rerank_gguf, n_ctx=128, rank=True) as ll:
        head = ll.tokenize("", add_special=True) + ll.tokenize(QUERY)
        cut = head + ll.tokenize(long_doc)[: 128 - len(head)]
        want = ll.rank(cut)[0]
        off_by_one = ll.rank(cut[:-1])[0]
    # The engine reads the pair's last token in a decode of its own (``Embedder.last_only``), so other ggml kernels
    # than the reference's whole read: equal to a few ten-thousandths. A cut one token shorter scores far apart.
    got = next(x for x in r.results if x.index == 1).relevance_score
    assert got == pytest.approx(want, abs=2e-3) and abs(off_by_one - want) > 0.1
    with pytest.raises(ContextLengthError, match="rerank document 1 with the query takes"):
        engine.rerank(reranker, QUERY, docs, options={"num_ctx": 128}, truncate=False)


def test_hundred_documents_batched(engine: Engine, reranker: str, tiny_rerank_gguf: Path) -> None:  # noqa: F811
    words = "sky blue red green cat dog water fire world story night day time color light".split()
    docs = [" ".join(words[(i * 7 + k) % len(words)] for k in range(3 + i % 9)) for i in range(100)]
    r = engine.rerank(reranker, QUERY, docs)
    want = pair_scores(tiny_rerank_gguf, QUERY, docs)
    assert len(r.results) == 100
    got = {x.index: x.relevance_score for x in r.results}
    # Read 64 to a batch, the pairs go through other ggml kernels than one at a time (batch-shape dependent
    # float sums, amplified by the random tiny head): equal to a few thousandths, and ordered the same way
    # wherever the direct scores differ by more than that.
    tol = 5e-3
    assert [got[i] for i in range(100)] == pytest.approx(want, abs=tol)
    scores = [x.relevance_score for x in r.results]
    assert scores == sorted(scores, reverse=True)
    ranked = [x.index for x in r.results]
    assert all(want[a] > want[b] - 2 * tol for a, b in zip(ranked, ranked[1:]))


def _prompts(template: str, query: str, docs: list[str], instruction: str = DEFAULT_INSTRUCTION) -> list[str]:
    return [template.replace("{instruction}", instruction).replace("{query}", query).replace("{document}", d)
            for d in docs]


def test_generative_reranker_on_a_tiny_llm(engine: Engine, gguf_dir: Path) -> None:
    path = write_tiny_gguf(gguf_dir / "tiny-qwen-reranker.gguf", name="Tiny-Reranker", seed=11,
                           chat_template=CHATML_TEMPLATE)
    engine.create("gen-rerank", from_=str(path))
    assert "rerank" in engine.show("gen-rerank").capabilities
    r = engine.rerank("gen-rerank", QUERY, DOCS, instruction="Find the answer")
    want = yes_no_scores(path, _prompts(QWEN3_RERANK_PROMPT, QUERY, DOCS, "Find the answer"), ("yes", "no"))
    got = {x.index: x.relevance_score for x in r.results}
    assert [got[i] for i in range(len(DOCS))] == pytest.approx(want, abs=1e-3)  # read packed: batch-shape sums
    assert all(0.0 < s < 1.0 for s in got.values())


SMOL_PROMPT = (
    "<|im_start|>user\nPassage: {document}\nQuestion: {query}\nIs the passage relevant to the question? "
    "Answer yes or no.<|im_end|>\n<|im_start|>assistant\n"
)


@pytest.mark.e2e
def test_generative_reranker_on_the_demo_model(engine: Engine, smollm2_gguf: Path) -> None:
    # a Modelfile TEMPLATE with {query} and {document} makes any chat model a generative reranker
    engine.create("smol-rerank", from_=str(smollm2_gguf), template=SMOL_PROMPT)
    assert "rerank" in engine.show("smol-rerank").capabilities
    docs = ["The sky is blue because air scatters blue light more than red light.",
            "Cats sleep for most of the day.", "Paris is the capital of France."]
    r = engine.rerank("smol-rerank", "Why is the sky blue?", docs, return_documents=True)
    want = yes_no_scores(smollm2_gguf, _prompts(SMOL_PROMPT, "Why is the sky blue?", docs), ("yes", "no"))
    got = {x.index: x.relevance_score for x in r.results}
    assert [got[i] for i in range(len(docs))] == pytest.approx(want, abs=2e-3)
    assert all(x.document == docs[x.index] for x in r.results)
    assert len({round(s, 4) for s in got.values()}) == len(docs)  # each pair judged on its own text
