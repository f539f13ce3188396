"""The ctypes layer: loading a model, creating a context, a numpy-backed batch, and vocabulary helpers.

Everything here is a thin, typed wrapper over llama-cpp-python's low-level bindings (``llama_cpp.llama_cpp``);
the rest of the runner never touches a raw pointer. llama.cpp's own log lines go to the ``ollamalib.llama``
logger (its warnings at INFO, so a library user's stderr stays quiet), and the last error lines are kept so a
failed load can say why.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import llama_cpp.llama_cpp as C
import numpy as np

from ..errors import InvalidOptionError
from ._types import RunnerError

__all__ = ["Batch", "Model", "check_token_ids", "common_prefix", "ensure_backend", "recent_errors"]

_log = logging.getLogger("ollamalib.llama")
# ggml levels: 1 debug, 2 info, 3 warn, 4 error, 5 continuation of the previous line
_LEVELS = {1: logging.DEBUG, 2: logging.DEBUG, 3: logging.INFO, 4: logging.ERROR}
_errors: deque[str] = deque(maxlen=8)
_line: list[str] = []
_last_level = [1]
_backend_lock = threading.Lock()
_backend_ready = False
_CHUNK_CHARS = 1 << 15  # texts tokenized in pieces of about this many characters (see Model.tokenize)


@C.llama_log_callback
def _on_log(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
    if level == 5:
        level = _last_level[0]
    _last_level[0] = level
    _line.append(text.decode("utf-8", "replace"))
    if not _line[-1].endswith("\n"):
        return
    message = "".join(_line).rstrip()
    _line.clear()
    if level == 4:
        _errors.append(message)
    _log.log(_LEVELS.get(level, logging.DEBUG), "%s", message)


def check_token_ids(tokens: Iterable[object], n_vocab: int, what: str) -> list[int]:
    """``tokens`` as a list of ints, or InvalidOptionError (400) naming the first id outside ``0..n_vocab-1``.

    llama.cpp indexes its vocabulary with such ids unchecked: one bad id from a request (generate's ``context``)
    aborts the whole process with an uncaught C++ ``std::out_of_range``.
    """
    if type(tokens) is list and tokens and set(map(type, tokens)) == {int}:  # the common case, at C speed
        if min(tokens) >= 0 and max(tokens) < n_vocab:
            return list(tokens)
    out: list[int] = []
    for token in tokens:
        if isinstance(token, bool) or not isinstance(token, (int, np.integer)) or not 0 <= token < n_vocab:
            raise InvalidOptionError(f"invalid token {token!r} in {what}: the model's token ids are 0 to {n_vocab - 1}")
        out.append(int(token))
    return out


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share (what a KV cache holding ``a`` can keep for ``b``)."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    diff = np.asarray(a[:n], np.int64) != np.asarray(b[:n], np.int64)
    return int(diff.argmax()) if diff.any() else n


def ensure_backend() -> None:
    """Initialise llama.cpp once per process and route its logging into Python's."""
    global _backend_ready
    with _backend_lock:
        if not _backend_ready:
            C.llama_backend_init()
            C.llama_log_set(_on_log, ctypes.c_void_p(0))
            _backend_ready = True


def recent_errors() -> str:
    """The last error lines llama.cpp logged, joined (empty if none)."""
    return "; ".join(_errors)


_GGML_TYPE_BF16 = 30  # not exported by the bindings
_KV_TYPES = {
    "f32": C.GGML_TYPE_F32, "f16": C.GGML_TYPE_F16, "bf16": _GGML_TYPE_BF16, "q8_0": C.GGML_TYPE_Q8_0,
    "q4_0": C.GGML_TYPE_Q4_0, "q4_1": C.GGML_TYPE_Q4_1, "q5_0": C.GGML_TYPE_Q5_0, "q5_1": C.GGML_TYPE_Q5_1,
    "iq4_nl": C.GGML_TYPE_IQ4_NL,
}


def kv_cache_type(name: str) -> int:
    """The ggml type for an Ollama ``OLLAMA_KV_CACHE_TYPE`` value; unknown names fall back to f16 as Ollama does."""
    key = (name or "f16").lower()
    if key not in _KV_TYPES:
        _log.warning("unsupported kv cache type %r, using f16", name)
        key = "f16"
    return _KV_TYPES[key]


@dataclass(frozen=True)
class ContextParams:
    """What a llama.cpp context is created with (the runner's translation of LoadOptions)."""

    n_ctx: int
    n_batch: int
    n_seq_max: int
    n_threads: int
    kv_unified: bool
    embeddings: bool
    flash_attention: bool | None
    kv_type: str
    n_outputs_max: int = 0  # 0: n_batch; a generation context needs one row of logits per sequence at most


class Model:
    """A loaded llama.cpp model and its vocabulary, plus the contexts and LoRA adapters made from it."""

    def __init__(self, path: Path, *, n_gpu_layers: int, use_mmap: bool | None, vocab_only: bool = False) -> None:
        ensure_backend()
        if not path.is_file():
            raise RunnerError(f"model file not found: {path}")
        params = C.llama_model_default_params()
        params.vocab_only = vocab_only
        params.n_gpu_layers = n_gpu_layers if n_gpu_layers >= 0 else 0x7FFFFFFF
        if use_mmap is not None:
            params.load_mode = C.LLAMA_LOAD_MODE_MMAP if use_mmap else C.LLAMA_LOAD_MODE_NONE
        # Weight repacking makes ggml's CPU matmuls depend on how many rows a batch has; without it, a
        # sequence's logits are the same whether it decodes alone or beside others (and speed is no worse).
        params.use_extra_bufts = False
        _errors.clear()
        model = C.llama_model_load_from_file(os.fsencode(path), params)
        if not model:
            detail = recent_errors()
            raise RunnerError(f"unable to load model: {path}" + (f": {detail}" if detail else ""))
        self.ptr = model
        self.vocab = C.llama_model_get_vocab(model)
        self.n_vocab = int(C.llama_vocab_n_tokens(self.vocab))
        self._piece_buf = ctypes.create_string_buffer(256)
        self._adapters: list[ctypes.c_void_p] = []
        self._specials: re.Pattern[str] | bool | None = None  # built on the first long tokenize
        self._delimiters: set[str] = set()
        self._longest_special = 0

    # -- metadata -------------------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        """A GGUF metadata value as text, or None when the key is absent."""
        buf = ctypes.create_string_buffer(512)
        n = C.llama_model_meta_val_str(self.ptr, key.encode(), buf, len(buf))
        if n < 0:
            return None
        if n >= len(buf):
            buf = ctypes.create_string_buffer(n + 1)
            C.llama_model_meta_val_str(self.ptr, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", "replace")

    def kv_bytes_per_cell(self, kv_type: int) -> int:
        """Bytes of K and V cache one token takes across all layers (for memory estimates)."""
        arch = self.meta("general.architecture") or ""
        n_head = max(1, int(C.llama_model_n_head(self.ptr)))
        n_head_kv = int(C.llama_model_n_head_kv(self.ptr)) or n_head
        n_embd = int(C.llama_model_n_embd(self.ptr))
        k_len = _int(self.meta(f"{arch}.attention.key_length")) or n_embd // n_head
        v_len = _int(self.meta(f"{arch}.attention.value_length")) or n_embd // n_head
        size = {C.GGML_TYPE_F32: 4.0, C.GGML_TYPE_F16: 2.0, _GGML_TYPE_BF16: 2.0}.get(kv_type, 1.0)
        return int(int(C.llama_model_n_layer(self.ptr)) * n_head_kv * (k_len + v_len) * size)

    # -- vocabulary -----------------------------------------------------------------------------------------

    def check(self, tokens: Iterable[object], what: str) -> list[int]:
        """``tokens`` as ints, each checked to be an id of this vocabulary (see ``check_token_ids``)."""
        return check_token_ids(tokens, self.n_vocab, what)

    def tokenize(self, text: str, add_special: bool, parse_special: bool) -> list[int]:
        """Token ids of ``text``, in time linear in its length.

        llama.cpp's search for special tokens rescans the rest of the text for every piece it has split off, so
        a chat prompt of 20,000 messages took 3 s and 100,000 over a minute. A long text with special tokens
        is therefore tokenized in chunks cut just before a special token (``_chunks``), where llama.cpp's own
        split falls too, so the ids are the same.
        """
        if not parse_special or len(text) <= _CHUNK_CHARS:
            return self._tokenize(text, add_special, parse_special)
        out: list[int] = []
        for i, chunk in enumerate(self._chunks(text)):
            out += self._tokenize(chunk, add_special and i == 0, True)
        return out

    def _tokenize(self, text: str, add_special: bool, parse_special: bool) -> list[int]:
        data = text.encode("utf-8")
        cap = len(data) + 8
        buf = (C.llama_token * cap)()
        n = C.llama_tokenize(self.vocab, data, len(data), buf, cap, add_special, parse_special)
        if n < 0:
            cap = -n
            buf = (C.llama_token * cap)()
            n = C.llama_tokenize(self.vocab, data, len(data), buf, cap, add_special, parse_special)
            if n < 0:
                raise RunnerError(f"failed to tokenize {len(data)} bytes of text")
        return buf[:n]

    def _chunks(self, text: str) -> list[str]:
        """``text`` cut into pieces of about ``_CHUNK_CHARS`` at safe points: just before a special token that
        llama.cpp matches there whatever precedes it (no lstrip or single-word rule, no special token spanning
        the cut). Vocabularies that add a token at the end, or whose pieces depend on more than the text
        between special tokens, are not cut."""
        specials = self._special_pattern()
        if specials is None:
            return [text]
        found = specials.findall(text, 0, _CHUNK_CHARS)
        delimiters = [d for d in dict.fromkeys(found) if d in self._delimiters][:8]
        if not delimiters:
            return [text]
        out: list[str] = []
        start = 0
        while len(text) - start > _CHUNK_CHARS:
            cut = self._next_cut(text, start + _CHUNK_CHARS, delimiters, specials)
            if cut < 0:
                break
            out.append(text[start:cut])
            start = cut
        out.append(text[start:])
        return out

    def _next_cut(self, text: str, at: int, delimiters: list[str], specials: re.Pattern[str]) -> int:
        longest = self._longest_special
        while True:
            hits = [i for i in (text.find(d, at) for d in delimiters) if i >= 0]
            if not hits:
                return -1
            cut = min(hits)
            if not any(m and m.end() > cut for m in (specials.match(text, q) for q in range(max(0, cut - longest + 1), cut))):
                return cut
            at = cut + 1

    def _special_pattern(self) -> re.Pattern[str] | None:
        """A regex of every special token text (longest first), or None when tokens must not be chunked."""
        if self._specials is not None:
            return self._specials or None
        kinds = C.LLAMA_TOKEN_ATTR_CONTROL | C.LLAMA_TOKEN_ATTR_USER_DEFINED | C.LLAMA_TOKEN_ATTR_UNKNOWN
        texts: list[str] = []
        delimiters: set[str] = set()
        chunkable = (int(C.llama_vocab_type(self.vocab)) in (C.LLAMA_VOCAB_TYPE_SPM, C.LLAMA_VOCAB_TYPE_BPE)
                     and not C.llama_vocab_get_add_eos(self.vocab))
        for token in range(self.n_vocab if chunkable else 0):
            attr = int(C.llama_vocab_get_attr(self.vocab, token))
            if attr & kinds:
                raw = C.llama_vocab_get_text(self.vocab, token)
                piece = raw.decode("utf-8", "replace") if raw else ""
                if piece:
                    texts.append(piece)
                    if not attr & (C.LLAMA_TOKEN_ATTR_LSTRIP | C.LLAMA_TOKEN_ATTR_SINGLE_WORD):
                        delimiters.add(piece)
        texts.sort(key=len, reverse=True)
        self._delimiters = delimiters
        self._longest_special = len(texts[0]) if texts else 0
        self._specials = re.compile("|".join(map(re.escape, texts))) if texts else False
        return self._specials or None

    def piece(self, token: int, buf: ctypes.Array[ctypes.c_char] | None = None) -> bytes:
        """The bytes of one token, special tokens rendered (``<think>`` must reach the output parsers)."""
        buf = buf if buf is not None else ctypes.create_string_buffer(256)
        n = C.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, True)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = C.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, True)
        return buf.raw[:n]

    def detokenize(self, tokens: list[int]) -> str:
        if not tokens:
            return ""
        arr = (C.llama_token * len(tokens))(*tokens)
        cap = max(64, len(tokens) * 8)
        buf = ctypes.create_string_buffer(cap)
        n = C.llama_detokenize(self.vocab, arr, len(tokens), buf, cap, False, True)
        if n < 0:
            cap = -n
            buf = ctypes.create_string_buffer(cap)
            n = C.llama_detokenize(self.vocab, arr, len(tokens), buf, cap, False, True)
        return buf.raw[:n].decode("utf-8", "replace")

    def token_text(self, token: int) -> str:
        if token < 0:
            return ""
        raw = C.llama_vocab_get_text(self.vocab, token)
        return raw.decode("utf-8", "replace") if raw else ""

    def is_eog(self, token: int) -> bool:
        return bool(C.llama_vocab_is_eog(self.vocab, token))

    # -- contexts and adapters ------------------------------------------------------------------------------

    def new_context(self, p: ContextParams) -> ctypes.c_void_p:
        params = C.llama_context_default_params()
        params.n_ctx = p.n_ctx
        params.n_batch = p.n_batch
        params.n_ubatch = p.n_batch
        params.n_seq_max = p.n_seq_max
        params.n_threads = p.n_threads
        params.n_threads_batch = p.n_threads
        params.kv_unified = p.kv_unified
        params.embeddings = p.embeddings
        params.no_perf = True
        params.n_outputs_max = p.n_outputs_max
        kv = kv_cache_type(p.kv_type)
        flash = p.flash_attention
        if kv not in (C.GGML_TYPE_F32, C.GGML_TYPE_F16):
            if flash is False:  # a quantized V cache needs flash attention; Ollama falls back to f16
                kv = C.GGML_TYPE_F16
            else:
                flash = True
        params.type_k = kv
        params.type_v = kv
        params.flash_attn_type = {None: C.LLAMA_FLASH_ATTN_TYPE_AUTO, True: C.LLAMA_FLASH_ATTN_TYPE_ENABLED,
                                  False: C.LLAMA_FLASH_ATTN_TYPE_DISABLED}[flash]
        _errors.clear()
        ctx = C.llama_init_from_model(self.ptr, params)
        if not ctx and kv != C.GGML_TYPE_F16:  # e.g. a head size the quantized type cannot divide
            _log.warning("kv cache type %s does not suit this model, using f16", p.kv_type)
            params.type_k = params.type_v = C.GGML_TYPE_F16
            ctx = C.llama_init_from_model(self.ptr, params)
        if not ctx:
            detail = recent_errors()
            raise RunnerError("unable to create the model context" + (f": {detail}" if detail else ""))
        return ctx

    def apply_adapters(self, ctx: ctypes.c_void_p, paths: tuple[str, ...]) -> None:
        """Load each LoRA GGUF once (the first call) and attach them all to ``ctx`` at scale 1: a second context
        on the same weights shares the loaded adapters."""
        if not paths:
            return
        for path in paths if not self._adapters else ():
            adapter = C.llama_adapter_lora_init(self.ptr, os.fsencode(path))
            if not adapter:
                detail = recent_errors()
                raise RunnerError(f"unable to load LoRA adapter: {path}" + (f": {detail}" if detail else ""))
            self._adapters.append(adapter)
        arr = (C.llama_adapter_lora_p_ctypes * len(self._adapters))(*self._adapters)
        scales = (ctypes.c_float * len(self._adapters))(*([1.0] * len(self._adapters)))
        if C.llama_set_adapters_lora(ctx, arr, len(self._adapters), scales) != 0:
            raise RunnerError("unable to apply LoRA adapters")

    def free(self) -> None:
        if self.ptr:
            C.llama_model_free(self.ptr)  # frees its adapters too
            self.ptr = None
            self._adapters.clear()


def _int(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


class Batch:
    """A ``llama_batch`` whose arrays are numpy buffers, so filling it costs a few slice assignments.

    Each token carries exactly one sequence id; ``seq_id[i]`` points at ``seq[i]``.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.token = np.zeros(capacity, np.int32)
        self.pos = np.zeros(capacity, np.int32)
        self.seq = np.zeros(capacity, np.int32)
        self.n_seq_id = np.ones(capacity, np.int32)
        self.logits = np.zeros(capacity, np.int8)
        i32p = ctypes.POINTER(ctypes.c_int32)
        base = self.seq.ctypes.data
        self._seq_ptrs = (i32p * capacity)(*[ctypes.cast(base + 4 * i, i32p) for i in range(capacity)])
        self.struct = C.llama_batch()
        self.struct.token = self.token.ctypes.data_as(i32p)
        self.struct.embd = None
        self.struct.pos = self.pos.ctypes.data_as(i32p)
        self.struct.n_seq_id = self.n_seq_id.ctypes.data_as(i32p)
        self.struct.seq_id = ctypes.cast(self._seq_ptrs, ctypes.POINTER(i32p))
        self.struct.logits = self.logits.ctypes.data_as(ctypes.POINTER(ctypes.c_int8))
        self.n = 0

    def clear(self) -> None:
        self.n = 0

    def add_run(self, tokens: list[int] | np.ndarray, pos0: int, seq: int, last_logits: bool, *,
                all_logits: bool = False) -> int:
        """Append a run of one sequence's tokens at consecutive positions; returns the last token's index.

        Logits are asked for the last token (``last_logits``) or for every token (``all_logits``)."""
        k = self.n
        m = len(tokens)
        self.token[k:k + m] = tokens
        self.pos[k:k + m] = np.arange(pos0, pos0 + m, dtype=np.int32)
        self.seq[k:k + m] = seq
        self.logits[k:k + m] = 1 if all_logits else 0
        if last_logits:
            self.logits[k + m - 1] = 1
        self.n = k + m
        return k + m - 1

    def set_rows(self, tokens: list[int], pos: list[int], seqs: list[int]) -> None:
        """Fill the batch with one token per row (a decode step), each asking for logits."""
        m = len(tokens)
        self.token[:m] = tokens
        self.pos[:m] = pos
        self.seq[:m] = seqs
        self.logits[:m] = 1
        self.n = m

    def decode(self, ctx: ctypes.c_void_p) -> int:
        self.struct.n_tokens = self.n
        return int(C.llama_decode(ctx, self.struct))
