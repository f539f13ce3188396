"""Shared helpers for the benchmarks: a free loopback port, server subprocesses that are always stopped, readiness
polling, the bundled Gemma 3 270M, and a temporary ollamalib store holding it.

A benchmark script imports it as ``from _common import ...`` (its own folder is first on ``sys.path`` when run as
``python benchmarks/x.py``) or as ``from benchmarks._common import ...`` from the repository root.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

__all__ = ["GEMMA3_TEMPLATE", "ROOT", "CpuMeter", "ServerProcess", "free_port", "gemma_path", "ollamalib_env", "start_llama_cpp_server",
           "start_ollamalib_server", "temporary_store"]

_live: set[ServerProcess] = set()


# Ollama's gemma3 instruct template: the demo GGUF is the base model and carries no chat template of its own.
GEMMA3_TEMPLATE = """{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<start_of_turn>user
{{- if and (eq $i 1) $.System }}
{{ $.System }}
{{ end }}
{{ .Content }}<end_of_turn>
{{ else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}<end_of_turn>
{{ end }}
{{- if $last }}<start_of_turn>model
{{ end }}
{{- end }}"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gemma_path() -> Path:
    """The bundled Gemma 3 270M GGUF (written once by the ``[demo]`` extra)."""
    from ollamalib.demo import demo_gguf_path

    return demo_gguf_path()


def _machine_busy_seconds() -> float:
    """CPU-seconds the whole machine has spent busy since boot (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def _group_seconds(pgids: set[int]) -> float:
    """CPU-seconds (user + system, all threads) of the live processes in the process groups ``pgids``."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) in pgids:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """The share of the machine's CPU that other processes took during a measurement.

    On a shared machine that share says whether a timing is worth keeping: this process and the servers it
    started are "ours" (as are its finished child processes), everything else is foreign.
    """

    def __init__(self, servers: Sequence[ServerProcess] = ()) -> None:
        self.groups = {s.proc.pid for s in servers}
        self.cores = os.cpu_count() or 1
        self._start: tuple[float, float, float] | None = None

    def _sample(self) -> tuple[float, float, float]:
        t = os.times()
        # this process, its finished children (a benchmark's subprocess sides) and the servers it started
        ours = t.user + t.system + t.children_user + t.children_system
        return time.perf_counter(), _machine_busy_seconds(), ours + _group_seconds(self.groups)

    def start(self) -> None:
        self._start = self._sample()

    def stop(self) -> float:
        """Foreign CPU-seconds since ``start()`` as a fraction of the machine's capacity over that time."""
        assert self._start is not None
        wall, busy, ours = (b - a for a, b in zip(self._start, self._sample()))
        return max(0.0, busy - ours) / (wall * self.cores) if wall > 0 else 0.0


class ServerProcess:
    """A server started as a subprocess in its own process group, logging to a file; ``stop()`` always ends it."""

    def __init__(self, name: str, argv: Sequence[str], *, port: int, env: Mapping[str, str] | None = None,
                 log_path: Path, cwd: Path | None = None) -> None:
        self.name = name
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(list(argv), env={**os.environ, **(env or {})}, stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                                     start_new_session=True)
        _live.add(self)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's output, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, path: str = "/", timeout: float = 120.0) -> None:
        """Poll ``GET path`` until it answers 200; on exit, timeout or interrupt the server is stopped and the
        error raised (a RuntimeError with the log tail), so a caller never holds a half-started server."""
        try:
            self._poll_ready(path, timeout)
        except BaseException:
            self.stop()
            raise

    def _poll_ready(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base_url + path, timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} was not ready after {timeout:.0f}s:\n{self.log_tail()}")
            time.sleep(0.2)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the server's process group, then SIGKILL it if it has not exited within ``timeout``."""
        if self in _live:
            _live.discard(self)
            if self.proc.poll() is None:
                self._signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._signal(signal.SIGKILL)
                    self.proc.wait(10)
            self._log.close()

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@atexit.register
def _stop_all() -> None:
    for server in list(_live):
        server.stop(timeout=5)


def _terminate(signum: int, frame: object) -> None:  # noqa: ARG001
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _terminate)


@contextlib.contextmanager
def temporary_store(prefix: str = "ollamalib-bench-") -> Iterator[Path]:
    """A temporary folder whose ``models`` store holds ``gemma3:270m``; removed afterwards."""
    import tempfile

    from ollamalib.demo import install_demo_model
    from ollamalib.store import ModelStore

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        root = Path(tmp)
        install_demo_model(ModelStore(root / "models"))
        yield root


def ollamalib_env(root: Path, port: int, **settings: str | int) -> dict[str, str]:
    """The environment of an ollamalib server on ``port`` over ``root/models``; ``settings`` adds ``OLLAMA_*``."""
    env = {
        "OLLAMA_HOST": f"127.0.0.1:{port}",
        "OLLAMA_MODELS": str(root / "models"),
        "OLLAMALIB_DATA_DIR": str(root / "data"),
        "OLLAMALIB_HOME": str(root / "home"),
        "OLLAMA_NOPRUNE": "1",
        "OLLAMA_KEEP_ALIVE": "-1",
    }
    env.update({k: str(v) for k, v in settings.items()})
    return env


def start_ollamalib_server(root: Path, *, timeout: float = 60.0, **settings: str | int) -> ServerProcess:
    """``python -m ollamalib_server`` over ``root/models``, ready to serve; ``settings`` are ``OLLAMA_*`` values."""
    port = free_port()
    env = ollamalib_env(root, port, **settings)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    server = ServerProcess("ollamalib", [sys.executable, "-m", "ollamalib_server"], port=port, env=env,
                           log_path=root / f"ollamalib-{port}.log", cwd=ROOT)
    server.wait_ready("/", timeout)
    return server


def start_llama_cpp_server(model: Path, log_dir: Path, *, n_ctx: int, n_threads: int, n_batch: int = 512,
                           timeout: float = 120.0) -> ServerProcess:
    """llama-cpp-python's own OpenAI server (``python -m llama_cpp.server``, needs its ``[server]`` extra).

    ``logits_all`` is off and ``interrupt_requests`` is off: with it on, a queued request cuts the streaming one
    short, which would make concurrent clients finish early.
    """
    port = free_port()
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
            "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(n_threads),
            "--n_threads_batch", str(n_threads), "--n_batch", str(n_batch), "--n_ubatch", str(n_batch),
            "--logits_all", "False", "--interrupt_requests", "False", "--verbose", "False"]
    server = ServerProcess("llama_cpp.server", argv, port=port, log_path=log_dir / f"llama-cpp-{port}.log")
    server.wait_ready("/v1/models", timeout)
    return server
