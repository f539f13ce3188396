"""One request's sampler chain (Ollama's options mapped onto llama.cpp samplers) and its logprobs.

Chain order follows llama-server: penalties, top-k, typical, top-p, min-p, temperature, then a seeded draw (or
greedy at temperature 0). Samplers whose option is neutral are left out, so a default request pays for top-k,
top-p and the draw only. Prompt tokens are fed to the penalties sampler, as llama-server does.

A grammar is checked the way Ollama and llama.cpp's common sampler do it: draw a token without the grammar,
ask the grammar whether it accepts that one token, and only when it does not, mask the whole vocabulary with the
grammar and draw again. Masking every token at every step costs hundreds of milliseconds per token on a 262k
vocabulary.

Plain greedy decoding (temperature 0, no penalties, no grammar) takes the first largest logit with numpy, as
llama.cpp's greedy sampler does, without copying the vocabulary into a candidate array: 0.03 ms instead of
0.28 ms a token on a 262k vocabulary, which a batch of eight sequences pays eight times per step.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Sequence

import llama_cpp.llama_cpp as C
import numpy as np

from ..errors import InvalidOptionError
from ._llama import Model
from ._types import SamplingOptions, TokenLogprob

__all__ = ["Sampler", "resolve_seed", "token_logprobs"]

_RANDOM_SEED = 0xFFFFFFFF  # llama.cpp treats this value as "pick one yourself"
_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)


def resolve_seed(seed: int | None) -> int:
    """A 32-bit seed: the caller's, or fresh entropy from the OS when it is -1/None (differs across processes)."""
    if seed is None or seed == -1:
        return int.from_bytes(os.urandom(4), "little") % _RANDOM_SEED
    value = int(seed) & 0xFFFFFFFF
    return value if value != _RANDOM_SEED else _RANDOM_SEED - 1


class Sampler:
    """A llama.cpp sampler chain owned by one sequence; ``free()`` exactly once when the sequence ends."""

    def __init__(self, model: Model, opts: SamplingOptions, prompt: Sequence[int], num_ctx: int) -> None:
        self.seed = resolve_seed(opts.seed)
        params = C.llama_sampler_chain_default_params()
        params.no_perf = True
        chain = C.llama_sampler_chain_init(params)
        self.ptr = chain
        self.grammar: ctypes.c_void_p | None = None
        self._argmax_vocab = 0  # > 0: plain greedy, read the argmax straight from the logits
        try:
            if opts.grammar:
                self.grammar = C.llama_sampler_init_grammar(model.vocab, opts.grammar.encode("utf-8"), b"root")
                if not self.grammar:
                    raise InvalidOptionError("invalid grammar")
                self._n_vocab = model.n_vocab
                self._ids = np.arange(model.n_vocab, dtype=np.int32)
                self._cur = np.zeros(model.n_vocab, dtype=_TOKEN_DATA)
                self._arr = C.llama_token_data_array(
                    data=self._cur.ctypes.data_as(C.llama_token_data_p), size=0, selected=-1, sorted=False)
                self._one = np.zeros(1, dtype=_TOKEN_DATA)
                self._one_arr = C.llama_token_data_array(
                    data=self._one.ctypes.data_as(C.llama_token_data_p), size=1, selected=-1, sorted=False)
            self._build(model, opts, prompt, num_ctx)
        except BaseException:
            self.free()
            raise

    def _add(self, sampler: ctypes.c_void_p | None, what: str) -> None:
        if not sampler:
            raise InvalidOptionError(f"invalid {what}")
        C.llama_sampler_chain_add(self.ptr, sampler)

    def _build(self, model: Model, o: SamplingOptions, prompt: Sequence[int], num_ctx: int) -> None:
        last_n = num_ctx if o.repeat_last_n < 0 else o.repeat_last_n
        if last_n > 0 and (o.repeat_penalty != 1.0 or o.presence_penalty != 0.0 or o.frequency_penalty != 0.0):
            penalties = C.llama_sampler_init_penalties(
                model.n_vocab, last_n, o.repeat_penalty, o.frequency_penalty, o.presence_penalty
            )
            if not penalties:
                raise InvalidOptionError("invalid repeat penalty options")
            for token in prompt[-last_n:]:
                C.llama_sampler_accept(penalties, token)
            self._add(penalties, "repeat penalty options")
        if o.temperature <= 0.0:
            self._add(C.llama_sampler_init_greedy(), "temperature")
            if C.llama_sampler_chain_n(self.ptr) == 1 and self.grammar is None:
                self._argmax_vocab = model.n_vocab
            return
        if o.top_k > 0:
            self._add(C.llama_sampler_init_top_k(o.top_k), "top_k")
        if 0.0 < o.typical_p < 1.0:
            self._add(C.llama_sampler_init_typical(o.typical_p, 1), "typical_p")
        if 0.0 < o.top_p < 1.0:
            self._add(C.llama_sampler_init_top_p(o.top_p, 1), "top_p")
        if o.min_p > 0.0:
            self._add(C.llama_sampler_init_min_p(o.min_p, 1), "min_p")
        self._add(C.llama_sampler_init_temp(o.temperature), "temperature")
        self._add(C.llama_sampler_init_dist(self.seed), "seed")

    def sample(self, ctx: ctypes.c_void_p, index: int) -> int:
        """Draw the next token from the logits of batch row ``index`` (and let the chain remember it)."""
        if self._argmax_vocab:  # the chain holds only the stateless greedy sampler
            return int(np.ctypeslib.as_array(C.llama_get_logits_ith(ctx, index), shape=(self._argmax_vocab,)).argmax())
        if self.grammar is None:
            return int(C.llama_sampler_sample(self.ptr, ctx, index))
        logits = np.ctypeslib.as_array(C.llama_get_logits_ith(ctx, index), shape=(self._n_vocab,))
        token = self._draw(logits, masked=False)
        one = self._one
        one["id"][0], one["logit"][0], one["p"][0] = token, 0.0, 0.0
        self._one_arr.size, self._one_arr.selected, self._one_arr.sorted = 1, -1, False
        C.llama_sampler_apply(self.grammar, ctypes.byref(self._one_arr))
        if not np.isfinite(self._one_arr.data[0].logit):
            token = self._draw(logits, masked=True)
        C.llama_sampler_accept(self.grammar, token)
        C.llama_sampler_accept(self.ptr, token)
        return token

    def _draw(self, logits: np.ndarray, *, masked: bool) -> int:
        cur = self._cur
        cur["id"] = self._ids
        cur["logit"] = logits
        cur["p"] = 0.0
        arr = self._arr
        arr.data = cur.ctypes.data_as(C.llama_token_data_p)
        arr.size, arr.selected, arr.sorted = self._n_vocab, -1, False
        if masked:
            C.llama_sampler_apply(self.grammar, ctypes.byref(arr))
        C.llama_sampler_apply(self.ptr, ctypes.byref(arr))
        return int(arr.data[arr.selected].id)

    def free(self) -> None:
        if self.ptr:
            C.llama_sampler_free(self.ptr)
            self.ptr = None
        if self.grammar:
            C.llama_sampler_free(self.grammar)
            self.grammar = None


def token_logprobs(
    model: Model, ctx: ctypes.c_void_p, index: int, token: int, top: int, buf: ctypes.Array[ctypes.c_char]
) -> TokenLogprob:
    """Log-softmax of the raw logits of batch row ``index``: the chosen token's entry and the ``top`` best."""
    logits = np.ctypeslib.as_array(C.llama_get_logits_ith(ctx, index), shape=(model.n_vocab,))
    peak = float(logits.max())
    norm = peak + float(np.log(np.exp(logits - peak, dtype=np.float64).sum()))
    entry = _entry(model, token, float(logits[token]) - norm, buf)
    alternatives: list[TokenLogprob] = []
    if top > 0:
        top = min(top, model.n_vocab)
        best = np.argpartition(logits, -top)[-top:]
        best = best[np.argsort(-logits[best], kind="stable")]
        alternatives = [_entry(model, int(t), float(logits[t]) - norm, buf) for t in best]
    entry["top_logprobs"] = alternatives
    return entry


def _entry(model: Model, token: int, logprob: float, buf: ctypes.Array[ctypes.c_char]) -> TokenLogprob:
    raw = model.piece(token, buf)
    return {"token": raw.decode("utf-8", "replace"), "logprob": logprob, "bytes": list(raw)}
