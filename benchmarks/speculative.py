"""Speculative decoding by n-gram prompt lookup against plain decoding, on the bundled Gemma 3 270M.

Two workloads, greedy, one sequence at a time, rounds rotating between three sides: plain decoding, n-gram
lookup with a fixed draft (``draft_num_predict`` 6: every guess the step's 7 rows allow, checked whenever the
lookup finds one) and n-gram lookup with the draft length chosen per step (``draft_num_predict`` unset: the
runner's ``DraftPlanner``, from measured step costs and acceptance). Workloads: a quoting prompt (the answer copies
a passage of the prompt: RAG, code edits, summaries) and an open question (drafts rarely match: what lookup costs
when it does not pay). Every request asks for an exact replay, so the second run of a prompt reads it as the first
did and the outputs can be compared token for token. Prints decode tokens/s (generated tokens over the time from
the first token to the last) of each side, the speedups over plain, the acceptance, whether the outputs were
identical, the share of the CPU other processes took and the load average.

    .venv/bin/python benchmarks/speculative.py [--rounds 3] [--tokens 128] [--ngram 3] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics

from _common import CpuMeter, gemma_path

from ollamalib.runner import LoadOptions, Runner, SamplingOptions

PASSAGE = (
    "The Industrial Revolution, which took place from the 18th to 19th centuries, was a period during which "
    "predominantly agrarian, rural societies in Europe and America became industrial and urban. Prior to the "
    "Industrial Revolution, which began in Britain in the late 1700s, manufacturing was often done in people's "
    "homes, using hand tools or basic machines. Industrialization marked a shift to powered, special-purpose "
    "machinery, factories and mass production. The iron and textile industries, along with the development of "
    "the steam engine, played central roles in the Industrial Revolution, which also saw improved systems of "
    "transportation, communication and banking."
)
WORKLOADS = {
    "quoting": "Passage {n}:\n" + PASSAGE + "\n\nRepeat passage {n} word for word:\nThe Industrial Revolution,",
    "open question": "Question {n}: why do people like to travel to faraway places? Answer in detail:\n",
}


SIDES = {"plain": {}, "fixed": {"draft_num_predict": 6}, "adaptive": {}}


def run(runner: Runner, prompt: str, tokens: int, ngram: int, **options: int) -> tuple[float, list[int], int, int]:
    seq = runner.submit(runner.tokenize(prompt), SamplingOptions(
        temperature=0, num_predict=tokens, draft_ngram=ngram, exact_replay=True, **options))  # type: ignore[arg-type]
    for _ in seq:
        pass
    f = seq.result
    assert f is not None
    return f.eval_count / (f.eval_duration_ns / 1e9), f.tokens, f.draft_count, f.draft_accepted_count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--ngram", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    meter = CpuMeter()
    print(f"{'workload':<14} {'plain tok/s':>11} {'fixed tok/s':>11} {'adaptive':>9} {'fixed x':>8} {'adapt. x':>8} "
          f"{'fixed acc.':>11} {'adapt. acc.':>11} {'same':>5} {'foreign CPU':>11}")
    with Runner(gemma_path(), LoadOptions(num_ctx=2048, num_parallel=2, num_thread=a.threads)) as runner:
        run(runner, "warm up", 8, 0)
        for name, template in WORKLOADS.items():
            rates: dict[str, list[float]] = {side: [] for side in SIDES}
            counts = {side: [0, 0] for side in SIDES}
            same = True
            meter.start()
            for n in range(a.rounds):
                prompt = template.format(n=n)  # a new prompt per round (decode speed does not depend on caching)
                order = list(SIDES)[n % 3:] + list(SIDES)[: n % 3]
                outputs = []
                for side in order:
                    rate, toks, d, acc = run(runner, prompt, a.tokens, 0 if side == "plain" else a.ngram,
                                             **SIDES[side])
                    rates[side].append(rate)
                    counts[side][0] += d
                    counts[side][1] += acc
                    outputs.append(toks)
                same = same and all(o == outputs[0] for o in outputs)
            foreign = meter.stop()
            p, f, ad = (statistics.median(rates[side]) for side in SIDES)
            acc = {side: f"{counts[side][1]}/{counts[side][0]}" for side in SIDES}
            print(f"{name:<14} {p:>11.1f} {f:>11.1f} {ad:>9.1f} {f / p:>7.2f}x {ad / p:>7.2f}x "
                  f"{acc['fixed']:>11} {acc['adaptive']:>11} {str(same):>5} {foreign:>10.0%}", flush=True)
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
