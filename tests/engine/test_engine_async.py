"""AsyncEngine: the same surface as coroutines, never blocking the event loop; parity with Engine."""

from __future__ import annotations

import asyncio
import inspect
import json
import time

import pytest

from ollamalib.config import Settings
from ollamalib.engine import AsyncEngine, Engine
from ollamalib.errors import ModelNotFoundError
from ollamalib.protocol import API_METHODS, AsyncOllamaAPI, OllamaAPI


def test_protocols_and_parity():
    assert isinstance(Engine.__new__(Engine), OllamaAPI)
    assert isinstance(AsyncEngine.__new__(AsyncEngine), AsyncOllamaAPI)
    for name in API_METHODS:
        sync, asyn = getattr(Engine, name), getattr(AsyncEngine, name)
        assert inspect.iscoroutinefunction(asyn), name
        assert list(inspect.signature(sync).parameters) == list(inspect.signature(asyn).parameters), name


async def _ticker(gaps: list[float], stop: asyncio.Event) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


def test_async_engine_does_not_block_the_loop(settings: Settings, tiny_gguf):
    async def main() -> None:
        async with AsyncEngine(settings) as engine:
            gaps: list[float] = []
            stop = asyncio.Event()
            ticker = asyncio.create_task(_ticker(gaps, stop))
            await engine.create("tiny", from_=str(tiny_gguf))
            resp = await engine.generate(model="tiny", prompt="hello", options={"num_predict": 16})
            assert resp.done
            chunks = [c async for c in await engine.chat(model="tiny", messages=[{"role": "user", "content": "hi"}],
                                                          stream=True, options={"num_predict": 16})]
            assert chunks[-1].done
            emb = await engine.embed(model="tiny", input=["a", "b"])
            assert len(emb.embeddings) == 2
            assert [m.name for m in (await engine.list()).models] == ["tiny:latest"]
            assert (await engine.show("tiny")).capabilities == ["completion"]
            assert len((await engine.ps()).models) == 1  # one runner serves generation and embeddings
            stop.set()
            await ticker
            # model loads, template rendering and decoding all happened off the loop
            assert max(gaps) < 0.25, max(gaps)

    asyncio.run(main())


def test_async_stream_cancel_and_errors(settings: Settings, tiny_gguf):
    async def main() -> None:
        async with AsyncEngine(settings) as engine:
            await engine.create("tiny", from_=str(tiny_gguf))
            stream = await engine.generate(model="tiny", prompt="go", stream=True, options={"num_predict": 100000})
            async for _ in stream:
                break
            await stream.aclose()
            await asyncio.sleep(0.2)
            runner = engine.engine.scheduler.loaded()[0].runner
            assert runner.stats().slots_in_use == 0
            with pytest.raises(ModelNotFoundError):
                await engine.chat(model="nope", messages=[{"role": "user", "content": "x"}])
            loaded = await engine.generate(model="tiny", prompt="", stream=True)
            assert [c.done_reason async for c in loaded] == ["load"]
            progress = [p.status async for p in await engine.create("copy", from_="tiny", stream=True)]
            assert progress[-1] == "success"
            assert (await engine.copy("tiny", "tiny2")).status == "success"
            assert (await engine.delete("tiny2")).status == "success"

    asyncio.run(main())


def test_async_task_cancellation_frees_the_slot(settings: Settings, endless_gguf):
    async def main() -> None:
        async with AsyncEngine(settings) as engine:
            await engine.create("tiny", from_=str(endless_gguf))

            async def consume() -> None:  # greedy on a model that never ends: still streaming when cancelled
                async for _ in await engine.generate(model="tiny", prompt="go", stream=True,
                                                     options={"num_predict": 100000, "temperature": 0,
                                                              "num_ctx": 8192}):
                    pass

            task = asyncio.create_task(consume())
            await asyncio.sleep(0.5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.2)
            [row] = (await engine.ps()).models
            assert row.slots_in_use == 0

    asyncio.run(main())


def test_async_thinking_then_format(settings: Settings, scripted_gguf, go_template):
    async def main() -> None:
        async with AsyncEngine(settings) as engine:
            await engine.create("thinker", from_=str(scripted_gguf("<think>Hmm.</think>nope")), template=go_template)
            schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
            stream = await engine.chat(model="thinker", messages=[{"role": "user", "content": "q"}], stream=True,
                                       format=schema)
            chunks = [c async for c in stream]
            assert "".join(c.message.thinking or "" for c in chunks) == "Hmm."
            assert list(json.loads("".join(c.message.content for c in chunks))) == ["ok"]

    asyncio.run(main())
