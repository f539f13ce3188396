"""A Modelfile names a generative reranker's two answers (``PARAMETER rerank_answer``, the yes word first): the model
is created with them, ``show`` lists them, ``rerank`` scores P(yes) / (P(yes) + P(no)) of those words (checked
against the probabilities read directly through llama-cpp-python), and a bad list is a clear 400."""

from __future__ import annotations

from pathlib import Path

import pytest
from gguf_factory import CHATML_TEMPLATE, write_tiny_gguf
from score_reference import yes_no_scores

from ollamalib.create import create_from_modelfile
from ollamalib.engine import Engine
from ollamalib.errors import InvalidOptionError

QUERY = "what color is the sky"
DOCS = ["the sky is blue", "a cat and a dog", "hello world", "the night sky is black"]
PROMPT = ("<|im_start|>user\nDocument: {document}\nQuery: {query}\nDoes the document answer the query? "
          "Say good or bad.<|im_end|>\n<|im_start|>assistant\n")


@pytest.fixture(scope="module")
def judge_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("answers") / "judge.gguf", seed=13, chat_template=CHATML_TEMPLATE)


def _create(engine: Engine, name: str, gguf: Path, *lines: str) -> None:
    modelfile = "\n".join([f"FROM {gguf.name}", f'TEMPLATE """{PROMPT}"""', *lines]) + "\n"
    for _ in create_from_modelfile(engine.store, name, modelfile, base_dir=gguf.parent):
        pass


def _prompts(docs: list[str]) -> list[str]:
    return [PROMPT.replace("{query}", QUERY).replace("{document}", d) for d in docs]


def test_modelfile_answers_are_created_shown_and_scored(engine: Engine, judge_gguf: Path) -> None:
    _create(engine, "judge", judge_gguf, "PARAMETER rerank_answer good", "PARAMETER rerank_answer bad")
    record = engine.store.record("judge")
    assert record.parameters == {"rerank_answer": ["good", "bad"]}
    shown = engine.show("judge")
    assert "rerank" in shown.capabilities
    assert shown.parameters == 'rerank_answer                  "good"\nrerank_answer                  "bad"'
    assert "PARAMETER rerank_answer good\nPARAMETER rerank_answer bad\n" in shown.modelfile

    r = engine.rerank("judge", QUERY, DOCS)
    want = yes_no_scores(judge_gguf, _prompts(DOCS), ("good", "bad"))
    got = {x.index: x.relevance_score for x in r.results}
    assert [got[i] for i in range(len(DOCS))] == pytest.approx(want, abs=1e-3)  # read packed: batch-shape sums
    plain = yes_no_scores(judge_gguf, _prompts(DOCS), ("yes", "no"))
    assert max(abs(w - p) for w, p in zip(want, plain)) > 2e-2  # the words matter: "yes"/"no" score otherwise

    # a request's options name other answers for one call (they merge over the Modelfile's, as every option)
    again = engine.rerank("judge", QUERY, DOCS, options={"rerank_answer": ["yes", "no"]})
    got = {x.index: x.relevance_score for x in again.results}
    assert [got[i] for i in range(len(DOCS))] == pytest.approx(plain, abs=1e-3)


def test_a_child_model_keeps_or_replaces_the_answers(engine: Engine, judge_gguf: Path) -> None:
    _create(engine, "judge", judge_gguf, "PARAMETER rerank_answer good", "PARAMETER rerank_answer bad")
    for _ in create_from_modelfile(engine.store, "judge-child", "FROM judge\nPARAMETER temperature 0\n"):
        pass
    assert engine.store.record("judge-child").parameters["rerank_answer"] == ["good", "bad"]
    for _ in create_from_modelfile(engine.store, "judge-yes",
                                   "FROM judge\nPARAMETER rerank_answer Yes\nPARAMETER rerank_answer No\n"):
        pass
    assert engine.store.record("judge-yes").parameters["rerank_answer"] == ["Yes", "No"]


@pytest.mark.parametrize(("lines", "text"), [
    (["PARAMETER rerank_answer good"], "rerank_answer takes exactly 2 values, got 1"),
    (["PARAMETER rerank_answer a", "PARAMETER rerank_answer b", "PARAMETER rerank_answer c"],
     "rerank_answer takes exactly 2 values, got 3"),
    (['PARAMETER rerank_answer ""', "PARAMETER rerank_answer bad"], "rerank_answer values must not be empty"),
])
def test_a_bad_answer_list_is_refused_at_create(engine: Engine, judge_gguf: Path, lines: list[str],
                                                text: str) -> None:
    with pytest.raises(InvalidOptionError, match=f"^{text}$") as e:
        _create(engine, "bad-judge", judge_gguf, *lines)
    assert e.value.status_code == 400
    assert not engine.store.exists("bad-judge")


@pytest.mark.parametrize(("answers", "text"), [
    (["good"], "rerank_answer takes exactly 2 values, got 1"),
    (["good", ""], "rerank_answer values must not be empty"),
])
def test_a_bad_answer_list_in_request_options_is_a_400(engine: Engine, judge_gguf: Path, answers: list[str],
                                                       text: str) -> None:
    _create(engine, "judge", judge_gguf)
    with pytest.raises(InvalidOptionError, match=f"^{text}$") as e:
        engine.rerank("judge", QUERY, DOCS, options={"rerank_answer": answers})
    assert e.value.status_code == 400  # a bad value, not the 500 of a wrongly typed option
