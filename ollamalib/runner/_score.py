"""Scoring: the log probabilities of given continuations after a prompt, and rank-pooled classifier outputs.

Rerank and decisions ask the same question: not "what comes next" but "how likely is each of these". Two
primitives answer it:

- ``Runner.score(prompt, continuations)`` on a generation runner: the prompt is read like any other (in a slot,
  reusing a cached prefix, so several questions about one long state pay for it once), then instead of sampling
  the decode thread reads the log-softmax of the last position for each continuation's first token; a
  continuation of several tokens is evaluated after the prompt in the same slot (and removed from the KV cache
  again), giving each of its tokens' log probabilities. Prompts of several scoring requests waiting together
  are read in one ``llama_decode`` (``pack``), so many short pairs cost a few graph evaluations, not one each;
  each read takes the rows that give it the attention kernel of reading its whole prompt at once (``read_rows``).
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

__all__ = ["FA_TILE_ROWS", "ScoreSpec", "continuation_logprobs", "first_token_logprobs", "read_rows"]

FA_TILE_ROWS = 64
"""ggml-cpu's flash attention reads a ubatch with at least this many query rows per sequence (``GGML_FA_TILE_Q``)
with its tiled f32 kernel, and fewer with a row-by-row kernel that rounds Q to f16. The two differ by up to 0.2
in a logit (2e-2 in a yes/no probability) on SmolLM2-135M and Gemma 3 270M, far more than batch-shape rounding."""


@dataclass(frozen=True)
class ScoreSpec:
    """What a scoring job asks: the token ids of each continuation (each non-empty)."""

    continuations: tuple[tuple[int, ...], ...]


def read_rows(prompt_len: int, todo: int) -> int:
    """The fewest rows a scoring read must take of a prompt of ``prompt_len`` tokens whose last ``todo`` are not
    cached, so that its logits come from the attention kernel a read of the whole prompt in one ubatch uses (the
    one-prompt-at-a-time reference): a prompt of ``FA_TILE_ROWS`` or more re-reads cached tokens up to that many
    rows; a shorter one is read by the row kernel whatever its rows."""
    if prompt_len < FA_TILE_ROWS:
        return todo
    return min(prompt_len, max(todo, FA_TILE_ROWS))


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
    ctx: ctypes.c_void_p, batch: Batch, *, n_vocab: int, seq: int, n_past: int, n_outputs: int,
    spec: ScoreSpec, first: list[float],
) -> list[list[float]]:
    """Each continuation's per-token log probabilities, given its first token's (``first``).

    The later tokens of a continuation are evaluated after the prompt (positions from ``n_past`` in sequence
    ``seq``), at most ``n_outputs`` rows with logits per ``llama_decode``, then removed from the KV cache, so the
    slot holds the prompt alone again.
    """
    mem = C.llama_get_memory(ctx)
    out: list[list[float]] = []
    for cont, lp0 in zip(spec.continuations, first):
        logprobs = [lp0]
        if len(cont) > 1:
            try:
                feed = list(cont[:-1])
                for start in range(0, len(feed), n_outputs):
                    chunk = feed[start:start + n_outputs]
                    batch.clear()
                    batch.add_run(chunk, n_past + start, seq, True)
                    batch.logits[: batch.n] = 1
                    rc = batch.decode(ctx)
                    if rc != 0:
                        raise RunnerError(f"failed to score a continuation (llama_decode returned {rc})")
                    targets = cont[start + 1:start + 1 + len(chunk)]
                    logprobs += [_log_softmax_at(ctx, i, n_vocab, [t])[0] for i, t in enumerate(targets)]
            finally:
                if mem:
                    C.llama_memory_seq_rm(mem, seq, n_past, -1)
        out.append(logprobs)
    return out
