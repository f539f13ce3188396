"""A model's decode speed beside an idle second model and after an embedding, with ollamalib's OpenMP settings and
with libgomp's defaults, on the bundled Gemma 3 270M.

ggml runs each graph on the OpenMP team of the thread that calls ``llama_decode``; a second runner's decode thread,
or a thread that ran an embedding, keeps a team of its own, and with more OpenMP threads than CPUs libgomp cuts the
barrier spin so far that every op of a step sleeps and wakes (``ollamalib/runner/_openmp.py``). Each side runs in
a fresh process (libgomp reads its settings once): model A generates 128 greedy tokens 3 times alone, then after
a second runner of the same model decoded once, then after ``embed`` from the main thread. Prints A's median ms a
token at each point for both sides, and the ratio. libgomp's defaults are had by setting ``GOMP_SPINCOUNT`` to its
default (300000): a user value, which ollamalib leaves alone.

    .venv/bin/python benchmarks/idle_neighbours.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from _common import CpuMeter

CHILD = """
import json, statistics, sys
from _common import gemma_path
from ollamalib.runner import LoadOptions, Runner, SamplingOptions
PROMPT = "The harbour office keeps a record of every ship that enters the port. " * 4
def ms(r):
    out = []
    for _ in range(int(sys.argv[1])):
        seq = r.submit(r.tokenize(PROMPT), SamplingOptions(temperature=0, num_predict=128))
        for _ in seq:
            pass
        out.append(seq.result.eval_duration_ns / 1e6 / seq.result.eval_count)
    return statistics.median(out)
res = {}
a = Runner(gemma_path(), LoadOptions(num_ctx=4096, num_parallel=8))
res["alone"] = ms(a)
b = Runner(gemma_path(), LoadOptions(num_ctx=4096, num_parallel=8))
for _ in b.submit(b.tokenize("hi"), SamplingOptions(temperature=0, num_predict=2)):
    pass
res["beside an idle model"] = ms(a)
a.embed(["an embedding read on the main thread"])
res["after an embedding"] = ms(a)
print(json.dumps(res))
"""


def side(env: dict[str, str], rounds: int) -> dict[str, float]:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", CHILD, str(rounds)], env={**clean, **env}, capture_output=True,
                         text=True, check=True, cwd=os.path.dirname(os.path.abspath(__file__)))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="requests per point (median)")
    a = ap.parse_args()
    meter = CpuMeter()
    meter.start()
    ours = side({}, a.rounds)
    gomp = side({"GOMP_SPINCOUNT": "300000"}, a.rounds)
    foreign = meter.stop()
    print(f"{'model A ms/token':<24} {'ollamalib':>10} {'libgomp defaults':>17} {'ratio':>6}")
    for point in ours:
        print(f"{point:<24} {ours[point]:>10.2f} {gomp[point]:>17.2f} {gomp[point] / ours[point]:>5.2f}x")
    load = os.getloadavg()
    print(f"other processes took {foreign:.0%} of the CPU; load average {load[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
