"""Scores computed directly through llama-cpp-python's low-level API, one input at a time, as references.

Logits are read without flash attention, as ollamalib's scoring context reads them (the same arithmetic on
both sides: ggml-cpu's flash attention gives a prompt other logits when it is read in pieces).

Rerank and scoring tests compare ollamalib's batched results with these; ``benchmarks/rerank.py`` times them as
the plain loop a user would write. Nothing of ollamalib's runner is used here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import llama_cpp.llama_cpp as C
import numpy as np

__all__ = ["LowLevel", "low_level", "pair_scores", "yes_no_scores"]


class LowLevel:
    """One llama.cpp model and context (rank-pooling embeddings, or logits), driven call by call."""

    def __init__(self, path: Path, *, n_ctx: int, rank: bool, threads: int = 0) -> None:
        C.llama_backend_init()
        mparams = C.llama_model_default_params()
        mparams.use_extra_bufts = False
        self.model = C.llama_model_load_from_file(os.fsencode(path), mparams)
        assert self.model, f"cannot load {path}"
        self.vocab = C.llama_model_get_vocab(self.model)
        self.n_vocab = int(C.llama_vocab_n_tokens(self.vocab))
        cparams = C.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = cparams.n_ubatch = n_ctx
        cparams.n_seq_max = 1
        cparams.n_threads = cparams.n_threads_batch = threads or os.cpu_count() or 1
        cparams.embeddings = rank
        if rank:
            cparams.pooling_type = C.LLAMA_POOLING_TYPE_RANK
        else:  # the attention of ollamalib's scoring context (runner/_runner.py ``_score_params``)
            cparams.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_DISABLED
        self.ctx = C.llama_init_from_model(self.model, cparams)
        assert self.ctx, "cannot create a context"
        self.n_cls_out = max(1, int(C.llama_model_n_cls_out(self.model)))

    def tokenize(self, text: str, add_special: bool = False) -> list[int]:
        data = text.encode()
        buf = (C.llama_token * (len(data) + 8))()
        n = C.llama_tokenize(self.vocab, data, len(data), buf, len(buf), add_special, True)
        assert n >= 0
        return list(buf[:n])

    def _decode(self, tokens: Sequence[int], pos0: int = 0, all_logits: bool = False) -> None:
        batch = C.llama_batch_init(len(tokens), 0, 1)
        try:
            for i, t in enumerate(tokens):
                batch.token[i] = t
                batch.pos[i] = pos0 + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = all_logits or i == len(tokens) - 1
            batch.n_tokens = len(tokens)
            assert C.llama_decode(self.ctx, batch) == 0
        finally:
            C.llama_batch_free(batch)

    def rank(self, tokens: Sequence[int]) -> list[float]:
        """The classifier outputs of one input (a fresh KV cache)."""
        C.llama_memory_clear(C.llama_get_memory(self.ctx), True)
        self._decode(tokens)
        ptr = C.llama_get_embeddings_seq(self.ctx, 0)
        return [float(v) for v in np.ctypeslib.as_array(ptr, shape=(self.n_cls_out,))]

    def next_logprobs(self, prompt: Sequence[int], tokens: Sequence[int]) -> list[float]:
        """The log probability of each of ``tokens`` as the next token after ``prompt`` (one evaluation)."""
        C.llama_memory_clear(C.llama_get_memory(self.ctx), True)
        self._decode(prompt)
        logits = np.ctypeslib.as_array(C.llama_get_logits_ith(self.ctx, -1), shape=(self.n_vocab,))
        logits = logits.astype(np.float64)
        norm = logits.max() + math.log(np.exp(logits - logits.max()).sum())
        return [float(logits[t] - norm) for t in tokens]

    def logprobs(self, prompt: Sequence[int], continuation: Sequence[int]) -> list[float]:
        """Each continuation token's log probability after ``prompt`` (a fresh KV cache, one sequence)."""
        C.llama_memory_clear(C.llama_get_memory(self.ctx), True)
        tokens = list(prompt) + list(continuation[:-1])
        self._decode(tokens, all_logits=True)
        out = []
        for k, target in enumerate(continuation):
            row = len(prompt) - 1 + k
            logits = np.ctypeslib.as_array(C.llama_get_logits_ith(self.ctx, row), shape=(self.n_vocab,))
            logits = logits.astype(np.float64)
            peak = logits.max()
            out.append(float(logits[target] - peak - math.log(np.exp(logits - peak).sum())))
        return out

    def close(self) -> None:
        C.llama_free(self.ctx)
        C.llama_model_free(self.model)


@contextmanager
def low_level(path: Path, *, n_ctx: int = 512, rank: bool = False, threads: int = 0) -> Iterator[LowLevel]:
    ll = LowLevel(path, n_ctx=n_ctx, rank=rank, threads=threads)
    try:
        yield ll
    finally:
        ll.close()



def pair_scores(path: Path, query: str, docs: Sequence[str], *, n_ctx: int = 2048) -> list[float]:
    """A cross-encoder's score of each (query, document) pair, the pair laid out as the tokenizer's own pair
    template (a BERT's ``[CLS] query [SEP] document [SEP]``): the query with its specials, then the document's
    tokens with its own specials minus the leading BOS/CLS."""
    with low_level(path, n_ctx=n_ctx, rank=True) as ll:
        head = ll.tokenize(query, add_special=True)
        bos = ll.tokenize("", add_special=True)[:1]
        out = []
        for doc in docs:
            tail = ll.tokenize(doc, add_special=True)
            out.append(ll.rank(head + (tail[1:] if tail[:1] == bos else tail))[0])
        return out


def yes_no_scores(path: Path, prompts: Sequence[str], answers: tuple[str, str], *, n_ctx: int = 2048) -> list[float]:
    """P(yes) / (P(yes) + P(no)) after each prompt (tokenized with BOS), the answers' tokens read directly."""
    out = []
    with low_level(path, n_ctx=n_ctx) as ll:
        yes, no = (ll.tokenize(a) for a in answers)
        for prompt in prompts:
            tokens = ll.tokenize(prompt, add_special=True)
            p_yes = math.exp(sum(ll.logprobs(tokens, yes)))
            p_no = math.exp(sum(ll.logprobs(tokens, no)))
            out.append(p_yes / (p_yes + p_no))
    return out
