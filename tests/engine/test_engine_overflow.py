"""A prompt longer than num_ctx: Ollama's cut, reported (final chunk, log), or the ``error`` policy's 400."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ollamalib.engine import AsyncEngine, Engine
from ollamalib.errors import ContextLengthError, ContextOverflowError, InvalidOptionError

LONG = " the" * 300  # about 300 tokens on the tiny model's vocabulary


def _history(turns: int) -> list[dict[str, str]]:
    history = [{"role": "system", "content": "SYSTEM-RULES"}]
    for i in range(turns):
        history.append({"role": "user", "content": f"question {i} " + "word " * 10})
        history.append({"role": "assistant", "content": f"answer {i} " + "word " * 10})
    history.append({"role": "user", "content": "LAST-QUESTION"})
    return history


def test_prompt_that_fits_reports_nothing(engine: Engine, tiny):
    resp = engine.generate(model=tiny, prompt="hello", options={"num_predict": 2})
    assert resp.truncated is None and resp.truncation is None
    assert "truncat" not in resp.model_dump_json(exclude_none=True)  # Ollama's output, unchanged


def test_generate_cut_is_reported_and_logged(engine: Engine, tiny, caplog):
    with caplog.at_level(logging.WARNING, logger="ollamalib.engine"):
        resp = engine.generate(model=tiny, prompt=LONG, raw=True, options={"num_ctx": 64, "num_predict": 2})
    t = resp.truncation
    assert resp.truncated is True and t is not None
    assert t.n_ctx == 64 and t.n_prompt_tokens > 64 and t.n_dropped_messages is None
    assert resp.prompt_eval_count <= t.n_prompt_tokens - t.n_dropped_tokens < 64  # kept (some maybe cached)
    warning = next(r for r in caplog.records if "prompt truncated" in r.getMessage())
    assert warning.levelno == logging.WARNING
    text = warning.getMessage()
    assert f"{t.n_prompt_tokens} tokens do not fit the context of 64" in text
    assert f"dropped {t.n_dropped_tokens} tokens" in text and "context_overflow" in text


def test_chat_history_drop_is_reported(engine: Engine, tiny, caplog):
    history = _history(40)
    with caplog.at_level(logging.WARNING, logger="ollamalib.engine"):
        chunks = list(engine.chat(model=tiny, messages=history, stream=True,
                                  options={"num_ctx": 256, "num_predict": 2}))
    final = chunks[-1]
    assert all(c.truncated is None for c in chunks[:-1])  # only the final chunk carries it
    t = final.truncation
    assert final.done and final.truncated is True and t is not None
    assert t.n_ctx == 256 and t.n_prompt_tokens > 256
    assert t.n_dropped_messages is not None and 0 < t.n_dropped_messages < 81
    assert final.prompt_eval_count <= t.n_prompt_tokens - t.n_dropped_tokens <= 256
    assert any(f"({t.n_dropped_messages} oldest messages)" in r.getMessage() for r in caplog.records)


def test_error_policy_per_request(engine: Engine, tiny):
    with pytest.raises(ContextOverflowError) as info:
        engine.generate(model=tiny, prompt=LONG, raw=True,
                        options={"num_ctx": 64, "context_overflow": "error"})
    err = info.value
    assert isinstance(err, ContextLengthError) and err.status_code == 400 and err.n_ctx == 64
    assert err.n_prompt_tokens > 64
    assert str(err) == (f"request ({err.n_prompt_tokens} tokens) exceeds the available context size (64 tokens), "
                        "try increasing it")
    assert err.fields == {"n_prompt_tokens": err.n_prompt_tokens, "n_ctx": 64}
    with pytest.raises(ContextOverflowError) as chat_info:  # no history is dropped either
        engine.chat(model=tiny, messages=_history(40), options={"num_ctx": 256, "context_overflow": "error"})
    assert chat_info.value.n_ctx == 256 and chat_info.value.n_prompt_tokens > 256
    stats = engine.scheduler.loaded()[0].runner.stats()  # nothing was evaluated or generated, no slot is held
    assert (stats.slots_in_use, stats.prompt_tokens_total, stats.tokens_predicted_total) == (0, 0, 0)
    fits = engine.generate(model=tiny, prompt="hello", options={"context_overflow": "error", "num_predict": 2})
    assert fits.done and fits.truncated is None


def test_error_policy_from_settings_and_request_override(settings, tiny_gguf):
    with Engine(settings, context_overflow="error") as eng:
        eng.create("tiny", from_=str(tiny_gguf))
        with pytest.raises(ContextOverflowError):
            eng.generate(model="tiny", prompt=LONG, raw=True, options={"num_ctx": 64})
        resp = eng.generate(model="tiny", prompt=LONG, raw=True,
                            options={"num_ctx": 64, "num_predict": 2, "context_overflow": "truncate"})
        assert resp.truncated is True


def test_modelfile_parameter_sets_the_model_default(engine: Engine, tiny_gguf):
    engine.create("strict", from_=str(tiny_gguf), parameters={"context_overflow": "error"})
    with pytest.raises(ContextOverflowError):
        engine.generate(model="strict", prompt=LONG, raw=True, options={"num_ctx": 64})
    assert 'context_overflow               "error"' in engine.show("strict").parameters


def test_bad_policy_value(engine: Engine, tiny):
    with pytest.raises(InvalidOptionError, match=r'^invalid context_overflow value: "drop" \(must be "truncate" or '
                                                 r'"error"\)$') as info:
        engine.generate(model=tiny, prompt="x", options={"context_overflow": "drop"})
    assert info.value.status_code == 400  # bad input, not Ollama's 500 for an option of the wrong type
    with pytest.raises(InvalidOptionError, match='^option "context_overflow" must be of type string$'):
        engine.generate(model=tiny, prompt="x", options={"context_overflow": 1})


def test_async_engine_same_policy(settings, tiny_gguf):
    async def main() -> None:
        eng = AsyncEngine(settings)
        try:
            await eng.create("tiny", from_=str(tiny_gguf))
            resp = await eng.generate(model="tiny", prompt=LONG, raw=True, options={"num_ctx": 64, "num_predict": 2})
            assert resp.truncated is True and resp.truncation.n_ctx == 64
            with pytest.raises(ContextOverflowError):
                await eng.generate(model="tiny", prompt=LONG, raw=True,
                                   options={"num_ctx": 64, "context_overflow": "error"})
        finally:
            await eng.close()

    asyncio.run(main())
