"""Speculative decoding: a draft model and n-gram prompt lookup give exactly the tokens plain decoding gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gguf_factory import write_tiny_gguf

from ollamalib.runner import Final, LoadOptions, Runner, RunnerError, SamplingOptions
from ollamalib.runner._spec import MAX_ROWS, ngram_draft

PROMPT = "the cat and the dog went to the city"
QUOTE = (
    "Here is a passage:\n"
    "The Industrial Revolution, which took place from the 18th to 19th centuries, was a period during which "
    "predominantly agrarian, rural societies in Europe and America became industrial and urban.\n"
    "Repeat the passage exactly:\nThe Industrial Revolution"
)


@pytest.fixture(scope="module")
def spec_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 4-layer random model and its first three layers as a draft: the same seed draws the same embeddings and
    first layers, so the draft shares the vocabulary and agrees with the target now and then."""
    folder = tmp_path_factory.mktemp("spec")
    target = write_tiny_gguf(folder / "target.gguf", seed=7, n_layer=4)
    draft = write_tiny_gguf(folder / "draft.gguf", seed=7, n_layer=3)
    return target, draft


@pytest.fixture(scope="module")
def plain(spec_models: tuple[Path, Path]) -> Iterator[Runner]:
    with Runner(spec_models[0], LoadOptions(num_ctx=512, num_parallel=2)) as runner:
        yield runner


def run(runner: Runner, prompt: str, **options: object) -> Final:
    seq = runner.submit(runner.tokenize(prompt), SamplingOptions(temperature=0, num_predict=48, **options))
    list(seq)
    assert seq.result is not None
    return seq.result


def test_ngram_lookup_takes_what_followed_the_latest_longest_match() -> None:
    history = [1, 2, 3, 9, 1, 2, 3, 4, 5, 7, 2, 3]
    assert ngram_draft(history, 3, 2) == [4, 5]  # "2 3" last occurred before "4 5" (and "7 2 3" never)
    assert ngram_draft(history, 1, 4) == [4, 5, 7, 2]
    assert ngram_draft([1, 2, 3], 2, 4) == []  # nothing repeats
    assert ngram_draft([5, 5], 3, 4) == [5]
    assert ngram_draft(history, 3, 0) == []


def test_the_same_model_as_draft_is_always_accepted(spec_models: tuple[Path, Path], plain: Runner) -> None:
    target, _ = spec_models
    expected = run(plain, PROMPT)
    assert expected.draft_count == 0  # no draft model, no n-grams asked for: plain decoding
    with Runner(target, LoadOptions(num_ctx=512, num_parallel=2, draft=str(target))) as runner:
        final = run(runner, PROMPT)
        stats = runner.stats()
    assert final.tokens == expected.tokens and final.text == expected.text
    assert final.eval_count == expected.eval_count
    assert final.draft_count > 0 and final.draft_accepted_count == final.draft_count
    assert stats.draft_tokens_total == stats.draft_accepted_total == final.draft_count


def test_a_smaller_draft_is_partly_accepted_and_changes_nothing(spec_models: tuple[Path, Path],
                                                                plain: Runner) -> None:
    target, draft = spec_models
    expected = [run(plain, PROMPT), run(plain, "a dog and a cat")]
    with Runner(target, LoadOptions(num_ctx=512, num_parallel=2, draft=str(draft))) as runner:
        alone = run(runner, PROMPT)
        # two sequences at once: both drafts are verified in the same llama_decode as the other's rows
        seqs = [runner.submit(runner.tokenize(p), SamplingOptions(temperature=0, num_predict=48))
                for p in (PROMPT, "a dog and a cat")]
        for seq in seqs:
            list(seq)
        off = run(runner, PROMPT, draft_num_predict=0)  # 0 turns the draft model off
        wide = run(runner, PROMPT, draft_num_predict=16)  # capped by the step's row budget
    assert alone.tokens == expected[0].tokens
    assert 0 < alone.draft_accepted_count < alone.draft_count
    assert [s.result.tokens for s in seqs] == [e.tokens for e in expected]  # type: ignore[union-attr]
    assert all(s.result.draft_count > 0 for s in seqs)  # type: ignore[union-attr]
    assert off.tokens == expected[0].tokens and off.draft_count == 0
    assert wide.tokens == expected[0].tokens
    assert wide.draft_count <= (MAX_ROWS - 1) * wide.eval_count


def test_ngram_lookup_on_a_random_model_changes_nothing(plain: Runner) -> None:
    expected = run(plain, PROMPT + " and the cat and the dog")
    final = run(plain, PROMPT + " and the cat and the dog", draft_ngram=3)
    assert final.tokens == expected.tokens and final.draft_count > 0


def test_a_draft_with_another_vocabulary_is_refused(spec_models: tuple[Path, Path], script_gguf: Path) -> None:
    with pytest.raises(RunnerError, match="vocabulary"):
        Runner(spec_models[0], LoadOptions(num_ctx=256, num_parallel=1, draft=str(script_gguf)))


def test_ngram_lookup_on_gemma_quotes_faster_and_the_same(gemma_runner: Runner) -> None:
    expected = run(gemma_runner, QUOTE)
    final = run(gemma_runner, QUOTE, draft_ngram=3)
    assert final.tokens == expected.tokens and final.text == expected.text
    assert final.text.startswith(", which took place from the 18th to 19th centuries")
    # the quote is copied from the prompt: most drafted tokens are right
    assert final.draft_accepted_count > final.eval_count // 2
    assert final.draft_accepted_count <= final.draft_count
