"""Scheduler rules (keep_alive, eviction, reload, queue limits, concurrency) with stand-in runners.

The scheduler never looks inside a runner, so these tests load a trivial object that records its life; the
engine tests exercise the same rules on real llama.cpp runners. Time is a ManualClock: keep-alive expiry and
queueing are driven by advancing it and by counting the threads waiting in the scheduler, never by sleeping.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ollamalib.config import FOREVER, Settings
from ollamalib.errors import ServerBusyError
from ollamalib.scheduler import Clock, Lease, LoadSpec, Scheduler


class ManualClock(Clock):
    """A clock that moves only when told; it counts the threads waiting on the scheduler's condition."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waiting = 0
        self._lock = threading.Condition()
        self._conds: set[Any] = set()
        self._seen = threading.local()  # the time each thread last read, from which its wait timeout counts

    def monotonic(self) -> float:
        with self._lock:
            self._seen.now = self.now
            return self.now

    def wait(self, cond: threading.Condition, timeout: float | None = None) -> None:
        with self._lock:
            if timeout is not None and self.now >= getattr(self._seen, "now", self.now) + timeout:
                return
            self._conds.add(cond)
            self.waiting += 1
            self._lock.notify_all()
        try:
            cond.wait()  # the caller holds cond, so an advance() cannot notify before this wait starts
        finally:
            with self._lock:
                self.waiting -= 1
                self._lock.notify_all()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
            conds = list(self._conds)
        for cond in conds:
            with cond:
                cond.notify_all()

    def wait_for_waiters(self, n: int) -> None:
        """Block until ``n`` threads wait in the scheduler (a bound on a hang, not a timing assertion)."""
        with self._lock:
            assert self._lock.wait_for(lambda: self.waiting >= n, timeout=30)


class Recorder:
    def __init__(self):
        self.loaded: list[tuple[str, object]] = []
        self.closed: list[str] = []
        self.lock = threading.Condition()

    def factory(self, path: Path, opts):
        recorder = self

        class Runner:
            def __init__(self):
                self.path = path
                self.opts = opts

            def close(self):
                with recorder.lock:
                    recorder.closed.append(path.name)
                    recorder.lock.notify_all()

        with self.lock:
            self.loaded.append((path.name, opts))
        return Runner()

    def wait_closed(self, *names: str) -> None:
        """Block until the runners of ``names`` were closed (the keep-alive reaper closes them on its thread)."""
        with self.lock:
            assert self.lock.wait_for(lambda: all(n in self.closed for n in names), timeout=30), self.closed


def spec(name: str, opts=("ctx", 2048), parallel: int = 1) -> LoadSpec:
    return LoadSpec(key=name, model_path=Path(name), load_options=opts, name=f"{name}:latest", model=f"{name}:latest",
                    digest="d" * 64, size=123, context_length=2048, num_parallel=parallel)


def make(clock: Clock | None = None, memory: int | None = None, **kw) -> tuple[Scheduler, Recorder]:
    rec = Recorder()
    settings = Settings.from_env({}, models=Path("/nonexistent"), **kw)
    return Scheduler(settings, rec.factory, clock=clock, memory=memory), rec


def waits_for(sched: Scheduler, clock: ManualClock, rec: Recorder, lease: Lease, wanted: LoadSpec) -> Lease:
    """Acquire ``wanted`` on another thread: it waits (nothing closed) until ``lease`` is released, then gets it."""
    got: list[Lease] = []
    t = threading.Thread(target=lambda: got.append(sched.acquire(wanted)))
    t.start()
    clock.wait_for_waiters(1)
    assert got == [] and rec.closed == []
    lease.release()
    t.join(5)
    assert got
    return got[0]


def sized(name: str, size: int, cache: int) -> LoadSpec:
    """A spec whose files take ``size`` bytes and whose prompt cache may take ``cache``."""
    return replace(spec(name), size=size, prompt_cache_bytes=cache)


def test_reuse_and_keep_alive_expiry():
    clock = ManualClock()
    sched, rec = make(clock, keep_alive=0.3)
    with sched.acquire(spec("a")) as lease:
        assert lease.load_duration_ns > 0
    with sched.acquire(spec("a")) as lease:
        assert lease.load_duration_ns == 0
    assert len(rec.loaded) == 1
    [row] = sched.ps()
    assert row.name == "a:latest" and row.size == 123 and row.size_vram == 0 and row.context_length == 2048
    clock.advance(0.29)
    assert len(sched.ps()) == 1 and rec.closed == []
    clock.advance(0.02)
    rec.wait_closed("a")
    assert sched.ps() == [] and rec.closed == ["a"]


def test_idle_timer_starts_when_last_request_ends():
    clock = ManualClock()
    sched, rec = make(clock, keep_alive=0.2)
    lease1 = sched.acquire(spec("a", parallel=2))
    lease2 = sched.acquire(spec("a", parallel=2))
    lease1.release()
    clock.advance(0.35)
    assert rec.closed == []  # still in use by lease2
    lease2.release()
    clock.advance(0.19)
    assert rec.closed == []  # the idle timer started at the last release
    clock.advance(0.02)
    rec.wait_closed("a")
    assert rec.closed == ["a"]


def test_keep_alive_zero_unloads_after_request_and_negative_keeps_forever():
    sched, rec = make()
    with sched.acquire(spec("a"), keep_alive=0):
        assert rec.closed == []
    assert rec.closed == ["a"]
    with sched.acquire(spec("b"), keep_alive=FOREVER):
        pass
    [row] = sched.ps()
    assert row.expires_at.year > 2200


def test_request_keep_alive_replaces_only_when_given():
    sched, _ = make(keep_alive=1000)
    with sched.acquire(spec("a"), keep_alive=5):
        pass
    with sched.acquire(spec("a")):
        pass
    [entry] = sched.loaded()
    assert entry.keep_alive == 5


def test_eviction_picks_idle_runner_expiring_soonest():
    sched, rec = make(max_loaded_models=2)
    with sched.acquire(spec("a"), keep_alive=100):
        pass
    with sched.acquire(spec("b"), keep_alive=10):
        pass
    with sched.acquire(spec("c"), keep_alive=50):
        pass
    assert rec.closed == ["b"]
    assert sorted(r.name for r in sched.ps()) == ["a:latest", "c:latest"]
    assert [r.name for r in sched.ps()] == ["a:latest", "c:latest"]  # longest remaining first


def test_eviction_waits_for_a_busy_runner():
    clock = ManualClock()
    sched, rec = make(clock, max_loaded_models=1)
    got = waits_for(sched, clock, rec, sched.acquire(spec("a")), spec("b"))
    assert rec.closed == ["a"] and got.runner.path.name == "b"


def test_memory_counts_the_prompt_cache_bound_and_evicts_to_fit():
    # without the caches' bounds the three models fit the host's 1000 bytes; with them, loading c evicts one
    sched, rec = make(memory=1000, max_loaded_models=3)
    for name, size in (("a", 300), ("b", 200), ("c", 100)):
        sched.acquire(sized(name, size, 0)).release()
    assert rec.closed == [] and len(sched.ps()) == 3
    sched, rec = make(memory=1000, max_loaded_models=3)
    sched.acquire(sized("a", 300, 400), keep_alive=100).release()
    sched.acquire(sized("b", 200, 0), keep_alive=10).release()  # 900 of 1000: fits beside a
    assert rec.closed == []
    sched.acquire(sized("c", 100, 150), keep_alive=50).release()  # 1150: the idle one expiring soonest goes
    assert rec.closed == ["b"]
    sched.acquire(sized("b", 200, 0)).release()  # a (700) + c (250): no room for b without evicting c
    assert rec.closed == ["b", "c"]
    assert sorted(r.name for r in sched.ps()) == ["a:latest", "b:latest"]


def test_memory_waits_for_a_busy_runner_and_a_model_alone_always_loads():
    clock = ManualClock()
    sched, rec = make(clock, memory=1000)
    got = waits_for(sched, clock, rec, sched.acquire(sized("a", 600, 0)), sized("b", 100, 500))
    assert rec.closed == ["a"] and got.runner.path.name == "b"
    got.release()
    with sched.acquire(sized("huge", 5000, 0)):  # larger than the host: it evicts b and loads alone anyway
        assert rec.closed == ["a", "b"]
    sched, rec = make(memory=0)  # 0: memory is not checked
    sched.acquire(sized("a", 600, 600)).release()
    sched.acquire(sized("b", 600, 600)).release()
    assert rec.closed == []


def test_reload_when_load_options_change():
    sched, rec = make()
    with sched.acquire(spec("a", opts=("ctx", 2048))):
        pass
    with sched.acquire(spec("a", opts=("ctx", 4096))) as lease:
        assert lease.runner.opts == ("ctx", 4096)
    assert rec.closed == ["a"] and len(rec.loaded) == 2


def test_explicit_unload_waits_for_in_flight():
    sched, rec = make()
    lease = sched.acquire(spec("a"))
    assert sched.unload("a")
    assert rec.closed == []
    lease.release()
    assert rec.closed == ["a"]
    assert not sched.unload("a")


def test_queue_full_raises_server_busy():
    clock = ManualClock()
    sched, _ = make(clock, max_queue=2)
    hold = sched.acquire(spec("a"))  # the only slot
    waiters = [threading.Thread(target=lambda: sched.acquire(spec("a")).release()) for _ in range(2)]
    for t in waiters:
        t.start()
    clock.wait_for_waiters(2)
    with pytest.raises(ServerBusyError) as err:
        sched.acquire(spec("a"))
    assert str(err.value) == "server busy, please try again.  maximum pending requests exceeded"
    assert err.value.status_code == 503
    hold.release()
    for t in waiters:
        t.join(5)


def test_slots_limit_concurrency_and_loads_are_serialised():
    sched, rec = make(max_loaded_models=4)
    active = {"n": 0, "max": 0}
    lock = threading.Lock()

    def work(name):
        with sched.acquire(spec(name, parallel=2)):
            with lock:
                active["n"] += 1
                active["max"] = max(active["max"], active["n"])
            time.sleep(0.05)
            with lock:
                active["n"] -= 1

    threads = [threading.Thread(target=work, args=("a",)) for _ in range(8)]
    threads += [threading.Thread(target=work, args=("b",)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert active["max"] <= 4
    assert sorted(name for name, _ in rec.loaded) == ["a", "b"]
    slots = {r.name: (r.slots_in_use, r.num_parallel) for r in sched.ps()}
    assert slots == {"a:latest": (0, 2), "b:latest": (0, 2)}


def test_close_unloads_everything():
    sched, rec = make()
    for name in "ab":
        with sched.acquire(spec(name)):
            pass
    sched.close()
    assert sorted(rec.closed) == ["a", "b"]
    with pytest.raises(RuntimeError):
        sched.acquire(spec("a"))


def test_failed_load_does_not_wedge():
    calls = []

    def factory(path, opts):
        calls.append(path)
        if len(calls) == 1:
            raise OSError("boom")
        return type("R", (), {"close": lambda self: None})()

    sched = Scheduler(Settings.from_env({}, models=Path("/x")), factory)
    with pytest.raises(OSError):
        sched.acquire(spec("a"))
    with sched.acquire(spec("a")):
        pass
    assert len(calls) == 2


def test_negative_keep_alive_from_settings_or_request_is_forever():
    sched, rec = make(keep_alive=-1)
    with sched.acquire(spec("a")):
        pass
    with sched.acquire(spec("b"), keep_alive=-5):
        pass
    assert rec.closed == [] and all(r.expires_at.year > 2200 for r in sched.ps())


def test_huge_keep_alive_is_forever():
    sched, _ = make()
    with sched.acquire(spec("a"), keep_alive=1e300):
        pass
    [row] = sched.ps()
    assert row.expires_at.year > 2200
