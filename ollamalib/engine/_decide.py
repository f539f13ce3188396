"""Decisions (``/v1/systemone``): the prompt for each question, its allowed continuations, and the answer read
from their probabilities.

A question becomes a chat with the model: a system message saying to answer with one listed answer only, then
the state and the question as one user message (the state first, so every question about one state shares the
prompt's prefix and the runner reads it once: the Engine scores the questions one after another). The allowed continuations are the answers themselves: the choice
keys, ``true``/``false``, or the score levels ``0``..``N-1``, each also capitalised (``True``), since models
answer either way. The runner gives each continuation's token log probabilities after the assistant's turn has
opened; a continuation's probability is their sum, an answer's is the sum over its forms, and the distribution
is those normalised over the allowed answers (the model's probabilities, given that it answers with one of
them). ``confidence`` is one minus the distribution's entropy over its maximum (``ln N``): 1 when all the
probability is on one answer, 0 when it is spread evenly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..requests import ChoiceQuestion, NoulQuestion, Question, ScoreQuestion, SystemOneContent
from ..types import Message, SystemOneAnswer, SystemOneChoiceAnswer, SystemOneNoulAnswer, SystemOneScoreAnswer

__all__ = ["SYSTEM_PROMPT", "Ask", "answer", "confidence", "continuation_tokens", "forms", "messages", "options",
           "prompt_texts", "render_content"]

SYSTEM_PROMPT = "Answer the question about the state with exactly one of the listed answers and nothing else."


def render_content(value: SystemOneContent) -> str:
    """A state or instructions as prompt text: a string as it is, an object or array as indented JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2)


def options(question: Question) -> list[tuple[str, str | None]]:
    """The allowed answers of a question, in order, with their descriptions: ``(continuation text, description)``."""
    if isinstance(question, ChoiceQuestion):
        return list(question.criteria.items())
    if isinstance(question, NoulQuestion):
        criteria = question.criteria or {}
        return [("true", criteria.get("true")), ("false", criteria.get("false"))]
    return [(str(level), text) for level, text in enumerate(question.criteria)]


def forms(question: Question) -> list[list[str]]:
    """The texts each allowed answer may be written as: its key, and the key capitalised (models answer "True"
    as often as "true") unless that is another answer's key."""
    keys = [key for key, _ in options(question)]
    out = []
    for key in keys:
        capital = key[:1].upper() + key[1:]
        out.append([key] if capital == key or capital in keys else [key, capital])
    return out


def messages(state: SystemOneContent, question: Question) -> list[Message]:
    """The chat one question is asked as (see the module docstring)."""
    listed = "\n".join(f"- {key}: {text}" if text else f"- {key}" for key, text in options(question))
    kind = {"choice": "Answers", "noul": "Answers (true or false)", "score": "Levels, lowest first"}[question.type]
    user = (f"State:\n{render_content(state)}\n\nQuestion: {render_content(question.instructions)}\n"
            f"{kind}:\n{listed}")
    return [Message(role="system", content=SYSTEM_PROMPT), Message(role="user", content=user)]


def prompt_texts(state: SystemOneContent, questions: Mapping[str, Question]) -> Iterator[str | None]:
    """The text each question's prompt carries (the state, its instructions, its answers and their descriptions),
    what the request's size limit counts: the state once per question, since every question's prompt repeats it
    and is tokenized on its own."""
    rendered = render_content(state)
    for question in questions.values():
        yield rendered
        yield render_content(question.instructions)
        for key, text in options(question):
            yield key
            yield text


def continuation_tokens(tokenize: Any, prompt: str, prompt_tokens: Sequence[int], text: str) -> list[int]:
    """The tokens ``text`` adds after ``prompt``, as the tokenizer splits the two together (a BPE merge across the
    seam is then the model's own); the text tokenized alone when the prompt's tokens change with it."""
    full = tokenize(prompt + text)
    n = len(prompt_tokens)
    if len(full) > n and full[:n] == list(prompt_tokens):
        return list(full[n:])
    return list(tokenize(text, add_special=False, parse_special=False))


@dataclass
class Ask:
    """One question ready to score: its prompt tokens, and the continuation tokens of each form of each allowed
    answer (``forms``), flattened; ``groups`` says how many forms each answer has."""

    qid: str
    question: Question
    prompt: list[int]
    continuations: list[list[int]]
    groups: list[int]


def _softmax(logprobs: Sequence[float]) -> list[float]:
    peak = max(logprobs)
    weights = [math.exp(x - peak) for x in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def confidence(probabilities: Sequence[float]) -> float:
    """One minus the normalised entropy of a distribution: 1 for a certain answer, 0 for a uniform one."""
    if len(probabilities) < 2:
        return 1.0
    entropy = -sum(p * math.log(p) for p in probabilities if p > 0)
    return min(1.0, max(0.0, 1.0 - entropy / math.log(len(probabilities))))


def _logsumexp(values: Sequence[float]) -> float:
    peak = max(values)
    return peak + math.log(sum(math.exp(v - peak) for v in values))


def answer(question: Question, scores: Sequence[Sequence[float]], groups: Sequence[int]) -> SystemOneAnswer:
    """The answer to ``question`` from the per-token log probabilities of each continuation (``Ask``'s order):
    an allowed answer's probability is the sum over its forms, normalised over the allowed answers."""
    totals = [sum(s) for s in scores]
    per_answer = []
    start = 0
    for n in groups:
        per_answer.append(_logsumexp(totals[start:start + n]))
        start += n
    probs = _softmax(per_answer)
    keys = [key for key, _ in options(question)]
    if isinstance(question, NoulQuestion):
        return SystemOneNoulAnswer(noul=probs[0])
    if isinstance(question, ScoreQuestion):
        return SystemOneScoreAnswer(
            score=sum(level * p for level, p in enumerate(probs)),
            legend=dict(zip(keys, question.criteria)),
            probabilities=dict(zip(keys, probs)),
            confidence=confidence(probs),
        )
    best = max(range(len(probs)), key=probs.__getitem__)
    return SystemOneChoiceAnswer(choice=keys[best], probabilities=dict(zip(keys, probs)),
                                 confidence=confidence(probs))
