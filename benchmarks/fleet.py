"""Replicas behind a real router (Debian's HAProxy): aggregate tokens/s for 1, 2 and 3 replicas, and turn-10 chat
time to first token with round-robin against prefix-affine routing, on the bundled Gemma 3 270M.

- **Scaling**: N replicas (``python -m ollamalib_server``, each pinned with ``taskset`` to core ``i mod cores``)
  over one shared store, HAProxy ``balance roundrobin`` in front; ``--clients`` threads each send ``--requests``
  greedy ``POST /v1/completions`` of ``--tokens`` tokens through the router; aggregate tokens/s = generated
  tokens / wall time (the model loaded on every replica first). With fewer cores than replicas, replicas share cores: the figure then says what a
  router adds on this machine, not what more machines would give (the core count is printed).
- **Routing**: 3 replicas; ``--sessions`` chats of 10 turns (a ~``--system-tokens`` system prompt, the whole
  history sent back each turn) run side by side through HAProxy, once with ``balance roundrobin`` and once
  with ``balance hdr(X-Session)`` + ``hash-type consistent`` (the client sends its session id in that header,
  as KubeAI's PrefixHash keeps a prefix on one replica). Turn 10's time to first token is reported (median
  over sessions); with affinity the replica holding the session's prefix in its KV cache answers it. There are
  more chats than one replica has slots (``--parallel``), so spraying a chat over all replicas evicts prefixes.

    .venv/bin/python benchmarks/fleet.py [--quick]

Prints figures only; nothing asserts. Needs haproxy (``make system-deps``) and the [demo] extra.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from _common import ROOT, start_ollamalib_server, temporary_store
from throughput import CHAT_MODEL, MODEL, chat, create_chat_model

sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "fleet"))
from fleetutil import start_haproxy, wait_up  # noqa: E402


def start_replicas(root: Path, n: int, cores: list[int], parallel: int = 4) -> list:
    replicas = []
    for i in range(n):
        server = start_ollamalib_server(root, OLLAMA_NUM_PARALLEL=parallel)
        pin = cores[i % len(cores)]
        if os.system(f"taskset -pc {pin} {server.proc.pid} >/dev/null 2>&1") != 0:
            print(f"  (could not pin replica {i} to core {pin})")
        replicas.append(server)
    return replicas


def warm(replicas: list, model: str) -> None:
    for r in replicas:
        httpx.post(r.base_url + "/api/generate", json={"model": model, "keep_alive": -1}, timeout=120).raise_for_status()


def scaling_round(url: str, clients: int, requests: int, tokens: int) -> float:
    generated = [0] * clients
    errors: list[str] = []

    def client(k: int) -> None:
        with httpx.Client(base_url=url, timeout=300) as http:
            for _ in range(requests):
                r = http.post("/v1/completions", json={"model": MODEL, "prompt": f"Client {k} writes a story:",
                                                        "max_tokens": tokens, "temperature": 0})
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    return
                generated[k] += r.json()["usage"]["completion_tokens"]

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(errors[0])
    return sum(generated) / (time.perf_counter() - start)


def routing_round(url: str, sessions: int, args: argparse.Namespace) -> list[float]:
    """Turn-10 (last turn) time to first token of each of ``sessions`` chats run side by side."""
    results: list[float] = []

    def session() -> None:
        with httpx.Client(base_url=url, timeout=300, headers={"X-Session": uuid.uuid4().hex}) as http:
            turns = chat(http, args.turns, args.system_tokens, args.reply_tokens, args.num_ctx)
            results.append(turns[-1].ttft)

    threads = [threading.Thread(target=session) for _ in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer requests and turns: a smoke run")
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--requests", type=int, default=3, help="requests per client")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--sessions", type=int, default=6, help="chats side by side in the routing part")
    ap.add_argument("--parallel", type=int, default=2,
                    help="OLLAMA_NUM_PARALLEL of the routing part's replicas (slots, each keeping one prefix)")
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--system-tokens", type=int, default=1000)
    ap.add_argument("--reply-tokens", type=int, default=16)
    ap.add_argument("--num-ctx", type=int, default=2048)
    args = ap.parse_args()
    if args.quick:
        args.clients, args.requests, args.tokens, args.turns, args.sessions = 3, 1, 16, 4, 4
    cores = sorted(os.sched_getaffinity(0))
    print(f"cores available: {len(cores)} ({','.join(map(str, cores))}); os.cpu_count()={os.cpu_count()}")

    with temporary_store("ollamalib-fleet-") as root, tempfile.TemporaryDirectory() as scratch:
        create_chat_model(root / "models")
        tmp = Path(scratch)
        print(f"\naggregate tokens/s through HAProxy (roundrobin), {args.clients} clients x {args.requests} "
              f"requests x {args.tokens} tokens, /v1/completions, greedy")
        base = None
        for n in (1, 2, 3):
            replicas = start_replicas(root, n, cores)
            router = start_haproxy(tmp, [r.base_url.removeprefix("http://") for r in replicas],
                                   check_path=f"/api/ready?model={MODEL}")
            try:
                warm(replicas, MODEL)
                wait_up(router, n)
                rate = scaling_round(router.url, args.clients, args.requests, args.tokens)
                base = base or rate
                print(f"  {n} replica(s): {rate:7.1f} tokens/s  ({rate / base:.2f}x one replica)")
            finally:
                router.stop()
                for r in replicas:
                    r.stop()

        print(f"\nturn-{args.turns} time to first token, 3 replicas x {args.parallel} slots, {args.sessions} chats side "
              f"by side, ~{args.system_tokens}-token system prompt, {args.reply_tokens}-token replies (/api/chat)")
        replicas = start_replicas(root, 3, cores, args.parallel)
        try:
            warm(replicas, CHAT_MODEL)
            figures = {}
            for label, kw in (("round-robin", {}), ("prefix-affine (hdr X-Session)", {"hash_header": "X-Session"})):
                router = start_haproxy(tmp, [r.base_url.removeprefix("http://") for r in replicas],
                                       check_path=f"/api/ready?model={CHAT_MODEL}", **kw)
                try:
                    wait_up(router, 3)
                    ttfts = routing_round(router.url, args.sessions, args)
                finally:
                    router.stop()
                figures[label] = statistics.median(ttfts)
                print(f"  {label:<30} median {figures[label] * 1000:7.0f} ms  "
                      f"(each: {', '.join(f'{t * 1000:.0f}' for t in ttfts)} ms)")
            rr, affine = figures.values()
            print(f"  round-robin / prefix-affine: {rr / affine:.2f}x")
        finally:
            for r in replicas:
                r.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
