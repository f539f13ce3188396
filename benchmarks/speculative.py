"""Speculative decoding by n-gram prompt lookup against plain decoding, on the bundled Gemma 3 270M.

Two workloads, greedy, one sequence at a time, alternating plain and n-gram rounds: a quoting prompt (the answer
copies a passage of the prompt: RAG, code edits, summaries) and an open question (drafts rarely match: what
lookup costs when it does not pay). Prints decode tokens/s (generated tokens over the time from the first token
to the last), the speedup, the acceptance, whether the outputs were identical, and the share of the CPU other
processes took (a round is worth little above a few percent on 2 cores).

    .venv/bin/python benchmarks/speculative.py [--rounds 3] [--tokens 128] [--ngram 3] [--threads N]
"""

from __future__ import annotations

import argparse
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


def run(runner: Runner, prompt: str, tokens: int, ngram: int) -> tuple[float, list[int], int, int]:
    seq = runner.submit(runner.tokenize(prompt), SamplingOptions(temperature=0, num_predict=tokens, draft_ngram=ngram))
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
    print(f"{'workload':<14} {'plain tok/s':>11} {'n-gram tok/s':>12} {'speedup':>8} {'accepted':>14} "
          f"{'same':>5} {'foreign CPU':>11}")
    with Runner(gemma_path(), LoadOptions(num_ctx=2048, num_parallel=2, num_thread=a.threads)) as runner:
        run(runner, "warm up", 8, 0)
        for name, template in WORKLOADS.items():
            plain, spec, same = [], [], True
            drafted = accepted = 0
            meter.start()
            for n in range(a.rounds):
                prompt = template.format(n=n)  # a new prompt per round (decode speed does not depend on caching)
                outputs = []
                for ngram in ((0, a.ngram) if n % 2 == 0 else (a.ngram, 0)):
                    rate, toks, d, acc = run(runner, prompt, a.tokens, ngram)
                    (spec if ngram else plain).append((rate, toks))
                    drafted, accepted = drafted + d, accepted + acc
                    outputs.append(toks)
                same = same and outputs[0] == outputs[1]
            foreign = meter.stop()
            p = statistics.median(r for r, _ in plain)
            s = statistics.median(r for r, _ in spec)
            print(f"{name:<14} {p:>11.1f} {s:>12.1f} {s / p:>7.2f}x {accepted:>6}/{drafted:<7} "
                  f"{str(same):>5} {foreign:>10.0%}")


if __name__ == "__main__":
    main()
