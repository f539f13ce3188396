"""libgomp's settings are in place before llama_cpp loads, unless the user chose their own, and OpenMP teams are not
left behind on idle threads (``runner/_openmp``, the decode loop's idle exit)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from runner_models import SCRIPT

from ollamalib.runner import LoadOptions, Runner, RunnerError, SamplingOptions

# Prints the two variables as they are at the moment something first imports llama_cpp.
SPY = """
import os, sys
class Spy:
    def find_spec(self, name, path, target=None):
        if name == "llama_cpp":
            print(os.environ.get("OMP_WAIT_POLICY"), os.environ.get("GOMP_SPINCOUNT"), flush=True)
            sys.meta_path.remove(self)
        return None
sys.meta_path.insert(0, Spy())
import ollamalib.runner
"""


def _seen(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", SPY], env={**clean, **env}, capture_output=True, text=True,
                         check=True, timeout=120)
    return out.stdout.strip()


def test_wait_policy_is_set_before_llama_cpp_loads() -> None:
    assert _seen() == "active 300000"


def test_a_users_own_setting_is_kept() -> None:
    assert _seen(OMP_WAIT_POLICY="passive") == "passive None"
    assert _seen(GOMP_SPINCOUNT="1000") == "None 1000"


def _decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ollamalib-decode"]


def test_an_idle_decode_thread_exits_and_comes_back(script_gguf: Path) -> None:
    """An idle runner leaves no thread (nor OpenMP team) behind; the next request starts one and is served as
    before."""
    with Runner(script_gguf, LoadOptions(num_ctx=256, num_parallel=2)) as runner:
        loop = runner._loop
        assert loop is not None
        loop.idle_exit = 0.05
        before = set(_decode_threads())
        first = runner.submit(runner.tokenize("hi"), SamplingOptions(temperature=0))
        assert "".join(p.text for p in first) == SCRIPT
        deadline = time.monotonic() + 10
        while loop._thread is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert loop._thread is None
        time.sleep(0.1)
        assert set(_decode_threads()) <= before  # the thread itself has ended
        again = runner.submit(runner.tokenize("hi"), SamplingOptions(temperature=0))
        assert "".join(p.text for p in again) == SCRIPT
        assert again.result is not None and first.result is not None
        assert again.result.tokens == first.result.tokens
        assert loop._thread is not None and loop._thread.is_alive()


def test_a_runner_closed_while_idle_closes(script_gguf: Path) -> None:
    runner = Runner(script_gguf, LoadOptions(num_ctx=256, num_parallel=2))
    assert runner._loop is not None
    runner._loop.idle_exit = 0.01
    time.sleep(0.1)
    runner.close()
    with pytest.raises(RunnerError):
        runner.submit(runner.tokenize("hi"), SamplingOptions(temperature=0))


def test_embeddings_are_read_on_a_thread_that_ends(tiny_embed_gguf: Path) -> None:
    with Runner(tiny_embed_gguf, LoadOptions(num_ctx=64, embedding=True)) as runner:
        seen: list[str] = []
        real = runner._embedder.embed  # type: ignore[union-attr]

        def spy(*args: object) -> object:
            seen.append(threading.current_thread().name)
            return real(*args)  # type: ignore[arg-type]

        runner._embedder.embed = spy  # type: ignore[union-attr,method-assign]
        vectors, count = runner.embed(["one two three"])
        assert len(vectors) == 1 and count > 0
        assert seen == ["ollamalib-embed"]
        assert not [t for t in threading.enumerate() if t.name == "ollamalib-embed"]
        runner._embedder.embed = lambda *a: (_ for _ in ()).throw(RunnerError("boom"))  # type: ignore
        with pytest.raises(RunnerError, match="boom"):
            runner.embed(["x"])
