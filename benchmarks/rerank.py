"""Engine.rerank against a plain llama-cpp-python loop scoring the same pairs one at a time: documents per second.

Three rerankers, 32 documents each (``--docs``):

- the tiny cross-encoder the tests build (qwen3 with rank pooling and a yes/no classifier head): ollamalib packs
  the pairs into one batch of the embedding context; the loop decodes each pair alone and reads
  ``llama_get_embeddings_seq``;
- the bundled chat model SmolLM2-135M and the demo model Gemma 3 270M as generative rerankers (the Qwen3-Reranker
  recipe, query before document, in their chat format as their Modelfile TEMPLATE; score P(yes) / (P(yes) +
  P(no))): ollamalib reads the prompts of several pairs in one ``llama_decode`` across the runner's slots, each
  slot reusing the prompt text it holds from its previous pair; the loop decodes each prompt whole and alone and
  reads the last logits.

    .venv/bin/python benchmarks/rerank.py [--docs 32] [--runs 3] [--parallel 4] [--threads N] [--only TEXT]

Both sides use the same GGUF, context size and thread count; the model is loaded before timing. The loop is the
shortest correct program on the low-level API (``tests/score_reference.py``). Prints documents/s, the ratio
(ollamalib / loop; the target is 2x or better) and the largest score difference. The two sides run alternately,
both models loaded, and each keeps its best run, so a change in the machine's load hits both. No timed asserts.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from gguf_factory import write_tiny_gguf  # noqa: E402
from score_reference import LowLevel, low_level  # noqa: E402

QUERY = "Why is the sky blue?"
SENTENCES = [
    "The sky is blue because air scatters blue light more than red light.",
    "Cats sleep for most of the day and hunt at night.",
    "Paris is the capital of France and sits on the Seine.",
    "Sunlight is scattered by the molecules of the air; short wavelengths scatter most.",
    "The ocean looks blue partly because water absorbs red light.",
    "A recipe for bread needs flour, water, salt and yeast.",
    "Sunsets are red because light crosses more air near the horizon.",
    "Mount Everest is the highest mountain above sea level.",
]
# The Qwen3-Reranker recipe (``ollamalib.rerank.QWEN3_RERANK_PROMPT``: judging text, instruction and query first,
# the document last) in each model's chat format, so every pair shares the prompt up to its document.
_JUDGE = ('Judge whether the Document meets the requirements based on the Query and the Instruct provided. '
          'Note that the answer can only be "yes" or "no".')
_ASK = "<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}"
SMOL_PROMPT = (f"<|im_start|>system\n{_JUDGE}<|im_end|>\n<|im_start|>user\n{_ASK}<|im_end|>\n"
               "<|im_start|>assistant\n")
GEMMA_PROMPT = f"<start_of_turn>user\n{_JUDGE}\n{_ASK}<end_of_turn>\n<start_of_turn>model\n"
NUM_CTX = 1024


def documents(n: int) -> list[str]:
    return [f"{SENTENCES[i % len(SENTENCES)]} (note {i})" for i in range(n)]


def interleaved(ours: Callable[[], list[float]], theirs: Callable[[], list[float]], n_docs: int,
                runs: int) -> tuple[float, float, list[float], list[float]]:
    """The best documents/s of each side over ``runs``, run alternately (after one warm-up each) so a change in
    the machine's load hits both, and the scores of each side's last run."""
    our_scores, their_scores = ours(), theirs()
    our_times, their_times = [], []
    for _ in range(runs):
        for fn, times in ((ours, our_times), (theirs, their_times)):
            t0 = time.perf_counter()
            scores = fn()
            times.append(time.perf_counter() - t0)
            if fn is ours:
                our_scores = scores
            else:
                their_scores = scores
    return n_docs / min(our_times), n_docs / min(their_times), our_scores, their_scores


def loop_cross(ll: LowLevel, docs: list[str]) -> Callable[[], list[float]]:
    bos = ll.tokenize("", add_special=True)
    pairs = [bos + ll.tokenize(QUERY) + ll.tokenize(d) for d in docs]
    return lambda: [ll.rank(p)[0] for p in pairs]


def loop_generative(ll: LowLevel, template: str, docs: list[str]) -> Callable[[], list[float]]:
    yes, no = ll.tokenize("yes")[0], ll.tokenize("no")[0]
    from ollamalib.rerank import DEFAULT_INSTRUCTION

    text = template.replace("{instruction}", DEFAULT_INSTRUCTION).replace("{query}", QUERY)
    prompts = [ll.tokenize(text.replace("{document}", d), add_special=True) for d in docs]

    def run() -> list[float]:
        out = []
        for p in prompts:
            lp_yes, lp_no = ll.next_logprobs(p, [yes, no])
            out.append(1.0 / (1.0 + math.exp(lp_no - lp_yes)))
        return out

    return run


def engine_run(engine: Any, model: str, docs: list[str], threads: int) -> Callable[[], list[float]]:
    options = {"num_ctx": NUM_CTX} | ({"num_thread": threads} if threads else {})

    def run() -> list[float]:
        r = engine.rerank(model, QUERY, docs, options=options)
        by_index = {x.index: x.relevance_score for x in r.results}
        return [by_index[i] for i in range(len(docs))]

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=4, help="OLLAMA_NUM_PARALLEL of the engine")
    parser.add_argument("--threads", type=int, default=0, help="threads of both sides (0: every CPU)")
    parser.add_argument("--only", default="", help="run only the rerankers whose label contains this text")
    args = parser.parse_args()

    from ollamalib.demo import chat_gguf_path, demo_gguf_path
    from ollamalib.engine import Engine

    docs = documents(args.docs)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ollamalib-bench-rerank-") as tmp:
        root = Path(tmp)
        tiny = write_tiny_gguf(root / "tiny-rerank.gguf", arch="qwen3", classifier_labels=["yes", "no"],
                               name="tiny-reranker", seed=3)
        engine = Engine(models=root / "models", num_parallel=args.parallel)
        try:
            engine.create("tiny-rerank", from_=str(tiny))
            engine.create("smol-rerank", from_=str(chat_gguf_path()), template=SMOL_PROMPT)
            engine.create("gemma-rerank", from_=str(demo_gguf_path()), template=GEMMA_PROMPT)
            cases = [
                ("tiny cross-encoder", "tiny-rerank", tiny, True, None),
                ("SmolLM2-135M generative", "smol-rerank", chat_gguf_path(), False, SMOL_PROMPT),
                ("Gemma 3 270M generative", "gemma-rerank", demo_gguf_path(), False, GEMMA_PROMPT),
            ]
            for label, model, path, cross, template in cases:
                if args.only.lower() not in label.lower():
                    continue
                with low_level(path, n_ctx=NUM_CTX, rank=cross, threads=args.threads) as ll:
                    loop = loop_cross(ll, docs) if cross else loop_generative(ll, template, docs)
                    ours, theirs, our_scores, their_scores = interleaved(engine_run(engine, model, docs, args.threads), loop,
                                                                         len(docs), args.runs)
                engine.generate(model, keep_alive=0)  # unload before the next model
                diff = max(abs(a - b) for a, b in zip(our_scores, their_scores))
                rows.append((label, ours, theirs, diff))
        finally:
            engine.close()

    print(f"rerank, {args.docs} documents, best of {args.runs} runs, num_ctx {NUM_CTX}, "
          f"OLLAMA_NUM_PARALLEL {args.parallel}")
    print(f"{'model':<26} {'ollamalib docs/s':>17} {'llama-cpp loop docs/s':>22} {'ratio':>7} {'max |Δscore|':>13}")
    for label, ours, theirs, diff in rows:
        print(f"{label:<26} {ours:>17.1f} {theirs:>22.1f} {ours / theirs:>6.2f}x {diff:>13.2e}")
    print("median ratio", f"{statistics.median(o / t for _, o, t, _ in rows):.2f}x")


if __name__ == "__main__":
    main()
