"""The scheduler: which runners are loaded, who is using them, and when they go away (Ollama's server/sched.go).

One runner per model (weights, adapters, projectors); a request whose load options differ from the loaded
runner's reloads it once it is idle. Loads are serialised. A runner serves up to ``num_parallel`` requests at
a time; the idle timer (``keep_alive``) starts when the last of them finishes. When ``max_loaded_models`` are
resident, or when the new runner would not fit in host memory beside them, the idle runner that expires soonest
is evicted (or the request waits for one to become idle). A runner's memory is what it holds (weights and KV cache)
plus the bound of its host-RAM prompt cache, which fills over time: counting the bound up front is what keeps the
host from overcommitting once the caches fill. More than ``max_queue`` waiting requests get ServerBusyError. Safe
to use from many threads at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ._go.duration import MAX_DURATION
from .config import FOREVER, Settings
from .errors import ServerBusyError
from .types import ModelDetails, ProcessModel

__all__ = ["Clock", "Lease", "LoadSpec", "LoadedRunner", "ModelMetrics", "Scheduler", "host_memory"]

log = logging.getLogger(__name__)

RunnerFactory = Callable[[Path, Any], Any]

_FOREVER_SPAN = timedelta(seconds=MAX_DURATION)  # Go's longest duration, as Ollama shows "forever"


@dataclass(frozen=True)
class LoadSpec:
    """What to load: the model's identity (``key``), its GGUF, load options and what ``ps`` shows about it."""

    key: Hashable
    model_path: Path
    load_options: Any
    name: str
    model: str
    digest: str = ""
    details: ModelDetails = field(default_factory=ModelDetails)
    size: int = 0
    context_length: int | None = None
    num_parallel: int = 1
    prompt_cache_bytes: int = 0  # the bound of the runner's host-RAM prompt cache (counted as memory it will hold)


class Clock:
    """Where the scheduler gets time: ``monotonic()``, and ``wait(cond, timeout)`` for every condition wait.

    Real time by default; tests pass a manual clock, so keep-alive expiry and queueing run without sleeping.
    """

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, cond: threading.Condition, timeout: float | None = None) -> None:
        """``cond.wait(timeout)``; the caller holds ``cond`` and re-checks its state afterwards."""
        cond.wait(timeout)


REAL_CLOCK = Clock()


@dataclass(eq=False)
class LoadedRunner:
    """A resident runner and its bookkeeping (guarded by the scheduler's lock)."""

    spec: LoadSpec
    runner: Any
    keep_alive: float
    refcount: int = 0
    deadline: float | None = None  # monotonic time of expiry while idle
    expiring: bool = False  # no new requests: it unloads once idle (reload, explicit unload)
    clock: Clock = field(default=REAL_CLOCK, repr=False)
    loaded_at: float = field(default_factory=time.monotonic)

    @property
    def expires_at(self) -> datetime:
        now = datetime.now(UTC)
        if self.keep_alive == FOREVER:
            return now + _FOREVER_SPAN
        if self.deadline is not None:
            return now + timedelta(seconds=max(0.0, self.deadline - self.clock.monotonic()))
        return now + timedelta(seconds=self.keep_alive)

    def _remaining(self) -> float:
        if self.keep_alive == FOREVER:
            return FOREVER
        if self.deadline is not None:
            return self.deadline - self.clock.monotonic()
        return self.keep_alive


class Lease:
    """A request's hold on a runner; ``release()`` (or leaving the ``with`` block) hands it back once."""

    def __init__(self, scheduler: Scheduler, entry: LoadedRunner, load_duration_ns: int) -> None:
        self._scheduler = scheduler
        self.entry = entry
        self.runner = entry.runner
        self.load_duration_ns = load_duration_ns
        self._released = False
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._scheduler._release(self.entry)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _seconds(keep_alive: float) -> float:
    """A keep_alive in seconds; negative, or longer than Go's longest duration, means forever, as in Ollama."""
    if keep_alive < 0 or keep_alive >= MAX_DURATION:
        return FOREVER
    return float(keep_alive)


def host_memory() -> int:
    """Physical RAM of this host in bytes (0 when the platform does not say: then memory is not checked)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 0


def _default_factory(model_path: Path, load_options: Any) -> Any:
    from .runner import Runner

    return Runner(model_path, load_options)


_COUNTERS = (
    "requests_total",
    "prompt_tokens_total",
    "prompt_seconds_total",
    "tokens_predicted_total",
    "tokens_predicted_seconds_total",
    "decode_calls_total",
    "draft_tokens_total",
    "draft_accepted_total",
    "prompt_cache_hits",
    "prompt_cache_misses",
    "prompt_cache_tokens",
    "prompt_cache_disk_loads",
)


@dataclass
class ModelMetrics:
    """Cumulative counters of one model across its loads, plus the gauges of its runner if one is loaded."""

    name: str
    loads_total: int = 0
    load_seconds_total: float = 0.0
    requests_total: int = 0
    prompt_tokens_total: int = 0
    prompt_seconds_total: float = 0.0
    tokens_predicted_total: int = 0
    tokens_predicted_seconds_total: float = 0.0
    decode_calls_total: int = 0
    draft_tokens_total: int = 0  # speculative decoding: drafted tokens verified
    draft_accepted_total: int = 0  # and accepted
    loaded: int = 0
    slots_total: int = 0
    slots_in_use: int = 0
    queued: int = 0
    busy_slots_per_decode: float = 0.0
    kv_cells_used: int = 0
    kv_cells_total: int = 0
    adapters: int = 0  # LoRA adapters applied to the loaded runner(s)
    prompt_cache_hits: int = 0
    prompt_cache_misses: int = 0
    prompt_cache_tokens: int = 0
    prompt_cache_bytes: int = 0
    prompt_cache_disk_loads: int = 0  # states read back from the prompt cache's files

    def add_counters(self, stats: Any) -> None:
        for name in _COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(stats, name, 0))


class Scheduler:
    """Loaded runners with Ollama's keep_alive, eviction, reload and queueing rules."""

    def __init__(
        self, settings: Settings, runner_factory: RunnerFactory | None = None, *, clock: Clock | None = None,
        memory: int | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock or REAL_CLOCK
        self.memory = host_memory() if memory is None else memory  # bytes the runners may hold (0: unchecked)
        self._factory = runner_factory or _default_factory
        self._cond = threading.Condition(threading.RLock())
        self._load_lock = threading.Lock()
        self._loaded: dict[Hashable, LoadedRunner] = {}
        self._loading: dict[Hashable, LoadSpec] = {}
        self._pending = 0
        self._closed = False
        self._reaper: threading.Thread | None = None
        self._history: dict[str, ModelMetrics] = {}  # loads, and counters of runners already closed

    # -- acquiring and releasing -------------------------------------------------------------------------

    def acquire(self, spec: LoadSpec, keep_alive: float | None = None) -> Lease:
        """Get a runner for ``spec`` (loading, reloading or evicting as needed) and count the request on it.

        ``keep_alive`` is the request's value in seconds (None: keep the runner's, or the settings' default
        for a new load). Raises ServerBusyError when too many requests are already waiting.
        """
        with self._cond:
            if self._closed:
                raise RuntimeError("the scheduler is closed")
            if self._pending >= self.settings.max_queue:
                raise ServerBusyError()
            self._pending += 1
        try:
            return self._acquire(spec, keep_alive)
        finally:
            with self._cond:
                self._pending -= 1

    def _acquire(self, spec: LoadSpec, keep_alive: float | None) -> Lease:
        while True:
            victim: LoadedRunner | None = None
            with self._cond:
                if self._closed:
                    raise RuntimeError("the scheduler is closed")
                entry = self._loaded.get(spec.key)
                if entry is not None and not entry.expiring and entry.spec.load_options == spec.load_options:
                    if entry.refcount < entry.spec.num_parallel:
                        entry.refcount += 1
                        entry.deadline = None
                        if keep_alive is not None:
                            entry.keep_alive = _seconds(keep_alive)
                        return Lease(self, entry, 0)
                    self._clock.wait(self._cond)
                    continue
                if entry is not None:  # other load options, or being unloaded: reload once it is idle
                    entry.expiring = True
                    if entry.refcount:
                        self._clock.wait(self._cond)
                        continue
                    victim = self._pop(spec.key)
                elif spec.key in self._loading:
                    self._clock.wait(self._cond)
                    continue
                elif len(self._loaded) + len(self._loading) >= max(1, self.settings.max_loaded_models) or (
                        not self._fits(spec)):
                    victim = self._victim()
                    if victim is not None:
                        self._pop(victim.spec.key)
                    elif self._loaded or self._loading:
                        self._clock.wait(self._cond)
                        continue
                    else:  # nothing left to evict: a model larger than the host still loads, alone
                        log.warning("%s needs about %d MiB, more than this host's %d MiB; loading it anyway",
                                    spec.name, _footprint(spec) >> 20, self.memory >> 20)
                        self._loading[spec.key] = spec
                else:
                    self._loading[spec.key] = spec
            if victim is not None:
                self._close_all([victim])
                continue
            return self._load(spec, keep_alive)

    def _load(self, spec: LoadSpec, keep_alive: float | None) -> Lease:
        start = time.perf_counter_ns()
        try:
            with self._load_lock:
                runner = self._factory(spec.model_path, spec.load_options)
        except BaseException:
            with self._cond:
                self._loading.pop(spec.key, None)
                self._cond.notify_all()
            raise
        load_ns = time.perf_counter_ns() - start
        with self._cond:
            self._loading.pop(spec.key, None)
            history = self._history.setdefault(spec.name, ModelMetrics(spec.name))
            history.loads_total += 1
            history.load_seconds_total += load_ns / 1e9
            ka = _seconds(keep_alive if keep_alive is not None else self.settings.keep_alive)
            now = self._clock.monotonic()
            entry = LoadedRunner(spec=spec, runner=runner, keep_alive=ka, refcount=1, clock=self._clock, loaded_at=now)
            self._loaded[spec.key] = entry
            self._cond.notify_all()
        log.info("loaded %s in %.2fs", spec.name, load_ns / 1e9)
        return Lease(self, entry, load_ns)

    def _fits(self, spec: LoadSpec) -> bool:
        """Whether ``spec``'s runner fits in host memory beside the loaded and loading ones (prompt caches full)."""
        if self.memory <= 0:
            return True
        used = sum(self._size(e) + e.spec.prompt_cache_bytes for e in self._loaded.values())
        used += sum(_footprint(s) for s in self._loading.values())
        return used + _footprint(spec) <= self.memory

    def _victim(self) -> LoadedRunner | None:
        """The idle runner that expires soonest (then by name), or None when every runner is busy."""
        idle = [e for e in self._loaded.values() if e.refcount == 0]
        if not idle:
            return None
        return min(idle, key=lambda e: (e._remaining(), e.spec.name))

    def _pop(self, key: Hashable) -> LoadedRunner:
        entry = self._loaded.pop(key)
        entry.expiring = True
        self._cond.notify_all()
        return entry

    def _release(self, entry: LoadedRunner) -> None:
        to_close: list[LoadedRunner] = []
        with self._cond:
            entry.refcount -= 1
            if entry.refcount == 0 and self._loaded.get(entry.spec.key) is entry:
                if entry.expiring or entry.keep_alive <= 0:
                    to_close.append(self._pop(entry.spec.key))
                elif entry.keep_alive != FOREVER:
                    entry.deadline = self._clock.monotonic() + entry.keep_alive
                    self._ensure_reaper()
            self._cond.notify_all()
        self._close_all(to_close)

    # -- unloading ---------------------------------------------------------------------------------------

    def unload(self, key: Hashable) -> bool:
        """Expire a model's runner now (it finishes its in-flight requests first); False if none is loaded."""
        to_close: list[LoadedRunner] = []
        with self._cond:
            entry = self._loaded.get(key)
            if entry is None:
                return False
            entry.expiring = True
            entry.keep_alive = 0.0
            if entry.refcount == 0:
                to_close.append(self._pop(key))
        self._close_all(to_close)
        return True

    def is_loaded(self, key: Hashable) -> bool:
        with self._cond:
            entry = self._loaded.get(key)
            return entry is not None and not entry.expiring

    def close(self) -> None:
        """Unload every runner (waiting for none: in-flight sequences are cancelled by closing)."""
        with self._cond:
            self._closed = True
            entries = list(self._loaded.values())
            self._loaded.clear()
            self._cond.notify_all()
        self._close_all(entries)

    def _close_all(self, entries: list[LoadedRunner]) -> None:
        for entry in entries:
            stats = _stats(entry.runner)
            if stats is not None:
                with self._cond:
                    self._history.setdefault(entry.spec.name, ModelMetrics(entry.spec.name)).add_counters(stats)
            try:
                entry.runner.close()
            except Exception:  # a runner that fails to close must not take the scheduler down
                log.exception("closing the runner of %s failed", entry.spec.name)
            log.info("unloaded %s", entry.spec.name)

    # -- expiry ------------------------------------------------------------------------------------------

    def _ensure_reaper(self) -> None:
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper = threading.Thread(target=self._reap, name="ollamalib-keepalive", daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        while True:
            to_close: list[LoadedRunner] = []
            with self._cond:
                if self._closed:
                    return
                now = self._clock.monotonic()
                deadlines = []
                for key, entry in list(self._loaded.items()):
                    if entry.refcount or entry.deadline is None:
                        continue
                    if entry.deadline <= now:
                        to_close.append(self._pop(key))
                    else:
                        deadlines.append(entry.deadline)
                if not to_close:
                    if not deadlines:
                        self._reaper = None
                        return
                    self._clock.wait(self._cond, min(deadlines) - now)
            self._close_all(to_close)

    # -- reporting ---------------------------------------------------------------------------------------

    def ps(self) -> list[ProcessModel]:
        """The loaded models with Ollama's ps fields, longest remaining time first."""
        with self._cond:
            entries = [e for e in self._loaded.values()]
            rows = [
                (
                    e._remaining(),
                    ProcessModel(
                        name=e.spec.name,
                        model=e.spec.model,
                        size=self._size(e),
                        digest=e.spec.digest,
                        details=e.spec.details,
                        expires_at=e.expires_at,
                        size_vram=0,
                        context_length=e.spec.context_length,
                        slots_in_use=e.refcount,
                        num_parallel=e.spec.num_parallel,
                    ),
                )
                for e in entries
            ]
        rows.sort(key=lambda r: r[0], reverse=True)
        return [r[1] for r in rows]

    @staticmethod
    def _size(entry: LoadedRunner) -> int:
        size = getattr(_stats(entry.runner), "size", None)
        return size if isinstance(size, int) and size > 0 else entry.spec.size

    def metrics(self) -> list[ModelMetrics]:
        """Per-model counters since start (across reloads) and the live gauges of loaded runners."""
        with self._cond:
            entries = list(self._loaded.values())
            out = {name: ModelMetrics(**vars(m)) for name, m in self._history.items()}
        for entry in entries:
            m = out.setdefault(entry.spec.name, ModelMetrics(entry.spec.name))
            stats = _stats(entry.runner)
            m.loaded += 1
            m.adapters = max(m.adapters, len(getattr(entry.spec.load_options, "adapters", None) or ()))
            if stats is None:
                continue
            m.add_counters(stats)
            m.slots_total += stats.slots_total
            m.slots_in_use += stats.slots_in_use
            m.queued += stats.queued
            m.busy_slots_per_decode = max(m.busy_slots_per_decode, stats.busy_slots_per_decode)
            m.kv_cells_used += stats.kv_cells_used
            m.kv_cells_total += stats.kv_cells_total
            m.prompt_cache_bytes += getattr(stats, "prompt_cache_bytes", 0)
        return sorted(out.values(), key=lambda m: m.name)

    def loaded(self) -> list[LoadedRunner]:
        with self._cond:
            return list(self._loaded.values())


def _footprint(spec: LoadSpec) -> int:
    """The host memory a runner of ``spec`` is expected to hold before it is loaded: its files and its prompt cache
    bound (its KV cache is counted once it is loaded, from the runner's own size)."""
    return spec.size + spec.prompt_cache_bytes


def _stats(runner: Any) -> Any:
    """A runner's stats() snapshot, or None for runners without one (test stand-ins) or that fail."""
    stats = getattr(runner, "stats", None)
    if not callable(stats):
        return None
    try:
        return stats()
    except Exception:
        return None
