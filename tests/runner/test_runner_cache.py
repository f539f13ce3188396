"""Cached prompts: a prompt cached whole evaluates one token, and the host-RAM prompt cache restores prefixes that
lost their slot, with the same greedy answers as without it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ollamalib.runner import Final, LoadOptions, Runner, SamplingOptions
from ollamalib.runner._cache import PromptCache
from ollamalib.runner._llama import common_prefix

GREEDY = SamplingOptions(temperature=0, num_predict=12)
CACHE = 64 << 20
WORDS = ("you are a tool that tells the weather of the city ", "water fire air earth and the elements of the world ",
         "a story of the sea the ships and the old captain ")


def run(runner: Runner, tokens: list[int], opts: SamplingOptions = GREEDY) -> Final:
    seq = runner.submit(tokens, opts)
    list(seq)
    assert seq.result is not None
    return seq.result


def long_prompt(runner: Runner, words: str) -> list[int]:
    tokens = runner.tokenize(words * 8)
    assert len(tokens) > 96
    return tokens


def test_a_fully_cached_prompt_evaluates_one_token(babble_gguf: Path) -> None:
    with Runner(babble_gguf, LoadOptions(num_ctx=512, num_batch=16, num_parallel=1)) as runner:
        prompt = long_prompt(runner, WORDS[0])
        first = run(runner, prompt)
        assert first.prompt_eval_count == len(prompt)
        # asked for, the exact replay re-reads the last chunk as it was read the first time
        exact = run(runner, prompt, SamplingOptions(temperature=0, num_predict=12, exact_replay=True))
        assert exact.prompt_eval_count == len(prompt) - (len(prompt) - 1) // 16 * 16 > 1
        assert exact.text == first.text
        again = run(runner, prompt)
        assert again.prompt_eval_count == 1
        assert again.text == first.text
        # a sampled request that does not ask for an exact replay takes the same fast path
        sampled = SamplingOptions(temperature=1.0, seed=3, num_predict=8, exact_replay=False)
        assert run(runner, prompt, sampled).prompt_eval_count == 1
        assert run(runner, prompt, SamplingOptions(temperature=1.0, num_predict=8)).prompt_eval_count == 1


def conversation(runner: Runner) -> list[tuple[str, int, int]]:
    """Three long chats taking turns on too few slots: each next turn finds its slot taken by the others."""
    starts = [long_prompt(runner, words) for words in WORDS]
    contexts = [list(p) for p in starts]
    out = []
    for turn in range(3):
        for i in range(len(contexts)):
            new = runner.tokenize(f" and what about turn {turn} of chat {i}?", add_special=False)
            result = run(runner, contexts[i] + new if turn else contexts[i])
            contexts[i] = result.context
            out.append((result.text, result.prompt_eval_count, len(new) + 1))
    return out


def test_a_prefix_evicted_from_its_slot_is_restored_from_ram(babble_gguf: Path) -> None:
    for slots in (1, 2):
        with Runner(babble_gguf, LoadOptions(num_ctx=512, num_batch=64, num_parallel=slots)) as plain:
            without = conversation(plain)
            assert plain.stats().prompt_cache_hits == 0
        with Runner(babble_gguf, LoadOptions(num_ctx=512, num_batch=64, num_parallel=slots,
                                             prompt_cache_bytes=CACHE)) as cached:
            with_cache = conversation(cached)
            stats = cached.stats()
        assert [t for t, _, _ in with_cache] == [t for t, _, _ in without]  # the same greedy answers
        # later turns evaluate only their new message (and the last answer token, never fed back)
        assert [n for _, n, _ in with_cache[3:]] == [new for _, _, new in with_cache[3:]]
        # without the cache, every later turn whose slot had been taken (all with one slot) read its chat again
        taken = sum(n > new for _, n, new in without[3:])
        assert taken == (6 if slots == 1 else taken) > 0
        assert stats.prompt_cache_hits == taken and stats.prompt_cache_misses >= 3
        assert stats.prompt_cache_tokens > taken * 96 and 0 < stats.prompt_cache_bytes <= CACHE
        assert stats.prompt_cache_entries >= 1


def test_a_restored_prompt_replays_a_seeded_request_exactly(babble_gguf: Path) -> None:
    with Runner(babble_gguf, LoadOptions(num_ctx=512, num_batch=16, num_parallel=1,
                                         prompt_cache_bytes=CACHE)) as runner:
        prompt, other = long_prompt(runner, WORDS[0]), long_prompt(runner, WORDS[1])
        seeded = SamplingOptions(temperature=1.0, top_k=0, top_p=1.0, seed=11, num_predict=10)
        first = run(runner, prompt, seeded)
        run(runner, other)
        again = run(runner, prompt, seeded)  # restored whole, then its last chunk re-read as the first time
        assert runner.stats().prompt_cache_hits == 1
        assert again.prompt_eval_count == len(prompt) - (len(prompt) - 1) // 16 * 16
        assert again.text == first.text


def test_the_cache_is_bounded_and_least_recently_used_goes_first(babble_gguf: Path) -> None:
    with Runner(babble_gguf, LoadOptions(num_ctx=512, num_parallel=1, prompt_cache_bytes=CACHE)) as runner:
        prompts = [long_prompt(runner, words) for words in WORDS]
        run(runner, prompts[0])
        one = runner.stats()
        for p in prompts[1:]:
            run(runner, p)
        entry = runner.stats().prompt_cache_bytes // 2
        assert one.prompt_cache_entries == 0 and runner.stats().prompt_cache_entries == 2
    with Runner(babble_gguf, LoadOptions(num_ctx=512, num_parallel=1, prompt_cache_bytes=entry * 3 // 2)) as runner:
        for p in prompts:
            run(runner, p)
        stats = runner.stats()
        assert stats.prompt_cache_entries == 1 and stats.prompt_cache_bytes <= entry * 3 // 2
        assert run(runner, prompts[1]).prompt_eval_count == 1  # the newest entry stayed
        assert runner.stats().prompt_cache_hits == 1
        run(runner, prompts[0])  # the oldest was dropped
        assert runner.stats().prompt_cache_hits == 1


def test_find_picks_the_longest_shared_prefix() -> None:
    cache = PromptCache(1 << 20)
    assert cache.find([1, 2, 3]) == (None, 0)
    assert common_prefix([1, 2, 3], np.asarray([1, 2, 4], np.int32)) == 2
    assert common_prefix([], [1]) == 0 and common_prefix([5, 6], [5, 6, 7]) == 2
