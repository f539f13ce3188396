"""Engine with images: a model created from a tiny text GGUF and a tiny generated projector (two FROM lines)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from vision_factory import image_tokens, png_bytes, solid_png, vision_pair  # noqa: F401

from ollamalib.create import create_from_modelfile
from ollamalib.engine import Engine
from ollamalib.engine._images import split_at_tags, tag_images
from ollamalib.errors import CapabilityError, ImageError, InvalidOptionError
from ollamalib.runner import LoadOptions, Runner
from ollamalib.types import Message

GREEDY = {"temperature": 0, "num_predict": 5}


@pytest.fixture
def vis(engine: Engine, vision_pair, tmp_path: Path) -> str:  # noqa: F811
    modelfile = f"FROM {vision_pair.text}\nFROM {vision_pair.projector}\n"
    for _ in create_from_modelfile(engine.store, "vis", modelfile, base_dir=tmp_path):
        pass
    return "vis"


def test_created_model_has_a_projector_and_vision(engine: Engine, vis: str, vision_pair):  # noqa: F811
    record = engine.store.record(vis)
    assert len(record.projectors) == 1 and record.projectors[0].read_bytes() == vision_pair.projector.read_bytes()
    assert "vision" in engine.show(vis).capabilities


def test_raw_generate_counts_image_tokens(engine: Engine, vis: str, vision_pair):  # noqa: F811
    resp = engine.generate(vis, "Look [img-0] now", images=[png_bytes(seed=1)], raw=True, options=GREEDY)
    with Runner(vision_pair.text, LoadOptions(num_ctx=64, num_parallel=1)) as r:
        text = len(r.tokenize("Look ")) + len(r.tokenize(" now", add_special=False))
    assert resp.prompt_eval_count == text + image_tokens()
    assert resp.eval_count == 5 and resp.response


def test_generate_accepts_bytes_base64_and_paths(engine: Engine, vis: str, tmp_path: Path):
    data = png_bytes(seed=2)
    path = tmp_path / "picture.png"
    path.write_bytes(data)
    answers = [
        engine.generate(vis, "What is this?", images=[image], options=GREEDY, logprobs=True, top_logprobs=3)
        for image in (data, base64.b64encode(data).decode(), path, str(path))
    ]
    assert answers[0].response
    assert len({a.response for a in answers}) == 1
    # the same image each time: the later prompts are cached whole and evaluate one token, which moves the
    # logprobs in their last bits only (an exact replay is for seeded sampling)
    first = answers[0].logprobs[0]
    for a in answers:
        assert a.logprobs[0].token == first.token
        assert a.logprobs[0].logprob == pytest.approx(first.logprob, abs=1e-3)
        assert [t.token for t in a.logprobs[0].top_logprobs] == [t.token for t in first.top_logprobs]


def test_different_images_change_the_answer(engine: Engine, vis: str):
    def first_logprobs(image: bytes):
        resp = engine.generate(vis, "Describe it.", images=[image], options=GREEDY, logprobs=True, top_logprobs=5)
        return resp.logprobs[0].top_logprobs

    assert first_logprobs(solid_png((250, 10, 10))) != first_logprobs(solid_png((10, 10, 250)))


def test_same_image_twice_reuses_the_prefix(engine: Engine, vis: str):
    msgs = [{"role": "user", "content": "What is in this picture?", "images": [png_bytes(seed=3)]}]
    first = engine.chat(vis, msgs, options=GREEDY)
    assert first.prompt_eval_count > image_tokens()
    follow = msgs + [first.message.model_dump(exclude_none=True), {"role": "user", "content": "And the colours?"}]
    second = engine.chat(vis, follow, options=GREEDY)
    assert second.message.content
    assert second.prompt_eval_count < first.prompt_eval_count  # the image and first turn come from the cache


def test_chat_with_an_image_answers_and_streams(engine: Engine, vis: str):
    chunks = list(engine.chat(vis, [Message(role="user", content="see [img] here", images=[base64.b64encode(
        png_bytes(seed=4)).decode()])], options=GREEDY, stream=True))
    assert chunks[-1].done and chunks[-1].eval_count == 5
    assert chunks[-1].prompt_eval_count > image_tokens()


def test_model_without_projector_refuses_images(engine: Engine, tiny: str):
    with pytest.raises(CapabilityError) as info:
        engine.generate(tiny, "What is this?", images=[png_bytes()])
    assert str(info.value) == "registry.ollama.ai/library/tiny:latest does not support vision"
    assert info.value.status_code == 400
    with pytest.raises(CapabilityError):
        engine.chat(tiny, [{"role": "user", "content": "x", "images": [png_bytes()]}])


def test_corrupt_image_is_refused_clearly(engine: Engine, vis: str):
    with pytest.raises(ImageError) as info:
        engine.generate(vis, "What is this?", images=[b"GIF89a but not really a picture"])
    assert str(info.value) == "failed to process inputs: image: unknown format"
    assert info.value.status_code == 400
    with pytest.raises(InvalidOptionError, match="^illegal base64 data at input byte 11$"):  # Ollama's text
        engine.generate(vis, "What is this?", images=["not//base64!!"])
    assert engine.generate(vis, "still fine", options=GREEDY).response  # the runner survives


def test_vision_model_context_is_at_least_2048(engine: Engine, vis: str):
    engine.generate(vis, "hi", images=[png_bytes()], options={**GREEDY, "num_ctx": 512})
    (running,) = engine.ps().models
    assert running.context_length == 2048


def test_text_only_request_on_a_vision_model(engine: Engine, vis: str):
    assert engine.generate(vis, "Hello", options=GREEDY).eval_count == 5


def test_image_tags_follow_ollama():
    msgs = [
        Message(role="system", content="sys"),
        Message(role="user", content="one", images=["QQ==", "Qg=="]),
        Message(role="assistant", content="ok"),
        Message(role="user", content="left [img] right [img] end", images=["Qw=="]),
    ]
    tagged, images = tag_images(msgs)
    assert [m.content for m in tagged] == ["sys", "[img-0][img-1]one", "ok", "left [img-2] right [img] end"]
    assert images == ["QQ==", "Qg==", "Qw=="]
    assert msgs[1].content == "one"  # the caller's messages are left alone


def test_split_at_tags():
    a, b = b"A", b"B"
    assert split_at_tags("x [img-1] y [img-0][img-7]", [a, b]) == ["x ", b, " y ", a, "[img-7]"]
    assert split_at_tags("[img-0]", [a]) == [a]
    assert split_at_tags("no tags", [a]) == ["no tags"]
