"""OpenMP settings for llama.cpp's CPU threads, applied before ``llama_cpp`` loads libgomp (which reads them once).

ggml runs each graph on an OpenMP team of the thread that calls ``llama_decode``. Every runner's decode thread, and
any thread that ran an embedding, keeps its own team, and once libgomp manages more threads than the machine has
CPUs it cuts its barrier spin from about 300,000 to 100 iterations: the team's threads then sleep in the kernel
between the graph's ops. On 2 cores a second loaded model that had decoded once made the first one's steps 23%
slower (10.7 to 13.2 ms a token on Gemma 3 270M) while it sat idle. ``OMP_WAIT_POLICY=active`` raises that
throttled spin to 1,000 iterations, enough to bridge an op; ``GOMP_SPINCOUNT`` keeps the usual spin before an
idle thread sleeps (without it the active policy spins for minutes). A value the user set for either is kept.
"""

from __future__ import annotations

import os

__all__ = ["OPENMP_DEFAULTS", "apply_openmp_defaults"]

OPENMP_DEFAULTS = {"OMP_WAIT_POLICY": "active", "GOMP_SPINCOUNT": "300000"}


def apply_openmp_defaults() -> None:
    """Set ``OPENMP_DEFAULTS`` unless the user set either variable (then both are left to them)."""
    if not any(name in os.environ for name in OPENMP_DEFAULTS):
        os.environ.update(OPENMP_DEFAULTS)


apply_openmp_defaults()
