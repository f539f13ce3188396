"""OpenMP settings for llama.cpp's CPU threads, applied before ``llama_cpp`` loads libgomp (which reads them once).

ggml runs each graph on an OpenMP team of the thread that calls ``llama_decode``. Every runner's decode thread, and
any thread that ran an embedding, keeps its own team, and once libgomp manages more threads than the machine has
CPUs it cuts its barrier spin from about 300,000 to 100 iterations: the team's threads then sleep in the kernel
between the graph's ops. On 2 cores a second loaded model that had decoded once made the first one's steps 23%
slower (10.7 to 13.2 ms a token on Gemma 3 270M) while it sat idle. ``OMP_WAIT_POLICY=active`` raises that
throttled spin to 1,000 iterations, enough to bridge an op; ``GOMP_SPINCOUNT`` keeps the usual spin before an
idle thread sleeps (without it the active policy spins for minutes). A value the user set for either is kept.
That still leaves the busy team a few percent slower while another exists, so teams are not left behind: an idle
decode thread exits (``_loop.IDLE_EXIT``), and embeddings are computed on a thread of their own (``on_own_thread``),
not on a long-lived caller's (a server's worker threads).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..config import apply_openmp_defaults

__all__ = ["on_own_thread"]

T = TypeVar("T")


def on_own_thread(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on a new thread, which ends with its OpenMP team when it returns; its result or exception.
    The thread costs a fraction of a millisecond, against a per-step slowdown of every other model for good."""
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(fn(*args))
        except BaseException as exc:  # re-raised in the caller
            error.append(exc)

    thread = threading.Thread(target=run, name="ollamalib-embed", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


apply_openmp_defaults()
