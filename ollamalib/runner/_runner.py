"""Runner: one loaded model on llama.cpp, serving many sequences at once (or embeddings)."""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Iterator
from collections.abc import Sequence as Tokens
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import llama_cpp
import llama_cpp.llama_cpp as C

from ..errors import ContextLengthError
from ._disk import DiskCache, file_identity, identity
from ._embed import INPUT_TOO_LONG, Embedder
from ._llama import ContextParams, Model, kv_cache_type
from ._loop import DecodeLoop, Job
from ._media import ImagePrompt, Projector
from ._openmp import on_own_thread
from ._sampling import Sampler
from ._score import ScoreSpec, score_outputs
from ._spec import MAX_ROWS, DraftModel
from ._stream import Sequence
from ._text import TextStream
from ._types import Final, LoadOptions, RunnerError, RunnerStats, SamplingOptions

__all__ = ["PROMPT_TOO_LONG", "Runner", "truncate_image_prompt", "truncate_prompt"]

log = logging.getLogger(__name__)

PROMPT_TOO_LONG = (
    "the prompt is longer than the context length currently available to the model; shorten the prompt, "
    "adjust the context length in settings, or use a model with a longer context length"
)
_EMBED_SEQS = 64
_EMBED_CHUNK = 128


def truncate_prompt(tokens: list[int], num_ctx: int, num_keep: int) -> list[int]:
    """Ollama's cut of a prompt that does not fit: keep ``num_keep`` tokens, drop the middle so about half the
    window stays free (llm/llama_server.go ``contextShiftPromptLimit``). ``num_keep`` already counts the BOS."""
    limit_full = num_ctx - 1
    if len(tokens) <= limit_full:
        return tokens
    keep = min(max(num_keep, 0), limit_full)
    limit = num_ctx - max((num_ctx - keep) // 2, 1)
    discard = len(tokens) - limit
    return tokens[:keep] + tokens[keep + discard:]


def truncate_image_prompt(prompt: ImagePrompt, num_ctx: int, num_keep: int) -> ImagePrompt:
    """``truncate_prompt`` for a prompt with images: an image is kept or dropped whole, never cut."""
    tokens = prompt.tokens
    limit_full = num_ctx - 1
    if len(tokens) <= limit_full:
        return prompt
    spans = prompt.spans()
    keep = min(max(num_keep, 0), limit_full)
    keep = next((start for start, end in spans if start < keep < end), keep)
    limit = num_ctx - max((num_ctx - keep) // 2, 1)
    end = keep + len(tokens) - limit
    end = next((stop for start, stop in spans if start < end < stop), end)
    images = {}
    for start, image in prompt.images.items():
        if start < keep:
            images[start] = image
        elif start >= end:
            images[start - (end - keep)] = image
    cut = ImagePrompt(tokens[:keep] + tokens[end:], images)
    if len(cut) > limit_full:
        raise ContextLengthError(PROMPT_TOO_LONG)
    return cut


def _batch_size(options: LoadOptions, limit: int) -> int:
    """``num_batch`` within (0, ``limit``]: a non-positive value (which llama.cpp refuses) means Ollama's default
    of 512, and a batch larger than the context is useless (and could wrap llama.cpp's 32-bit field to 0)."""
    return min(options.num_batch if options.num_batch > 0 else 512, limit)


def _context_params(model: Model, options: LoadOptions, num_ctx: int) -> ContextParams:
    """The llama.cpp context for these options: ``num_parallel`` slots of ``num_ctx`` tokens, or an embedder."""
    cpus = os.cpu_count() or 1
    # Values llama.cpp would abort on (or drown the machine with) are brought into range: a request's options
    # must never take the process down.
    threads = min(options.num_thread, 4 * cpus) if options.num_thread > 0 else cpus
    max_seqs = int(C.llama_max_parallel_sequences())
    if options.embedding:
        # A model with its own pooling (an embedding model) reads each input in one ubatch, as non-causal models
        # need. A generative model gives its last token's state; llama.cpp outputs every token in embedding mode
        # (with logits over the whole vocabulary), so it reads inputs in small chunks to keep that buffer small.
        pooled = model.meta(f"{model.meta('general.architecture')}.pooling_type") not in (None, "0")
        batch = num_ctx if pooled else min(num_ctx, _EMBED_CHUNK)
        return ContextParams(num_ctx, batch, min(_EMBED_SEQS, max_seqs, batch), threads, True, True,
                             options.flash_attention, options.kv_cache_type)
    # Split (not unified) KV: each slot owns exactly num_ctx cells and attends over its own cells only.
    seqs = min(max(1, options.num_parallel), max_seqs)
    # A decode step has one row of logits per sequence, or up to MAX_ROWS with speculative drafts in it.
    return ContextParams(num_ctx * seqs, max(_batch_size(options, num_ctx * seqs), seqs), seqs, threads, False, False,
                         options.flash_attention, options.kv_cache_type, n_outputs_max=max(seqs, MAX_ROWS))


def _score_params(params: ContextParams) -> ContextParams:
    """The scoring context beside a generation context: the same slots, cells and batch, an f16 KV cache and no
    flash attention, so a scored prompt gets the logits of a whole-prompt read whatever its slot had cached
    (``DecodeLoop._score``). A quantized KV type would need flash attention; its memory is counted in ``size``."""
    return replace(params, flash_attention=False, kv_type="f16", n_outputs_max=score_outputs(params.n_seq_max))


def _exact_replay(sampling: SamplingOptions) -> bool:
    """Whether a prompt cached whole is re-read exactly (see ``SamplingOptions.exact_replay``)."""
    if sampling.exact_replay is not None:
        return sampling.exact_replay
    return sampling.seed is not None and sampling.seed != -1 and sampling.temperature > 0


class Runner:
    """A model loaded with fixed LoadOptions.

    Generation: ``submit(prompt_tokens, SamplingOptions)`` returns a Sequence at once; iterate it for Pieces.
    Up to ``num_parallel`` sequences decode together; more wait in a FIFO. ``embed()`` works on every runner:
    an embedding runner (``LoadOptions(embedding=True)``) has only an embedding context, a generation runner
    makes a second context on the same loaded weights on its first ``embed()`` (never a second load), so one
    model serves chat and embeddings as one runner. ``close()`` frees everything.
    """

    def __init__(self, model_path: str | Path, options: LoadOptions | None = None) -> None:
        self.model_path = Path(model_path)
        self.options = options = options or LoadOptions()
        self._closed = False
        self._lock = threading.Lock()  # held by every call into llama.cpp from a caller's thread, and by close()
        self._loop: DecodeLoop | None = None
        self._embedder: Embedder | None = None
        self._projector: Projector | None = None
        self._draft: DraftModel | None = None
        self._contexts: list[object] = []  # every llama.cpp context made from the model, freed on close
        model = Model(self.model_path, n_gpu_layers=options.num_gpu, use_mmap=options.use_mmap)
        self._model = model
        try:
            self.n_ctx_train = int(C.llama_model_n_ctx_train(model.ptr))
            self.n_vocab = model.n_vocab
            self.n_embd = int(C.llama_model_n_embd(model.ptr))
            self.bos_id = int(C.llama_vocab_bos(model.vocab))
            self.eos_id = int(C.llama_vocab_eos(model.vocab))
            self.bos_token = model.token_text(self.bos_id)
            self.eos_token = model.token_text(self.eos_id)
            self.add_bos = bool(C.llama_vocab_get_add_bos(model.vocab))
            self.is_embedding = options.embedding
            num_ctx = max(4, options.num_ctx)
            if self.n_ctx_train > 0:
                num_ctx = min(num_ctx, self.n_ctx_train)
            self.context_length = num_ctx
            self._kv_cells = 0
            self._size = int(C.llama_model_size(model.ptr))
            if options.embedding:
                self._embedder = self._new_embedder()
                ctx = self._contexts[0]
                self._kv_cells = num_ctx
            else:
                params = _context_params(model, options, num_ctx)
                self._params = params
                ctx = self._new_context(params)
                self._kv_cells = params.n_ctx  # the cells the slots use (what kv_cache_usage_ratio is over)
                if options.projector:
                    self._projector = Projector(model, Path(options.projector), n_threads=params.n_threads)
                if options.draft:
                    self._draft = DraftModel(
                        Path(options.draft), model, n_slots=params.n_seq_max, num_ctx=num_ctx,
                        num_batch=_batch_size(options, num_ctx), n_threads=params.n_threads,
                        n_gpu_layers=options.num_gpu, flash_attention=options.flash_attention,
                        kv_cache_type=options.kv_cache_type)
                    self._size += int(C.llama_model_size(self._draft.model.ptr)) + params.n_ctx * (
                        self._draft.model.kv_bytes_per_cell(kv_cache_type(options.kv_cache_type)))
                self._loop = DecodeLoop(model, ctx, n_slots=params.n_seq_max, num_ctx=num_ctx,
                                        num_batch=params.n_batch, projector=self._projector, draft=self._draft,
                                        cache_bytes=max(0, options.prompt_cache_bytes),
                                        disk=self._disk_cache(params))
            mem = C.llama_get_memory(ctx)
            self.can_shift = bool(mem) and bool(C.llama_memory_can_shift(mem))
        except BaseException:
            self._free()
            raise
        self._finalizer = weakref.finalize(self, Runner._shutdown, self._loop, self._contexts, self._model,
                                           self._projector, self._draft)

    def _disk_cache(self, params: ContextParams) -> DiskCache | None:
        """The prompt cache's disk tier, for the states of this model and every load option its KV depends on."""
        options = self.options
        if not options.prompt_cache_dir or options.prompt_cache_bytes <= 0:
            return None
        files = [self.model_path, *map(Path, options.adapters), *map(Path, filter(None, [options.projector]))]
        ident = identity(*map(file_identity, files), self.context_length, params.n_batch, options.kv_cache_type,
                         options.flash_attention, options.num_gpu, llama_cpp.__version__,
                         C.llama_print_system_info())
        try:
            return DiskCache(Path(options.prompt_cache_dir), max(0, options.prompt_cache_disk_bytes), ident)
        except OSError as exc:  # an unusable directory costs the disk tier, never the model load
            log.warning("the prompt cache directory %s is not usable (%s): keeping the cache in RAM only",
                        options.prompt_cache_dir, exc)
            return None

    def _new_context(self, params: ContextParams) -> object:
        """A llama.cpp context on the loaded weights, with the LoRA adapters attached, counted in ``stats().size``."""
        ctx = self._model.new_context(params)
        self._contexts.append(ctx)
        self._model.apply_adapters(ctx, tuple(self.options.adapters))
        self._size += params.n_ctx * self._model.kv_bytes_per_cell(kv_cache_type(params.kv_type))
        return ctx

    def _new_embedder(self) -> Embedder:
        """The embedding context (``num_ctx`` cells, see ``_context_params``) and its Embedder."""
        params = _context_params(self._model, replace(self.options, embedding=True), self.context_length)
        ctx = self._new_context(params)
        return Embedder(self._model, ctx, n_seq_max=params.n_seq_max, n_batch=params.n_batch,
                        num_ctx=self.context_length)

    @property
    def has_vision(self) -> bool:
        """Whether a projector is loaded, so ``tokenize_images`` and image prompts work."""
        return self._projector is not None

    # -- vocabulary ---------------------------------------------------------------------------------------

    def tokenize(self, text: str, *, add_special: bool = True, parse_special: bool = True) -> list[int]:
        """Token ids of ``text``; ``add_special`` adds the model's BOS (and EOS) when it wants them."""
        with self._open():
            return self._model.tokenize(text, add_special, parse_special)

    def detokenize(self, tokens: Tokens[int], *, what: str = "context") -> str:
        """The text of ``tokens`` with special tokens rendered (for generate's ``context``); an id outside the
        vocabulary raises InvalidOptionError (400) naming ``what``."""
        ids = self.check_tokens(tokens, what)
        with self._open():
            return self._model.detokenize(ids)

    def check_tokens(self, tokens: Tokens[int], what: str = "the prompt") -> list[int]:
        """``tokens`` as ints, each an id of this model's vocabulary, else InvalidOptionError (400) naming ``what``.

        Every token list a caller hands the runner passes here first: llama.cpp aborts the process on a bad id.
        """
        return self._model.check(tokens, what)

    def token_bytes(self, token: int) -> bytes:
        """The raw bytes of one token (special tokens rendered; may be part of a UTF-8 character)."""
        (token,) = self.check_tokens([token], "token_bytes")
        with self._open():
            return self._model.piece(token)

    def tokenize_images(
        self, parts: Tokens[str | bytes], *, add_special: bool = True, parse_special: bool = True
    ) -> ImagePrompt:
        """Tokenize text pieces and images (raw file bytes) in order into an ImagePrompt for ``submit``.

        Each image takes as many positions as the projector gives it embeddings. Undecodable bytes raise
        ImageError; a runner without a projector raises RunnerError.
        """
        if self._projector is None:
            raise RunnerError("this runner has no projector and cannot read images")
        with self._open():
            return self._projector.tokenize(list(parts), add_special=add_special, parse_special=parse_special)

    # -- generation ---------------------------------------------------------------------------------------

    def submit(
        self,
        prompt: list[int] | ImagePrompt,
        sampling: SamplingOptions | None = None,
        *,
        shift: bool = True,
        truncate: bool = True,
    ) -> Sequence:
        """Queue a generation for ``prompt`` (token ids, or an ImagePrompt from ``tokenize_images``) and return
        its Sequence at once. Thread-safe.

        A prompt longer than the context is cut as Ollama does (keep ``num_keep``, drop the middle; images are
        kept or dropped whole) unless ``truncate`` or ``shift`` is False, which raises ContextLengthError with
        Ollama's text instead.
        """
        if self._loop is None:
            raise RunnerError("this runner was loaded for embeddings and cannot generate")
        sampling = sampling or SamplingOptions()
        image_prompt = prompt if isinstance(prompt, ImagePrompt) and prompt.images else None
        if image_prompt is not None and self._projector is None:
            raise RunnerError("this runner has no projector and cannot read images")
        if image_prompt is None:
            original = self.check_tokens(prompt.tokens if isinstance(prompt, ImagePrompt) else prompt)
        else:  # image positions hold negative ids of the image's hash; the text ids must be the vocabulary's
            original = [int(t) for t in image_prompt.tokens]
            self.check_tokens([t for t in original if t >= 0])
        if not original:
            if self.bos_id < 0:
                raise RunnerError("the prompt is empty")
            original = [self.bos_id]
        num_ctx = self.context_length
        num_keep = len(original) if sampling.num_keep < 0 else sampling.num_keep
        num_keep += 1 if self.add_bos else 0
        tokens = original
        images = image_prompt.images if image_prompt is not None else {}
        if len(original) > num_ctx - 1:
            if not (truncate and shift):
                raise ContextLengthError(PROMPT_TOO_LONG)
            if image_prompt is not None:
                cut = truncate_image_prompt(ImagePrompt(original, images), num_ctx, num_keep)
                tokens, images = cut.tokens, cut.images
            else:
                tokens = truncate_prompt(original, num_ctx, num_keep)
        if sampling.num_predict == -2:
            limit, fill = 1 << 62, True
        elif sampling.num_predict < 0 or sampling.num_predict > 10 * num_ctx:
            limit, fill = 10 * num_ctx, False
        else:
            limit, fill = sampling.num_predict, False
        with self._open():
            sampler = Sampler(self._model, sampling, tokens if not images else [t for t in tokens if t >= 0], num_ctx)
            seq = Sequence(tokens, sampling, self._loop.cancel)
            job = Job(
                seq=seq, prompt=tokens, original=original, sampler=sampler, limit=limit, fill=fill, shift=shift,
                num_keep=min(num_keep, num_ctx - 1), top_logprobs=max(0, sampling.top_logprobs),
                logprobs=sampling.logprobs or sampling.top_logprobs > 0, stream=TextStream(list(sampling.stop)),
                images=dict(images), replay=_exact_replay(sampling),
                **({} if images else self._speculation(sampling)),
            )
            self._loop.submit(job)
        return seq

    def _speculation(self, sampling: SamplingOptions) -> dict[str, int | bool]:
        """The Job fields for a request's speculative decoding: n-gram lookup when it asks for it, else the draft
        model unless ``draft_num_predict`` is 0; nothing when neither applies."""
        n = sampling.draft_num_predict
        if sampling.draft_ngram > 0:  # without draft_num_predict, as many guesses as pay off (``DraftPlanner``)
            return {"ngram": sampling.draft_ngram, "n_draft": n if n > 0 else MAX_ROWS - 1, "adaptive": n <= 0}
        if self._draft is not None and n != 0:  # below 0: as many guesses as pay off (``DraftPlanner``)
            return {"n_draft": n if n > 0 else MAX_ROWS - 1, "adaptive": n < 0}
        return {}

    # -- scoring ------------------------------------------------------------------------------------------

    def score(self, prompt: Tokens[int], continuations: Tokens[Tokens[int]]) -> Sequence:
        """Start scoring ``continuations`` (token lists) after ``prompt`` instead of sampling; thread-safe.

        The Sequence yields one final Piece; its ``result.scores`` holds each continuation's per-token log
        probabilities (sum them for the continuation's). The prompt waits for a slot like any request and reuses
        the prefix that slot's scoring sequence holds: the first score makes the runner's scoring context (a
        second context on the same weights, ``_score_params``). A prompt that leaves no room for the longest
        continuation raises ContextLengthError.
        """
        if self._loop is None:
            raise RunnerError("this runner was loaded for embeddings and cannot score continuations")
        tokens = self.check_tokens(prompt)
        conts = tuple(tuple(self.check_tokens(c, "a continuation")) for c in continuations)
        if not conts or not all(conts):
            raise RunnerError("nothing to score: every continuation needs at least one token")
        if not tokens:
            if self.bos_id < 0:
                raise RunnerError("the prompt is empty")
            tokens = [self.bos_id]
        if len(tokens) + max(map(len, conts)) - 1 > self.context_length - 1:
            raise ContextLengthError(PROMPT_TOO_LONG)
        sampling = SamplingOptions(temperature=0.0, num_predict=1)
        with self._open():
            if self._loop.score_ctx is None:
                self._loop.attach_scorer(self._new_context(_score_params(self._params)))
            seq = Sequence(tokens, sampling, self._loop.cancel)
            job = Job(
                seq=seq, prompt=tokens, original=tokens, sampler=Sampler(self._model, sampling, [], self.context_length),
                limit=1, fill=False, shift=False, num_keep=0, top_logprobs=0, logprobs=False, stream=TextStream([]),
                score=ScoreSpec(conts),
            )
            self._loop.submit(job)
        return seq

    def score_all(self, requests: Tokens[tuple[Tokens[int], Tokens[Tokens[int]]]]) -> list[Final]:
        """Score many ``(prompt, continuations)`` at once (they spread over the slots and their prompts are read
        together) and wait for all; a failure cancels the rest."""
        seqs = [self.score(prompt, conts) for prompt, conts in requests]
        try:
            for seq in seqs:
                for _ in seq:
                    pass
        except BaseException:
            for seq in seqs:
                seq.cancel()
            raise
        return [seq.result for seq in seqs if seq.result is not None]

    @property
    def ranks(self) -> bool:
        """Whether this is an embedding runner of a rank-pooling model (a cross-encoder), so ``rank`` works."""
        return self._embedder is not None and self._embedder.ranks

    @property
    def max_input_tokens(self) -> int:
        """The most tokens one ``embed``/``rank`` input may have on this runner (``num_ctx`` when generating)."""
        return self._embedder.limit if self._embedder is not None else self.context_length

    def rank(self, inputs: Tokens[Tokens[int]]) -> list[list[float]]:
        """The classifier outputs (``n_cls_out`` floats) of each tokenized input on a rank-pooling model.

        Inputs are packed into as few batches as they fill; one longer than ``max_input_tokens`` raises
        ContextLengthError (the caller truncates, since only it knows which part of a pair may be cut).
        """
        if self._embedder is None or not self._embedder.ranks:
            raise RunnerError("this runner was not loaded for a rank-pooling (reranker) model")
        prepared = [self.check_tokens(t, "a rerank input") for t in inputs]
        if any(len(t) > self._embedder.limit for t in prepared):
            raise ContextLengthError(INPUT_TOO_LONG)
        with self._open():
            return on_own_thread(self._embedder.run, prepared)[0]

    # -- embeddings ---------------------------------------------------------------------------------------

    def embed(self, inputs: list[str], *, truncate: bool = True) -> tuple[list[list[float]], int]:
        """Raw pooled vectors for each input and the total number of input tokens.

        Inputs longer than the context are cut to fit, or raise ContextLengthError when ``truncate`` is False. On a
        generation runner the first call makes the embedding context (on the same weights, beside the decode
        thread's context, which keeps generating meanwhile).
        """
        with self._open():
            if self._embedder is None:
                self._embedder = self._new_embedder()
            return on_own_thread(self._embedder.embed, list(inputs), truncate)

    # -- state --------------------------------------------------------------------------------------------

    def stats(self) -> RunnerStats:
        loop = self._loop
        if loop is None:
            return RunnerStats(0, 0, 0, 0, 0, 0.0, 0, 0.0, 0, 0.0, 0, self._kv_cells, [], self.context_length,
                               self._size)
        slots = loop.slots
        cached = [len(s.cache) for s in slots]
        jobs = [s.job for s in slots]
        cache = loop.cache
        return RunnerStats(
            slots_total=len(slots),
            slots_in_use=sum(1 for job in jobs if job is not None and not job.seq.cancelled),
            queued=loop.queued(),
            requests_total=loop.requests_total,
            prompt_tokens_total=loop.prompt_tokens_total,
            prompt_seconds_total=loop.prompt_ns_total / 1e9,
            tokens_predicted_total=loop.tokens_predicted_total,
            tokens_predicted_seconds_total=loop.predict_ns_total / 1e9,
            decode_calls_total=loop.decode_calls,
            busy_slots_per_decode=loop.decode_rows / max(1, loop.decode_calls),
            kv_cells_used=sum(cached),
            kv_cells_total=self._kv_cells,
            slot_cached_tokens=cached,
            score_cached_tokens=[len(s.scored) for s in slots],
            context_length=self.context_length,
            size=self._size,
            draft_tokens_total=loop.draft_tokens_total,
            draft_accepted_total=loop.draft_accepted_total,
            prompt_cache_hits=cache.hits if cache else 0,
            prompt_cache_misses=cache.misses if cache else 0,
            prompt_cache_tokens=cache.tokens_restored if cache else 0,
            prompt_cache_bytes=cache.bytes if cache else 0,
            prompt_cache_entries=len(cache) if cache else 0,
            prompt_cache_disk_loads=cache.disk.loads if cache and cache.disk else 0,
        )

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop the decode thread (pending sequences fail with RunnerError) and free the model. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._finalizer()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _open(self) -> Iterator[None]:
        with self._lock:
            if self._closed:
                raise RunnerError("the model runner is closed")
            yield

    def _free(self) -> None:
        Runner._shutdown(self._loop, self._contexts, self._model, self._projector, self._draft)

    @staticmethod
    def _shutdown(loop: DecodeLoop | None, contexts: list[object], model: Model,
                  projector: Projector | None = None, draft: DraftModel | None = None) -> None:
        if loop is not None and loop.is_decode_thread():
            # A garbage collection on the decode thread itself: free the contexts from another thread, after the
            # loop has left the llama.cpp call it is in the middle of.
            threading.Thread(target=Runner._shutdown, args=(loop, contexts, model, projector, draft),
                             daemon=True).start()
            return
        if loop is not None:
            loop.close()
            loop.persist()
        if projector is not None:
            projector.free()
        if draft is not None:
            draft.free()
        while contexts:
            C.llama_free(contexts.pop())
        model.free()
