"""KubeAI's Ollama engine contract, run for real: ollamalib installed as ``ollama`` in a pod-like environment.

KubeAI (internal/modelcontroller/engine_ollama.go) starts ``ollama serve`` with OLLAMA_HOST=0.0.0.0:8000 and
OLLAMA_KEEP_ALIVE=999999h, probes startup with
``bash -c "/bin/ollama pull <ref> && /bin/ollama cp <ref> <name> && /bin/ollama run <name> hi"`` and
readiness/liveness with ``GET /``. Here the server listens on loopback (tests bind 127.0.0.1 only) while the
probe commands use OLLAMA_HOST=0.0.0.0:<port>, as the pod's do; the registry is a private https one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fleetutil import ANSWER, install_as_ollama, manifest_gets, wait_status

from netutil import free_port

NAME = "tiny-cpu"  # the Model's metadata.name


@pytest.fixture
def pod(tmp_path: Path, fleet_registry, tiny_ref):
    """``ollama serve`` as KubeAI's container runs it; yields (env for probe commands, base URL, process)."""
    bin_dir = tmp_path / "bin"
    install_as_ollama(bin_dir)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OLLAMA", "OLLAMALIB"))}
    env.update(PATH=f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}", OLLAMA_KEEP_ALIVE="999999h",
               OLLAMA_MODELS=str(tmp_path / "models"), OLLAMALIB_DATA_DIR=str(tmp_path / "data"),
               OLLAMALIB_HOME=str(tmp_path / "home"), SSL_CERT_FILE=str(fleet_registry.ca),
               OLLAMALIB_DRAIN_TIMEOUT="10s")
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(httpx.ConnectError):  # not ready before the server runs
        httpx.get(url + "/", timeout=1)
    log = open(tmp_path / "serve.log", "wb")
    server = subprocess.Popen(["ollama", "serve"], env={**env, "OLLAMA_HOST": f"127.0.0.1:{port}"},
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_status(url + "/")
        yield {**env, "OLLAMA_HOST": f"0.0.0.0:{port}"}, url, server
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()
        log.close()


def probe(env: dict[str, str], script: str) -> subprocess.CompletedProcess[str]:
    """Run a probe command the way the kubelet does: ``bash -c``, no TTY, no stdin."""
    return subprocess.run(["bash", "-c", script], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=120)


def test_kubeai_startup_probe_sequence_and_readiness(pod, fleet_registry, tiny_ref):
    env, url, server = pod
    ollama = "ollama"  # /bin/ollama in the image (the Dockerfile links it); first on PATH here
    before = manifest_gets(fleet_registry)
    assert httpx.get(url + "/").text == "Ollama is running"
    assert httpx.get(url + f"/api/ready?model={NAME}").status_code == 503  # not loaded yet

    steps = [f"{ollama} pull {tiny_ref}", f"{ollama} cp {tiny_ref} {NAME}", f"{ollama} run {NAME} hi"]
    results = [probe(env, step) for step in steps]
    for step, result in zip(steps, results):
        assert result.returncode == 0, f"{step}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    pull, cp, run = results
    assert pull.stderr.splitlines()[-1] == "success" and pull.stdout == ""
    assert cp.stdout == f"copied '{tiny_ref}' to '{NAME}'\n"
    assert run.stdout.strip() == ANSWER
    assert manifest_gets(fleet_registry) == before + 1

    # The whole probe as KubeAI writes it, again (a startup probe re-runs until it succeeds): still exit 0.
    again = probe(env, " && ".join(steps))
    assert again.returncode == 0, again.stderr

    ready = httpx.get(url + f"/api/ready?model={NAME}")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    ps = httpx.get(url + "/api/ps").json()["models"]
    assert [m["name"] for m in ps] == [f"{NAME}:latest"]
    expires = datetime.fromisoformat(ps[0]["expires_at"])
    assert expires > datetime.now(UTC) + timedelta(days=365 * 100)  # OLLAMA_KEEP_ALIVE=999999h: ~114 years

    # Pod deletion: SIGTERM makes readiness (GET /) fail at once, then the idle server exits cleanly.
    server.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    statuses = set()
    while server.poll() is None and time.monotonic() < deadline:
        try:
            statuses.add(httpx.get(url + "/", timeout=1).status_code)
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    assert server.wait(30) == 0
    assert 200 not in statuses


def test_probe_failures_exit_nonzero_like_ollama(pod, fleet_registry):
    env, url, _ = pod
    missing = probe(env, f"ollama pull {fleet_registry.host}/library/absent:latest")
    assert missing.returncode == 1
    assert missing.stderr.strip().endswith("Error: pull model manifest: file does not exist")
    cp = probe(env, f"ollama cp {fleet_registry.host}/library/absent:latest {NAME}")
    assert cp.returncode == 1 and cp.stderr.startswith("Error: ")
    down = probe({**env, "OLLAMA_HOST": f"0.0.0.0:{free_port()}"}, f"ollama run {NAME} hi")
    assert down.returncode == 1 and "could not connect to ollama" in down.stderr.lower()
