"""A BERT cross-encoder (bge-reranker's shape: WordPiece vocabulary, rank pooling, a one-output classifier head):
``rerank`` scores llama-server's pair, ``[CLS] query [SEP] document [SEP]``, with the scores read directly
through llama-cpp-python's low-level API (tests/score_reference.py); ``show`` and ``embed`` answer as for any
embedding model."""

from __future__ import annotations

from pathlib import Path

import pytest
from gguf_factory import tiny_bert_rerank_gguf, write_tiny_bert_gguf  # noqa: F401
from score_reference import low_level, pair_scores

from ollamalib.engine import Engine
from ollamalib.engine._rerank import Pairs, answer_tokens
from ollamalib.errors import CapabilityError, ContextLengthError, InvalidOptionError
from ollamalib.rerank import Reranker
from ollamalib.requests import RerankRequest
from ollamalib.runner import Vocabulary

QUERY = "what color is the sky"
DOCS = ["the sky is blue", "a cat and a dog", "hello world", "the night sky is black", "water and fire",
        "Why is the sky blue? Because air scatters blue light."]


@pytest.fixture
def bert(engine: Engine, tiny_bert_rerank_gguf: Path) -> str:  # noqa: F811
    engine.create("bert-rerank", from_=str(tiny_bert_rerank_gguf))
    return "bert-rerank"


def test_pair_is_llama_servers_bert_pair(tiny_bert_rerank_gguf: Path) -> None:  # noqa: F811
    vocab = Vocabulary(tiny_bert_rerank_gguf)
    cls, sep = vocab.tokenize("[CLS]", add_special=False), vocab.tokenize("[SEP]", add_special=False)
    assert (vocab.bos_id, vocab.eos_id, vocab.sep_id) == (cls[0], sep[0], sep[0])
    assert (vocab.add_bos, vocab.add_eos, vocab.add_sep) == (True, True, False)  # as gguf-py converts BERT
    pairs = Pairs(vocab, Reranker("cross-encoder"), RerankRequest(model="m", query=QUERY, documents=["hello world"]),
                  512)
    q, d = vocab.tokenize(QUERY, add_special=False), vocab.tokenize("hello world", add_special=False)
    assert pairs.inputs == [cls + q + sep + d + sep]


def test_pair_puts_sep_where_eos_is_missing(gguf_dir: Path) -> None:
    # llama-server's format_prompt_rerank: EOS, or SEP when the vocabulary has no EOS
    path = write_tiny_bert_gguf(gguf_dir / "bert-no-eos.gguf", eos=False)
    vocab = Vocabulary(path)
    assert vocab.eos_id < 0 and vocab.add_eos and vocab.sep_id >= 0
    pairs = Pairs(vocab, Reranker("cross-encoder"), RerankRequest(model="m", query="hi", documents=["the sky"]), 512)
    q, d = vocab.tokenize("hi", add_special=False), vocab.tokenize("the sky", add_special=False)
    assert pairs.inputs == [[vocab.bos_id, *q, vocab.sep_id, *d, vocab.sep_id]]


def test_scores_and_order_equal_the_direct_scores(engine: Engine, bert: str,
                                                  tiny_bert_rerank_gguf: Path) -> None:  # noqa: F811
    r = engine.rerank(bert, QUERY, DOCS, return_documents=True)
    want = pair_scores(tiny_bert_rerank_gguf, QUERY, DOCS, n_ctx=512)
    assert len(set(want)) == len(DOCS)  # the random head tells every pair apart
    got = {x.index: x.relevance_score for x in r.results}
    # One pair alone is the direct score to float precision. Read together (85 tokens, past ggml's 64-row
    # attention tile) the pairs go through other kernels, as in llama-server, whose f16 K/V rounding this random
    # head amplifies: equal to a few thousandths, relative.
    assert [engine.rerank(bert, QUERY, [d]).results[0].relevance_score for d in DOCS[:2]] == pytest.approx(
        want[:2], abs=1e-5)
    assert [got[i] for i in range(len(DOCS))] == pytest.approx(want, rel=5e-3)
    assert [x.index for x in r.results] == sorted(range(len(DOCS)), key=lambda i: -want[i])
    assert [x.document for x in r.results] == [DOCS[x.index] for x in r.results]
    # every pair is [CLS] query [SEP] document [SEP]
    with low_level(tiny_bert_rerank_gguf, n_ctx=512, rank=True) as ll:
        n_query = len(ll.tokenize(QUERY, add_special=True))
        assert r.prompt_eval_count == sum(n_query + len(ll.tokenize(d)) + 1 for d in DOCS)
    top = engine.rerank(bert, QUERY, DOCS, top_n=2)
    assert [x.index for x in top.results] == [x.index for x in r.results][:2]


def test_long_document_is_cut_before_the_final_sep(engine: Engine, bert: str,
                                                   tiny_bert_rerank_gguf: Path) -> None:  # noqa: F811
    long_doc = "the sky is blue and " * 40  # 200 tokens: more than a 64-token context holds with the query
    r = engine.rerank(bert, QUERY, ["hello world", long_doc], options={"num_ctx": 64})
    assert r.truncated == [1]
    with low_level(tiny_bert_rerank_gguf, n_ctx=64, rank=True) as ll:
        head = ll.tokenize(QUERY, add_special=True)
        sep = head[-1:]
        cut = head + ll.tokenize(long_doc)[: 64 - len(head) - 1] + sep
        assert len(cut) == 64
        want = ll.rank(cut)[0]
    assert next(x for x in r.results if x.index == 1).relevance_score == pytest.approx(want, abs=1e-4)
    with pytest.raises(ContextLengthError, match="rerank document 1 with the query takes"):
        engine.rerank(bert, QUERY, ["hello world", long_doc], options={"num_ctx": 64}, truncate=False)


def test_show_embed_and_generate_answer_as_for_an_embedding_model(engine: Engine, bert: str) -> None:
    shown = engine.show(bert)
    assert shown.capabilities == ["embedding", "rerank"]  # Ollama: a GGUF with a pooling type embeds, no completion
    assert shown.model_info["general.architecture"] == "bert"
    assert shown.model_info["bert.pooling_type"] == 4
    # llama.cpp's rank pooling gives the classifier output as the pooled vector: one number per label, which
    # /api/embed L2-normalises as Ollama does (so its sign) and the legacy /api/embeddings returns raw
    direct = engine.rerank(bert, "hello", ["world"]).results[0].relevance_score
    embedded = engine.embed(bert, ["hello world", "the sky"])
    assert [len(v) for v in embedded.embeddings] == [1, 1]
    assert all(abs(v[0]) == pytest.approx(1.0) for v in embedded.embeddings)
    assert embedded.prompt_eval_count == 4 + 4  # [CLS] text [SEP] each
    raw = engine.embeddings(bert, "hello world").embedding
    assert len(raw) == 1 and embedded.embeddings[0][0] == pytest.approx(1.0 if raw[0] > 0 else -1.0)
    assert raw[0] != pytest.approx(direct)  # one text alone is not the pair
    with pytest.raises(CapabilityError, match='^"bert-rerank" does not support generate$'):
        engine.generate(bert, "hello")
    with pytest.raises(CapabilityError, match='^"bert-rerank" does not support chat$'):
        engine.chat(bert, [{"role": "user", "content": "hello"}])


def test_an_answer_that_makes_no_token_is_a_400(tiny_bert_rerank_gguf: Path) -> None:  # noqa: F811
    # WordPiece drops whitespace: an answer of spaces has no token to score (a SentencePiece or BPE vocabulary
    # gives every non-empty text at least one)
    vocab = Vocabulary(tiny_bert_rerank_gguf)
    assert answer_tokens(vocab, Reranker("generative", "{query} {document}", ("yes", "no"))) == [
        vocab.tokenize("yes", add_special=False), vocab.tokenize("no", add_special=False)]
    with pytest.raises(InvalidOptionError,
                       match=r"^rerank_answer \"  \" makes no token in this model's vocabulary$") as e:
        answer_tokens(vocab, Reranker("generative", "{query} {document}", ("yes", "  ")))
    assert e.value.status_code == 400
