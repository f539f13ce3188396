"""The runner's value types: load and sampling options, streamed pieces, final results, statistics, its error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypedDict

from ..errors import OllamalibError

__all__ = [
    "DoneReason",
    "Final",
    "LoadOptions",
    "Piece",
    "RunnerError",
    "RunnerStats",
    "SamplingOptions",
    "TokenLogprob",
]

DoneReason = Literal["stop", "length"]


class RunnerError(OllamalibError, RuntimeError):
    """The model could not be loaded or run (bad file, failed decode, runner closed)."""


@dataclass(frozen=True)
class LoadOptions:
    """Options fixed when a model is loaded; a request asking for different ones needs a new Runner."""

    num_ctx: int = 4096  # tokens per sequence
    num_batch: int = 512
    num_thread: int = 0  # 0: os.cpu_count()
    num_gpu: int = -1  # -1: all layers (ignored by a CPU build), 0: none
    use_mmap: bool | None = None
    num_parallel: int = 4  # sequence slots decoded together
    embedding: bool = False
    adapters: tuple[str, ...] = ()  # LoRA GGUF paths
    projector: str | None = None  # multimodal projector (mmproj) GGUF path: images become prompt input
    flash_attention: bool | None = None  # None: llama.cpp decides
    kv_cache_type: str = "f16"
    draft: str | None = None  # draft model GGUF path (same vocabulary) for speculative decoding
    prompt_cache_bytes: int = 0  # host RAM for KV states of prefixes that lost their slot (0: no prompt cache)
    prompt_cache_dir: str | None = None  # with prompt_cache_bytes: also keep those states in files here (``_disk``)
    prompt_cache_disk_bytes: int = 8 << 30  # the directory's bound, over every model that uses it


@dataclass
class SamplingOptions:
    """Per-request options with Ollama's names and defaults (reference §5.3)."""

    temperature: float = 0.8  # 0: greedy
    top_k: int = 40  # <= 0: off
    top_p: float = 0.9  # >= 1: off
    min_p: float = 0.0  # <= 0: off
    typical_p: float = 1.0  # >= 1: off
    repeat_penalty: float = 1.0
    repeat_last_n: int = 64  # -1: num_ctx, 0: off
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int | None = -1  # -1 or None: fresh entropy for every request
    num_predict: int = -1  # -1: until a stop (at most 10 * num_ctx), -2: until the context is full
    stop: list[str] = field(default_factory=list)
    num_keep: int = 4  # tokens kept at the front when the context shifts (-1: all the prompt)
    grammar: str | None = None  # GBNF text, rule "root"
    logprobs: bool = False
    top_logprobs: int = 0
    # Speculative decoding (``_spec``): n-gram prompt lookup with n-grams of up to ``draft_ngram`` tokens, else the
    # runner's draft model; ``draft_num_predict`` tokens drafted per step at most (0 turns the draft model off,
    # -1, or 0 with n-gram lookup: as many as pay off, sized per step by the ``DraftPlanner``).
    draft_num_predict: int = -1
    draft_ngram: int = 0
    exact_replay: bool | None = None
    """A prompt cached whole re-reads its last chunk as it was first read, so the logits (and a seeded request's
    output) are exactly the first run's; otherwise only its last token is evaluated (faster, logits differ in the
    last bits). None: only for a seeded request that samples (a fixed seed and temperature > 0)."""


class TokenLogprob(TypedDict, total=False):
    """Ollama's logprob entry: the token's text, log probability and bytes (and alternatives on the outer one)."""

    token: str
    logprob: float
    bytes: list[int]
    top_logprobs: list[TokenLogprob]


@dataclass
class Piece:
    """Text produced by one or more tokens of one sequence.

    ``text`` never splits a UTF-8 character and never holds any part of a stop string (a possible start of one is
    held back until it resolves). The final piece has ``done=True``, the reason and the counts.
    """

    text: str
    tokens: list[int] = field(default_factory=list)
    logprobs: list[TokenLogprob] | None = None
    done: bool = False
    done_reason: DoneReason | None = None
    stop_sequence: str | None = None  # the stop string that ended the sequence (done_reason "stop")
    prompt_eval_count: int = 0
    prompt_eval_duration_ns: int = 0
    eval_count: int = 0
    eval_duration_ns: int = 0
    context: list[int] | None = None
    draft_count: int = 0  # drafted tokens verified (speculative decoding)
    draft_accepted_count: int = 0  # of those, tokens accepted


@dataclass
class Final:
    """A finished sequence: all its text and tokens, why it ended, and the counts Ollama reports."""

    text: str
    tokens: list[int]
    done_reason: DoneReason
    prompt_eval_count: int
    prompt_eval_duration_ns: int
    eval_count: int
    eval_duration_ns: int
    context: list[int]
    logprobs: list[TokenLogprob] | None = None
    draft_count: int = 0
    draft_accepted_count: int = 0
    scores: list[list[float]] | None = None  # a scoring request: each continuation's per-token log probabilities


@dataclass
class RunnerStats:
    """A snapshot of a runner's load (names follow llama-server's ``/metrics`` where they fit)."""

    slots_total: int
    slots_in_use: int
    queued: int
    requests_total: int
    prompt_tokens_total: int
    prompt_seconds_total: float
    tokens_predicted_total: int
    tokens_predicted_seconds_total: float
    decode_calls_total: int
    busy_slots_per_decode: float
    kv_cells_used: int
    kv_cells_total: int
    slot_cached_tokens: list[int]
    context_length: int
    size: int
    draft_tokens_total: int = 0  # drafted tokens verified (speculative decoding)
    draft_accepted_total: int = 0  # of those, tokens accepted
    prompt_cache_hits: int = 0  # requests that got their prefix from the host-RAM prompt cache
    prompt_cache_misses: int = 0  # requests with an uncached prompt the cache could have served and did not
    prompt_cache_tokens: int = 0  # prompt tokens restored from the cache instead of being evaluated
    prompt_cache_bytes: int = 0  # bytes the cache holds now
    prompt_cache_entries: int = 0
    prompt_cache_disk_loads: int = 0  # states read back from the cache's files (``prompt_cache_dir``)
    score_cached_tokens: list[int] = field(default_factory=list)  # per slot, what its scoring sequence holds

    @property
    def kv_cache_usage_ratio(self) -> float:
        return self.kv_cells_used / self.kv_cells_total if self.kv_cells_total else 0.0
