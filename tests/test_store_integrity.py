"""Races between two real processes on one store: create and copy reusing blobs while delete frees them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gguf_factory import write_tiny_gguf
from store_check import integrity_problems
from ollamalib.create import create_model
from ollamalib.store import ModelStore

TESTS = Path(__file__).resolve().parent
ROUNDS = 50
# A racing create or copy may lose (the model it builds on is gone): it must then say so, never succeed
# with a model whose blobs are missing.
ACCEPTABLE = ("err ModelNotFoundError", "err BlobNotFoundError")


class Worker:
    """``store_worker.py`` in a child process, driven line by line."""

    def __init__(self, root: Path) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)])}
        self.proc = subprocess.Popen([sys.executable, str(TESTS / "store_worker.py"), str(root)], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def send(self, start: float, *words: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{start} {' '.join(words)}\n")
        self.proc.stdin.flush()

    def answer(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(30)


@pytest.fixture
def workers(tmp_path: Path):
    started = [Worker(tmp_path / "models"), Worker(tmp_path / "models")]
    yield started
    for w in started:
        w.close()


def test_create_and_copy_racing_delete_never_lose_a_blob(tmp_path: Path, workers: list[Worker]) -> None:
    store = ModelStore(tmp_path / "models")
    gguf = write_tiny_gguf(tmp_path / "base.gguf")
    deleter, builder = workers
    outcomes: dict[str, int] = {}
    for i in range(ROUNDS):
        for _ in create_model(store, "base", from_=str(gguf)):
            pass
        digest = next(layer.digest for layer in store.resolve("base").manifest.layers)
        op = ("create-digest", f"made{i}", digest) if i % 3 == 0 else (
            ("copy", "base", f"made{i}") if i % 3 == 1 else ("create-from", f"made{i}", "base"))
        start = time.time() + 0.05
        deleter.send(start, "delete", "base")
        builder.send(start + (i % 5) * 0.001, *op)
        assert deleter.answer() == "ok"
        answer = builder.answer()
        assert answer == "ok" or answer.startswith(ACCEPTABLE), answer
        outcomes[answer.split(":")[0]] = outcomes.get(answer.split(":")[0], 0) + 1
        assert integrity_problems(store) == [], (i, op, answer)
    assert outcomes.get("ok", 0) > 0, outcomes
