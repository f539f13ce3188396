"""Sequence hand-off: pieces queued by the decode thread, wake-ups deferred and delivered together by wake_all."""

from __future__ import annotations

import asyncio
import threading

from ollamalib.runner._stream import Sequence, wake_all
from ollamalib.runner._types import Piece, SamplingOptions


def new_sequence() -> Sequence:
    return Sequence([1, 2, 3], SamplingOptions(), lambda seq: None)


def test_deferred_wakes_reach_every_async_consumer_with_one_call_per_loop():
    seqs = [new_sequence() for _ in range(4)]
    got: dict[int, list[str]] = {s.id: [] for s in seqs}
    producer_done = threading.Event()

    async def consume(seq: Sequence) -> None:
        async for piece in seq:
            got[seq.id].append(piece.text)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        calls = 0
        real = loop.call_soon_threadsafe

        def counting(*args: object) -> object:
            nonlocal calls
            calls += 1
            return real(*args)  # type: ignore[arg-type]

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        tasks = [asyncio.ensure_future(consume(s)) for s in seqs]
        await asyncio.sleep(0.05)  # every consumer is waiting on its future now

        def produce() -> None:  # the decode thread: one "step" of pieces for all four, then the final pieces
            wakes: list = []
            for seq in seqs:
                seq._put(Piece("a"), wakes)
            assert len(wakes) == 4, "each waiting consumer leaves its wake-up to wake_all"
            wake_all(wakes)
            assert wakes == []
            producer_done.wait(5)
            for seq in seqs:
                seq._put(Piece("b", done=True), wakes)
            wake_all(wakes)

        thread = threading.Thread(target=produce)
        thread.start()
        while not all(got[s.id] for s in seqs):
            await asyncio.sleep(0.01)
        first_calls = calls
        producer_done.set()
        await asyncio.gather(*tasks)
        thread.join()
        assert first_calls == 1, "one call_soon_threadsafe woke all four consumers"
        return calls

    assert asyncio.run(main()) == 2
    assert all(texts == ["a", "b"] for texts in got.values())


def test_put_without_wakes_wakes_a_blocking_consumer_at_once():
    seq = new_sequence()
    out: list[str] = []
    consumer = threading.Thread(target=lambda: out.extend(p.text for p in seq))
    consumer.start()
    seq._put(Piece("x"))
    wakes: list = []
    seq._put(Piece("y", done=True), wakes)
    wake_all(wakes)  # a blocking consumer's Event, deferred or not
    consumer.join(10)
    assert out == ["x", "y"]


def test_wake_all_survives_a_closed_event_loop():
    seq = new_sequence()

    async def start_waiting() -> None:
        iterator = seq.__aiter__()
        task = asyncio.ensure_future(iterator.__anext__())
        await asyncio.sleep(0.01)
        task.cancel()

    loop = asyncio.new_event_loop()
    loop.run_until_complete(start_waiting())
    loop.close()
    wakes: list = []
    seq._put(Piece("late", done=True), wakes)
    wake_all(wakes)  # no RuntimeError from the closed loop
