"""Helpers for the server tests: a store of tiny real models and a real uvicorn server on a loopback port."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from gguf_factory import CHATML_TEMPLATE, TOOLS_JINJA_TEMPLATE, write_tiny_gguf
from netutil import free_port
from ollamalib.config import Settings
from ollamalib.create import create_model
from ollamalib.store import ModelStore
from ollamalib_server import create_app

# A ChatML Go template that advertises tools and calls them as Qwen 2.5 does, inside <tool_call> tags.
TOOLS_TEMPLATE = (
    "{{- if .Tools }}<|im_start|>system\n# Tools\n{{ range .Tools }}{{ . }}\n{{ end }}<|im_end|>\n{{ end }}"
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ if .Content }}{{ .Content }}{{ end }}"
    "{{- if .ToolCalls }}<tool_call>\n{{ range .ToolCalls }}"
    '{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}\n{{ end }}</tool_call>{{ end }}'
    "<|im_end|>\n{{ end }}<|im_start|>assistant\n"
)
TOOL_SCRIPT = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
JSON_SCRIPT = '{"city": "Paris", "sunny": true}'
HELLO_SCRIPT = "Hello there, friend!"
# Tool parameter schemas whose every value is bounded (enums, small ranges, short strings), so that a babbling
# model forced by tool_choice always finishes its call well inside num_predict.
WEATHER_PARAMS = {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Rome", "Oslo"]},
                                                   "days": {"type": "integer", "minimum": 1, "maximum": 7}},
                  "required": ["city", "days"]}
# A pattern, not just maxLength: a babbler's byte tokens may spell invalid UTF-8, which decodes to more characters
TIME_PARAMS = {"type": "object", "properties": {"zone": {"type": "string", "pattern": "^[A-Za-z ]{1,6}$"}},
               "required": ["zone"]}


@dataclass
class LiveServer:
    """A uvicorn server running ``app`` in a background thread."""

    url: str
    server: Any
    thread: threading.Thread
    engine: Any
    settings: Settings

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        close = getattr(self.engine, "close", None)
        if close is not None:
            asyncio.run(close())


def start_server(engine: Any, settings: Settings, app: Any = None) -> LiveServer:
    port = free_port()
    app = app if app is not None else create_app(engine, settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return LiveServer(f"http://127.0.0.1:{port}", server, thread, engine, settings)


def build_store(root: Path, ggufs: Path) -> ModelStore:
    """A store with the models the server tests use (all tiny, real GGUF files)."""
    store = ModelStore(root)
    ggufs.mkdir(parents=True, exist_ok=True)
    models = {
        "tiny": write_tiny_gguf(ggufs / "tiny.gguf", chat_template=CHATML_TEMPLATE),
        "tiny-embed": write_tiny_gguf(ggufs / "embed.gguf", embedding=True, name="tiny-embed"),
        "hello": write_tiny_gguf(ggufs / "hello.gguf", chat_template=CHATML_TEMPLATE, script=HELLO_SCRIPT),
        "jsonbot": write_tiny_gguf(ggufs / "json.gguf", chat_template=CHATML_TEMPLATE, script=JSON_SCRIPT),
        "tiny-rerank": write_tiny_gguf(ggufs / "rerank.gguf", arch="qwen3", classifier_labels=["yes", "no"],
                                       name="tiny-reranker", seed=3),
    }
    for name, path in models.items():
        for _ in create_model(store, name, from_=str(path)):
            pass
    tool = write_tiny_gguf(ggufs / "tool.gguf", n_embd=128, script=TOOL_SCRIPT)
    for _ in create_model(store, "toolbot", from_=str(tool), template=TOOLS_TEMPLATE):
        pass
    # random weights and a tool-capable Jinja template: it babbles, so only tool_choice makes it call a tool
    babbler = write_tiny_gguf(ggufs / "babbler.gguf", chat_template=TOOLS_JINJA_TEMPLATE, seed=3)
    for _ in create_model(store, "babbler", from_=str(babbler)):
        pass
    return store


def make_settings(tmp: Path, models: Path, **overrides: Any) -> Settings:
    return Settings.from_env({}, models=models, data_dir=tmp / "data", home_dir=tmp / "dot-ollama", **overrides)




REPO = Path(__file__).resolve().parents[2]


@dataclass
class ServerProcess:
    """``python -m ollamalib_server`` running in a child process (a crash there cannot take the tests down)."""

    url: str
    process: subprocess.Popen
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                return self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def start_server_process(tmp: Path, models: Path, *, prefix: list[str] | None = None, **env_extra: str) -> ServerProcess:
    """Start the server module on a free port with the given store and OLLAMA_* variables; wait until it answers.

    ``prefix`` goes before the command (``["taskset", "-c", "1"]``)."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OLLAMA_HOST": f"127.0.0.1:{port}",
        "OLLAMA_MODELS": str(models),
        "OLLAMALIB_DATA_DIR": str(tmp / "data"),
        "OLLAMALIB_HOME": str(tmp / "dot-ollama"),
        **env_extra,
    }
    log = tmp / f"server-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([*(prefix or []), sys.executable, "-m", "ollamalib_server"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=tmp)
    srv = ServerProcess(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {srv.output}")
        try:
            if httpx.get(srv.url + "/", timeout=1).status_code == 200:
                return srv
        except httpx.HTTPError:
            time.sleep(0.1)
    srv.stop()
    raise RuntimeError(f"server did not start: {srv.output}")
