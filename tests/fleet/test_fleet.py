"""Three replicas behind HAProxy lose no request while one is SIGKILLed and another drained with SIGTERM.

Real parts only: docker-registry (https) holding a tiny real GGUF model, three ``python -m ollamalib_server``
replicas with empty stores that pull it once each (as KubeAI's startup probe does), Debian's HAProxy with
health checks on ``/api/ready?model=`` and L7 retries, and the official ``ollama`` and ``openai`` clients
sending 200 mixed requests (chat, generate, embed, OpenAI chat) with at most 8 in flight.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import ollama
import openai
import pytest
from fleetutil import ANSWER, Fleet, haproxy_log_retries, manifest_gets, start_haproxy, start_replica, wait_up

TOTAL, IN_FLIGHT = 200, 8
KILL_AT, DRAIN_AT = 60, 110  # requests finished before the SIGKILL and before the SIGTERM
KINDS = ("chat", "generate", "embed", "openai")
OLLAMALIB = str(Path(sys.executable).parent / "ollamalib")


@pytest.fixture
def fleet(tmp_path: Path, fleet_registry, tiny_ref):
    replicas = []
    fleet = Fleet(fleet_registry, replicas)
    try:
        for i in range(3):
            replicas.append(start_replica(tmp_path, fleet_registry, index=i, drain_timeout="30s",
                                          OLLAMA_NUM_PARALLEL="4"))
        fleet.router = start_haproxy(tmp_path, [r.url.removeprefix("http://") for r in replicas],
                                     check_path=f"/api/ready?model={tiny_ref}")
        yield fleet
    finally:
        fleet.stop()


def one_request(kind: str, url: str, model: str, served: list[str]) -> str:
    """One request through the router with an official client; returns the replica that answered it
    (also appended to ``served`` as soon as the response headers arrive)."""
    if kind == "openai":
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=60)
        raw = client.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": "hi"}], stream=True)
        served.append(raw.headers.get("x-served-by", "?"))
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
        assert text == ANSWER, text
        return raw.headers["x-served-by"]
    client = ollama.Client(host=url, timeout=60, event_hooks={
        "response": [lambda r: served.append(r.headers.get("x-served-by", "?"))]})
    if kind == "chat":
        text = "".join(p.message.content for p in client.chat(model, [{"role": "user", "content": "hi"}],
                                                               stream=True))
        assert text == ANSWER, text
    elif kind == "generate":
        parts = list(client.generate(model, "hi", stream=True))
        assert "".join(p.response for p in parts) == ANSWER and parts[-1].done
    else:
        assert len(client.embed(model, ["hello", "world"]).embeddings) == 2
    return served[-1]


def test_no_request_lost_when_replicas_die_and_drain(fleet, fleet_registry, tiny_ref):
    router = fleet.router
    assert router is not None
    gets_before = manifest_gets(fleet_registry)
    cold = []
    for replica in fleet.replicas:  # what KubeAI's startup probe does on each pod: pull, then load
        start = time.monotonic()
        subprocess.run([OLLAMALIB, "pull", tiny_ref], env={**os.environ, "OLLAMA_HOST": replica.url},
                       check=True, capture_output=True, timeout=120)
        httpx.post(replica.url + "/api/generate", json={"model": tiny_ref}, timeout=60).raise_for_status()
        cold.append(time.monotonic() - start)
    print(f"\ncold start (pull + load) per replica: {', '.join(f'{c:.2f}s' for c in cold)}")
    wait_up(router, 3)

    done = Counter()
    served = Counter()
    cut: list[tuple[str, str]] = []  # (replica, error) of responses that broke after they had started
    lock = threading.Lock()
    finished = threading.Event()
    killed, drained = fleet.replicas[0], fleet.replicas[1]

    def work(i: int) -> None:
        kind = KINDS[i % len(KINDS)]
        for _attempt in range(3):
            seen: list[str] = []
            try:
                who = one_request(kind, router.url, tiny_ref, seen)
            except Exception as exc:  # noqa: BLE001 - counted and retried below, as a client would
                with lock:
                    cut.append((seen[-1] if seen else "-", f"{kind}: {type(exc).__name__}: {exc}"))
                continue
            with lock:
                done[kind] += 1
                served[who] += 1
                if sum(done.values()) in (KILL_AT, DRAIN_AT):
                    finished.set()
            return
        raise AssertionError(f"request {i} ({kind}) failed three times")

    def chaos() -> None:
        finished.wait(120)
        finished.clear()
        killed.process.send_signal(signal.SIGKILL)
        finished.wait(120)
        drained.process.send_signal(signal.SIGTERM)

    saboteur = threading.Thread(target=chaos, daemon=True)
    saboteur.start()
    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        results = list(pool.map(work, range(TOTAL)))
    saboteur.join(10)

    assert len(results) == TOTAL and sum(done.values()) == TOTAL, (done, cut)
    assert killed.process.wait(5) == -signal.SIGKILL
    assert drained.process.wait(60) == 0, drained.output[-2000:]  # drained in time, exited cleanly
    retries = haproxy_log_retries(router)
    print(f"served per replica: {dict(served)}; router retries/redispatches: {retries}; "
          f"streams cut by the SIGKILL and re-sent by the client: {len(cut)}")
    # Only streams that had started on the SIGKILLed replica can break; the drained one broke none.
    assert len(cut) <= IN_FLIGHT and all(who == "r0" for who, _ in cut), cut
    assert set(served) <= {"r0", "r1", "r2"} and served["r2"] > 0
    # Each replica pulled the model from the registry exactly once.
    assert manifest_gets(fleet_registry) - gets_before == 3
