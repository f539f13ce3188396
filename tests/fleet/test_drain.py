"""Graceful drain of one real server process: SIGTERM, the grace period, a second SIGTERM, pulls in progress."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from fleetutil import start_replica
from regtest_models import synthetic_model
from regtest_servers import LoggingProxy, fetched_bytes, start_docker_registry

from ollamalib.store import ModelStore
from ollamalib_server._drain import DRAINING_TEXT

LONG = {"temperature": 0, "num_predict": 100000}  # greedy babble: streams for minutes unless ended


@pytest.fixture
def replica(tmp_path: Path, fleet_registry, babble_ref):
    started = []

    def start(drain_timeout: str, index: int = 0):
        srv = start_replica(tmp_path, fleet_registry, index=index, drain_timeout=drain_timeout)
        started.append(srv)
        httpx.post(srv.url + "/api/pull", json={"model": babble_ref, "stream": False}, timeout=60).raise_for_status()
        return srv

    yield start
    for srv in started:
        if srv.alive():
            srv.process.kill()
            srv.process.wait()


class Stream:
    """A streaming request read in a background thread: its lines, and whether its first line has arrived."""

    def __init__(self, url: str, path: str, body: dict) -> None:
        self.lines: list[str] = []
        self.status = 0
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._read, args=(url + path, body), daemon=True)
        self.thread.start()
        assert self.started.wait(60), "the stream did not start"

    def _read(self, url: str, body: dict) -> None:
        with httpx.stream("POST", url, json=body, timeout=120) as resp:
            self.status = resp.status_code
            for line in resp.iter_lines():
                if line:
                    self.lines.append(line)
                    self.started.set()

    def join(self) -> list[str]:
        self.thread.join(60)
        assert not self.thread.is_alive()
        return self.lines


def test_sigterm_refuses_new_work_and_lets_streams_finish(replica, babble_ref):
    srv = replica("120s")
    long = Stream(srv.url, "/api/generate", {"model": babble_ref, "prompt": "hi", "options": LONG})
    short = Stream(srv.url, "/api/generate", {"model": babble_ref, "prompt": "hi",
                                              "options": {"temperature": 0, "num_predict": 1500}})
    srv.process.send_signal(signal.SIGTERM)
    at_signal = len(long.lines)
    time.sleep(0.3)
    refused = httpx.post(srv.url + "/api/chat", json={"model": babble_ref, "messages": []}, timeout=10)
    assert refused.status_code == 503 and refused.json() == {"error": DRAINING_TEXT}
    assert refused.headers["retry-after"] == "1" and refused.headers["connection"] == "close"
    openai = httpx.post(srv.url + "/v1/chat/completions", json={}, timeout=10)
    assert openai.status_code == 503 and openai.json()["error"]["message"] == DRAINING_TEXT
    assert httpx.get(srv.url + "/", timeout=10).status_code == 503  # readiness false
    assert httpx.get(srv.url + "/api/ready", timeout=10).status_code == 503
    metrics = httpx.get(srv.url + "/metrics", timeout=10).text  # scrapers still see it
    assert "ollamalib_draining 1" in metrics
    in_flight = re.search(r"^ollamalib_http_requests_in_flight (\d+)$", metrics, re.M)
    assert in_flight and int(in_flight.group(1)) >= 2  # the long stream (maybe the short one) and this scrape

    final = json.loads(short.join()[-1])
    assert final["done"] is True and final["eval_count"] == 1500  # finished in full, no error line
    assert len(long.lines) > at_signal and srv.alive()  # the long one still streams during the drain
    srv.process.send_signal(signal.SIGTERM)  # a second SIGTERM ends it
    assert srv.process.wait(60) == 0, srv.output[-3000:]
    assert json.loads(long.join()[-1]) == {"error": DRAINING_TEXT}


def test_grace_deadline_ends_streams_with_the_error_line(replica, babble_ref):
    srv = replica("1s")
    native = Stream(srv.url, "/api/generate", {"model": babble_ref, "prompt": "hi", "options": LONG})
    sse = Stream(srv.url, "/v1/chat/completions", {"model": babble_ref, "stream": True, "max_tokens": 100000,
                                                   "temperature": 0, "messages": [{"role": "user", "content": "hi"}]})
    srv.process.send_signal(signal.SIGTERM)
    assert srv.process.wait(60) == 0, srv.output[-3000:]
    lines = native.join()
    assert native.status == 200 and json.loads(lines[-1]) == {"error": DRAINING_TEXT}, (lines[-3:], srv.output[-3000:])
    last = sse.join()[-1]
    assert last.startswith("data: ") and json.loads(last.removeprefix("data: "))["error"]["message"] == DRAINING_TEXT, (
        last, srv.output[-3000:])


def test_second_sigterm_ends_streams_at_once(replica, babble_ref):
    srv = replica("120s")
    stream = Stream(srv.url, "/api/chat", {"model": babble_ref, "options": LONG,
                                           "messages": [{"role": "user", "content": "hi"}]})
    srv.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert srv.alive()  # draining, the stream still runs
    srv.process.send_signal(signal.SIGTERM)
    assert srv.process.wait(30) == 0
    assert json.loads(stream.join()[-1]) == {"error": DRAINING_TEXT}


def test_pull_cut_by_the_deadline_leaves_resumable_parts(tmp_path: Path, fleet_registry):
    """A pull still running at the deadline stops with the error line; only part files stay, and they resume."""
    plain = start_docker_registry(tmp_path / "plain-registry")
    proxy = LoggingProxy(plain.host, rate=4 * 1024 * 1024)  # 16 MiB at 4 MiB/s: about 4 s
    try:
        publisher = ModelStore(tmp_path / "publisher")
        name = f"{proxy.host}/library/big:latest"
        synthetic_model(publisher, name, 16 * 1024 * 1024)
        from ollamalib.registry import Registry

        with Registry(publisher, insecure=True) as registry:
            list(registry.push(name))
        size = 16 * 1024 * 1024
        srv = start_replica(tmp_path, fleet_registry, index=0, drain_timeout="1s")
        pull = Stream(srv.url, "/api/pull", {"model": name, "insecure": True})
        while not any('"completed"' in line for line in pull.lines):
            time.sleep(0.05)
        srv.process.send_signal(signal.SIGTERM)
        assert srv.process.wait(30) == 0
        assert json.loads(pull.join()[-1]) == {"error": DRAINING_TEXT}
        blobs = tmp_path / "replica-0" / "models" / "blobs"
        names = sorted(p.name for p in blobs.iterdir())
        big = [n for n in names if "-partial" not in n and (blobs / n).stat().st_size >= size]
        assert big == [], names  # no half-written blob under its final name
        assert any(n.endswith("-partial") for n in names), names

        first = fetched_bytes([r for d in {e.path.rsplit('/', 1)[-1] for e in proxy.log if '/blobs/' in e.path}
                               for r in proxy.ranges(d)])
        proxy.log.clear()
        proxy.rate = None
        again = start_replica(tmp_path, fleet_registry, index=0)  # the same store
        try:
            done = httpx.post(again.url + "/api/pull", json={"model": name, "insecure": True, "stream": False},
                              timeout=120)
            assert done.status_code == 200 and done.json() == {"status": "success"}
            resumed = fetched_bytes([r for d in {e.path.rsplit('/', 1)[-1] for e in proxy.log if '/blobs/' in e.path}
                                     for r in proxy.ranges(d)])
            assert 0 < first and resumed < size  # the second pull fetched only what was missing
        finally:
            again.process.kill()
            again.process.wait()
    finally:
        proxy.close()
        plain.stop()
