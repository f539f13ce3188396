"""A generative reranker's answer words over HTTP: created with the official ``ollama`` client's ``parameters``,
listed by ``/api/show``, used by ``/api/rerank``; a bad list is a 400 at create and in a request's options."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import ollama
import pytest

from ollamalib.client import Client
from ollamalib.errors import InvalidOptionError
from srvutil import LiveServer

QUERY = "what color is the sky"
DOCS = ["the sky is blue", "a cat and a dog", "hello world"]
PROMPT = "<|im_start|>user\n{document}\n{query}\nGood or bad?<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture
def judge(live: LiveServer) -> Iterator[str]:
    with ollama.Client(live.url) as client:
        done = client.create("judge-http", from_="tiny", template=PROMPT,
                             parameters={"rerank_answer": ["good", "bad"]})
        assert done.status == "success"
        try:
            yield "judge-http"
        finally:
            client.delete("judge-http")


def _rerank(live: LiveServer, **body) -> httpx.Response:
    return httpx.post(f"{live.url}/api/rerank", json={"query": QUERY, "documents": DOCS, **body}, timeout=60)


def test_created_shown_and_used(live: LiveServer, judge: str) -> None:
    with ollama.Client(live.url) as client:
        shown = client.show(judge)
    assert "rerank" in (shown.capabilities or [])
    assert shown.parameters == 'rerank_answer                  "good"\nrerank_answer                  "bad"'
    assert "PARAMETER rerank_answer good\nPARAMETER rerank_answer bad" in (shown.modelfile or "")
    named = _rerank(live, model=judge)
    plain = _rerank(live, model=judge, options={"rerank_answer": ["yes", "no"]})
    assert named.status_code == plain.status_code == 200, named.text
    scores = {r["index"]: r["relevance_score"] for r in named.json()["results"]}
    others = {r["index"]: r["relevance_score"] for r in plain.json()["results"]}
    assert len(scores) == 3 and scores != others  # other words, other probabilities


@pytest.mark.parametrize(("answers", "text"), [
    (["good"], "rerank_answer takes exactly 2 values, got 1"),
    (["good", "bad", "ugly"], "rerank_answer takes exactly 2 values, got 3"),
    (["", "bad"], "rerank_answer values must not be empty"),
])
def test_a_bad_list_is_a_400(live: LiveServer, judge: str, answers: list[str], text: str) -> None:
    r = httpx.post(f"{live.url}/api/create", json={"model": "never-judged", "from": "tiny", "stream": False,
                                                   "parameters": {"rerank_answer": answers}}, timeout=60)
    assert (r.status_code, r.json()) == (400, {"error": text})
    with ollama.Client(live.url) as client, pytest.raises(ollama.ResponseError) as err:
        client.create("never-judged", from_="tiny", parameters={"rerank_answer": answers})
    assert (err.value.status_code, err.value.error) == (400, text)
    assert "never-judged:latest" not in [m.model for m in ollama.Client(live.url).list().models]
    r = _rerank(live, model=judge, options={"rerank_answer": answers})
    assert (r.status_code, r.json()) == (400, {"error": text})
    with Client(live.url) as ours, pytest.raises(InvalidOptionError, match=f"^{text}$"):
        ours.rerank(judge, QUERY, DOCS, options={"rerank_answer": answers})  # refused before it is sent
