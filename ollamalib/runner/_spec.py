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
import statistics
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import llama_cpp.llama_cpp as C
import numpy as np

from ._llama import Batch, ContextParams, Model, common_prefix
from ._types import RunnerError

__all__ = ["MAX_ROWS", "Acceptance", "DraftModel", "DraftPlanner", "ngram_draft"]

MAX_ROWS = 7  # generation rows per decode step that keep every row's logits bit-identical to a one-row decode


class Acceptance:
    """How often a sequence's guesses hold lately: accepted over checked guesses, each weighing less for every
    guess checked after it (a reply that stops quoting its prompt stops drafting within a few steps)."""

    DECAY = 0.8  # weight an outcome keeps per later outcome

    def __init__(self) -> None:
        self.hits = 1.5  # a prior of 0.6 until the first guesses are checked
        self.trials = 2.5

    @property
    def rate(self) -> float:
        return self.hits / self.trials

    def update(self, drafted: int, accepted: int) -> None:
        """Book a checked draft: ``accepted`` guesses held, and the one after them failed if any was left."""
        if drafted <= 0:
            return
        checked = accepted + (accepted < drafted)
        keep = self.DECAY ** checked
        self.hits = self.hits * keep + accepted * (1 + keep) / 2  # newer outcomes of this step weigh a bit more
        self.trials = self.trials * keep + checked * (1 + keep) / 2


class DraftPlanner:
    """Chooses how many guesses a decode step checks, from what a step of n rows costs on this machine right now
    and how often each sequence's guesses hold.

    A verification row is not free: every row needs the logits over the whole vocabulary (for Gemma 3 270M the
    output projection is 63% of the weights), and ggml's matmul for 2-7 rows is far slower per row than its
    one-row kernel, odd row counts most (the tiles take two rows at a time). How much slower depends on the
    threads and on how much CPU other processes leave, so the cost of an n-row step is measured here (the median
    of its recent decode wall times), not assumed. A step's value is the tokens it is expected to produce: one per
    sequence plus, for each guess, the chance that it and the guesses before it hold (``rate ** k``). The planner
    picks the number of guesses with the most expected tokens per second of decode. Row counts not measured yet
    (or not for ``FORGET`` steps) are assumed cheap, so that they get tried; a plain step is measured at least every
    ``PLAIN_EVERY`` steps so the baseline stays current. It only chooses how many guesses are checked: the tokens
    a sequence produces do not depend on it.
    """

    PRIOR_PER_ROW = 0.25  # an unmeasured n-row step is assumed to cost (1 + 0.25 (n - 1)) one-row steps
    WINDOW = 9  # a row count's cost is the median of its last this many steps (a preempted step is an outlier)
    FORGET = 128  # steps after which a row count not seen again counts as unmeasured (and gets tried again)
    PLAIN_EVERY = 64

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self.samples: list[deque[int]] = [deque(maxlen=self.WINDOW) for _ in range(max_rows + 1)]
        self.seen = [0] * (max_rows + 1)  # step count when each row count was last measured
        self.cost: list[float | None] = [None] * (max_rows + 1)  # ns of a generation step with n rows, n >= 1
        self.steps = 0
        self.since_plain = self.PLAIN_EVERY  # measure a plain step first

    def observe(self, rows: int, guesses: int, ns: int) -> None:
        """Book the decode time of a generation step of ``rows`` rows (all with logits), ``guesses`` of them drafts."""
        if not 0 < rows <= self.max_rows:
            return
        self.steps += 1
        self.samples[rows].append(ns)
        self.seen[rows] = self.steps
        self.cost[rows] = float(statistics.median(self.samples[rows]))
        self.since_plain = 0 if guesses == 0 else self.since_plain + 1
        for n in range(1, self.max_rows + 1):
            if self.cost[n] is not None and self.steps - self.seen[n] > self.FORGET:
                self.samples[n].clear()
                self.cost[n] = None

    def _base(self) -> float:
        one = self.cost[1]
        if one is not None:
            return one
        known = [c / (1 + self.PRIOR_PER_ROW * (n - 1)) for n, c in enumerate(self.cost) if n and c is not None]
        return min(known) if known else 1.0

    def _prior(self, n: int, base: float) -> float:
        return base * (1 + self.PRIOR_PER_ROW * (n - 1))

    def _step_cost(self, n: int, base: float) -> float:
        c = self.cost[n]
        return c if c is not None else self._prior(n, base)

    def lengths(self, rows: int, wants: Sequence[tuple[float, int, float]]) -> list[int]:
        """Guesses to check for each (acceptance rate, most guesses, ns to make one guess) in a step that has
        ``rows`` rows already (n-gram guesses cost about nothing to make; a draft model's would cost its decode)."""
        out = [0] * len(wants)
        room = self.max_rows - rows
        if room <= 0 or not wants or self.since_plain >= self.PLAIN_EVERY:
            return out
        # Adding guesses in order of their chance to be used (rate ** k falls with k) is the best way to fill k rows.
        gains = sorted(((min(rate, 0.99) ** (k + 1), i, ns) for i, (rate, most, ns) in enumerate(wants)
                        for k in range(most)), reverse=True)[:room]
        base = self._base()
        best, best_k, value, making = rows / self._step_cost(rows, base), 0, float(rows), 0.0
        for k, (gain, _, ns) in enumerate(gains, 1):
            value += gain
            making += ns
            speed = value / (self._step_cost(rows + k, base) + making)
            if speed > best:
                best, best_k = speed, k
        for _, i, _ in gains[:best_k]:
            out[i] += 1
        return out


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
        self._steps: deque[int] = deque(maxlen=DraftPlanner.WINDOW)

    @property
    def step_ns(self) -> float:
        """What one guess costs to make: the median wall time of the draft's recent guessing decodes (0 until
        one ran), which the planner weighs against what the guess is expected to give."""
        return float(statistics.median(self._steps)) if self._steps else 0.0

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
            t0 = time.perf_counter_ns()
            if not self._decode(batch):
                return out
            self._steps.append(time.perf_counter_ns() - t0)
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
