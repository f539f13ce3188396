"""One runner per model: a chat model used for embed shares its loaded weights (one ps entry, one load)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import llama_cpp.llama_cpp as C
import pytest

from ollamalib.config import Settings
from ollamalib.engine import Engine
from ollamalib.runner import LoadOptions, Runner


@pytest.fixture
def weight_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of every real weight load (``llama_model_load_from_file`` without ``vocab_only``) from now on."""
    loads: list[str] = []
    real = C.llama_model_load_from_file

    def counting(path: bytes, params: C.llama_model_params) -> object:
        if not params.vocab_only:
            loads.append(path.decode())
        return real(path, params)

    monkeypatch.setattr(C, "llama_model_load_from_file", counting)
    return loads


def _names(engine: Engine) -> list[str]:
    return sorted(m.name for m in engine.ps().models)


def test_chat_and_embed_share_one_runner(settings: Settings, tiny_gguf: Path,
                                         scripted_gguf: Callable[..., Path], weight_loads: list[str]) -> None:
    other = scripted_gguf(" b")
    with Engine(settings.replace(max_loaded_models=2)) as engine:
        engine.create("a", from_=str(tiny_gguf))
        engine.create("b", from_=str(other))
        engine.generate(model="b", prompt="", keep_alive="1m")
        chat = [{"role": "user", "content": "hi"}]
        engine.chat(model="a", messages=chat, options={"num_predict": 2}, keep_alive="10m")
        [size_before] = [m.size for m in engine.ps().models if m.name == "a:latest"]
        vectors = engine.embed(model="a", input=["one", "two"]).embeddings
        legacy = engine.embeddings(model="a", prompt="one").embedding
        engine.chat(model="a", messages=chat, options={"num_predict": 2})
        engine.generate(model="a", prompt="hello", options={"num_predict": 2})

        assert _names(engine) == ["a:latest", "b:latest"]  # one entry for a, and b was not evicted
        assert len(weight_loads) == len(set(weight_loads)) == 2  # one weight load per model
        loads = {m.name: m.loads_total for m in engine.metrics()}
        assert loads == {"a:latest": 1, "b:latest": 1}
        [row] = [m for m in engine.ps().models if m.name == "a:latest"]
        assert row.size > size_before  # the embedding context's cache is counted with the runner

        # The shared embedding context gives what an embedding runner of its own gives.
        with Runner(tiny_gguf, LoadOptions(num_ctx=row.context_length or 4096, embedding=True)) as alone:
            raw, _ = alone.embed(["one", "two"])
        assert legacy == pytest.approx(raw[0], abs=1e-5)
        assert vectors[1] == pytest.approx([v / sum(x * x for x in raw[1]) ** 0.5 for v in raw[1]], abs=1e-5)

        # keep_alive treats it as one model: an embed with keep_alive 0 unloads the runner chat used.
        engine.embed(model="a", input="x", keep_alive=0)
        assert _names(engine) == ["b:latest"]


def test_embed_while_the_same_model_generates(engine: Engine, tiny: str, weight_loads: list[str]) -> None:
    stream = engine.generate(model=tiny, prompt="go", stream=True, options={"num_predict": 40, "temperature": 0})
    first = next(iter(stream))
    results: list[int] = []
    worker = threading.Thread(target=lambda: results.append(len(engine.embed(model=tiny, input=["a", "b"]).embeddings)))
    worker.start()
    chunks = [first, *stream]
    worker.join(timeout=120)
    assert results == [2] and chunks[-1].done
    assert len(engine.ps().models) == 1 and len(weight_loads) == 1
