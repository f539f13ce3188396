"""Scoring: the log probabilities of given continuations after a prompt, and rank-pooled classifier outputs.

Rerank and decisions ask the same question: not "what comes next" but "how likely is each of these". Two
primitives answer it:

- ``Runner.score(prompt, continuations)`` on a generation runner: the prompt is read like any other (in a slot,
  reusing a cached prefix, so several questions about one long state pay for it once), then instead of sampling
  the decode thread reads the log-softmax of the last position for each continuation's first token; a
  continuation of several tokens is evaluated after the prompt in the same slot (and removed from the KV cache
  again), giving each of its tokens' log probabilities. Prompts of several scoring requests waiting together
  are read in one ``llama_decode`` (``pack``), so many short pairs cost a few graph evaluations, not one each.
  Scoring reads go to the runner's scoring context (a second llama.cpp context on the same weights, without
  flash attention: ``DecodeLoop._score`` says why), so a pair reads only the tokens its slot has not cached and
  still gets the logits of its whole prompt read at once.
- ``Runner.rank(inputs)`` on an embedding runner of a model with rank pooling (``<arch>.pooling_type`` 4, a
  cross-encoder: bge-reranker, jina-reranker, a Qwen3-Reranker converted with its classifier head): llama.cpp
  puts the classifier head on the pooled state and returns ``n_cls_out`` floats per input (``Embedder``).

Log probabilities are computed in float64 from the raw logits, as ``token_logprobs`` does for sampling.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import llama_cpp.llama_cpp as C
import numpy as np

from ._llama import Batch
from ._types import RunnerError

__all__ = ["MIN_READ", "ScoreSpec", "continuation_logprobs", "first_token_logprobs", "score_outputs"]

MIN_READ = 8
"""The fewest rows a scoring read takes of one sequence (re-reading cached tokens when fewer are new): ggml-cpu
picks its matrix-multiply code by rows (dot products for one row, llamafile's sgemm from two, other tilings
below eight), and re-reading the last 1-7 tokens of a prompt moved Gemma 3 270M's yes/no log probabilities by up
to 0.3, while 8 rows or more give exactly the logits of the whole prompt read at once (SmolLM2-135M: 2 rows)."""


def score_outputs(n_seqs: int) -> int:
    """The rows with logits one scoring ``llama_decode`` may ask of a scoring context of ``n_seqs`` sequences: one
    per packed prompt, or a continuation's chunk (``continuation_logprobs``, ``MIN_READ - 1`` of them re-read)."""
    return max(n_seqs, 2 * MIN_READ)


@dataclass(frozen=True)
class ScoreSpec:
    """What a scoring job asks: the token ids of each continuation (each non-empty)."""

    continuations: tuple[tuple[int, ...], ...]


def _log_softmax_at(ctx: ctypes.c_void_p, index: int, n_vocab: int, tokens: list[int]) -> list[float]:
    ptr = C.llama_get_logits_ith(ctx, index)
    if not ptr:
        raise RunnerError("the model returned no logits to score")
    logits = np.ctypeslib.as_array(ptr, shape=(n_vocab,))
    peak = float(logits.max())
    norm = peak + float(np.log(np.exp(logits.astype(np.float64) - peak).sum()))
    return [float(logits[t]) - norm for t in tokens]


def first_token_logprobs(ctx: ctypes.c_void_p, index: int, n_vocab: int, spec: ScoreSpec) -> list[float]:
    """The log probability of each continuation's first token at batch row ``index`` (read before the next
    ``llama_decode`` overwrites the logits)."""
    return _log_softmax_at(ctx, index, n_vocab, [c[0] for c in spec.continuations])


def continuation_logprobs(
    ctx: ctypes.c_void_p, batch: Batch, *, n_vocab: int, seq: int, prompt: list[int], n_outputs: int,
    spec: ScoreSpec, first: list[float],
) -> list[list[float]]:
    """Each continuation's per-token log probabilities, given its first token's (``first``).

    The later tokens of a continuation are evaluated after ``prompt`` (held in sequence ``seq``), at most
    ``n_outputs`` rows with logits per ``llama_decode``, each read re-reading the ``MIN_READ - 1`` tokens before
    it so it has ``MIN_READ`` rows, then removed from the KV cache, so the slot holds the prompt alone again.
    """
    mem = C.llama_get_memory(ctx)
    n_past = len(prompt)
    overlap = min(n_past, MIN_READ - 1)
    assert n_outputs > overlap
    out: list[list[float]] = []
    for cont, lp0 in zip(spec.continuations, first):
        logprobs = [lp0]
        if len(cont) > 1:
            try:
                base = n_past - overlap  # feed[i] sits at base + i; the logits of feed[overlap - 1 + k] predict cont[k]
                feed = [*prompt[base:], *cont[:-1]]
                for start in range(0, len(feed) - overlap, n_outputs - overlap):
                    chunk = feed[start:start + n_outputs]
                    C.llama_memory_seq_rm(mem, seq, base + start, -1)
                    batch.clear()
                    batch.add_run(chunk, base + start, seq, True)
                    batch.logits[: batch.n] = 1
                    rc = batch.decode(ctx)
                    if rc != 0:
                        raise RunnerError(f"failed to score a continuation (llama_decode returned {rc})")
                    for i in range(overlap, len(chunk)):
                        logprobs.append(_log_softmax_at(ctx, i, n_vocab, [cont[start + i - overlap + 1]])[0])
            finally:
                if mem:
                    C.llama_memory_seq_rm(mem, seq, n_past, -1)
        out.append(logprobs)
    return out
