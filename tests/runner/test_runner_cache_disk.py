"""The prompt cache on disk: a new runner on the same model and load options answers a prompt an earlier one saved
with one evaluated token and the same greedy text; a corrupt file is removed and ignored; other load options never
read another's files; the directory stays within its bound."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from test_runner_cache import CACHE, GREEDY, WORDS, long_prompt, run

from ollamalib.runner import LoadOptions, Runner


def options(cache_dir: Path, **kw: object) -> LoadOptions:
    base = LoadOptions(num_ctx=512, num_batch=64, num_parallel=1, prompt_cache_bytes=CACHE,
                       prompt_cache_dir=str(cache_dir))
    return replace(base, **kw)  # type: ignore[arg-type]


def files(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("*.kv"))


def first_runs(gguf: Path, opts: LoadOptions) -> tuple[list[list[int]], list[str]]:
    """Two long prompts through one slot (the first one's state is saved when the second takes the slot, the
    second's when the runner closes)."""
    with Runner(gguf, opts) as runner:
        prompts = [long_prompt(runner, words) for words in WORDS[:2]]
        texts = [run(runner, p).text for p in prompts]
    return prompts, texts


def test_a_new_runner_answers_from_the_files_of_an_earlier_one(babble_gguf: Path, tmp_path: Path) -> None:
    opts = options(tmp_path)
    prompts, texts = first_runs(babble_gguf, opts)
    assert len(files(tmp_path)) == 2
    with Runner(babble_gguf, opts) as runner:
        for prompt, text in zip(prompts, texts, strict=True):
            again = run(runner, prompt)
            assert again.prompt_eval_count == 1  # restored from its file, only the last token evaluated
            assert again.text == text
        # a longer prompt sharing a saved prefix evaluates only what is new
        longer = prompts[0] + runner.tokenize(" and the rest of the story", add_special=False)
        assert run(runner, longer).prompt_eval_count == len(longer) - len(prompts[0])
        assert runner.stats().prompt_cache_hits >= 2 and runner.stats().prompt_cache_disk_loads == 2
    with Runner(babble_gguf, replace(opts, prompt_cache_dir=None)) as plain:
        assert [run(plain, p).text for p in prompts] == texts


def test_a_corrupt_or_truncated_file_is_removed_and_ignored(babble_gguf: Path, tmp_path: Path) -> None:
    opts = options(tmp_path)
    prompts, texts = first_runs(babble_gguf, opts)
    flipped, truncated = files(tmp_path)
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a flipped byte in the state: the size is right, the content digest is not
    flipped.write_bytes(bytes(data))
    truncated.write_bytes(truncated.read_bytes()[:-100])
    bad = {p: p.read_bytes() for p in (flipped, truncated)}
    with Runner(babble_gguf, opts) as runner:
        for prompt, text in zip(prompts, texts, strict=True):
            fresh = run(runner, prompt)
            assert fresh.prompt_eval_count >= len(prompt) - 1  # evaluated again (but the BOS), not restored
            assert fresh.text == text
    # the bad files were removed; the states evaluated again were written under their names
    assert all(p.read_bytes() != data for p, data in bad.items())
    (tmp_path / "junk.kv").write_bytes(b"not a state")  # a file of no identity is never read
    with Runner(babble_gguf, opts) as runner:
        assert [run(runner, p).prompt_eval_count for p in prompts] == [1, 1]


def test_other_load_options_do_not_reuse_the_files(babble_gguf: Path, tmp_path: Path) -> None:
    opts = options(tmp_path)
    prompts, texts = first_runs(babble_gguf, opts)
    saved = files(tmp_path)
    for other in (replace(opts, num_ctx=384), replace(opts, kv_cache_type="q8_0"),
                  replace(opts, flash_attention=not bool(opts.flash_attention)), replace(opts, num_batch=32)):
        with Runner(babble_gguf, other) as runner:
            result = run(runner, prompts[0])
            assert result.prompt_eval_count == len(prompts[0]), other  # a fresh slot: nothing reused
            assert runner.stats().prompt_cache_hits == 0
    assert set(saved) <= set(files(tmp_path))  # the first options' files are still there, for them


def test_the_directory_is_bounded_least_recently_used_first(babble_gguf: Path, tmp_path: Path) -> None:
    prompts, _ = first_runs(babble_gguf, options(tmp_path))
    size = max(p.stat().st_size for p in files(tmp_path))
    bounded = options(tmp_path, prompt_cache_disk_bytes=size * 5 // 2)
    with Runner(babble_gguf, bounded) as runner:
        assert run(runner, prompts[0]).prompt_eval_count == 1  # read: now the most recently used file
        third = long_prompt(runner, WORDS[2])
        run(runner, third)
        run(runner, prompts[1])  # the third prompt's state is saved as it loses the slot, the oldest file goes
    kept = files(tmp_path)
    assert len(kept) == 2 and sum(p.stat().st_size for p in kept) <= size * 5 // 2
    with Runner(babble_gguf, bounded) as runner:
        assert run(runner, third).prompt_eval_count == 1
        assert run(runner, prompts[1], GREEDY).prompt_eval_count == 1


def test_an_unusable_directory_keeps_the_cache_in_ram(babble_gguf: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the directory should be")
    with Runner(babble_gguf, options(blocker / "kv")) as runner:
        prompts = [long_prompt(runner, words) for words in WORDS[:2]]
        for p in prompts:
            run(runner, p)
        assert run(runner, prompts[0]).prompt_eval_count == 1  # restored from RAM
