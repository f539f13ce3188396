"""Speculative decoding: a draft model and n-gram prompt lookup give exactly the tokens plain decoding gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gguf_factory import write_tiny_gguf

from ollamalib.runner import Final, LoadOptions, Runner, RunnerError, SamplingOptions
from ollamalib.runner._spec import MAX_ROWS, Acceptance, DraftPlanner, ngram_draft

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
        final = run(runner, PROMPT, draft_num_predict=4)
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
        alone = run(runner, PROMPT, draft_num_predict=4)  # a fixed draft length (unset: planned, below)
        # two sequences at once: both drafts are verified in the same llama_decode as the other's rows
        seqs = [runner.submit(runner.tokenize(p), SamplingOptions(temperature=0, num_predict=48, draft_num_predict=4))
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


def test_the_planned_draft_model_changes_nothing(spec_models: tuple[Path, Path], plain: Runner) -> None:
    """``draft_num_predict`` unset (-1): the planner sizes each step's draft-model guesses from the measured cost
    of draft decodes and verification rows and the acceptance; the tokens stay the plain ones."""
    target, draft = spec_models
    prompts = (PROMPT, "a dog and a cat")
    expected = [run(plain, p) for p in prompts]
    with Runner(target, LoadOptions(num_ctx=512, num_parallel=2, draft=str(draft))) as runner:
        alone = [run(runner, p, draft_num_predict=-1) for p in prompts]
        seqs = [runner.submit(runner.tokenize(p), SamplingOptions(temperature=0, num_predict=48)) for p in prompts]
        for seq in seqs:
            list(seq)
        planner = runner._loop.planner
        steps_measured = runner._draft.step_ns > 0  # type: ignore[union-attr]
    assert [f.tokens for f in alone] == [e.tokens for e in expected]
    assert [s.result.tokens for s in seqs] == [e.tokens for e in expected]  # type: ignore[union-attr]
    assert alone[0].draft_count > 0  # unmeasured row counts are tried, so the first steps draft
    assert all(f.draft_accepted_count <= f.draft_count <= (MAX_ROWS - 1) * f.eval_count for f in alone)
    assert steps_measured and planner.cost[1] is not None


def test_ngram_lookup_on_a_random_model_changes_nothing(plain: Runner) -> None:
    expected = run(plain, PROMPT + " and the cat and the dog")
    final = run(plain, PROMPT + " and the cat and the dog", draft_ngram=3)
    assert final.tokens == expected.tokens and final.draft_count > 0


def test_a_draft_with_another_vocabulary_is_refused(spec_models: tuple[Path, Path], script_gguf: Path) -> None:
    with pytest.raises(RunnerError, match="vocabulary"):
        Runner(spec_models[0], LoadOptions(num_ctx=256, num_parallel=1, draft=str(script_gguf)))


def test_ngram_lookup_on_gemma_quotes_faster_and_the_same(gemma_runner: Runner) -> None:
    expected = run(gemma_runner, QUOTE, exact_replay=True)
    final = run(gemma_runner, QUOTE, draft_ngram=3, draft_num_predict=6, exact_replay=True)  # a fixed draft length
    assert final.tokens == expected.tokens and final.text == expected.text
    assert final.text.startswith(", which took place from the 18th to 19th centuries")
    # the quote is copied from the prompt: most drafted tokens are right
    assert final.draft_accepted_count > final.eval_count // 2
    assert final.draft_accepted_count <= final.draft_count
    # without draft_num_predict the planner picks each step's length (from timings): the tokens stay the same
    adaptive = run(gemma_runner, QUOTE, draft_ngram=3, exact_replay=True)
    assert adaptive.tokens == expected.tokens and adaptive.draft_accepted_count <= adaptive.draft_count


def test_the_planner_checks_the_guesses_that_pay_for_their_rows() -> None:
    planner = DraftPlanner(MAX_ROWS)
    assert planner.lengths(1, [(0.9, 6, 0.0)]) == [0]  # a plain step is measured first
    ms = 1_000_000
    planner.observe(1, 0, 10 * ms)
    assert planner.lengths(1, [(0.9, 6, 0.0)]) == [6]  # unmeasured row counts are assumed cheap: tried
    # Costs like ggml's on 2 cores: odd row counts dear (two columns per tile), the one-row kernel cheapest per row.
    for rows, cost in ((2, 16), (3, 24), (4, 20), (5, 30), (6, 24), (7, 36)):
        planner.observe(rows, rows - 1, cost * ms)
    assert planner.lengths(1, [(0.9, 6, 0.0)]) == [5]  # 6 rows beat 7: the seventh row costs more than it gives
    assert planner.lengths(1, [(0.9, 2, 0.0)]) == [1]  # only two guesses found: 2 rows, not the dear 3
    assert planner.lengths(1, [(0.3, 6, 0.0)]) == [0]  # guesses that rarely hold are not worth a row
    # Two sequences, 4 spare rows: they go to the likeliest guesses (0.9, 0.81, 0.73 of the first, 0.5 of the other),
    # not half each.
    assert planner.lengths(2, [(0.9, 3, 0.0), (0.5, 3, 0.0)]) == [3, 1]
    for _ in range(DraftPlanner.PLAIN_EVERY):
        planner.observe(6, 5, 24 * ms)
    assert planner.lengths(1, [(0.9, 6, 0.0)]) == [0]  # the plain baseline is measured again now and then


def test_the_planner_counts_what_a_draft_model_guess_costs_to_make() -> None:
    planner = DraftPlanner(MAX_ROWS)
    ms = 1_000_000
    for rows, cost in ((1, 10), (2, 12), (3, 14), (4, 16), (5, 18), (6, 20), (7, 22)):
        planner.observe(rows, rows - 1, cost * ms)
    assert planner.lengths(1, [(0.9, 6, 0.0)]) == [6]  # free guesses, cheap rows: all of them
    assert planner.lengths(1, [(0.9, 6, 1.0 * ms)]) == [5]  # a draft a tenth of the model: worth it, bar the
    # sixth guess (0.53 likely to be used, for 3 ms of row and draft against 0.19 tokens/ms)
    # A draft step that costs 90% of the model's (the demo model's tied 262k-token head is most of both): a guess
    # that holds 90% of the time cannot pay for itself and its row.
    assert planner.lengths(1, [(0.9, 6, 9.0 * ms)]) == [0]
    assert planner.lengths(1, [(0.3, 6, 2.0 * ms)]) == [0]  # cheap but rarely right


def test_acceptance_follows_the_recent_guesses() -> None:
    acc = Acceptance()
    for _ in range(5):
        acc.update(6, 6)
    assert acc.rate > 0.95
    for _ in range(5):
        acc.update(3, 0)  # the first guess failed five steps running
    assert acc.rate < 0.4
