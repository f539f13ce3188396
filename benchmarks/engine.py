"""Engine.generate against a plain llama-cpp-python loop on Gemma 3 270M: decode and prompt speed, time to first token.

Both sides use the same GGUF, context size, batch size, thread count and greedy sampling, and generate the same
tokens. The plain loop is the shortest correct program on llama-cpp-python's low-level API (tokenize, decode
the prompt in ``num_batch`` chunks, then sample and decode one token at a time); ollamalib adds the store,
templates, scheduling, a decode thread, streaming, stop handling and response objects on top.

    .venv/bin/python benchmarks/engine.py [--runs 5] [--tokens 128] [--prompt-tokens 400]

Prints a table and the ratios (Engine / plain; 1.0 means no overhead). No timed asserts. The engine keeps a
slot's cached prefix between requests, so it may evaluate a prompt in differently sized batches than the plain
loop; float sums then differ in the last bits and greedy text can part ways after a while (a count is printed).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = (
    "the quick brown fox jumps over the lazy dog while a curious cat watches from the old wooden fence and "
    "the sun slowly sets behind the distant blue hills of the quiet little village near the river "
).split()


@dataclass
class Sample:
    prompt_tokens: int
    prompt_s: float
    gen_tokens: int
    gen_s: float
    ttft_s: float

    @property
    def prompt_tps(self) -> float:
        return self.prompt_tokens / self.prompt_s if self.prompt_s else float("nan")

    @property
    def decode_tps(self) -> float:
        return self.gen_tokens / self.gen_s if self.gen_s else float("nan")


def make_prompt(i: int, n_words: int) -> str:
    """A distinct prompt per run (so no run reuses another's cached prefix), ending in a story opening."""
    body = " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(n_words))
    return f"Run {i}. {body}. Once upon a time"


# --- the plain loop -------------------------------------------------------------------------------------------


class PlainLoop:
    """llama-cpp-python's low-level API, one sequence, greedy sampling."""

    def __init__(self, path: Path, *, n_ctx: int, n_batch: int, n_threads: int, repack: bool) -> None:
        import llama_cpp.llama_cpp as C

        self.C = C
        C.llama_backend_init()
        C.llama_log_set(_quiet, ctypes.c_void_p(0))
        mp = C.llama_model_default_params()
        mp.use_extra_bufts = repack
        self.model = C.llama_model_load_from_file(os.fsencode(path), mp)
        self.vocab = C.llama_model_get_vocab(self.model)
        cp = C.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = n_batch
        cp.n_ubatch = n_batch
        cp.n_threads = n_threads
        cp.n_threads_batch = n_threads
        cp.no_perf = True
        self.ctx = C.llama_init_from_model(self.model, cp)
        self.n_batch = n_batch
        sp = C.llama_sampler_chain_default_params()
        self.sampler = C.llama_sampler_chain_init(sp)
        C.llama_sampler_chain_add(self.sampler, C.llama_sampler_init_greedy())

    def tokenize(self, text: str) -> list[int]:
        C = self.C
        data = text.encode()
        buf = (C.llama_token * (len(data) + 8))()
        n = C.llama_tokenize(self.vocab, data, len(data), buf, len(buf), True, True)
        return list(buf[:n])

    def run(self, prompt: str, n_predict: int) -> tuple[Sample, str]:
        C = self.C
        t0 = time.perf_counter()
        tokens = self.tokenize(prompt)
        C.llama_memory_clear(C.llama_get_memory(self.ctx), True)
        C.llama_sampler_reset(self.sampler)
        for i in range(0, len(tokens), self.n_batch):
            chunk = tokens[i : i + self.n_batch]
            arr = (C.llama_token * len(chunk))(*chunk)
            if C.llama_decode(self.ctx, C.llama_batch_get_one(arr, len(chunk))) != 0:
                raise RuntimeError("prompt decode failed")
        t_prompt = time.perf_counter()
        out: list[int] = []
        one = (C.llama_token * 1)()
        buf = ctypes.create_string_buffer(256)
        text = bytearray()
        t_first = None
        while len(out) < n_predict:
            tok = C.llama_sampler_sample(self.sampler, self.ctx, -1)
            if C.llama_vocab_is_eog(self.vocab, tok):
                break
            n = C.llama_token_to_piece(self.vocab, tok, buf, len(buf), 0, True)
            text += buf.raw[:n]
            out.append(tok)
            if t_first is None:
                t_first = time.perf_counter()
            if len(out) == n_predict:
                break
            one[0] = tok
            if C.llama_decode(self.ctx, C.llama_batch_get_one(one, 1)) != 0:
                raise RuntimeError("decode failed")
        t_end = time.perf_counter()
        t_first = t_first or t_end
        sample = Sample(len(tokens), t_prompt - t0, max(0, len(out) - 1), t_end - t_first, t_first - t0)
        return sample, text.decode("utf-8", "replace")

    def close(self) -> None:
        C = self.C
        C.llama_sampler_free(self.sampler)
        C.llama_free(self.ctx)
        C.llama_model_free(self.model)


def _make_quiet():
    import llama_cpp.llama_cpp as C

    @C.llama_log_callback
    def quiet(level, text, user):  # noqa: ARG001
        pass

    return quiet


_quiet = None


# --- the engine -----------------------------------------------------------------------------------------------


def engine_run(engine, model: str, prompt: str, n_predict: int, options: dict) -> tuple[Sample, Sample, str]:
    """One streamed generate: (wall-clock sample, engine-reported sample, generated text)."""
    t0 = time.perf_counter()
    t_first = None
    final = None
    text = []
    for chunk in engine.generate(model=model, prompt=prompt, raw=True, stream=True,
                                 options={**options, "num_predict": n_predict}):
        if chunk.done:
            final = chunk
            break
        text.append(chunk.response)
        if t_first is None:
            t_first = time.perf_counter()
    t_end = time.perf_counter()
    assert final is not None
    t_first = t_first or t_end
    prompt_n = final.prompt_eval_count or 0
    gen_n = final.eval_count or 0
    wall = Sample(prompt_n, (final.prompt_eval_duration or 0) / 1e9, max(0, gen_n - 1), t_end - t_first, t_first - t0)
    reported = Sample(prompt_n, (final.prompt_eval_duration or 0) / 1e9, gen_n, (final.eval_duration or 0) / 1e9,
                      t_first - t0)
    return wall, reported, "".join(text)


def main() -> None:
    global _quiet
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=128, help="tokens to generate per run")
    ap.add_argument("--prompt-words", type=int, default=300, help="words in each prompt")
    ap.add_argument("--num-ctx", type=int, default=2048)
    ap.add_argument("--num-batch", type=int, default=512)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    from ollamalib.demo import DEMO_MODEL, demo_gguf_path, install_demo_model
    from ollamalib.engine import Engine

    _quiet = _make_quiet()
    path = demo_gguf_path()
    options = {"temperature": 0, "num_ctx": args.num_ctx, "num_batch": args.num_batch, "num_thread": args.threads,
               "seed": 1}
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(models=Path(tmp) / "models", keep_alive=-1, num_parallel=1)
        install_demo_model(engine.store)
        engine.generate(model=DEMO_MODEL, prompt="", options=options)  # load once, outside the timings
        engine_run(engine, DEMO_MODEL, make_prompt(-1, 20), 8, options)  # warm-up

        plain = PlainLoop(path, n_ctx=args.num_ctx, n_batch=args.num_batch, n_threads=args.threads, repack=False)
        plain.run(make_prompt(-2, 20), 8)

        rows: dict[str, list[Sample]] = {"engine (wall clock)": [], "engine (its own timings)": [], "plain loop": []}
        same_text = 0
        for i in range(args.runs):
            prompt = make_prompt(i, args.prompt_words)
            # alternate who goes first; the two prompts differ so neither side reuses the other's cache
            order = ("plain", "engine") if i % 2 == 0 else ("engine", "plain")
            for side in order:
                if side == "plain":
                    p, ptext = plain.run(prompt, args.tokens)
                    rows["plain loop"].append(p)
                else:
                    w, r, etext = engine_run(engine, DEMO_MODEL, prompt + " ", args.tokens, options)
                    rows["engine (wall clock)"].append(w)
                    rows["engine (its own timings)"].append(r)
            same_text += plain.run(prompt + " ", args.tokens)[1] == etext
        plain.close()

        repacked = PlainLoop(path, n_ctx=args.num_ctx, n_batch=args.num_batch, n_threads=args.threads, repack=True)
        repacked.run(make_prompt(-2, 20), 8)
        rows["plain loop, repacked weights"] = [
            repacked.run(make_prompt(100 + i, args.prompt_words), args.tokens)[0] for i in range(args.runs)
        ]
        repacked.close()
        engine.close()

    print(f"Gemma 3 270M Q4_K_M, {args.threads} threads, num_ctx {args.num_ctx}, num_batch {args.num_batch}, greedy, "
          f"{args.tokens} tokens after a {rows['plain loop'][0].prompt_tokens}-token prompt; {args.runs} runs, "
          "median (best)")
    print(f"{'':30} {'prompt tok/s':>18} {'decode tok/s':>18} {'first token ms':>18}")
    for name, samples in rows.items():
        print(f"{name:30} {_fmt([s.prompt_tps for s in samples]):>18} {_fmt([s.decode_tps for s in samples]):>18} "
              f"{_fmt([s.ttft_s * 1e3 for s in samples], best=min):>18}")
    base, wall = rows["plain loop"], rows["engine (wall clock)"]
    print()
    for label, key, best in (("decode", "decode_tps", max), ("prompt eval", "prompt_tps", max)):
        e = [getattr(s, key) for s in wall]
        b = [getattr(s, key) for s in base]
        print(f"{label} ratio, engine / plain:  median {statistics.median(e) / statistics.median(b):.3f}, "
              f"best {best(e) / best(b):.3f}")
    e = [s.ttft_s for s in wall]
    b = [s.ttft_s for s in base]
    print(f"time to first token, plain / engine:  median {statistics.median(b) / statistics.median(e):.3f}, "
          f"best {min(b) / min(e):.3f}")
    print(f"runs where the engine wrote exactly the plain loop's text: {same_text} of {args.runs}")


def _fmt(values: list[float], best=max) -> str:
    return f"{statistics.median(values):.1f} ({best(values):.1f})"


if __name__ == "__main__":
    main()
