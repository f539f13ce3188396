"""Hostile input through Engine: bad token ids, schemas that would expand to huge grammars, huge chats."""

from __future__ import annotations

import json

import pytest

from ollamalib.engine import Engine
from ollamalib.errors import InvalidFormatError, InvalidOptionError
from ollamalib.types import Message


@pytest.mark.parametrize("bad", [-1, 10**6, 2**70])
def test_generate_context_with_ids_outside_the_vocabulary_is_a_400(engine: Engine, scripted, bad):
    model = scripted(" fine")
    first = engine.generate(model=model, prompt="one")
    with pytest.raises(InvalidOptionError, match=r"^invalid token .* in context: the model's token ids are 0 to \d+$") as e:
        engine.generate(model=model, prompt="two", context=[*first.context, bad])
    assert e.value.status_code == 400
    for stream in (False, True):  # nothing was left holding the model
        with pytest.raises(InvalidOptionError):
            out = engine.generate(model=model, prompt="two", context=[bad], stream=stream)
            list(out) if stream else out
    assert engine.generate(model=model, prompt="two", context=first.context).response == " fine"


HUGE_SCHEMAS = [
    {"type": "string", "minLength": 10**8},
    {"type": "string", "minLength": 10**9},
    {"type": "string", "maxLength": 10**8},
    {"type": "array", "items": {"type": "integer"}, "minItems": 10**8},
    {"type": "array", "items": {"type": "integer"}, "maxItems": 10**9},
    {"type": "object", "properties": {"a": {"type": "string", "pattern": "^x{100000000}$"}}},
    {"type": "object", "$defs": {"s": {"type": "string", "minLength": 60_000}},
     "properties": {"a": {"$ref": "#/$defs/s"}, "b": {"type": "string", "minLength": 60_000}}},
]


@pytest.mark.parametrize("schema", HUGE_SCHEMAS)
def test_a_schema_that_would_expand_to_a_huge_grammar_is_a_quick_400(engine: Engine, scripted, schema):
    import tracemalloc

    model = scripted('{"a": "b"}')
    tracemalloc.start()
    try:
        with pytest.raises(InvalidFormatError, match=r"^invalid JSON schema in format: .* more than the 100,000 "
                                                     r"allowed \(OLLAMALIB_MAX_GRAMMAR_REPEATS\)$") as e:
            engine.generate(model=model, prompt="x", format=schema)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert e.value.status_code == 400
    assert peak < 20 * 1024 * 1024  # the unbounded build allocated gigabytes
    with pytest.raises(InvalidFormatError):  # chat, and the schema as JSON text, take the same check
        engine.chat(model=model, messages=[{"role": "user", "content": "x"}], format=json.dumps(schema))


def test_schemas_within_the_bound_still_constrain_output(engine: Engine, scripted, settings):
    model = scripted('{"a": "bcd"}')
    schema = {"type": "object", "properties": {"a": {"type": "string", "minLength": 2, "maxLength": 1000}},
              "required": ["a"]}
    assert json.loads(engine.generate(model=model, prompt="x", format=schema).response) == {"a": "bcd"}
    long_items = {"type": "array", "items": {"type": "integer"}, "minItems": 90_000}  # within the bound: built
    assert engine._grammar(long_items).count("integer") > 90_000
    strict = Engine(settings.replace(max_grammar_repeats=999))
    try:
        with pytest.raises(InvalidFormatError, match="add up to 1,000 repeated items, more than the 999 allowed"):
            strict.generate(model=model, prompt="x", format=schema)
    finally:
        strict.close()


def _chat(n: int) -> list[dict]:
    return [{"role": ("user", "assistant")[i % 2], "content": f"message number {i}"} for i in range(n)]


def test_too_many_messages_is_a_400_and_too_much_text_a_413(engine: Engine, scripted, settings):
    from ollamalib.errors import PayloadTooLargeError

    model = scripted(" ok")
    with pytest.raises(InvalidOptionError, match=r"^too many messages: 100,000, more than the 50,000 allowed "
                                                 r"\(OLLAMALIB_MAX_MESSAGES\)$") as e:
        engine.chat(model=model, messages=_chat(100_000))
    assert e.value.status_code == 400
    small = Engine(settings.replace(max_prompt_bytes=1000))
    try:
        with pytest.raises(PayloadTooLargeError, match=r"OLLAMALIB_MAX_PROMPT_BYTES") as e:
            small.chat(model=model, messages=[{"role": "user", "content": "é" * 501}])
        assert e.value.status_code == 413
        with pytest.raises(PayloadTooLargeError):
            small.generate(model=model, prompt="x" * 600, system="y" * 600)
        assert small.chat(model=model, messages=[{"role": "user", "content": "é" * 499}]).message.content == " ok"
    finally:
        small.close()


def test_fitting_a_long_chat_renders_a_logarithmic_number_of_times(settings, scripted_gguf, monkeypatch):
    """100,000 messages into a 256-token context: Ollama's loop renders and tokenizes once per message kept;
    this one doubles and bisects, so the work follows what is kept, and the answer is the same."""
    eng = Engine(settings.replace(max_messages=200_000, context_length=256))
    try:
        eng.create("long", from_=str(scripted_gguf(" ok")))
        renders: list[int] = []
        real = eng._render

        def spy(m, template, **kw):
            renders.append(len(kw.get("messages") or ()))
            return real(m, template, **kw)

        monkeypatch.setattr(eng, "_render", spy)
        msgs = _chat(100_000)
        prompt, _ = eng.render_prompt("chat", model="long", messages=msgs)
        assert len(renders) < 2 * 17 + 3
        assert sum(renders) < 100_000 + 40 * max(renders[1:])  # the whole history once, then only what is kept
        assert prompt.endswith("message number 99999<|im_end|>\n<|im_start|>assistant\n")
        kept = prompt.count("<|im_start|>") - 1
        vocab = eng._vocabulary(eng._model("long"))
        assert len(vocab.tokenize(prompt)) <= 256
        m = eng._model("long")
        one_more = eng._render(m, m.template, messages=[Message(**x) for x in msgs[-kept - 1:]])
        assert len(vocab.tokenize(one_more)) > 256  # no more messages would have fitted
        assert eng.chat(model="long", messages=msgs).message.content == " ok"
    finally:
        eng.close()
