"""POST /v1/systemone through the official ``ollama`` client's ``systemone()`` (and our clients) on a real server.

Bad questions answer 400 with Ollama's native error body, never a 500.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import ollama
import pytest

from ollamalib import AsyncClient, Client
from ollamalib.errors import CapabilityError, InvalidOptionError
from srvutil import LiveServer

STATE = {"ticket": "I was charged twice for order #4411 and want one charge refunded today."}
QUESTIONS: dict[str, Any] = {
    "refund": ollama.SystemOneNoulQuestion(instructions="Is the customer asking for a refund?"),
    "queue": ollama.SystemOneChoiceQuestion(instructions="Which queue handles it?",
                                            criteria={"billing": "payments", "technical": None, "other": None}),
    "frustration": {"type": "score", "instructions": "How frustrated is the customer?",
                    "criteria": ["calm", "mildly annoyed", "angry"]},
}


def test_official_client_systemone(live: LiveServer) -> None:
    with ollama.Client(live.url) as client:
        resp = client.systemone(model="tiny", state=STATE, questions=QUESTIONS, keep_alive="1m")
    assert isinstance(resp, ollama.SystemOneResponse) and resp.model == "tiny"
    refund, queue, frustration = resp.answers["refund"], resp.answers["queue"], resp.answers["frustration"]
    assert isinstance(refund, ollama.SystemOneNoulAnswer) and 0 <= refund.noul <= 1
    assert isinstance(queue, ollama.SystemOneChoiceAnswer)
    assert isinstance(frustration, ollama.SystemOneScoreAnswer)
    for answer in (queue, frustration):
        assert sum(answer.probabilities.values()) == pytest.approx(1.0)
        assert 0.0 <= answer.confidence <= 1.0
    assert list(queue.probabilities) == ["billing", "technical", "other"]
    assert queue.choice == max(queue.probabilities, key=queue.probabilities.__getitem__)
    assert frustration.score == pytest.approx(sum(int(k) * p for k, p in frustration.probabilities.items()))
    assert frustration.legend == {"0": "calm", "1": "mildly annoyed", "2": "angry"}
    assert resp.usage.output_tokens == 3 and resp.usage.input_tokens > 0

    # our clients speak the same wire format and read the same answers
    with Client(live.url) as ours:
        mine = ours.systemone(model="tiny", state=STATE, questions=QUESTIONS)

    async def via_async() -> Any:
        async with AsyncClient(live.url) as aclient:
            return await aclient.systemone(model="tiny", state=STATE, questions=QUESTIONS)

    theirs = asyncio.run(via_async())
    for got in (mine, theirs):
        assert got.answers["queue"].choice == queue.choice
        assert got.answers["refund"].noul == pytest.approx(refund.noul, abs=1e-3)
        assert got.answers["frustration"].score == pytest.approx(frustration.score, abs=1e-3)
        assert got.usage.input_tokens == resp.usage.input_tokens


def _post(live: LiveServer, body: Any) -> httpx.Response:
    return httpx.post(f"{live.url}/v1/systemone", json=body, timeout=60)


NOUL = {"q": {"type": "noul", "instructions": "ok?"}}

BAD = [
    ({"model": "tiny", "state": "s", "questions": {"q": {"type": "choice", "instructions": "pick"}}}, 400,
     'question "q": criteria are required: an object of choices, each with a description or null'),
    ({"model": "tiny", "state": "s", "questions": {"q": {"type": "vote", "instructions": "pick"}}}, 400,
     'question "q": unknown type "vote" (must be "choice", "noul" or "score")'),
    ({"model": "tiny", "state": "s", "questions": {"q": {"type": "score", "instructions": "x", "criteria": []}}},
     400, 'question "q": a score question needs 2 to 10 levels, not 0'),
    ({"model": "tiny", "state": "s", "questions": {"q": {"type": "noul", "instructions": "x", "criteria": "yes"}}},
     400, 'question "q": criteria of a noul question may only describe "true" and "false"'),
    ({"model": "tiny", "state": "s", "questions": {"q": None}}, 400, 'question "q" must be an object, not null'),
    ({"model": "tiny", "state": "s", "questions": ["q"]}, 400, "questions must be an object of named questions, not array"),
    ({"model": "tiny", "state": "s", "questions": {}}, 400, "questions are required"),
    ({"model": "tiny", "state": "s"}, 400, "questions are required"),
    ({"model": "tiny", "questions": NOUL}, 400, "state is required"),
    ({"model": "tiny", "state": True, "questions": NOUL}, 400, "state must be a string, an object or an array, not bool"),
    ({"state": "s", "questions": NOUL}, 400, "model is required"),
    ({"model": "tiny", "state": "s", "questions": NOUL, "stream": True}, 400, "streaming is not supported by systemone"),
    ({"model": "tiny", "state": "s", "questions": NOUL, "keep_alive": "soon"}, 400, 'time: invalid duration "soon"'),
    ({"model": "tiny-embed", "state": "s", "questions": NOUL}, 400, '"tiny-embed" does not support systemone'),
    ({"model": "ghost", "state": "s", "questions": NOUL}, 404, "model 'ghost' not found"),
    ([1, 2], 400, "json: cannot unmarshal array into Go value of type api.SystemOneRequest"),
]


@pytest.mark.parametrize(("body", "status", "text"), BAD, ids=[b[2][:40] for b in BAD])
def test_bad_requests_are_400_not_500(live: LiveServer, body: Any, status: int, text: str) -> None:
    response = _post(live, body)
    assert (response.status_code, response.json()) == (status, {"error": text})


def test_errors_reach_the_clients_typed(live: LiveServer) -> None:
    with ollama.Client(live.url) as client, pytest.raises(ollama.ResponseError) as err:
        client.systemone(model="tiny-embed", state="s", questions=NOUL)
    assert (err.value.status_code, err.value.error) == (400, '"tiny-embed" does not support systemone')
    with Client(live.url) as ours:
        with pytest.raises(CapabilityError, match='does not support systemone'):
            ours.systemone(model="tiny-embed", state="s", questions=NOUL)
        with pytest.raises(InvalidOptionError, match='unknown type "vote"'):  # checked before it is sent
            ours.systemone(model="tiny", state="s", questions={"q": {"type": "vote", "instructions": "x"}})


def test_a_state_too_long_for_the_context_is_400(live: LiveServer) -> None:
    response = _post(live, {"model": "tiny", "state": "word " * 2000, "questions": NOUL})
    assert response.status_code == 400 and "context length" in response.json()["error"]
