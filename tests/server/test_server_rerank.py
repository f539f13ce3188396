"""The rerank routes over a real uvicorn server: /api/rerank (native), /v1/rerank (Jina/Cohere shape), and the
Client/AsyncClient methods, with Ollama-style 400s for bad requests."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from ollamalib.client import AsyncClient, Client
from ollamalib.errors import CapabilityError, InvalidOptionError

QUERY = "what color is the sky"
DOCS = ["the sky is blue", "a cat and a dog", "hello world", "the night sky is black"]


def test_native_rerank_and_client(live) -> None:
    r = httpx.post(f"{live.url}/api/rerank", json={"model": "tiny-rerank", "query": QUERY, "documents": DOCS,
                                                   "top_n": 3, "return_documents": True}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "tiny-rerank" and len(body["results"]) == 3
    scores = [x["relevance_score"] for x in body["results"]]
    assert scores == sorted(scores, reverse=True)
    assert all(x["document"] == DOCS[x["index"]] for x in body["results"])
    assert "truncated" not in body and body["prompt_eval_count"] > 0
    with Client(live.url) as c:
        mine = c.rerank("tiny-rerank", QUERY, DOCS)
    assert [x.index for x in mine.results][:3] == [x["index"] for x in body["results"]]
    assert mine.results[0].document is None

    async def via_async() -> list[int]:
        async with AsyncClient(live.url) as ac:
            return [x.index for x in (await ac.rerank("tiny-rerank", QUERY, DOCS, top_n=2)).results]

    assert asyncio.run(via_async()) == [x["index"] for x in body["results"]][:2]


def test_v1_rerank_jina_shape(live) -> None:
    docs = [DOCS[0], {"text": DOCS[1]}, DOCS[2]]
    r = httpx.post(f"{live.url}/v1/rerank", json={"model": "tiny-rerank", "query": QUERY, "documents": docs,
                                                  "return_documents": True}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["model"] == "tiny-rerank"
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0
    assert sorted(x["index"] for x in body["results"]) == [0, 1, 2]
    assert all(x["document"] == {"text": DOCS[x["index"]]} for x in body["results"])
    plain = httpx.post(f"{live.url}/v1/rerank", json={"model": "tiny-rerank", "query": QUERY, "documents": DOCS,
                                                      "top_n": 1}, timeout=60).json()
    assert len(plain["results"]) == 1 and "document" not in plain["results"][0]


@pytest.mark.parametrize(("body", "text"), [
    ({"model": "tiny-rerank", "query": QUERY, "documents": []}, "documents must not be empty"),
    ({"model": "tiny-rerank", "query": QUERY}, "documents must not be empty"),
    ({"model": "tiny-rerank", "query": QUERY, "documents": [1, 2]}, "documents must be a list of strings"),
    ({"model": "tiny-rerank", "query": QUERY, "documents": DOCS, "top_n": -1}, "top_n must be a positive integer"),
    ({"model": "tiny", "query": QUERY, "documents": DOCS}, '"tiny" does not support rerank'),
    ({"model": "tiny-rerank", "query": 5, "documents": DOCS},
     "json: cannot unmarshal number into Go struct field RerankRequest.query of type string"),
])
def test_bad_requests_are_400(live, body, text) -> None:
    native = httpx.post(f"{live.url}/api/rerank", json=body, timeout=60)
    assert native.status_code == 400 and native.json() == {"error": text}
    v1 = httpx.post(f"{live.url}/v1/rerank", json=body, timeout=60)
    assert v1.status_code == 400 and v1.json()["error"]["message"] == text


def test_client_maps_the_errors(live) -> None:
    with Client(live.url) as c:
        with pytest.raises(CapabilityError, match="does not support rerank"):
            c.rerank("tiny", QUERY, DOCS)
    with pytest.raises(InvalidOptionError):
        Client(live.url).rerank("tiny-rerank", QUERY, [])  # refused before it is sent
    shown = httpx.post(f"{live.url}/api/show", json={"model": "tiny-rerank"}, timeout=60).json()
    assert "rerank" in shown["capabilities"]
