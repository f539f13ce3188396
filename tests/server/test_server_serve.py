"""``python -m ollamalib_server`` as a real process: settings banner, key creation, logs, pruning, shutdown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import ollama

from srvutil import start_server_process


def start(tmp_path: Path, models: Path, **env: str) -> tuple[subprocess.Popen, str, Path]:
    srv = start_server_process(tmp_path, models, **env)
    return srv.process, srv.url, srv.log


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def test_module_serves_logs_and_creates_key(tmp_path, server_models):
    stray = server_models / "blobs" / ("sha256-" + "0" * 64)
    stray.write_bytes(b"unreferenced")
    old = time.time() - 7200
    os.utime(stray, (old, old))
    proc, url, out = start(tmp_path, server_models, OLLAMA_DEBUG="1")
    try:
        models = ollama.Client(url).list().models
        assert "tiny:latest" in [m.model for m in models]
        assert httpx.get(url + "/nowhere").status_code == 404
        assert httpx.get(url + "/schema/openapi.json").json()["info"]["title"] == "ollamalib"
    finally:
        code = stop(proc)
    text = out.read_text()
    key = tmp_path / "dot-ollama" / "id_ed25519"
    assert f"Couldn't find '{key}'. Generating new private key." in text
    assert "Your new public key is: \n\nssh-ed25519 " in text
    assert key.is_file() and key.with_suffix(".pub").is_file()
    assert 'msg="server config" env="map[' in text and "OLLAMA_HOST:http://127.0.0.1:" in text
    assert "OLLAMA_DEBUG:1" in text
    assert "request method=GET path=/api/tags status=200 duration=" in text
    assert "path=/nowhere status=404" in text
    server_log = (tmp_path / "data" / "server.log").read_text()
    assert "request method=GET path=/api/tags status=200" in server_log
    assert not stray.exists(), "unreferenced blobs older than an hour are pruned at start"
    assert code == 0

    proc, url, out = start(tmp_path, server_models, OLLAMA_NOPRUNE="1")
    stop(proc)
    assert "Generating new private key" not in out.read_text()


def test_noprune_keeps_blobs(tmp_path, server_models):
    stray = server_models / "blobs" / ("sha256-" + "1" * 64)
    stray.write_bytes(b"unreferenced")
    old = time.time() - 7200
    os.utime(stray, (old, old))
    try:
        proc, _, _ = start(tmp_path, server_models, OLLAMA_NOPRUNE="true")
        stop(proc)
        assert stray.exists()
    finally:
        stray.unlink(missing_ok=True)


def test_freeze_heap_takes_startup_objects_out_of_full_collections():
    # In a fresh process (freezing is process-wide): after serve()'s freeze_heap the app's objects and llama.cpp's
    # bindings are frozen, so a full collection walks only what was allocated since.
    script = (
        "import gc, sys\n"
        "from ollamalib.config import Settings\n"
        "from ollamalib.engine import AsyncEngine\n"
        "from ollamalib_server import create_app\n"
        "from ollamalib_server._serve import freeze_heap\n"
        "settings = Settings.from_env()\n"
        "app = create_app(AsyncEngine(settings), settings)\n"
        "frozen = freeze_heap()\n"
        "gc.collect()\n"
        "print(frozen, gc.get_freeze_count(), len(gc.get_objects()), 'llama_cpp' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    frozen, count, walked, bindings = out.stdout.split()
    assert int(frozen) == int(count) > 50_000
    assert int(walked) < int(frozen) // 10
    assert bindings == "True"
