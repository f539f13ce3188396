"""Vocabulary: a model's tokenizer alone (llama.cpp's vocab-only load), for preparing prompts off the runner.

Rendering a chat and fitting it into ``num_ctx`` needs only the tokenizer. Done with a Vocabulary, that work
holds no runner slot and no runner lock, so a long preparation never makes other requests to the model wait.
Its token ids are the runner's: both read the same GGUF vocabulary.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from pathlib import Path

import llama_cpp.llama_cpp as C

from ._llama import Model

__all__ = ["Vocabulary"]


class Vocabulary:
    """The tokenizer of the GGUF at ``model_path``: tokenize, detokenize, check ids. Thread-safe; freed with
    the object (a thread still using it keeps it alive)."""

    def __init__(self, model_path: str | Path) -> None:
        self.model_path = Path(model_path)
        model = Model(self.model_path, n_gpu_layers=0, use_mmap=True, vocab_only=True)
        self._model = model
        self._finalizer = weakref.finalize(self, model.free)
        self.n_vocab = model.n_vocab
        self.bos_id = int(C.llama_vocab_bos(model.vocab))
        self.bos_token = model.token_text(self.bos_id)
        self.add_bos = bool(C.llama_vocab_get_add_bos(model.vocab))
        # what a pair of texts (a cross-encoder's query and document) is joined with, as llama-server does
        self.eos_id = int(C.llama_vocab_eos(model.vocab))
        self.sep_id = int(C.llama_vocab_sep(model.vocab))
        self.add_eos = bool(C.llama_vocab_get_add_eos(model.vocab))
        self.add_sep = bool(C.llama_vocab_get_add_sep(model.vocab))

    def tokenize(self, text: str, *, add_special: bool = True, parse_special: bool = True) -> list[int]:
        """Token ids of ``text``, as ``Runner.tokenize`` gives them."""
        return self._model.tokenize(text, add_special, parse_special)

    def detokenize(self, tokens: Sequence[int], *, what: str = "context") -> str:
        """The text of ``tokens`` (special tokens rendered); an id outside the vocabulary is a 400 naming ``what``."""
        return self._model.detokenize(self.check_tokens(tokens, what))

    def check_tokens(self, tokens: Sequence[int], what: str = "the prompt") -> list[int]:
        """``tokens`` as ints, each an id of this vocabulary, else InvalidOptionError (400) naming ``what``."""
        return self._model.check(tokens, what)
