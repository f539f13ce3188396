"""The decode loop: one thread that owns the llama.cpp context and serves every sequence slot.

Each turn of the loop
1. starts waiting requests (FIFO) on free slots, each on the free slot whose cached tokens share the longest
   prefix with its prompt (discounted by the cached tokens it would throw away, so a shared BOS does not evict
   a long conversation when an empty slot is free), or restored from the host-RAM prompt cache (``_cache``) when
   a saved state shares more; a slot about to lose a long prefix saves it there first. Only the rest of the
   prompt is evaluated. A prompt cached whole evaluates its last token only, unless the job asks for an exact
   replay: then its last chunk is evaluated again, in the same batch as before, so that it gets the very same
   logits (ggml's results depend on batch shape; re-reading only its last token changes them in the last bits);
2. evaluates prompt chunks (at most ``num_batch`` tokens each, one chunk per job) of new prompts, each in its own
   ``llama_decode`` call, as long as the step's prompt tokens stay within ``num_batch`` (the first chunk is always
   read): short prompts that arrive together all start in one step, a long one costs a chunk per step;
3. decodes one token of every generating sequence together in one ``llama_decode`` call, then samples each
   with its own chain at its batch row.

The consumers of the pieces a step produced are woken together just before the next ``llama_decode`` (``wake_all``),
so their event loop works while llama.cpp computes rather than competing with the decode thread for the GIL.

Prompt chunks are not mixed into the generation batch on purpose: ggml's CPU kernels pick different code paths
for different batch sizes, so a sequence's logits would depend on what else shares its batch. Kept apart, a
sequence decoded beside others gives the same tokens it gives alone (for generation batches of up to about
seven sequences on this build), and the cost is one extra graph evaluation while a prompt is being read. The one
exception is a prompt with a single token left to read (a cached prompt): that token is a row of the generation
step, shaped like a generation row (``_step``).

The thread exits after ``IDLE_EXIT`` seconds without work and ``submit`` starts a new one, so an idle model leaves
no OpenMP team behind (``_openmp``).

A finished or cancelled sequence frees its slot at once; its tokens stay in the KV cache until another request
needs the slot. When a sequence reaches ``num_ctx`` it is shifted (keep ``num_keep`` tokens, drop half of the
rest) if the model allows it and the request did not forbid it, or it ends with ``"length"``.
"""

from __future__ import annotations

import bisect
import ctypes
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import llama_cpp.llama_cpp as C
import numpy as np

from ..errors import RequestCancelledError
from ._cache import PromptCache
from ._disk import DiskCache
from ._llama import Batch, Model, common_prefix
from ._media import ImageChunk, Projector
from ._sampling import Sampler, token_logprobs
from ._score import MIN_READ, ScoreSpec, continuation_logprobs, first_token_logprobs, score_outputs
from ._spec import MAX_ROWS, Acceptance, DraftModel, DraftPlanner, ngram_draft
from ._stream import Sequence, wake_all
from ._text import TextStream
from ._types import DoneReason, Final, Piece, RunnerError, TokenLogprob

__all__ = ["DecodeLoop", "Job"]

log = logging.getLogger("ollamalib.runner")


@dataclass(eq=False)
class Slot:
    """A sequence id in the context and what its KV cache holds (positions 0..len(cache)-1)."""

    index: int
    cache: list[int] = field(default_factory=list)
    valid: int = 0  # leading tokens whose KV equals a fresh evaluation (a shift invalidates the rest)
    starts: list[int] = field(default_factory=list)  # first position of each llama_decode that wrote the cache
    scored: list[int] = field(default_factory=list)  # what its sequence in the scoring context holds (``_score``)
    job: Job | None = None
    last_used: float = 0.0


@dataclass(eq=False)
class Job:
    """Decode-thread state of one Sequence."""

    seq: Sequence
    prompt: list[int]  # what is evaluated (maybe truncated)
    original: list[int]  # what was submitted (the start of ``context``)
    sampler: Sampler
    limit: int  # most tokens to generate
    fill: bool  # num_predict -2: stop when the context is full
    shift: bool
    num_keep: int
    top_logprobs: int
    logprobs: bool
    stream: TextStream
    images: dict[int, ImageChunk] = field(default_factory=dict)  # first position in ``prompt`` -> image
    score: ScoreSpec | None = None  # a scoring job: read the prompt, then score these continuations (``_score``)
    scores: list[list[float]] | None = None
    replay: bool = False  # a prompt cached whole re-reads its last chunk as before (exact logits), not one token
    slot: Slot | None = None
    todo: list[int] = field(default_factory=list)
    n_past: int = 0
    pending: int | None = None
    sampled: int = 0
    generated: list[int] = field(default_factory=list)
    chars: list[int] = field(default_factory=list)  # characters decoded after each generated token
    parts: list[str] = field(default_factory=list)
    acc_tokens: list[int] = field(default_factory=list)
    acc_logprobs: list[TokenLogprob] = field(default_factory=list)
    all_logprobs: list[TokenLogprob] = field(default_factory=list)
    prompt_evaluated: int = 0
    t_start: int = 0
    t_prompt_done: int = 0
    n_draft: int = 0  # most tokens drafted per step (0: no speculative decoding)
    ngram: int = 0  # > 0: drafts by n-gram lookup of up to this many tokens; 0: by the loop's draft model
    adaptive: bool = False  # the planner cuts the draft to what pays (else n_draft guesses whenever they exist)
    draft_count: int = 0  # drafted tokens verified
    draft_accepted: int = 0
    acceptance: Acceptance = field(default_factory=Acceptance)  # how often this sequence's guesses hold lately


# What an extra run of consecutive busy slot ids is worth in prompt tokens: with a split KV cache llama.cpp evaluates
# each run in its own graph (``split_equal`` accepts only ascending, consecutive sequence ids), which costs about
# what a one-row decode does on every step of the request; reusing fewer cached tokens than this is not worth it.
_RUN_COST = 32
# Seconds an idle decode thread waits for work before it exits; ``submit`` starts another. Its OpenMP team goes with
# it: libgomp throttles every team's barrier spin while it manages more threads than there are CPUs, so a loaded model
# that sits idle would slow the busy one's steps (``_openmp``).
IDLE_EXIT = 1.0
# The prompt cache: a slot's state is saved when a new request would throw away at least _MIN_SAVE of its tokens, and
# a saved state is restored when it gives a request at least _MIN_RESTORE more reusable tokens than its slot does.
_MIN_SAVE = 64
_MIN_RESTORE = 32


def _runs(ids: set[int]) -> int:
    """How many runs of consecutive integers ``ids`` makes (``{0, 1, 3}`` -> 2)."""
    return sum(1 for i in ids if i - 1 not in ids)


class DecodeLoop:
    """Slots, the FIFO of waiting jobs and the thread that runs them (see the module docstring)."""

    def __init__(self, model: Model, ctx: ctypes.c_void_p, *, n_slots: int, num_ctx: int, num_batch: int,
                 projector: Projector | None = None, draft: DraftModel | None = None,
                 cache_bytes: int = 0, disk: DiskCache | None = None) -> None:
        self.model = model
        self.cache = PromptCache(cache_bytes, disk) if cache_bytes > 0 else None
        self.projector = projector
        self.draft = draft
        self.ctx = ctx
        self.mem = C.llama_get_memory(ctx)
        self.num_ctx = num_ctx
        self.num_batch = num_batch
        self.can_shift = bool(self.mem) and bool(C.llama_memory_can_shift(self.mem))
        # Scoring reads go to a context of their own (``attach_scorer``), attached on the first score. They are read
        # packed (``_score_groups``); a recurrent state is not split by slot.
        self.score_ctx: ctypes.c_void_p | None = None
        self.score_mem: ctypes.c_void_p | None = None
        self.packs_scores = not C.llama_model_is_recurrent(model.ptr)
        self.slots = [Slot(i) for i in range(n_slots)]
        self._batch = Batch(max(num_batch, n_slots))
        self._piece_buf = ctypes.create_string_buffer(256)
        self._cond = threading.Condition()
        self._waiting: deque[Job] = deque()
        self._active: list[Job] = []
        self._wakes: list[Callable[[], object]] = []  # consumers to wake before the next llama_decode (wake_all)
        self._closing = False
        self._error: BaseException | None = None
        # statistics (written by the decode thread only)
        self.requests_total = 0
        self.prompt_tokens_total = 0
        self.prompt_ns_total = 0
        self.tokens_predicted_total = 0
        self.predict_ns_total = 0
        self.decode_calls = 0
        self.decode_rows = 0
        self.draft_tokens_total = 0
        self.draft_accepted_total = 0
        self.planner = DraftPlanner(min(MAX_ROWS, num_batch))  # how many n-gram guesses a step checks
        self.idle_exit = IDLE_EXIT
        self._thread: threading.Thread | None = None  # the decode thread; None while idle (IDLE_EXIT)
        with self._cond:
            self._spawn()

    # -- called from any thread ----------------------------------------------------------------------------

    def submit(self, job: Job) -> None:
        with self._cond:
            if self._closing or self._error is not None:
                job.sampler.free()
                closed = "the model runner is closed"
                raise RunnerError(closed if self._closing else f"model runner failed: {self._error}")
            self._waiting.append(job)
            self.requests_total += 1
            if self._thread is None:
                self._spawn()
            self._cond.notify()

    def cancel(self, seq: Sequence) -> None:
        with self._cond:
            for job in self._waiting:
                if job.seq is seq:
                    self._waiting.remove(job)
                    job.sampler.free()
                    seq._put(RequestCancelledError())
                    return
            self._cond.notify()

    def attach_scorer(self, ctx: ctypes.c_void_p) -> None:
        """Give scoring jobs their context (``_score``: same slots as sequence ids, attention without flash
        attention); called once, before the first scoring job is submitted."""
        self.score_mem = C.llama_get_memory(ctx)
        self.score_ctx = ctx

    def queued(self) -> int:
        with self._cond:
            return len(self._waiting)

    def is_decode_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
            thread = self._thread
        if thread is not None and threading.current_thread() is not thread:
            thread.join()

    def _spawn(self) -> None:
        """Start the decode thread (the caller holds ``_cond``)."""
        self._thread = threading.Thread(target=self._run, name="ollamalib-decode", daemon=True)
        self._thread.start()

    # -- the decode thread ---------------------------------------------------------------------------------

    def _run(self) -> None:
        idle = False
        try:
            while True:
                with self._cond:
                    while not self._closing and not self._waiting and not self._active:
                        if not self._cond.wait(self.idle_exit) and not (self._closing or self._waiting):
                            self._thread = None  # idle: this thread ends, and its OpenMP team with it
                            idle = True
                            return
                    if self._closing:
                        return
                    free = [s for s in self.slots if s.job is None]
                    admitted = [self._waiting.popleft() for _ in range(min(len(free), len(self._waiting)))]
                for job in admitted:
                    self._start(job, free)
                self._step()
        except BaseException as exc:  # a failed decode thread fails every request instead of hanging them
            log.exception("the decode loop failed")
            with self._cond:
                self._error = exc
        finally:
            if not idle:  # (an idle exit leaves nothing to fail: a job submitted since has a thread of its own)
                self._fail_all()

    def _fail_all(self) -> None:
        """The decode thread ends for good: fail every job still waiting or running."""
        wake_all(self._wakes)
        closed = "the model runner is closed"
        reason = RunnerError(closed if self._error is None else f"model runner failed: {self._error}")
        with self._cond:
            waiting = list(self._waiting)
            self._waiting.clear()
        for job in waiting + self._active:
            job.sampler.free()
            job.seq._put(reason)
        self._active.clear()

    def _start(self, job: Job, free: list[Slot]) -> None:
        """Put ``job`` on the free slot with the longest reusable prefix (or restore a longer one from the prompt
        cache into it); save what the slot held if that is long and about to be lost; drop the rest."""
        if job.score is not None:
            self._start_scoring(job, free)
            return
        shared = {s.index: common_prefix(s.cache[: s.valid], job.prompt) for s in free}
        busy = {j.slot.index for j in self._active if j.slot is not None}

        def worth(s: Slot) -> tuple[float, int]:
            # Tokens saved, less a little for cached tokens thrown away, less a price for every extra run of
            # consecutive slot ids among the busy slots (each run costs a graph evaluation per decode step).
            runs = _runs(busy | {s.index})
            return shared[s.index] - (s.valid - shared[s.index]) / 8 - _RUN_COST * runs, -s.index

        best = max(free, key=worth)
        free.remove(best)
        keep = shared[best.index]
        if self.cache is not None and len(job.prompt) - keep > _MIN_RESTORE:
            keep = self._restore(best, job.prompt, keep)
        if keep >= len(job.prompt) and best.starts and job.replay:
            # The whole prompt is cached and an exact replay was asked for: evaluate its last chunk again exactly
            # as it was evaluated before, so the logits (and a seeded draw) match the earlier run; a single
            # re-read token (the default, as llama-server does) gives slightly different logits.
            at = bisect.bisect_right(best.starts, len(job.prompt) - 1) - 1
            keep = best.starts[at] if at >= 0 else 0
        keep = min(keep, len(job.prompt) - 1)
        # an image is evaluated whole: never resume in the middle of one
        keep = next((start for start, image in job.images.items() if start < keep < start + image.n_tokens), keep)
        if self.cache is not None and best.valid - keep >= _MIN_SAVE:
            self._save(best)
        if keep < len(best.cache):
            if not C.llama_memory_seq_rm(self.mem, best.index, keep, -1):
                C.llama_memory_seq_rm(self.mem, best.index, -1, -1)
                keep = 0
            del best.cache[keep:]
        best.valid = min(best.valid, keep)
        del best.starts[bisect.bisect_left(best.starts, keep):]
        self._occupy(best, job, keep)

    def _start_scoring(self, job: Job, free: list[Slot]) -> None:
        """Put a scoring job on the free slot whose scoring sequence shares the longest prefix with its prompt; only
        the rest is read (the slot's generation cache is not touched: scoring reads another context), and at least
        ``MIN_READ`` rows, which give the logits of the whole prompt read at once."""
        shared = {s.index: common_prefix(s.scored, job.prompt) for s in free}
        best = max(free, key=lambda s: (shared[s.index] - (len(s.scored) - shared[s.index]) / 8, -s.index))
        free.remove(best)
        keep = self._trim_scored(best, max(0, min(shared[best.index], len(job.prompt) - MIN_READ)))
        self._occupy(best, job, keep)

    def _occupy(self, slot: Slot, job: Job, keep: int) -> None:
        """Start ``job`` on ``slot``, its first ``keep`` prompt tokens already cached there."""
        slot.job = job
        job.slot = slot
        job.n_past = keep
        job.todo = job.prompt[keep:]
        job.t_start = time.perf_counter_ns()
        self._active.append(job)

    def _trim_scored(self, slot: Slot, keep: int) -> int:
        """Cut the slot's scoring sequence to its first ``keep`` tokens (all of it when llama.cpp cannot cut
        there); returns the tokens kept."""
        if keep < len(slot.scored):
            if not C.llama_memory_seq_rm(self.score_mem, slot.index, keep, -1):
                C.llama_memory_seq_rm(self.score_mem, slot.index, -1, -1)
                keep = 0
            del slot.scored[keep:]
        return keep

    def _restore(self, slot: Slot, prompt: list[int], keep: int) -> int:
        """Copy the cached state sharing the longest prefix with ``prompt`` into ``slot`` when it beats the
        ``keep`` tokens the slot shares already (saving the slot's own state first); the tokens now reusable."""
        cache = self.cache
        assert cache is not None
        entry, length = cache.find(prompt)
        if entry is None or length - keep < _MIN_RESTORE:
            cache.misses += 1
            return keep
        if slot.valid >= _MIN_SAVE:
            self._save(slot)
        if not cache.restore(self.ctx, entry, slot.index):
            log.warning("could not restore a cached prompt of %d tokens", len(entry.tokens))
            self._drop_cache(slot)
            cache.misses += 1
            return 0
        slot.cache = entry.tokens.tolist()
        slot.valid = len(slot.cache)
        slot.starts = list(entry.starts)
        cache.hits += 1
        cache.tokens_restored += length
        return length

    def _save(self, slot: Slot) -> None:
        """Save the slot's valid prefix to the prompt cache (its invalid tail, after a context shift, is dropped)."""
        assert self.cache is not None
        if slot.valid < len(slot.cache):
            if not C.llama_memory_seq_rm(self.mem, slot.index, slot.valid, -1):
                return
            del slot.cache[slot.valid:]
            del slot.starts[bisect.bisect_left(slot.starts, slot.valid):]
        self.cache.save(self.ctx, slot.index, slot.cache, slot.starts)

    def persist(self) -> None:
        """After ``close()``: write the long prefixes the slots hold to the prompt cache's disk tier, and wait."""
        if self.cache is None or self.cache.disk is None:
            return
        for slot in self.slots:
            if slot.valid >= _MIN_SAVE and (slot.valid == len(slot.cache)
                                            or C.llama_memory_seq_rm(self.mem, slot.index, slot.valid, -1)):
                starts = slot.starts[: bisect.bisect_left(slot.starts, slot.valid)]
                self.cache.persist(self.ctx, slot.index, slot.cache[: slot.valid], starts)
        self.cache.close()

    def _step(self) -> None:
        for job in [j for j in self._active if j.seq.cancelled]:
            self._release(job)
            job.seq._put(RequestCancelledError())
        # A prompt with one token left to read (cached but for its last token, as a repeated prompt or a chat's
        # next turn after a restore is) joins the generation step's llama_decode as a row of its own
        # (``_generate``), as llama-server mixes prompt tokens with generation rows: such prompts arriving
        # together are read in one decode instead of one each (8 of them: one 36 ms decode instead of eight of
        # 11 ms on Gemma 3 270M), and a newcomer costs the generating sequences no decode of its own. Its row has
        # the shape of a generation row, so the prompt is chunked as it would be alone. Other prompts are read in
        # their own chunks, bounded in tokens per step, so a long prompt costs the generating sequences one
        # num_batch chunk per step; jobs asking for an exact replay, scoring jobs (another context) and prompts
        # with images always are.
        budget = self.num_batch
        scoring = [j for j in self._active if j.score is not None and j.todo]
        if self.packs_scores:
            for group in self._score_groups([j for j in scoring if len(j.todo) <= budget]):
                rows = len(group) * max(len(j.todo) for j in group)
                if len(group) > 1 and rows <= budget:
                    budget -= self._read_packed(group)
        joining: list[Job] = []  # one row each; with the generating rows at most one per slot, within num_batch
        for job in [j for j in self._active if j.todo]:
            if len(job.todo) == 1 and job.score is None and not job.images and not job.replay:
                joining.append(job)
                continue
            if budget < min(len(job.todo), self.num_batch):  # the first chunk always fits
                break
            before = len(job.todo)
            self._read_prompt(job)
            budget -= max(1, before - len(job.todo))
        generating = [j for j in self._active if j.pending is not None]
        if generating or joining:
            self._generate(generating, joining)
        wake_all(self._wakes)

    def _read_prompt(self, job: Job) -> None:
        slot = job.slot
        assert slot is not None
        image = job.images.get(job.n_past) if job.todo[0] < 0 else None
        if image is not None:
            chunk = job.todo[: image.n_tokens]
        else:
            chunk = job.todo[: self.num_batch]
            if job.score is not None and 0 < len(job.todo) - len(chunk) < MIN_READ:  # the last chunk takes MIN_READ
                chunk = chunk[: len(job.todo) - MIN_READ]
            if job.images:  # text runs up to the next image
                marks = np.flatnonzero(np.asarray(chunk, np.int64) < 0)
                if marks.size:
                    chunk = chunk[: int(marks[0])]
        last = len(chunk) == len(job.todo)
        ctx = self.ctx if job.score is None else self.score_ctx
        wake_all(self._wakes)
        t0 = time.perf_counter_ns()
        if image is not None:
            assert self.projector is not None
            index = -1  # the image's own embedding batch: its last row holds the logits
            rc = self.projector.evaluate(self.ctx, image, job.n_past, slot.index, self.num_batch, last)
        elif chunk:
            batch = self._batch
            batch.clear()
            index = batch.add_run(chunk, job.n_past, slot.index, last)
            rc = batch.decode(ctx)
        else:
            index, rc = -1, -1  # image placeholders with no image behind them
        self.prompt_ns_total += time.perf_counter_ns() - t0
        self.decode_calls += 1
        if rc != 0:
            self._drop(job)
            self._fail(job, RunnerError(f"failed to evaluate the prompt (llama_decode returned {rc})"))
            return
        self._prompt_read(job, chunk)
        if last:
            job.t_prompt_done = time.perf_counter_ns()
            if job.score is not None:
                self._score(job, first_token_logprobs(ctx, index, self.model.n_vocab, job.score))
            elif job.limit <= 0:
                self._finish(job, "length")
            else:
                self._sample(job, index)

    def _prompt_read(self, job: Job, chunk: list[int]) -> None:
        """Book ``chunk`` (just decoded at ``job.n_past``) into the job and its slot's cache."""
        slot = job.slot
        assert slot is not None
        if job.score is not None:
            slot.scored.extend(chunk)
        else:
            if slot.valid == len(slot.cache):
                slot.valid += len(chunk)
            slot.starts.append(len(slot.cache))
            slot.cache.extend(chunk)
        job.n_past += len(chunk)
        job.prompt_evaluated += len(chunk)
        self.prompt_tokens_total += len(chunk)
        del job.todo[: len(chunk)]

    def _widen(self, job: Job, rows: int) -> None:
        """Make a scoring job read the last ``rows`` tokens of its prompt, re-reading cached ones (``_score_groups``)."""
        slot = job.slot
        start = len(job.prompt) - rows
        if slot is None or rows <= len(job.todo) or start < 0:
            return
        if not C.llama_memory_seq_rm(self.score_mem, slot.index, start, -1):
            return
        del slot.scored[start:]
        job.n_past = start
        job.todo = job.prompt[start:]

    def _score_groups(self, jobs: list[Job]) -> list[list[Job]]:
        """Scoring jobs in groups that one ``llama_decode`` reads as one ubatch, each job with the same number of
        rows: with a split KV cache llama.cpp splits a batch into ubatches of equal rows per sequence, for
        consecutive ascending sequence ids only, and a packed read of unequal rows moved scores by up to 0.2 in
        log probability against a read of each prompt alone (equal rows give the very same logits). So a group
        is a run of consecutive slots whose prompts can all take the group's widest read, within ``num_batch``
        rows."""
        groups: list[list[Job]] = []
        group: list[Job] = []
        for job in sorted(jobs, key=lambda j: j.slot.index):  # type: ignore[union-attr]
            grown = group + [job]
            rows = max(len(j.todo) for j in grown)
            fits = (bool(group) and job.slot.index == group[-1].slot.index + 1  # type: ignore[union-attr]
                    and all(len(j.prompt) >= rows for j in grown) and rows * len(grown) <= self.num_batch)
            if group and not fits:
                groups.append(group)
                grown = [job]
            group = grown
        if group:
            groups.append(group)
        return groups

    def _read_packed(self, jobs: list[Job]) -> int:
        """Read the remaining prompts of a group of scoring jobs (``_score_groups``) in one ``llama_decode``, each
        widened to the group's rows (rows in slot order, one logits row per job); returns the tokens read. Many
        short pairs sharing a cached prefix are what rerank sends: each reads only its own tail."""
        width = max(len(j.todo) for j in jobs)
        for job in jobs:
            self._widen(job, width)
        batch = self._batch
        batch.clear()
        rows = [batch.add_run(job.todo, job.n_past, job.slot.index, True) for job in jobs]  # type: ignore[union-attr]
        size = batch.n
        wake_all(self._wakes)
        t0 = time.perf_counter_ns()
        rc = batch.decode(self.score_ctx)
        self.prompt_ns_total += time.perf_counter_ns() - t0
        self.decode_calls += 1
        if rc != 0:
            for job in jobs:
                self._drop(job)
                self._fail(job, RunnerError(f"failed to evaluate the prompt (llama_decode returned {rc})"))
            return size
        firsts = []
        for job, row in zip(jobs, rows):
            assert job.score is not None
            firsts.append(first_token_logprobs(self.score_ctx, row, self.model.n_vocab, job.score))
        now = time.perf_counter_ns()
        for job, first in zip(jobs, firsts):
            self._prompt_read(job, list(job.todo))
            job.t_prompt_done = now
            self._score(job, first)
        return size

    def _score(self, job: Job, first: list[float]) -> None:
        """Finish a scoring job whose prompt is read: its continuations' log probabilities become the result.

        Scoring reads and writes only the scoring context, whose attention runs without flash attention: ggml-cpu's
        flash attention uses a tiled kernel for 64 query rows per sequence or more and a row kernel below, and the
        two disagree by up to 0.4 in log probability on SmolLM2-135M and Gemma 3 270M, whatever the KV type. The
        plain attention gives a prompt the same logits whether it is read whole or as a cached prefix plus a
        tail of any length, so scores do not depend on what the cache held (or which request wrote it).
        """
        assert job.score is not None and job.slot is not None
        try:
            job.scores = continuation_logprobs(
                self.score_ctx, self._batch, n_vocab=self.model.n_vocab, seq=job.slot.index, prompt=job.prompt,
                n_outputs=score_outputs(len(self.slots)), spec=job.score, first=first)
        except RunnerError as exc:
            self._drop(job)
            self._fail(job, exc)
            return
        self._finish(job, "stop")

    def _generate(self, jobs: list[Job], joining: list[Job]) -> None:
        """One decode step: each generating job's pending token (and its draft), and the last prompt token of each
        ``joining`` job, whose row gives its first token."""
        rows: list[Job] = []
        for job in jobs:
            if job.n_past >= self.num_ctx:
                shifted = not job.fill and job.shift and self._shift(job)
                if not shifted:
                    self._finish(job, "length")
                    continue
            rows.append(job)
        if not rows and not joining:
            return
        # Rows in slot order: with a split KV cache llama.cpp packs a step into one ubatch only when its sequence
        # ids ascend; in admission order it may run the step as several graph evaluations.
        rows.sort(key=lambda j: j.slot.index)  # type: ignore[union-attr]
        wake_all(self._wakes)  # before the draft model's decodes too
        t0 = time.perf_counter_ns()
        drafts = self._drafts(rows, len(joining))
        # every row in slot order: (job, its token, its draft); a joining job's token is its prompt's last
        steps = sorted([(j, j.pending, d) for j, d in zip(rows, drafts)] + [(j, j.todo[0], []) for j in joining],
                       key=lambda e: e[0].slot.index)  # type: ignore[union-attr]
        batch = self._batch
        if any(drafts):  # each sequence's pending token and its draft as one run, every row with logits
            batch.clear()
            offsets = []
            for job, token, draft in steps:
                offsets.append(batch.n)
                batch.add_run([token, *draft], job.n_past, job.slot.index, False,  # type: ignore[union-attr]
                              all_logits=True)
        else:
            offsets = list(range(len(steps)))
            batch.set_rows([t for _, t, _ in steps], [j.n_past for j, _, _ in steps],  # type: ignore[misc]
                           [j.slot.index for j, _, _ in steps])  # type: ignore[union-attr]
        t_decode = time.perf_counter_ns()
        rc = batch.decode(self.ctx)
        done = time.perf_counter_ns()
        guesses = sum(map(len, drafts))
        if not joining:  # the planner's step costs are of generation rows alone
            self.planner.observe(len(rows) + guesses, guesses, done - t_decode)
        if rows:
            self.predict_ns_total += done - t0
        else:
            self.prompt_ns_total += done - t0
        self.decode_calls += 1
        self.decode_rows += len(rows) + len(joining)
        if rc != 0:
            for job in rows:
                self._drop_cache(job.slot)  # type: ignore[arg-type]
                self._fail(job, RunnerError(f"failed to decode (llama_decode returned {rc})"))
            for job in joining:
                self._drop(job)
                self._fail(job, RunnerError(f"failed to evaluate the prompt (llama_decode returned {rc})"))
            return
        for (job, _, draft), at in zip(steps, offsets):
            if not job.todo:
                self._accept(job, at, draft)
                continue
            self._prompt_read(job, list(job.todo))
            job.t_prompt_done = done
            if job.limit <= 0:
                self._finish(job, "length")
            else:
                self._sample(job, at)

    def _drafts(self, rows: list[Job], joined: int = 0) -> list[list[int]]:
        """Each row's draft, fitted into the step's MAX_ROWS rows (shared evenly, less the ``joined`` rows of
        prompts read in the same step), the context and the limit, and cut to the length the planner finds worth
        checking (``DraftPlanner``)."""
        drafts: list[list[int]] = [[] for _ in rows]
        spare = min(MAX_ROWS, self.num_batch) - len(rows) - joined
        wanting = [i for i, job in enumerate(rows) if job.n_draft > 0 and (job.ngram or self.draft is not None)]
        if spare <= 0 or not wanting:
            return drafts
        share, extra = divmod(spare, len(wanting))
        model_wants: list[tuple[int, int]] = []
        planned: list[tuple[int, list[int]]] = []  # adaptive n-gram drafts, cut by the planner below (as are
        # adaptive draft-model wants, before the draft model runs)
        for k, i in enumerate(wanting):
            job = rows[i]
            cap = min(job.n_draft, share + (k < extra), self.num_ctx - job.n_past - 1, job.limit - job.sampled - 1)
            if cap <= 0:
                continue
            if not job.ngram:
                model_wants.append((i, cap))
            elif guess := ngram_draft(job.prompt + job.generated, job.ngram, cap):
                if job.adaptive:
                    planned.append((i, guess))
                else:
                    drafts[i] = guess
        if planned or any(rows[i].adaptive for i, _ in model_wants):
            fixed = len(rows) + sum(map(len, drafts)) + sum(n for i, n in model_wants if not rows[i].adaptive)
            planned_models = [(i, n) for i, n in model_wants if rows[i].adaptive]
            # A draft model's guesses are planned before they are made: each costs a draft decode (``step_ns``).
            step_ns = self.draft.step_ns if self.draft is not None else 0.0
            lengths = self.planner.lengths(fixed, [(rows[i].acceptance.rate, len(g), 0.0) for i, g in planned]
                                           + [(rows[i].acceptance.rate, n, step_ns) for i, n in planned_models])
            for (i, guess), n in zip(planned, lengths):
                drafts[i] = guess[:n]
            caps = dict(zip((i for i, _ in planned_models), lengths[len(planned):]))
            model_wants = [(i, caps.get(i, n)) for i, n in model_wants if caps.get(i, n) > 0]
        if model_wants and self.draft is not None:
            guesses = self.draft.draft([(rows[i].slot.index, [*rows[i].slot.cache, rows[i].pending], cap)  # type: ignore
                                        for i, cap in model_wants])
            for (i, _), guess in zip(model_wants, guesses):
                drafts[i] = guess
        return drafts

    def _accept(self, job: Job, at: int, draft: list[int]) -> None:
        """Take the pending token into the slot's cache and sample its row; then each drafted token too, while
        it equals the token sampled before it (its row's logits are then the ones a plain step would give).
        The KV of the drafted tokens not taken is removed."""
        slot = job.slot
        assert slot is not None and job.pending is not None
        start = len(slot.cache)
        slot.starts.append(start)
        token = job.pending
        job.draft_count += len(draft)
        self.draft_tokens_total += len(draft)
        accepted = job.draft_accepted
        for i in range(len(draft) + 1):
            if slot.valid == len(slot.cache):
                slot.valid += 1
            slot.cache.append(token)
            job.n_past += 1
            job.pending = None
            self._sample(job, at + i)
            if i == len(draft) or job.pending != draft[i]:
                break
            token = draft[i]
            job.draft_accepted += 1
            self.draft_accepted_total += 1
        job.acceptance.update(len(draft), job.draft_accepted - accepted)
        if len(slot.cache) < start + len(draft) + 1:
            C.llama_memory_seq_rm(self.mem, slot.index, len(slot.cache), -1)

    def _shift(self, job: Job) -> bool:
        """Make room in a full sequence: keep ``num_keep`` tokens, drop half of the rest, slide the tail back."""
        slot = job.slot
        if not self.can_shift or slot is None:
            return False
        n_keep = max(0, min(job.num_keep, job.n_past - 1))
        n_discard = (job.n_past - n_keep) // 2
        if n_discard <= 0 or not C.llama_memory_seq_rm(self.mem, slot.index, n_keep, n_keep + n_discard):
            return False
        C.llama_memory_seq_add(self.mem, slot.index, n_keep + n_discard, job.n_past, -n_discard)
        del slot.cache[n_keep : n_keep + n_discard]
        slot.valid = min(slot.valid, n_keep)
        del slot.starts[bisect.bisect_left(slot.starts, n_keep):]
        slot.starts.append(n_keep)  # the slid tail no longer matches any earlier evaluation
        job.n_past -= n_discard
        log.debug("context shift: kept %d, discarded %d", n_keep, n_discard)
        return True

    def _sample(self, job: Job, index: int) -> None:
        token = job.sampler.sample(self.ctx, index)
        job.sampled += 1
        self.tokens_predicted_total += 1
        entry = None
        if job.logprobs:
            entry = token_logprobs(self.model, self.ctx, index, token, job.top_logprobs, self._piece_buf)
        if self.model.is_eog(token):
            self._finish(job, "stop")
            return
        job.generated.append(token)
        text, stopped = job.stream.feed(self.model.piece(token, self._piece_buf))
        job.chars.append(job.stream.produced)
        job.acc_tokens.append(token)
        if entry is not None:
            job.acc_logprobs.append(entry)
            job.all_logprobs.append(entry)
        if stopped:
            self._finish(job, "stop", text, by_stop=True)
        elif job.sampled >= job.limit:
            self._finish(job, "length", text)
        else:
            if text:
                job.parts.append(text)
                job.seq._put(Piece(text, job.acc_tokens, job.acc_logprobs or None), self._wakes)
                job.acc_tokens, job.acc_logprobs = [], []
            job.pending = token

    def _finish(self, job: Job, reason: DoneReason, text: str = "", *, by_stop: bool = False) -> None:
        if not by_stop:
            text += job.stream.finish()
        if text:
            job.parts.append(text)
        generated = job.generated
        if by_stop:  # leave out the tokens that only made up the stop string
            emitted = job.stream.emitted
            generated = generated[: bisect.bisect_left(job.chars, emitted) + 1] if emitted else []
        now = time.perf_counter_ns()
        prompt_ns = (job.t_prompt_done or now) - job.t_start
        eval_ns = now - job.t_prompt_done if job.t_prompt_done else 0
        context = job.original + generated
        if job.images:  # image positions are no tokens
            context = [t for t in context if t >= 0]
        final = Final(
            text="".join(job.parts),
            tokens=list(job.generated),
            done_reason=reason,
            prompt_eval_count=job.prompt_evaluated,
            prompt_eval_duration_ns=prompt_ns,
            eval_count=job.sampled,
            eval_duration_ns=eval_ns,
            context=context,
            logprobs=job.all_logprobs if job.logprobs else None,
            draft_count=job.draft_count,
            draft_accepted_count=job.draft_accepted,
            scores=job.scores,
        )
        self._release(job)
        job.seq.result = final
        job.seq._put(Piece(
            text, job.acc_tokens, job.acc_logprobs or None, done=True, done_reason=reason,
            stop_sequence=job.stream.matcher.matched if by_stop else None,
            prompt_eval_count=final.prompt_eval_count, prompt_eval_duration_ns=prompt_ns,
            eval_count=final.eval_count, eval_duration_ns=eval_ns, context=context,
            draft_count=job.draft_count, draft_accepted_count=job.draft_accepted,
        ), self._wakes)

    def _fail(self, job: Job, error: BaseException) -> None:
        self._release(job)
        job.seq._put(error, self._wakes)

    def _release(self, job: Job) -> None:
        job.sampler.free()
        if job in self._active:
            self._active.remove(job)
        if job.slot is not None:
            job.slot.job = None
            job.slot.last_used = time.monotonic()
        job.pending = None

    def _drop(self, job: Job) -> None:
        """Forget what the failed job's slot held in the context it was read into."""
        assert job.slot is not None
        if job.score is not None:
            self._trim_scored(job.slot, 0)
        else:
            self._drop_cache(job.slot)

    def _drop_cache(self, slot: Slot) -> None:
        C.llama_memory_seq_rm(self.mem, slot.index, -1, -1)
        slot.cache.clear()
        slot.starts.clear()
        slot.valid = 0
