"""How much one /v1/systemone request may ask: at most ``max_questions`` questions and ``max_choices`` choices per
choice question (400s naming the setting), its prompts' text within ``max_prompt_bytes`` (413; the state counts
once per question, as each question's prompt carries it), its body within ``max_request_bytes`` (413)."""

from __future__ import annotations

from typing import Any

import httpx
import ollama
import pytest

from ollamalib import Client
from ollamalib.config import Settings
from ollamalib.errors import InvalidOptionError

NOUL = {"type": "noul", "instructions": "ok?"}


def _questions(n: int) -> dict[str, Any]:
    return {f"q{i}": NOUL for i in range(n)}


def _choice(n: int) -> dict[str, Any]:
    return {"type": "choice", "instructions": "pick one", "criteria": {f"c{i}": None for i in range(n)}}


def test_defaults_and_environment() -> None:
    s = Settings.from_env({})
    assert (s.max_questions, s.max_choices) == (256, 256)
    s = Settings.from_env({"OLLAMALIB_MAX_QUESTIONS": "10", "OLLAMALIB_MAX_CHOICES": "20"})
    assert (s.max_questions, s.max_choices) == (10, 20)


def test_questions_choices_and_text_are_bounded(server_factory) -> None:
    srv = server_factory(max_questions=3, max_choices=4, max_prompt_bytes=2000, max_request_bytes=20_000)
    url = srv.url + "/v1/systemone"

    def post(body: Any) -> httpx.Response:
        return httpx.post(url, json={"model": "tiny", **body}, timeout=60)

    within = post({"state": "the sky is blue", "questions": {**_questions(2), "pick": _choice(4)}})
    assert within.status_code == 200, within.text
    assert len(within.json()["answers"]["pick"]["probabilities"]) == 4

    too_many = "too many questions: 4, more than the 3 allowed (OLLAMALIB_MAX_QUESTIONS)"
    r = post({"state": "s", "questions": _questions(4)})
    assert (r.status_code, r.json()) == (400, {"error": too_many})
    r = post({"state": "s", "questions": {"pick": _choice(5)}})
    assert (r.status_code, r.json()) == (400, {"error": 'question "pick": too many choices: 5, more than the 4 '
                                                        'allowed (OLLAMALIB_MAX_CHOICES)'})

    # 800 bytes of state fit once; three questions read it three times
    state = "word " * 160
    assert post({"state": state, "questions": _questions(1)}).status_code == 200
    r = post({"state": state, "questions": _questions(3)})
    assert (r.status_code, r.json()) == (413, {"error": "prompt too large: its text is more than 2,000 bytes "
                                                        "(OLLAMALIB_MAX_PROMPT_BYTES)"})
    r = post({"state": "s", "questions": {"pick": {**_choice(2), "criteria": {"a": "x" * 1000, "b": "y" * 1000}}}})
    assert r.status_code == 413  # the choices' descriptions are prompt text too

    r = httpx.post(url, content=b'{"model": "tiny", "state": "' + b"x" * 30_000 + b'"}', timeout=60)
    assert r.status_code == 413 and "OLLAMALIB_MAX_REQUEST_BYTES" in r.json()["error"]

    # the clients see the same 400: the official one as a ResponseError, ours typed
    with ollama.Client(srv.url) as client, pytest.raises(ollama.ResponseError) as err:
        client.systemone(model="tiny", state="s", questions=_questions(4))
    assert (err.value.status_code, err.value.error) == (400, too_many)
    with Client(srv.url) as ours, pytest.raises(InvalidOptionError, match="^too many questions") as e:
        ours.systemone(model="tiny", state="s", questions=_questions(4))
    assert e.value.status_code == 400
