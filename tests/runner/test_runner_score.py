"""Runner scoring: continuation log probabilities on a generation runner, rank pooling on a cross-encoder.

Both are checked against the same numbers read directly through llama-cpp-python's low-level API."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from gguf_factory import tiny_rerank_gguf  # noqa: F401  (fixture)
from score_reference import low_level

from ollamalib.errors import ContextLengthError
from ollamalib.runner import LoadOptions, Runner, RunnerError, SamplingOptions
from ollamalib.runner._score import MIN_READ

CONTINUATIONS = [" yes", " no", " the blue sky", " hello world and more"]
FA_TILE_ROWS = 64  # ggml-cpu's flash attention reads >= 64 query rows per sequence with another kernel (GGML_FA_TILE_Q)


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
    assert len(prompt) in babble_runner.stats().score_cached_tokens


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


def _shared_prefix_prompts(runner: Runner, head: str, n: int) -> list[list[int]]:
    words = ["sky", "blue", "red", "cat", "dog", "water", "fire", "world", "story", "night"]
    return [runner.tokenize(f"{head} Document: the {words[i % len(words)]} is {' '.join(words[: 1 + i % 7])}. "
                            "Relevant? Answer:") for i in range(n)]


def _packed_equals_whole_reads(path: Path, runner: Runner, prompts: list[list[int]], conts: list[list[int]],
                               n_ctx: int, tol: float) -> None:
    """Score ``prompts`` twice (the second time each slot holds the shared prefix, so only each prompt's own tail
    is new) and compare with each prompt read whole, alone, through the low-level API."""
    runner.score_all([(p, conts) for p in prompts])
    before = runner.stats()
    finals = runner.score_all([(p, conts) for p in prompts])
    after = runner.stats()
    assert after.decode_calls_total - before.decode_calls_total < len(prompts)  # packed across the slots
    assert after.prompt_tokens_total - before.prompt_tokens_total < sum(map(len, prompts))  # prefix reused
    with low_level(path, n_ctx=n_ctx) as ll:
        for prompt, final in zip(prompts, finals):
            assert final.scores is not None
            want = ll.next_logprobs(prompt, [c[0] for c in conts])
            assert [s[0] for s in final.scores] == pytest.approx(want, abs=tol)


def test_shared_prefix_tails_score_as_whole_prompts(babble_gguf: Path, babble_runner: Runner) -> None:
    """Tails read after a cached prefix (packed in equal rows per slot) score as their prompts read whole, for
    prompts on either side of the 64 rows where flash attention would change kernels (scoring reads without it)."""
    yes, no = babble_runner.tokenize("yes", add_special=False), babble_runner.tokenize("no", add_special=False)
    assert yes[0] != no[0]
    long_head = "Judge whether the document answers the query. " * 6 + "Query: why is the sky blue?"
    long_prompts = _shared_prefix_prompts(babble_runner, long_head, 10)
    assert all(len(p) >= FA_TILE_ROWS for p in long_prompts)
    _packed_equals_whole_reads(babble_gguf, babble_runner, long_prompts, [yes[:1], no[:1]], 512, 1e-6)
    short_prompts = _shared_prefix_prompts(babble_runner, "Query: sky?", 10)
    assert all(len(p) < FA_TILE_ROWS for p in short_prompts)
    _packed_equals_whole_reads(babble_gguf, babble_runner, short_prompts, [yes[:1], no[:1]], 512, 1e-6)


@pytest.mark.e2e
def test_shared_prefix_tails_on_a_sliding_window_model(gemma_gguf: Path, gemma_runner: Runner) -> None:
    """Gemma 3 (sliding-window attention, split KV cache per slot) packs scoring reads as well, with the scores of
    each prompt read whole (they moved by up to 2e-2 when a packed read split into ubatches of unequal rows). The
    shared runner is fine: whatever its generation requests cached, scoring reads a context of its own."""
    prompts, conts = _gemma_pairs(gemma_runner)
    _packed_equals_whole_reads(gemma_gguf, gemma_runner, prompts, conts, 2048, 1e-6)


@pytest.mark.e2e
def test_score_independent_of_generation_and_packing(gemma_gguf: Path, gemma_runner: Runner) -> None:
    """A pair scores the same after a generation request shared its start (which once moved a score by 0.35: the
    generation prompt's cached prefix was reused), alone or packed beside others, as read whole and alone."""
    prompts, conts = _gemma_pairs(gemma_runner)
    with low_level(gemma_gguf, n_ctx=2048) as ll:
        want = ll.next_logprobs(prompts[3], [c[0] for c in conts])
    start = gemma_runner.tokenize("<start_of_turn>user\nJudge whether")
    assert prompts[3][: len(start)] == start and len(start) < FA_TILE_ROWS
    for seq in [gemma_runner.submit(start, SamplingOptions(num_predict=2, temperature=0.0)) for _ in range(4)]:
        for _ in seq:
            pass
    alone = gemma_runner.score_all([(prompts[3], conts)])[0]
    packed = gemma_runner.score_all([(p, conts) for p in prompts[2:6]])[1]
    reversed_ = gemma_runner.score_all([(p, conts) for p in prompts[5:1:-1]])[2]
    for final in (alone, packed, reversed_):
        assert final.scores is not None
        assert [s[0] for s in final.scores] == pytest.approx(want, abs=1e-6)


def _gemma_pairs(gemma_runner: Runner) -> tuple[list[list[int]], list[list[int]]]:
    turn = ("<start_of_turn>user\nJudge whether the Document meets the requirements based on the Query and the "
            'Instruct provided. Note that the answer can only be "yes" or "no".\nInstruct: Given a web search query, '
            "retrieve relevant passages that answer the query\nQuery: why is the sky blue?")
    prompts = [p + gemma_runner.tokenize("<end_of_turn>\n<start_of_turn>model\n", add_special=False)
               for p in _shared_prefix_prompts(gemma_runner, turn, 8)]
    assert all(len(p) >= FA_TILE_ROWS for p in prompts)
    conts = [gemma_runner.tokenize(w, add_special=False)[:1] for w in ("yes", "no")]
    return prompts, conts


@pytest.mark.e2e
def test_prompt_longer_than_a_batch_scores_as_a_whole_read(gemma_gguf: Path) -> None:
    """A scoring prompt longer than ``num_batch`` is read in chunks, the last one short (1 to MIN_READ - 1 tokens
    past a batch boundary, where the runner moves rows from the chunk before into it): each prompt scores as the
    prompt read whole and alone."""
    batch = 32
    with Runner(gemma_gguf, LoadOptions(num_ctx=512, num_parallel=2, num_batch=batch)) as runner:
        yes, no = runner.tokenize("yes", add_special=False), runner.tokenize("no", add_special=False)
        texts = ["Judge the document. Query: why is the sky " + "blue " * k + "? Answer:" for k in range(24, 96)]
        prompts = [p for p in (runner.tokenize(t) for t in texts) if 0 < len(p) % batch < MIN_READ][::3]
        assert len({len(p) % batch for p in prompts}) >= 3 and all(len(p) > batch for p in prompts)
        finals = runner.score_all([(p, [yes[:1], no[:1]]) for p in prompts])
        with low_level(gemma_gguf, n_ctx=512) as ll:
            for prompt, final in zip(prompts, finals):
                assert final.scores is not None
                want = ll.next_logprobs(prompt, [yes[0], no[0]])
                assert [s[0] for s in final.scores] == pytest.approx(want, abs=1e-6)


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


def test_scoring_context_is_made_once_and_counted(babble_gguf: Path) -> None:
    """The first score makes the scoring context on the loaded weights; its KV cache counts in ``size``."""
    with Runner(babble_gguf, LoadOptions(num_ctx=256, num_parallel=2)) as runner:
        before = runner.stats().size
        runner.score_all([(runner.tokenize("the sky is"), [[5]])])
        grown = runner.stats().size - before
        assert grown > 0
        runner.score_all([(runner.tokenize("the sea is"), [[5]])])
        assert runner.stats().size - before == grown
        assert sum(runner.stats().score_cached_tokens) > 0 and runner.stats().slot_cached_tokens == [0, 0]
