"""Speculative decoding: guesses of a sequence's next tokens, from n-gram prompt lookup or a small draft model.

The decode loop puts a sequence's draft in the same ``llama_decode`` as its pending token (and the other slots'
rows), samples the target model's logits row by row with the sequence's own sampler exactly as it would without
drafting, and keeps a drafted token only while it equals the token just sampled. Drafts are deterministic (a
point mass ``q``), so the standard acceptance rule (accept with ``min(1, p/q)``, else draw from the residual
``max(0, p - q)``) is exactly this: the sampled token is a draw from ``p``; it equals the draft with probability
``p(draft)`` (accept), and otherwise it is a draw from ``p`` without the draft, the residual renormalised. So
greedy output is the non-speculative output, sampled output has the same distribution, and a fixed seed gives
the same tokens as without drafting (one draw per token, in the same order).

Exactness needs the logits of a verification row to equal those of a one-row decode; ggml's CPU kernels give
bit-identical rows for ubatches of up to ``MAX_ROWS`` rows on this build (measured on Gemma 3 Q4_K_M: 7 rows
equal, 8 rows switch kernels and move logits by up to 1.0), so a step's drafts are fitted into that many rows
in all. (Rows that straddle a 256-cell boundary of the KV cache see a padded attention window and may differ in
the fourth decimal, as between sequences decoded together; greedy tokens stayed the same in every test.)
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path

import llama_cpp.llama_cpp as C
import numpy as np

from ._llama import Batch, ContextParams, Model, common_prefix
from ._types import RunnerError

__all__ = ["DEFAULT_DRAFT", "MAX_ROWS", "DraftModel", "ngram_draft"]

MAX_ROWS = 7  # generation rows per decode step that keep every row's logits bit-identical to a one-row decode
DEFAULT_DRAFT = 4  # tokens a draft model proposes per step unless the request says (Ollama's draft_num_predict)


def ngram_draft(history: Sequence[int], max_ngram: int, n_draft: int) -> list[int]:
    """Prompt lookup: the tokens that followed the latest earlier occurrence of ``history``'s last n tokens.

    n runs from ``max_ngram`` down to 1; the longest n that occurs earlier wins. Empty when nothing matches.
    """
    h = np.asarray(history, np.int64)
    size = len(h)
    if n_draft <= 0 or size < 2:
        return []
    for n in range(min(max_ngram, size - 1), 0, -1):
        tail = h[size - n:]
        starts = np.flatnonzero(h[: size - n] == tail[0])  # a match must have a token after it
        for k in range(1, n):
            if not starts.size:
                break
            starts = starts[h[starts + k] == tail[k]]
        if starts.size:
            at = int(starts[-1]) + n
            return [int(t) for t in h[at: at + n_draft]]
    return []


class DraftModel:
    """A smaller model with the target's vocabulary that guesses tokens greedily, one sequence per target slot.

    Each slot's draft KV cache follows the target's tokens (prompt and accepted output): before drafting, the
    cached prefix is kept and only the rest is evaluated, in the same ``llama_decode`` for all drafting slots when
    it fits ``num_batch``.
    """

    def __init__(self, path: Path, target: Model, *, n_slots: int, num_ctx: int, num_batch: int, n_threads: int,
                 n_gpu_layers: int, flash_attention: bool | None, kv_cache_type: str) -> None:
        self.model = Model(path, n_gpu_layers=n_gpu_layers, use_mmap=None)
        self.ctx: ctypes.c_void_p | None = None
        try:
            _check_vocab(self.model, target)
            self.num_batch = max(num_batch, n_slots)
            self.ctx = self.model.new_context(ContextParams(
                num_ctx * n_slots, self.num_batch, n_slots, n_threads, False, False, flash_attention, kv_cache_type,
                n_outputs_max=n_slots))
        except BaseException:
            self.free()
            raise
        self.mem = C.llama_get_memory(self.ctx)
        self.n_vocab = self.model.n_vocab
        self.caches: list[list[int]] = [[] for _ in range(n_slots)]
        self._batch = Batch(self.num_batch)
        self._solo = Batch(self.num_batch)

    def draft(self, wants: list[tuple[int, list[int], int]]) -> list[list[int]]:
        """For each (slot, tokens so far including the pending one, most guesses): up to that many guesses."""
        out: list[list[int]] = [[] for _ in wants]
        live = [i for i, (_, _, n) in enumerate(wants) if n > 0]
        rows: dict[int, int] = {}  # want index -> batch row of its logits
        batch = self._batch
        batch.clear()
        for k, i in enumerate(live):
            slot, history, _ = wants[i]
            todo = self._sync(slot, history)
            room = self.num_batch - batch.n - (len(live) - k - 1)  # one row stays free for every later want
            if len(todo) > room:  # a long catch-up (a new prompt): all but its last token on its own first
                for at in range(0, len(todo) - 1, self.num_batch):
                    chunk = todo[at: min(at + self.num_batch, len(todo) - 1)]
                    self._solo.clear()
                    self._solo.add_run(chunk, len(self.caches[slot]), slot, False)
                    if not self._decode(self._solo):
                        return out
                    self.caches[slot].extend(chunk)
                todo = todo[-1:]
            rows[i] = batch.add_run(todo, len(self.caches[slot]), slot, True)
            self.caches[slot].extend(todo)
        return self._guess(wants, out, live, rows)

    def _guess(self, wants: list[tuple[int, list[int], int]], out: list[list[int]], live: list[int],
               rows: dict[int, int]) -> list[list[int]]:
        batch = self._batch
        while live and batch.n:
            if not self._decode(batch):
                return out
            going: list[int] = []
            for w in live:
                token = self._argmax(rows[w])
                out[w].append(token)
                if len(out[w]) < wants[w][2] and not self.model.is_eog(token):
                    going.append(w)
            live = going
            batch.clear()
            for k, w in enumerate(live):
                slot = wants[w][0]
                token = out[w][-1]
                rows[w] = k
                batch.add_run([token], len(self.caches[slot]), slot, True)
                self.caches[slot].append(token)
        return out

    def _sync(self, slot: int, history: list[int]) -> list[int]:
        """Keep the cached prefix the slot shares with ``history`` (never all of it: the last token must be
        read for its logits) and return the tokens still to evaluate."""
        cache = self.caches[slot]
        keep = min(common_prefix(cache, history), len(history) - 1)
        if keep < len(cache):
            if not C.llama_memory_seq_rm(self.mem, slot, keep, -1):
                C.llama_memory_seq_rm(self.mem, slot, -1, -1)
                keep = 0
            del cache[keep:]
        return history[keep:]

    def _decode(self, batch: Batch) -> bool:
        if batch.decode(self.ctx) == 0:
            return True
        for slot, cache in enumerate(self.caches):  # a failed draft only costs the guesses
            C.llama_memory_seq_rm(self.mem, slot, -1, -1)
            cache.clear()
        return False

    def _argmax(self, row: int) -> int:
        return int(np.ctypeslib.as_array(C.llama_get_logits_ith(self.ctx, row), shape=(self.n_vocab,)).argmax())

    def free(self) -> None:
        if self.ctx:
            C.llama_free(self.ctx)
            self.ctx = None
        self.model.free()


def _check_vocab(draft: Model, target: Model) -> None:
    """Refuse a draft whose token ids mean other text than the target's (its guesses would be noise)."""
    if draft.n_vocab != target.n_vocab:
        raise RunnerError(f"the draft model's vocabulary ({draft.n_vocab} tokens) does not match the model's "
                          f"({target.n_vocab} tokens)")
    step = max(1, target.n_vocab // 256)
    for token in range(0, target.n_vocab, step):
        if draft.token_text(token) != target.token_text(token):
            raise RunnerError(f"the draft model's vocabulary does not match the model's (token {token})")
