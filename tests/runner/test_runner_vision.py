"""Images through a real (tiny, generated) LLaVA-style projector: tokenizing, evaluating, prefix reuse, errors."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from vision_factory import image_tokens, png_bytes, solid_png, vision_pair  # noqa: F401

from ollamalib.errors import ImageError
from ollamalib.runner import LoadOptions, Runner, RunnerError, SamplingOptions
from ollamalib.runner._media import ImagePrompt
from ollamalib.runner._runner import truncate_image_prompt

USER = "<|im_start|>user\n"
TAIL = "What is in the picture?<|im_end|>\n<|im_start|>assistant\n"
GREEDY = SamplingOptions(temperature=0, num_predict=6, logprobs=True, top_logprobs=3)


@pytest.fixture(scope="module")
def runner(vision_pair):  # noqa: F811
    r = Runner(vision_pair.text, LoadOptions(num_ctx=512, num_parallel=2, projector=str(vision_pair.projector)))
    yield r
    r.close()


def run(r: Runner, prompt, sampling: SamplingOptions = GREEDY):
    seq = r.submit(prompt, sampling)
    for _ in seq:
        pass
    return seq.result


def test_image_takes_projector_positions_with_private_ids(runner):
    prompt = runner.tokenize_images([USER, png_bytes(seed=1), TAIL])
    text = runner.tokenize(USER) + runner.tokenize(TAIL, add_special=False)
    assert runner.has_vision
    assert prompt.image_tokens == image_tokens() == 16
    assert len(prompt) == len(text) + 16
    (start, end), = prompt.spans()
    ids = prompt.tokens[start:end]
    assert all(t < 0 for t in ids) and len(set(ids)) == 16
    assert [t for t in prompt.tokens if t >= 0] == text
    again = runner.tokenize_images([USER, png_bytes(seed=1), TAIL])
    other = runner.tokenize_images([USER, png_bytes(seed=2), TAIL])
    assert again.tokens == prompt.tokens
    assert other.tokens[start] != prompt.tokens[start]


def test_prompt_eval_count_includes_the_image(runner):
    parts = [USER, png_bytes(seed=3), TAIL]
    prompt = runner.tokenize_images(parts)
    final = run(runner, prompt)
    assert final.prompt_eval_count == len(prompt)  # fresh prefix: text + 16 image positions
    assert final.eval_count == 6
    assert all(t >= 0 for t in final.context)  # image positions are left out of the context
    assert final.context[: len(prompt) - 16] == [t for t in prompt.tokens if t >= 0]


def test_different_images_give_different_logits(runner):
    a = run(runner, runner.tokenize_images([USER, solid_png((255, 0, 0)), TAIL]))
    b = run(runner, runner.tokenize_images([USER, solid_png((0, 0, 255)), TAIL]))
    assert a.logprobs[0]["top_logprobs"] != b.logprobs[0]["top_logprobs"]


def test_same_image_reuses_prefix_and_repeats_output(runner):
    parts = [USER, png_bytes(seed=4), TAIL]
    prompt = runner.tokenize_images(parts)
    first = run(runner, prompt)
    exact = SamplingOptions(temperature=0, num_predict=6, logprobs=True, top_logprobs=3, exact_replay=True)
    second = run(runner, runner.tokenize_images(parts), exact)
    start, end = prompt.spans()[0]
    assert first.prompt_eval_count >= len(prompt) - start  # a new image is evaluated
    assert second.prompt_eval_count == len(prompt) - end  # an exact replay reads the last text chunk, not the image
    assert second.text == first.text
    assert second.logprobs[0] == first.logprobs[0]
    third = run(runner, runner.tokenize_images(parts))  # by default a prompt cached whole evaluates one token
    assert third.prompt_eval_count == 1 and third.text == first.text


def test_other_image_in_the_same_place_is_evaluated_again(vision_pair):  # noqa: F811
    options = LoadOptions(num_ctx=256, num_parallel=1, projector=str(vision_pair.projector))
    with Runner(vision_pair.text, options) as fresh:
        expected = run(fresh, fresh.tokenize_images([USER, png_bytes(seed=6), TAIL]))
    with Runner(vision_pair.text, options) as r:  # one slot: the second request must reuse its cache
        run(r, r.tokenize_images([USER, png_bytes(seed=5), TAIL]))
        prompt = r.tokenize_images([USER, png_bytes(seed=6), TAIL])
        got = run(r, prompt)
    start, _ = prompt.spans()[0]
    assert got.prompt_eval_count == len(prompt) - start  # only the shared text before the image was reused
    assert got.text == expected.text and got.logprobs == expected.logprobs


def test_prompt_may_end_with_an_image(runner):
    final = run(runner, runner.tokenize_images(["Describe:", png_bytes(seed=7)]))
    assert final.done_reason == "length" and final.eval_count == 6


def test_text_only_prompt_on_a_vision_runner(runner):
    final = run(runner, runner.tokenize("Hello there"))
    assert final.eval_count == 6


def test_bad_image_bytes_are_refused(runner):
    for bad in (b"", b"not an image at all", png_bytes()[:40]):
        with pytest.raises(ImageError) as info:
            runner.tokenize_images(["look: ", bad])
        assert str(info.value) == "failed to process inputs: image: unknown format"
        assert info.value.status_code == 400


def test_runner_without_projector_refuses_images(vision_pair):  # noqa: F811
    with Runner(vision_pair.text, LoadOptions(num_ctx=128, num_parallel=1)) as r:
        assert not r.has_vision
        with pytest.raises(RunnerError):
            r.tokenize_images(["x", png_bytes()])


def test_projector_that_does_not_fit_the_model_fails_to_load(tmp_path, vision_pair):  # noqa: F811
    from vision_factory import write_tiny_mmproj

    wrong = write_tiny_mmproj(tmp_path / "wide.gguf", text_n_embd=96)
    with pytest.raises(RunnerError, match="unable to load projector"):
        Runner(vision_pair.text, LoadOptions(num_ctx=128, num_parallel=1, projector=str(wrong)))


def test_truncation_keeps_or_drops_images_whole():
    image = SimpleNamespace(n_tokens=10)
    tokens = [1] + [5] * 3 + [-7] * 10 + [6] * 30 + [-9] * 10 + [8] * 5  # 59 positions, images at 4 and 44
    prompt = ImagePrompt(tokens, {4: image, 44: image})
    cut = truncate_image_prompt(prompt, num_ctx=40, num_keep=8)  # keep would split the first image: cut before it
    assert len(cut) < 40
    assert all(start + image.n_tokens <= len(cut) for start in cut.images)
    for start in cut.images:
        assert cut.tokens[start:start + 10] in ([-7] * 10, [-9] * 10)
    assert cut.tokens[:4] == tokens[:4]
    assert [t for t in cut.tokens if t < 0].count(-7) in (0, 10)
    short = ImagePrompt([1, 2, 3], {})
    assert truncate_image_prompt(short, num_ctx=40, num_keep=4) is short
