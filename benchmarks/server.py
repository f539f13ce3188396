"""The HTTP server against the in-process Engine on Gemma 3 270M: streamed tokens/s, time to first token, and
requests/s of the cheap routes.

The server runs as a separate process (``python -m ollamalib_server``, as users run it) over the same store and
settings as the in-process ``Engine``; both generate the same tokens (greedy sampling, same prompts). Runs
alternate between the two sides so that background load affects both alike; medians are reported.

    .venv/bin/python benchmarks/server.py [--runs 5] [--tokens 128] [--ttft-runs 20] [--seconds 3]

Targets: HTTP tokens/s at least 0.97 of in-process; HTTP time to first token within 5 ms of in-process.
Prints a table and the ratios. No timed asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

MODEL = "gemma3:270m"
WORDS = "the quick brown fox jumps over the lazy dog while a curious cat watches from the old wooden fence".split()


def prompt(i: int) -> str:
    """A distinct prompt per run, so no run gets another's cached prefix on either side."""
    return f"Story {i}: " + " ".join(WORDS[(i * 5 + k) % len(WORDS)] for k in range(24)) + ". Once upon a time"


def options(tokens: int) -> dict:
    return {"temperature": 0, "num_predict": tokens, "seed": 1}


def stream_stats(started: float, times: list[float], final: dict) -> tuple[float, float, int]:
    """(time to the first token in seconds, decode tokens/s between the first and last chunk, tokens)."""
    tokens = final.get("eval_count") or 0
    span = times[-1] - times[0]
    return times[0] - started, (tokens - 1) / span if span > 0 and tokens > 1 else float("nan"), tokens


def run_in_process(engine, i: int, tokens: int) -> tuple[float, float, int]:
    started = time.perf_counter()
    times: list[float] = []
    final = None
    for chunk in engine.generate(MODEL, prompt(i), stream=True, options=options(tokens)):
        if chunk.response or chunk.done:
            times.append(time.perf_counter())
        final = chunk
    return stream_stats(started, times, final.model_dump())


def run_http(http: httpx.Client, i: int, tokens: int) -> tuple[float, float, int]:
    started = time.perf_counter()
    times: list[float] = []
    final: dict = {}
    body = {"model": MODEL, "prompt": prompt(i), "options": options(tokens)}
    with http.stream("POST", "/api/generate", json=body) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line:
                continue
            chunk = json.loads(line)
            if chunk.get("response") or chunk.get("done"):
                times.append(time.perf_counter())
            final = chunk
    return stream_stats(started, times, final)


def requests_per_second(http: httpx.Client, method: str, path: str, body: dict | None, seconds: float,
                        clients: int = 1) -> float:
    """Sequential keep-alive requests from ``clients`` threads for ``seconds``; returns total requests/s."""
    counts = [0] * clients
    stop = time.perf_counter() + seconds

    def worker(k: int) -> None:
        with httpx.Client(base_url=http.base_url, timeout=30) as c:
            while time.perf_counter() < stop:
                c.request(method, path, json=body).raise_for_status()
                counts[k] += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="decode runs per side")
    parser.add_argument("--tokens", type=int, default=128, help="tokens per decode run")
    parser.add_argument("--ttft-runs", type=int, default=20, help="short runs per side for time to first token")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each requests/s measurement")
    args = parser.parse_args()

    from ollamalib.config import Settings
    from ollamalib.create import create_model
    from ollamalib.demo import demo_gguf_path
    from ollamalib.engine import Engine
    from ollamalib.store import ModelStore

    tmp = Path(tempfile.mkdtemp(prefix="ollamalib-bench-server-"))
    port = free_port()
    env = {
        "OLLAMA_HOST": f"127.0.0.1:{port}",
        "OLLAMA_MODELS": str(tmp / "models"),
        "OLLAMALIB_DATA_DIR": str(tmp / "data"),
        "OLLAMALIB_HOME": str(tmp / "home"),
        "OLLAMA_NOPRUNE": "1",
        "OLLAMA_KEEP_ALIVE": "-1",
    }
    for _ in create_model(ModelStore(tmp / "models"), MODEL, from_=str(demo_gguf_path())):
        pass
    settings = Settings.from_env(env)
    log = open(tmp / "server.out", "wb")
    server = subprocess.Popen([sys.executable, "-m", "ollamalib_server"], env={**os.environ, **env},
                              stdout=log, stderr=subprocess.STDOUT)
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if http.get("/").status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit((tmp / "server.out").read_text())
                time.sleep(0.1)
        with Engine(settings) as engine:
            run_in_process(engine, -1, 8)  # load and warm up both sides
            run_http(http, -1, 8)
            local, remote = [], []
            for i in range(args.runs):
                local.append(run_in_process(engine, i, args.tokens))
                remote.append(run_http(http, i, args.tokens))
            first_local, first_remote = [], []
            for i in range(1000, 1000 + args.ttft_runs):
                first_local.append(run_in_process(engine, i, 2)[0])
                first_remote.append(run_http(http, i, 2)[0])
        local_tps = statistics.median(r[1] for r in local)
        remote_tps = statistics.median(r[1] for r in remote)
        local_ttft = statistics.median(first_local)
        remote_ttft = statistics.median(first_remote)
        ttft_diffs = [h - e for e, h in zip(first_local, first_remote)]
        tags = requests_per_second(http, "GET", "/api/tags", None, args.seconds)
        show = requests_per_second(http, "POST", "/api/show", {"model": MODEL}, args.seconds)
        tags4 = requests_per_second(http, "GET", "/api/tags", None, args.seconds, clients=4)
        version = requests_per_second(http, "GET", "/api/version", None, args.seconds)
    finally:
        http.close()
        server.terminate()
        server.wait(30)

    print(f"Gemma 3 270M (Q4_K_M), greedy; decode: {args.runs} runs x {args.tokens} tokens; "
          f"time to first token: {args.ttft_runs} paired runs; medians")
    print(f"{'':28}{'in-process':>14}{'HTTP':>14}{'HTTP/in-proc':>14}")
    print(f"{'decode tokens/s (streamed)':28}{local_tps:14.1f}{remote_tps:14.1f}{remote_tps / local_tps:14.3f}")
    print(f"{'time to first token (ms)':28}{local_ttft * 1e3:14.1f}{remote_ttft * 1e3:14.1f}"
          f"{(remote_ttft - local_ttft) * 1e3:+13.1f}ms")
    q = statistics.quantiles(ttft_diffs, n=4) if len(ttft_diffs) > 1 else [ttft_diffs[0]] * 3
    print(f"paired TTFT difference HTTP - in-process (ms): median {statistics.median(ttft_diffs) * 1e3:+.1f}, "
          f"quartiles {q[0] * 1e3:+.1f} / {q[2] * 1e3:+.1f}")
    print(f"GET /api/tags: {tags:.0f} req/s (1 client), {tags4:.0f} req/s (4 clients); "
          f"POST /api/show: {show:.0f} req/s; GET /api/version: {version:.0f} req/s")
    print(f"targets: tokens/s ratio >= 0.97 (got {remote_tps / local_tps:.3f}); "
          f"TTFT difference < 5 ms (got {statistics.median(ttft_diffs) * 1e3:.1f} ms)")


if __name__ == "__main__":
    main()
