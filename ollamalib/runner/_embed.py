"""Embeddings: inputs packed into batches under distinct sequence ids, pooled by the model's rule.

A model with its own pooling (mean, CLS, last...) gives ``llama_get_embeddings_seq``; each of its inputs fits one
batch. A model without pooling (a generative model asked for embeddings) gives its last token's hidden state, as
Ollama's runner does; its inputs may be longer than a batch and are then read in chunks (the KV cache carries
them). Vectors are returned raw (not normalised): the Engine normalises and truncates ``dimensions``.
"""

from __future__ import annotations

import ctypes

import llama_cpp.llama_cpp as C

from ..errors import ContextLengthError
from ._llama import Batch, Model
from ._types import RunnerError

__all__ = ["INPUT_TOO_LONG", "Embedder"]

INPUT_TOO_LONG = "the input length exceeds the context length"
_PACK_ROWS = 512


class Embedder:
    """Runs embedding batches on a context created with ``embeddings=True`` (the Runner serialises callers)."""

    def __init__(self, model: Model, ctx: ctypes.c_void_p, *, n_seq_max: int, n_batch: int, num_ctx: int) -> None:
        self.model = model
        self.ctx = ctx
        self.mem = C.llama_get_memory(ctx)
        self.n_seq_max = n_seq_max
        self.n_batch = n_batch
        self.num_ctx = num_ctx
        self.pooled = C.llama_pooling_type(ctx) != C.LLAMA_POOLING_TYPE_NONE
        # rank pooling (a cross-encoder) puts the classifier head on the pooled state: n_cls_out floats per input
        self.ranks = C.llama_pooling_type(ctx) == C.LLAMA_POOLING_TYPE_RANK
        self.dim = int(C.llama_model_n_embd_out(model.ptr)) or int(C.llama_model_n_embd(model.ptr))
        if self.ranks:
            self.dim = max(1, int(C.llama_model_n_cls_out(model.ptr)))
        self._keeps_last = bool(C.llama_vocab_get_add_eos(model.vocab) or C.llama_vocab_get_add_sep(model.vocab))
        self._batch = Batch(n_batch)
        # Inputs packed into one batch add up to at most this many tokens: llama.cpp builds each batch's attention
        # mask over all its cells (n_kv x n_tokens, on one thread), which outgrows the saved graph evaluations
        # beyond a few hundred tokens (32 rerank pairs of 53 tokens on a tiny model: 23 ms packed by 1024, 19-20 ms
        # by 256-512, 45 ms one at a time).
        self.pack_rows = min(n_batch, _PACK_ROWS)

    @property
    def limit(self) -> int:
        """The most tokens one input may have (a pooled input is read in one batch)."""
        return self.num_ctx if not self.pooled else min(self.num_ctx, self.n_batch)

    def prepare(self, text: str, truncate: bool) -> list[int]:
        tokens = self.model.tokenize(text, True, True)
        limit = self.limit
        if len(tokens) > limit:
            if not truncate:
                raise ContextLengthError(INPUT_TOO_LONG)
            tokens = tokens[: limit - 1] + tokens[-1:] if self._keeps_last else tokens[:limit]
        return tokens

    def embed(self, inputs: list[str], truncate: bool) -> tuple[list[list[float]], int]:
        return self.run([self.prepare(text, truncate) for text in inputs])

    def run(self, prepared: list[list[int]]) -> tuple[list[list[float]], int]:
        """The pooled vectors of token lists that fit (``limit``), packed into as few batches as they fill."""
        vectors: list[list[float]] = [[0.0] * self.dim for _ in prepared]
        group: list[int] = []
        size = 0
        for i, tokens in enumerate(prepared):
            if not tokens:
                continue
            if len(tokens) > self.n_batch:
                self._run_long(tokens, i, vectors)
                continue
            if group and (size + len(tokens) > self.pack_rows or len(group) == self.n_seq_max):
                self._run(group, prepared, vectors)
                group, size = [], 0
            group.append(i)
            size += len(tokens)
        if group:
            self._run(group, prepared, vectors)
        return vectors, sum(len(t) for t in prepared)

    def _decode(self) -> None:
        self._batch.logits[: self._batch.n] = 1  # llama.cpp outputs every token in embedding mode anyway
        rc = self._batch.decode(self.ctx)
        if rc != 0:
            raise RunnerError(f"failed to compute embeddings (llama_decode returned {rc})")

    def _clear(self) -> None:
        if self.mem:
            C.llama_memory_clear(self.mem, True)
        self._batch.clear()

    def _run(self, group: list[int], prepared: list[list[int]], vectors: list[list[float]]) -> None:
        self._clear()
        last = [self._batch.add_run(prepared[i], 0, seq, True) for seq, i in enumerate(group)]
        self._decode()
        for seq, i in enumerate(group):
            vectors[i] = self._read(seq, last[seq])

    def _run_long(self, tokens: list[int], i: int, vectors: list[list[float]]) -> None:
        self._clear()
        index = 0
        for start in range(0, len(tokens), self.n_batch):
            self._batch.clear()
            index = self._batch.add_run(tokens[start : start + self.n_batch], start, 0, True)
            self._decode()
        vectors[i] = self._read(0, index)

    def _read(self, seq: int, index: int) -> list[float]:
        ptr = C.llama_get_embeddings_seq(self.ctx, seq) if self.pooled else None
        if not ptr:
            ptr = C.llama_get_embeddings_ith(self.ctx, index)
        if not ptr:
            raise RunnerError("the model returned no embedding")
        return [float(v) for v in ptr[: self.dim]]
