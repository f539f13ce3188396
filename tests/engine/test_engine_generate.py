"""Engine.generate on tiny real models: prompts, options, done reasons, streaming, stop strings, structured output."""

from __future__ import annotations

import json
import time

import jsonschema
import pytest

from ollamalib.engine._engine import sampling_options
from ollamalib.requests import GenerateRequest
from ollamalib.engine import Engine
from ollamalib.errors import (
    CapabilityError,
    ContextLengthError,
    InvalidFormatError,
    InvalidOptionError,
    ModelNotFoundError,
    OllamalibError,
)
from ollamalib.types import GenerateResponse


def test_generate_scripted_answer_and_metrics(engine: Engine, scripted):
    model = scripted(" Hello world")
    resp = engine.generate(model=model, prompt="Say hi")
    assert isinstance(resp, GenerateResponse)
    assert resp.response == " Hello world"
    assert resp.done and resp.done_reason == "stop"
    assert resp.model == model
    assert resp.created_at is not None and resp.created_at.tzinfo is not None
    assert resp.eval_count == len(b" Hello world") + 1  # a token per byte, and the end of sequence
    assert resp.prompt_eval_count and resp.prompt_eval_count > 3
    for field in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(resp[field], int) and resp[field] > 0, field
    assert resp.total_duration >= resp.load_duration
    # context: the prompt and the answer's tokens (not the end of sequence), ready to continue from
    assert resp.context and len(resp.context) == resp.prompt_eval_count + resp.eval_count - 1


def test_streaming_chunks_and_final(engine: Engine, scripted):
    model = scripted(" one two three")
    chunks = list(engine.generate(model=model, prompt="count", stream=True))
    assert all(not c.done for c in chunks[:-1]) and chunks[-1].done
    assert chunks[-1].response == "" and chunks[-1].done_reason == "stop" and chunks[-1].context
    assert "".join(c.response for c in chunks) == " one two three"
    assert len(chunks) > 3  # really streamed, not one blob


def test_utf8_never_split_across_chunks(engine: Engine, scripted):
    text = "Grüße 😀 日本"
    model = scripted(text)
    chunks = [c.response for c in engine.generate(model=model, prompt="x", stream=True)]
    assert "".join(chunks) == text
    assert all("\ufffd" not in c for c in chunks)
    assert "😀" in chunks  # the emoji's four byte tokens arrive as one character


@pytest.mark.parametrize("stop", ["wor", "o w", "ld!"])
def test_stop_strings_across_token_boundaries(engine: Engine, scripted, stop):
    model = scripted(" Hello world!")
    chunks = [c for c in engine.generate(model=model, prompt="x", stream=True, options={"stop": [stop]})]
    text = "".join(c.response for c in chunks)
    assert text == " Hello world!"[: " Hello world!".index(stop)]
    assert chunks[-1].done_reason == "stop"
    assert all(stop[0] not in c.response or stop not in text for c in chunks)


def test_modelfile_stop_applies_and_request_overrides(engine: Engine, scripted):
    model = scripted(" alpha beta gamma", parameters={"stop": ["beta"]})
    assert engine.generate(model=model, prompt="x").response == " alpha "
    assert engine.generate(model=model, prompt="x", options={"stop": ["gamma"]}).response == " alpha beta "


def test_done_reason_length(engine: Engine, scripted):
    model = scripted(" a long answer here")
    resp = engine.generate(model=model, prompt="x", options={"num_predict": 5})
    assert resp.done_reason == "length" and resp.eval_count == 5 and resp.response == " a lo"


def test_done_reason_load_and_unload(engine: Engine, tiny):
    resp = engine.generate(model=tiny, prompt="")
    assert resp.done and resp.done_reason == "load" and resp.response == ""
    [row] = engine.ps().models
    assert row.name == "tiny:latest" and row.size > 0 and row.context_length == 2048
    stream = list(engine.generate(model=tiny, prompt="", keep_alive=0, stream=True))
    assert [c.done_reason for c in stream] == ["unload"]
    assert engine.ps().models == []


def test_raw_mode_uses_prompt_verbatim_and_has_no_context(engine: Engine, scripted):
    model = scripted(" ok")
    resp = engine.generate(model=model, prompt="<|im_start|>user", raw=True)
    assert resp.response == " ok" and resp.context is None
    with pytest.raises(InvalidOptionError, match="raw mode does not support template, system, or context"):
        engine.generate(model=model, prompt="x", raw=True, system="s")


def test_system_template_and_messages_precedence(engine: Engine, scripted, go_template):
    model = scripted(" ok", system="modelfile system", template=go_template,
                     messages=[{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "reply"}])
    prompt, _ = engine.render_prompt("generate", model=model, prompt="now")
    assert prompt.startswith("<|im_start|>system\nmodelfile system<|im_end|>\n")
    assert "earlier" in prompt and "reply" in prompt and prompt.endswith("<|im_start|>assistant\n")
    prompt, _ = engine.render_prompt("generate", model=model, prompt="now", system="request system",
                                     template="{{ .System }}|{{ .Prompt }}", context=[1, 2])
    assert prompt.endswith("request system|now")  # request system wins; no MESSAGEs with a context


def test_context_continues_a_conversation(engine: Engine, scripted):
    model = scripted(" next")
    first = engine.generate(model=model, prompt="one")
    second = engine.generate(model=model, prompt="two", context=first.context)
    assert second.prompt_eval_count > first.prompt_eval_count + 1
    prompt, _ = engine.render_prompt("generate", model=model, prompt="two", context=first.context)
    # the context's text, then the new turn
    head, tail = prompt.split(" next", 1)  # the context detokenized (SentencePiece adds spaces)
    assert "one" in head and "two" not in head
    assert tail == "<|im_start|>user\ntwo<|im_end|>\n<|im_start|>assistant\n"


def test_suffix_needs_insert_capability(engine: Engine, scripted, go_template):
    plain = scripted(" x", name="plain")
    with pytest.raises(CapabilityError, match=r"^registry.ollama.ai/library/plain:latest does not support insert$"):
        engine.generate(model=plain, prompt="a", suffix="b")
    fim = scripted(" x", name="fim", template=go_template)
    assert engine.generate(model=fim, prompt="a", suffix="b").response == " x"


def test_images_need_vision(engine: Engine, tiny):
    with pytest.raises(CapabilityError, match="does not support vision"):
        engine.generate(model=tiny, prompt="what is this", images=[b"\x89PNG"])


def test_thinking_errors_and_parsing(engine: Engine, scripted, go_template):
    plain = scripted(" x", name="plain")
    with pytest.raises(CapabilityError, match='^"plain" does not support thinking$'):
        engine.generate(model=plain, prompt="a", think=True)
    with pytest.raises(InvalidOptionError, match=r'^invalid think value: "maybe" \(must be "high", "medium", "low", '
                                                 r'"max", true, or false\)$'):
        engine.generate(model=plain, prompt="a", think="maybe")
    thinker = scripted("<think>I plan.</think>The answer.", name="thinker", template=go_template)
    assert "thinking" in engine.show(thinker).capabilities
    resp = engine.generate(model=thinker, prompt="q")  # think defaults to on for a thinking model
    assert resp.thinking == "I plan." and resp.response == "The answer."
    chunks = list(engine.generate(model=thinker, prompt="q", think="high", stream=True))
    assert "".join(c.thinking or "" for c in chunks) == "I plan."
    assert "".join(c.response for c in chunks) == "The answer."
    off = engine.generate(model=thinker, prompt="q", think=False)
    assert off.thinking is None and off.response == "<think>I plan.</think>The answer."


def test_errors_for_models_and_options(engine: Engine, tiny, tiny_embed_gguf):
    with pytest.raises(ModelNotFoundError, match="^model '' not found$"):
        engine.generate(model="", prompt="x")
    with pytest.raises(ModelNotFoundError, match="^model 'nope' not found$"):
        engine.generate(model="nope", prompt="x")
    with pytest.raises(InvalidOptionError, match='^option "temperature" must be of type float32$'):
        engine.generate(model=tiny, prompt="x", options={"temperature": "hot"})
    with pytest.raises(InvalidOptionError, match="^top_logprobs must be between 0 and 20$"):
        engine.generate(model=tiny, prompt="x", top_logprobs=21)
    with pytest.raises(InvalidOptionError, match="missing unit"):
        engine.generate(model=tiny, prompt="x", keep_alive="3600")
    engine.create("embedder", from_=str(tiny_embed_gguf))
    with pytest.raises(CapabilityError, match='^"embedder" does not support generate$'):
        engine.generate(model="embedder", prompt="x")


def test_prompt_too_long_without_shift(engine: Engine, tiny):
    long_prompt = " the" * 300
    with pytest.raises(ContextLengthError, match="^the prompt is longer than the context length"):
        engine.generate(model=tiny, prompt=long_prompt, raw=True, shift=False, options={"num_ctx": 64})
    resp = engine.generate(model=tiny, prompt=long_prompt, raw=True, options={"num_ctx": 64, "num_predict": 4})
    assert resp.prompt_eval_count < 64  # truncated as Ollama does, keeping num_keep


# --- options --------------------------------------------------------------------------------------------

ALL_OPTIONS = {
    "num_ctx": 512, "num_batch": 32, "num_gpu": 0, "main_gpu": 0, "use_mmap": False, "num_thread": 1,
    "num_keep": 2, "seed": 42, "num_predict": 6, "top_k": 5, "top_p": 0.5, "min_p": 0.05, "typical_p": 0.7,
    "repeat_last_n": 16, "temperature": 0.5, "repeat_penalty": 1.3, "presence_penalty": 0.4,
    "frequency_penalty": 0.3, "stop": ["zzz"],
}


def test_every_option_reaches_the_runner(engine: Engine, tiny):
    resp = engine.generate(model=tiny, prompt="hello", options=ALL_OPTIONS)
    assert resp.done_reason == "length" and resp.eval_count == 6
    [entry] = engine.scheduler.loaded()
    load = entry.spec.load_options
    assert (load.num_ctx, load.num_batch, load.num_thread, load.num_gpu, load.use_mmap) == (512, 32, 1, 0, False)
    sampling = engine.plan(GenerateRequest(model=tiny, prompt="hello", options=ALL_OPTIONS)).sampling
    for key in ("num_keep", "seed", "num_predict", "top_k", "top_p", "min_p", "typical_p", "repeat_last_n",
                "temperature", "repeat_penalty", "presence_penalty", "frequency_penalty", "stop"):
        assert getattr(sampling, key) == pytest.approx(ALL_OPTIONS[key]), key


def test_ollama_defaults_and_precedence(engine: Engine, scripted):
    model = scripted(" x", parameters={"temperature": 0.1, "top_k": 7})
    m = engine._model(model)
    opts = engine._merged_options(m, {"top_k": 3})
    assert opts["temperature"] == pytest.approx(0.1)  # Modelfile over defaults
    assert opts["top_k"] == 3  # request over Modelfile
    defaults = (opts["top_p"], opts["min_p"], opts["repeat_last_n"], opts["num_keep"], opts["seed"])
    assert defaults == (0.9, 0.0, 64, 4, -1)
    assert opts["num_ctx"] == 2048  # settings' 4096 capped at the model's trained context
    sampling = sampling_options(opts, False, 0)
    assert sampling.num_predict == 10 * 2048 and sampling.stop == []
    assert sampling_options({**opts, "repeat_last_n": -1}, False, 0).repeat_last_n == 2048


def test_temperature_zero_is_deterministic_and_top_k_one_too(engine: Engine, tiny):
    a = engine.generate(model=tiny, prompt="hello", options={"temperature": 0, "num_predict": 12, "seed": 1})
    b = engine.generate(model=tiny, prompt="hello", options={"temperature": 0, "num_predict": 12, "seed": 2})
    c = engine.generate(model=tiny, prompt="hello", options={"top_k": 1, "num_predict": 12})
    assert a.response == b.response == c.response


def test_reload_when_load_options_change(engine: Engine, tiny):
    engine.generate(model=tiny, prompt="x", options={"num_predict": 1})
    first = engine.scheduler.loaded()[0].runner
    engine.generate(model=tiny, prompt="x", options={"num_predict": 1, "temperature": 0.1})
    assert engine.scheduler.loaded()[0].runner is first  # sampling options do not reload
    engine.generate(model=tiny, prompt="x", options={"num_predict": 1, "num_ctx": 256})
    [entry] = engine.scheduler.loaded()
    assert entry.runner is not first and first.closed and engine.ps().models[0].context_length == 256


# --- logprobs -------------------------------------------------------------------------------------------


def test_logprobs(engine: Engine, scripted):
    model = scripted(" abc")
    resp = engine.generate(model=model, prompt="x", logprobs=True, top_logprobs=3)
    assert len(resp.logprobs) == resp.eval_count - 1 == 4  # no entry for the end of sequence
    first = resp.logprobs[0]
    assert first.token == " " and first.logprob <= 0 and first.bytes == [32]
    assert len(first.top_logprobs) == 3 and first.top_logprobs[0].token == " "
    assert engine.generate(model=model, prompt="x").logprobs is None


# --- structured output ----------------------------------------------------------------------------------


def test_format_json_constrains_output(engine: Engine, scripted):
    model = scripted('{"answer": 42, "ok": true}')
    resp = engine.generate(model=model, prompt="json please", format="json")
    assert json.loads(resp.response) == {"answer": 42, "ok": True}


SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z ]{1,12}$"},  # a random model also emits stray bytes
        "age": {"type": "integer"},
        "mood": {"enum": ["happy", "sad"]},
    },
    "required": ["name", "age", "mood"],
}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_schema_output_validates_even_from_a_babbling_model(engine: Engine, tiny, seed):
    resp = engine.generate(model=tiny, prompt="Describe a person.", format=SCHEMA,
                           options={"seed": seed, "num_predict": 200})
    assert resp.done_reason == "stop"
    data = json.loads(resp.response)
    jsonschema.validate(data, SCHEMA)
    assert list(data) == ["name", "age", "mood"]  # schema order


def test_invalid_format(engine: Engine, tiny):
    expected = r'^invalid format: "yaml"; expected "json" or a valid JSON Schema object$'
    with pytest.raises(InvalidFormatError, match=expected):
        engine.generate(model=tiny, prompt="x", format="yaml")
    assert engine.generate(model=tiny, prompt="x", format="", options={"num_predict": 2}).done


# --- cancellation ---------------------------------------------------------------------------------------


def test_breaking_out_of_the_stream_cancels_decoding(engine: Engine, tiny):
    stream = engine.generate(model=tiny, prompt="tell me a story", stream=True, options={"num_predict": 100000})
    for _ in stream:
        break
    stream.close()
    runner = engine.scheduler.loaded()[0].runner
    before = runner.stats().tokens_predicted_total
    time.sleep(0.3)
    stats = runner.stats()
    assert stats.slots_in_use == 0 and stats.tokens_predicted_total - before <= 1
    assert engine.ps().models[0].slots_in_use == 0


def test_dropping_the_iterator_cancels(engine: Engine, tiny):
    for _chunk in engine.generate(model=tiny, prompt="go", stream=True, options={"num_predict": 100000}):
        break
    del _chunk
    time.sleep(0.2)
    assert engine.scheduler.loaded()[0].runner.stats().slots_in_use == 0


def test_vision_model_with_an_unloadable_projector_fails_clearly(engine: Engine, tiny_gguf, gguf_dir):
    # Images on real projectors: tests/engine/test_engine_vision.py. A file merely marked as a projector is
    # refused by libmtmd when the model loads, as Ollama's runner fails to start.
    from gguf_factory import write_tiny_gguf

    projector = write_tiny_gguf(gguf_dir / "projector.gguf", extra_metadata={"general.type": "projector"})
    files = {"model.gguf": engine.create_blob(tiny_gguf), "mmproj.gguf": engine.create_blob(projector)}
    engine.create("seer", files=files)
    assert "vision" in engine.show("seer").capabilities
    with pytest.raises(OllamalibError, match="unable to load projector") as err:
        engine.generate(model="seer", prompt="what is this", images=[b"\x89PNG"])
    assert err.value.status_code == 500
