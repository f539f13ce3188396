"""Engine.systemone in process keeps the server's bounds: at most ``max_questions`` questions, ``max_choices``
choices per choice question (400s), and its prompts' text within ``max_prompt_bytes`` (413)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollamalib.config import Settings
from ollamalib.engine import Engine
from ollamalib.errors import InvalidOptionError, PayloadTooLargeError
from ollamalib.requests import SystemOneRequest

NOUL = {"type": "noul", "instructions": "ok?"}
CHOICE = {"type": "choice", "instructions": "pick", "criteria": {"a": None, "b": None, "c": None}}


def test_limits_in_process(settings: Settings, tiny_gguf: Path) -> None:
    with Engine(settings.replace(max_questions=2, max_choices=2, max_prompt_bytes=500)) as engine:
        engine.create("tiny", from_=str(tiny_gguf))
        assert set(engine.systemone("tiny", "s", {"a": NOUL, "b": NOUL}).answers) == {"a", "b"}
        with pytest.raises(InvalidOptionError, match=r"^too many questions: 3, more than the 2 allowed "
                                                     r"\(OLLAMALIB_MAX_QUESTIONS\)$") as e:
            engine.systemone("tiny", "s", {"a": NOUL, "b": NOUL, "c": NOUL})
        assert e.value.status_code == 400
        with pytest.raises(InvalidOptionError, match=r'^question "pick": too many choices: 3, more than the 2 '
                                                     r"allowed \(OLLAMALIB_MAX_CHOICES\)$"):
            engine.systemone("tiny", "s", {"pick": CHOICE})
        assert engine.systemone("tiny", "x" * 300, {"a": NOUL}).answers["a"]
        with pytest.raises(PayloadTooLargeError):  # the state is in both questions' prompts
            engine.systemone("tiny", "x" * 300, {"a": NOUL, "b": NOUL})


def test_from_wire_checks_before_converting() -> None:
    body = {"model": "m", "state": "s", "questions": {f"q{i}": {"type": "vote"} for i in range(5)}}
    with pytest.raises(InvalidOptionError, match="^too many questions: 5, more than the 4 allowed"):
        SystemOneRequest.from_wire(body, max_questions=4)
    with pytest.raises(InvalidOptionError, match='unknown type "vote"'):  # within the bound: each is checked
        SystemOneRequest.from_wire(body, max_questions=5)
    # built in process without limits (the Engine applies its Settings when it runs the request)
    assert len(SystemOneRequest(model="m", state="s", questions={f"q{i}": NOUL for i in range(300)}).questions) == 300
