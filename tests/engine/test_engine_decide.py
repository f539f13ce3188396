"""Engine.systemone: answers read from the model's probabilities of the allowed continuations.

The probabilities are checked against the same continuations scored directly through llama-cpp-python's
low-level API on the same GGUF (tests/score_reference.py), from the prompt the chat template renders.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from gguf_factory import CHATML_TEMPLATE, write_tiny_gguf
from score_reference import low_level

from ollamalib.engine import AsyncEngine, Engine
from ollamalib.engine._decide import forms, messages
from ollamalib.errors import CapabilityError, InvalidOptionError, ModelNotFoundError
from ollamalib.gguf import DECISION_TEMPLATE_KEY
from ollamalib.requests import SystemOneRequest
from ollamalib.runner import Vocabulary
from ollamalib.template import Template
from ollamalib.types import SystemOneChoiceAnswer, SystemOneNoulAnswer, SystemOneScoreAnswer

STATE = {"ticket": "Our checkout has returned 500 errors since 9am.", "customer": "ACME"}
QUESTIONS = {
    "label": {"type": "choice", "instructions": "Which label fits this ticket?",
              "criteria": {"billing": "Payments and refunds", "bug": "Software errors", "account": None}},
    "urgent": {"type": "noul", "instructions": "Does this need a human now?",
               "criteria": {"true": "someone must act today", "false": "it can wait"}},
    "severity": {"type": "score", "instructions": "How severe is it?",
                 "criteria": ["minor", "normal", "major", "critical"]},
}


def _reference(engine: Engine, path: Path, model: str) -> dict[str, list[float]]:
    """Each question's answer distribution computed directly: softmax over the summed continuation log probs."""
    req = SystemOneRequest(model=model, state=STATE, questions=QUESTIONS)
    out = {}
    with low_level(path, n_ctx=1024) as ll:
        for qid, question in (req.questions or {}).items():
            prompt_text, _ = engine.render_prompt("chat", model=model, messages=messages(STATE, question))
            prompt = ll.tokenize(prompt_text, add_special=True)
            weights = []
            for texts in forms(question):  # an answer's probability: the sum over the ways it may be written
                conts = [ll.tokenize(prompt_text + text, add_special=True)[len(prompt):] for text in texts]
                weights.append(sum(math.exp(sum(ll.logprobs(prompt, cont))) for cont in conts))
            out[qid] = [w / sum(weights) for w in weights]
    return out


def test_answers_are_the_models_probabilities(engine: Engine, tiny: str, tiny_gguf: Path) -> None:
    resp = engine.systemone(model=tiny, state=STATE, questions=QUESTIONS)
    assert resp.model == tiny and set(resp.answers) == set(QUESTIONS)
    choice, noul, score = resp.answers["label"], resp.answers["urgent"], resp.answers["severity"]
    assert isinstance(choice, SystemOneChoiceAnswer) and isinstance(noul, SystemOneNoulAnswer)
    assert isinstance(score, SystemOneScoreAnswer)

    assert list(choice.probabilities) == ["billing", "bug", "account"]  # the criteria's order
    assert sum(choice.probabilities.values()) == pytest.approx(1.0)
    assert choice.choice == max(choice.probabilities, key=choice.probabilities.__getitem__)
    assert sum(score.probabilities.values()) == pytest.approx(1.0)
    assert score.score == pytest.approx(sum(int(k) * p for k, p in score.probabilities.items()))
    assert score.legend == {"0": "minor", "1": "normal", "2": "major", "3": "critical"}
    for answer in (choice, score):
        probs = list(answer.probabilities.values())
        entropy = -sum(p * math.log(p) for p in probs if p > 0)
        assert answer.confidence == pytest.approx(1 - entropy / math.log(len(probs)))
    assert 0.0 <= noul.noul <= 1.0
    assert resp.usage.output_tokens == 3 and resp.usage.input_tokens > 3 * 20

    expected = _reference(engine, tiny_gguf, tiny)
    assert list(choice.probabilities.values()) == pytest.approx(expected["label"], abs=1e-3)
    assert noul.noul == pytest.approx(expected["urgent"][0], abs=1e-3)
    assert list(score.probabilities.values()) == pytest.approx(expected["severity"], abs=1e-3)


def test_answers_written_either_way_count_once(engine: Engine, tiny: str) -> None:
    req = SystemOneRequest(model=tiny, state="s", questions={
        "n": {"type": "noul", "instructions": "x"},
        "c": {"type": "choice", "instructions": "x", "criteria": {"bug": None, "Bug": None, "billing": None}},
        "s": {"type": "score", "instructions": "x", "criteria": ["a", "b"]}})
    questions = req.questions or {}
    assert forms(questions["n"]) == [["true", "True"], ["false", "False"]]
    assert forms(questions["c"]) == [["bug"], ["Bug"], ["billing", "Billing"]]  # never another answer's key
    assert forms(questions["s"]) == [["0"], ["1"]]


DECISION_TEMPLATE = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}[verdict] "


def test_a_decision_model_keeps_its_own_prompt_format(engine: Engine, tiny: str, gguf_dir: Path) -> None:
    path = write_tiny_gguf(gguf_dir / "decider.gguf", chat_template=CHATML_TEMPLATE, name="decider",
                           extra_metadata={DECISION_TEMPLATE_KEY: DECISION_TEMPLATE, "llama.decision.type": "tiny"})
    engine.create("decider", from_=str(path))
    assert engine.show("decider").capabilities == ["completion", "decision"]
    assert "decision" not in (engine.show(tiny).capabilities or [])
    req = SystemOneRequest(model="decider", state="s", questions={"q": {"type": "noul", "instructions": "ok?"}})
    resp = engine.systemone_request(req)
    expected = Template(DECISION_TEMPLATE, kind="jinja").render(messages("s", (req.questions or {})["q"]))
    assert resp.usage.input_tokens == len(Vocabulary(path).tokenize(expected))  # its template, not the ChatML one


@pytest.mark.e2e
def test_the_bundled_chat_model_answers_from_its_probabilities(engine: Engine, smollm2_gguf: Path) -> None:
    """On a real BPE vocabulary (SmolLM2 135M Instruct, Q4_1): the continuations split at the seam as the model
    reads them, and the probabilities are the ones read directly from the model.

    The first question is read as the reference reads it, so it matches exactly; the later ones find the state
    cached and read only their own part, and a quantized model's logits move a little with how a prompt is
    chunked (ggml picks kernels by batch size), hence the looser bound there."""
    engine.create("smollm2", from_=str(smollm2_gguf))
    resp = engine.systemone(model="smollm2", state=STATE, questions=QUESTIONS)
    expected = _reference(engine, smollm2_gguf, "smollm2")
    assert list(resp.answers["label"].probabilities.values()) == pytest.approx(expected["label"], abs=1e-3)
    assert resp.answers["urgent"].noul == pytest.approx(expected["urgent"][0], abs=0.08)
    assert list(resp.answers["severity"].probabilities.values()) == pytest.approx(expected["severity"], abs=0.08)
    again = engine.systemone(model="smollm2", state=STATE, questions={"urgent": QUESTIONS["urgent"]})
    assert again.answers["urgent"].noul == pytest.approx(resp.answers["urgent"].noul, abs=0.08)


def test_questions_share_the_runner_and_keep_alive(engine: Engine, tiny: str) -> None:
    engine.chat(model=tiny, messages=[{"role": "user", "content": "hi"}], options={"num_predict": 2})
    engine.embed(model=tiny, input="hi")
    engine.systemone(model=tiny, state="s", questions={"q": {"type": "noul", "instructions": "ok?"}})
    assert [m.name for m in engine.ps().models] == ["tiny:latest"]
    assert {m.name: m.loads_total for m in engine.metrics()} == {"tiny:latest": 1}
    engine.systemone(model=tiny, state="s", questions={"q": {"type": "noul", "instructions": "ok?"}}, keep_alive=0)
    assert engine.ps().models == []


def test_async_engine_answers_the_same(engine: Engine, tiny: str) -> None:
    sync = engine.systemone(model=tiny, state=STATE, questions=QUESTIONS)

    async def run() -> object:
        return await AsyncEngine(engine=engine).systemone(model=tiny, state=STATE, questions=QUESTIONS)

    resp = asyncio.run(run())
    assert resp.answers["label"].choice == sync.answers["label"].choice
    assert resp.answers["severity"].score == pytest.approx(sync.answers["severity"].score, abs=1e-3)


@pytest.mark.parametrize(("questions", "text"), [
    ({}, "questions are required"),
    ({"q": {"type": "choice", "instructions": "pick"}},
     'question "q": criteria are required: an object of choices, each with a description or null'),
    ({"q": {"type": "choice", "instructions": "pick", "criteria": {"only": None}}},
     'question "q": a choice question needs at least 2 choices'),
    ({"q": {"type": "choice", "instructions": "pick", "criteria": {"a": 1, "b": None}}},
     'question "q": the description of choice "a" must be a string or null, not number'),
    ({"q": {"type": "rank", "instructions": "x"}}, 'question "q": unknown type "rank" (must be "choice", "noul" or "score")'),
    ({"q": {"instructions": "x"}}, 'question "q": type is required ("choice", "noul" or "score")'),
    ({"q": {"type": "noul"}}, 'question "q": instructions are required'),
    ({"q": {"type": "noul", "instructions": 5}}, 'question "q": instructions must be a string, an object or an array, not number'),
    ({"q": {"type": "noul", "instructions": "x", "criteria": {"maybe": "?"}}},
     'question "q": criteria of a noul question may only describe "true" and "false"'),
    ({"q": {"type": "score", "instructions": "x", "criteria": ["one"]}},
     'question "q": a score question needs 2 to 10 levels, not 1'),
    ({"q": {"type": "score", "instructions": "x", "criteria": {"a": "b"}}},
     'question "q": criteria are required: an array of level descriptions, lowest first'),
    ({"q": "is it?"}, 'question "q" must be an object, not string'),
])
def test_bad_questions(engine: Engine, tiny: str, questions: dict, text: str) -> None:
    with pytest.raises(InvalidOptionError) as err:
        engine.systemone(model=tiny, state="s", questions=questions)
    assert str(err.value) == text and err.value.status_code == 400


def test_bad_requests(engine: Engine, tiny: str, tiny_embed_gguf: Path) -> None:
    question = {"q": {"type": "noul", "instructions": "ok?"}}
    with pytest.raises(InvalidOptionError, match="^state must be a string, an object or an array, not number$"):
        engine.systemone(model=tiny, state=3, questions=question)  # type: ignore[arg-type]
    with pytest.raises(InvalidOptionError, match="^state is required$"):
        engine.systemone_request(SystemOneRequest.from_wire({"model": tiny, "questions": question}))
    with pytest.raises(ModelNotFoundError):
        engine.systemone(model="ghost", state="s", questions=question)
    engine.create("embedder", from_=str(tiny_embed_gguf))
    with pytest.raises(CapabilityError, match='^"embedder" does not support systemone$'):
        engine.systemone(model="embedder", state="s", questions=question)
