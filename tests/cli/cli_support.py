"""Helpers for the CLI tests: the CLI as a subprocess on a temporary store, and a live server on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from netutil import free_port, stop_process

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SCRIPT = "Hello from tiny!"


def default_server_running() -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", 11434)) == 0


@dataclass
class CLI:
    """Runs ``python -m ollamalib_cli`` with an environment pointing at one temporary store."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def home(self) -> Path:
        return self.root / "dot-ollama"

    def __call__(self, *args: str, input: str | None = None, timeout: float = 120, check: bool = False,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [PYTHON, "-m", "ollamalib_cli", *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**self.env, **(env or {})},
            cwd=self.root,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"ollamalib {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
        return proc

    def with_host(self, host: str) -> CLI:
        return CLI(self.root, {**self.env, "OLLAMA_HOST": host})

    def create(self, name: str, gguf: Path, extra: str = "") -> subprocess.CompletedProcess[str]:
        modelfile = self.root / f"Modelfile.{name.replace(':', '_').replace('/', '_')}"
        modelfile.write_text(f"FROM {gguf}\n{extra}")
        return self("create", name, "-f", str(modelfile), check=True)


def make_cli(root: Path) -> CLI:
    root.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OLLAMA")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        OLLAMALIB_DATA_DIR=str(root / "data"),
        OLLAMALIB_HOME=str(root / "dot-ollama"),
        OLLAMA_MODELS=str(root / "models"),
        OLLAMA_NUM_PARALLEL="1",
        OLLAMA_CONTEXT_LENGTH="512",
        COLUMNS="100",
        PYTHONUNBUFFERED="1",
    )
    return CLI(root, env)


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        stop_process(self.process)


def start_server(cli: CLI, via_cli: bool = False) -> LiveServer:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = cli.root / f"server-{port}.log"
    env = {**cli.env, "OLLAMA_HOST": f"127.0.0.1:{port}"}
    module = "ollamalib_cli" if via_cli else "ollamalib_server"
    args = [PYTHON, "-m", module] + (["serve"] if via_cli else [])
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cli.root)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return LiveServer(url, proc, log)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start:\n{log.read_text()}")


