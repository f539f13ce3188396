"""Embeddings: inputs packed into batches under distinct sequence ids, pooled by the model's rule.

A model with its own pooling (mean, CLS, last...) gives ``llama_get_embeddings_seq``; each of its inputs fits one
batch. A model without pooling (a generative model asked for embeddings) gives its last token's hidden state, as
Ollama's runner does; its inputs may be longer than a batch and are then read in chunks (the KV cache carries
them). Vectors are returned raw (not normalised): the Engine normalises and truncates ``dimensions``.

llama.cpp outputs every token of an embedding batch: the last layer's feed-forward rows and the output head
(n_vocab columns) for each, then copies the logits out. Where a vector is a function of the last token's state
alone (causal attention, pooled by the last token: a Qwen3-style cross-encoder, last pooling, or none), the
tokens before it are read with embeddings off and no outputs, and the last tokens in a second, small decode
(``Embedder.last_only``): 28% off a tiny cross-encoder's rerank, more with a large vocabulary.
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
        self.last_only = self._reads_last_token(model, ctx)
        self._batch = Batch(n_batch)
        # Inputs packed into one batch add up to at most this many tokens: llama.cpp builds each batch's attention
        # mask over all its cells (n_kv x n_tokens, on one thread), which outgrows the saved graph evaluations
        # beyond a few hundred tokens (32 rerank pairs of 53 tokens on a tiny model: 23 ms packed by 1024, 19-20 ms
        # by 256-512, 45 ms one at a time).
        self.pack_rows = min(n_batch, _PACK_ROWS)

    def _reads_last_token(self, model: Model, ctx: ctypes.c_void_p) -> bool:
        """Whether an input's vector depends on its last token's state alone, so the tokens before it need no
        outputs: causal attention over a KV cache, and pooling by the last token (rank pooling reads the last
        token of a causal model unless its classifier pools by the mean)."""
        if not self.mem or not C.llama_get_causal_attn(ctx):
            return False
        pooling = C.llama_pooling_type(ctx)
        if pooling == C.LLAMA_POOLING_TYPE_RANK:
            cls_pooling = model.meta(f"{model.meta('general.architecture')}.classifier.pooling_type")
            return cls_pooling != str(C.LLAMA_POOLING_TYPE_MEAN)
        return pooling in (C.LLAMA_POOLING_TYPE_LAST, C.LLAMA_POOLING_TYPE_NONE)

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

    def _decode_prefix(self) -> None:
        """Read the batch into the KV cache with embeddings off and no outputs (``last_only``): no output head,
        no final feed-forward rows, nothing copied out."""
        if self._batch.n == 0:
            return
        self._batch.logits[: self._batch.n] = 0
        C.llama_set_embeddings(self.ctx, False)
        try:
            rc = self._batch.decode(self.ctx)
        finally:
            C.llama_set_embeddings(self.ctx, True)
        if rc != 0:
            raise RunnerError(f"failed to compute embeddings (llama_decode returned {rc})")

    def _clear(self) -> None:
        if self.mem:
            C.llama_memory_clear(self.mem, True)
        self._batch.clear()

    def _run(self, group: list[int], prepared: list[list[int]], vectors: list[list[float]]) -> None:
        self._clear()
        if self.last_only:
            for seq, i in enumerate(group):
                if len(prepared[i]) > 1:
                    self._batch.add_run(prepared[i][:-1], 0, seq, False)
            self._decode_prefix()
            self._batch.clear()
            last = [self._batch.add_run(prepared[i][-1:], len(prepared[i]) - 1, seq, True)
                    for seq, i in enumerate(group)]
        else:
            last = [self._batch.add_run(prepared[i], 0, seq, True) for seq, i in enumerate(group)]
        self._decode()
        for seq, i in enumerate(group):
            vectors[i] = self._read(seq, last[seq])

    def _run_long(self, tokens: list[int], i: int, vectors: list[list[float]]) -> None:
        self._clear()
        body = tokens[:-1] if self.last_only else tokens
        index = 0
        for start in range(0, len(body), self.n_batch):
            self._batch.clear()
            index = self._batch.add_run(body[start : start + self.n_batch], start, 0, not self.last_only)
            if self.last_only:
                self._decode_prefix()
            else:
                self._decode()
        if self.last_only:
            self._batch.clear()
            index = self._batch.add_run(tokens[-1:], len(tokens) - 1, 0, True)
            self._decode()
        vectors[i] = self._read(0, index)

    def _read(self, seq: int, index: int) -> list[float]:
        ptr = C.llama_get_embeddings_seq(self.ctx, seq) if self.pooled else None
        if not ptr:
            ptr = C.llama_get_embeddings_ith(self.ctx, index)
        if not ptr:
            raise RunnerError("the model returned no embedding")
        return [float(v) for v in ptr[: self.dim]]
