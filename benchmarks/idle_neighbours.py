"""A model's decode speed beside an idle second model and after an embedding: ollamalib as it is, against the same
with OpenMP teams kept and libgomp's defaults (as before), on the bundled Gemma 3 270M.

ggml runs each graph on the OpenMP team of the thread that calls ``llama_decode``; a second runner's decode thread,
or a thread that ran an embedding, keeps a team of its own, and with more OpenMP threads than CPUs libgomp cuts the
barrier spin so far that every op of a step sleeps and wakes (``ollamalib/runner/_openmp.py``). Each side runs in
fresh processes (libgomp reads its settings once), alternating: model A generates 128 greedy tokens ``--rounds``
times alone, then after a second runner of the same model decoded once and sat idle for 1.5 s, then after an
embedding read on the main thread. "kept" is the earlier behaviour: ``GOMP_SPINCOUNT`` set to libgomp's default
(300000; a user value, so ollamalib leaves the wait policy alone), decode threads that never exit and the embedding
read on the calling thread. Prints A's median ms a token at each point for both sides, and the ratio.

    .venv/bin/python benchmarks/idle_neighbours.py [--rounds 5] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from _common import CpuMeter

CHILD = """
import json, statistics, sys, time
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
kept = sys.argv[2] == "kept"
res = {}
a = Runner(gemma_path(), LoadOptions(num_ctx=4096, num_parallel=8))
b = Runner(gemma_path(), LoadOptions(num_ctx=4096, num_parallel=8))
if kept:
    a._loop.idle_exit = b._loop.idle_exit = 1e6
res["alone"] = ms(a)
for _ in b.submit(b.tokenize("hi"), SamplingOptions(temperature=0, num_predict=2)):
    pass
time.sleep(1.5)
res["beside an idle model"] = ms(a)
text = ["an embedding read on the main thread"]
a._embedder = a._new_embedder()
a._embedder.embed(text, True) if kept else a.embed(text)
res["after an embedding"] = ms(a)
print(json.dumps(res))
"""


def side(name: str, rounds: int) -> dict[str, float]:
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env = {"GOMP_SPINCOUNT": "300000"} if name == "kept" else {}
    out = subprocess.run([sys.executable, "-c", CHILD, str(rounds), name], env={**clean, **env}, capture_output=True,
                         text=True, check=True, cwd=os.path.dirname(os.path.abspath(__file__)))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="requests per point (median)")
    ap.add_argument("--repeats", type=int, default=2, help="processes per side, alternating (median)")
    a = ap.parse_args()
    meter = CpuMeter()
    meter.start()
    runs: dict[str, list[dict[str, float]]] = {"ollamalib": [], "kept": []}
    for _ in range(a.repeats):
        for name, results in runs.items():
            results.append(side(name, a.rounds))
    foreign = meter.stop()
    ours, kept = ({p: statistics.median(r[p] for r in rs) for p in rs[0]} for rs in runs.values())
    print(f"{'model A ms/token':<24} {'ollamalib':>10} {'kept teams, libgomp defaults':>29} {'ratio':>6}")
    for point in ours:
        print(f"{point:<24} {ours[point]:>10.2f} {kept[point]:>29.2f} {kept[point] / ours[point]:>5.2f}x")
    load = os.getloadavg()
    print(f"other processes took {foreign:.0%} of the CPU; load average {load[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
