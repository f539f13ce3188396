"""Runner scoring: continuation log probabilities on a generation runner, rank pooling on a cross-encoder.

Both are checked against the same numbers read directly through llama-cpp-python's low-level API."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from gguf_factory import tiny_rerank_gguf  # noqa: F401  (fixture)
from score_reference import low_level

from ollamalib.errors import ContextLengthError
from ollamalib.runner import LoadOptions, Runner, RunnerError

CONTINUATIONS = [" yes", " no", " the blue sky", " hello world and more"]


def test_score_matches_low_level_logprobs(babble_gguf: Path, babble_runner: Runner) -> None:
    prompt = babble_runner.tokenize("Is the sky blue? Answer:")
    conts = [babble_runner.tokenize(c, add_special=False) for c in CONTINUATIONS]
    assert any(len(c) > 1 for c in conts)
    final = babble_runner.score_all([(prompt, conts)])[0]
    assert final.scores is not None and [len(s) for s in final.scores] == [len(c) for c in conts]
    with low_level(babble_gguf) as ll:
        for got, cont in zip(final.scores, conts):
            assert got == pytest.approx(ll.logprobs(prompt, cont), abs=1e-4)
    # the continuations leave no trace in the slot: the next request sees the prompt cached, nothing more
    again = babble_runner.score_all([(prompt, conts)])[0]
    assert again.scores is not None
    assert [x for s in again.scores for x in s] == pytest.approx([x for s in final.scores for x in s], abs=1e-5)
    assert len(prompt) in babble_runner.stats().slot_cached_tokens


def test_many_scores_packed_across_slots(babble_gguf: Path, babble_runner: Runner) -> None:
    words = ["sky", "blue", "red", "cat", "dog", "water", "fire", "world", "story", "night"]
    prompts = [babble_runner.tokenize(f"the {w} is") for w in words]
    yes, no = babble_runner.tokenize(" yes", add_special=False), babble_runner.tokenize(" no", add_special=False)
    calls = babble_runner.stats().decode_calls_total
    finals = babble_runner.score_all([(p, [yes[:1], no[:1]]) for p in prompts])
    assert babble_runner.stats().decode_calls_total - calls < len(prompts)  # prompts read together
    with low_level(babble_gguf) as ll:
        for p, final in zip(prompts, finals):
            assert final.scores is not None
            assert [s[0] for s in final.scores] == pytest.approx(
                [ll.logprobs(p, yes[:1])[0], ll.logprobs(p, no[:1])[0]], abs=1e-3)


def test_score_refuses_what_cannot_be_scored(babble_runner: Runner) -> None:
    with pytest.raises(ContextLengthError):
        babble_runner.score([1] * babble_runner.context_length, [[5]])
    with pytest.raises(RunnerError):
        babble_runner.score([1, 2], [[]])


def test_rank_matches_low_level(tiny_rerank_gguf: Path) -> None:  # noqa: F811
    with Runner(tiny_rerank_gguf, LoadOptions(num_ctx=256, embedding=True)) as runner:
        assert runner.ranks
        texts = ["what is blue", "the sky is blue", "a cat and a dog", "hello", "red fire water " * 8]
        inputs = [runner.tokenize(t) for t in texts]
        got = runner.rank(inputs)
        with low_level(tiny_rerank_gguf, n_ctx=256, rank=True) as ll:
            want = [ll.rank(t) for t in inputs]
        assert len(got[0]) == 2 and all(math.isclose(sum(v), 1.0, abs_tol=1e-5) for v in got)
        assert got == [pytest.approx(w, abs=1e-5) for w in want]
        assert len({round(v[0], 6) for v in got}) == len(texts)  # the head really depends on the input
        with pytest.raises(ContextLengthError):
            runner.rank([[1] * (runner.max_input_tokens + 1)])


def test_rank_needs_a_rank_model(babble_runner: Runner) -> None:
    assert not babble_runner.ranks
    with pytest.raises(RunnerError):
        babble_runner.rank([[1, 2]])
