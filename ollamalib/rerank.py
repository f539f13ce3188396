"""Which kind of reranker a stored model is, and the prompt it reads: facts from its GGUF and Modelfile.

Two kinds, as llama-server and the Qwen3-Reranker model card use them:

- ``cross-encoder``: the GGUF has rank pooling (``<arch>.pooling_type`` 4): bge-reranker, jina-reranker, or a
  Qwen3-Reranker converted with its classifier head. llama.cpp's classifier output is the score. Its input is
  llama-server's pair (``[BOS] query [EOS] [SEP] document [EOS]``, each special token where the vocabulary adds
  it) unless the model has a rerank prompt.
- ``generative``: a language model that answers "yes" or "no" to a judging prompt; the score is
  P(yes) / (P(yes) + P(no)) of the first answer token (the Qwen3-Reranker recipe). A model is one when its GGUF
  has a rerank prompt (``tokenizer.chat_template.rerank``, llama.cpp's key), its Modelfile TEMPLATE is one, or
  its name says "reranker" (then the Qwen3-Reranker prompt is used).

A rerank prompt is text with ``{query}``, ``{document}`` and optionally ``{instruction}`` in it (llama.cpp's
placeholders). A generative reranker's answer words are the ``rerank_answer`` option when it is set (two values,
yes first: ``PARAMETER rerank_answer`` lines, or a request's options), else ``<arch>.classifier.output_labels``
when the GGUF names two, else "yes" and "no".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .gguf import GGUFInfo
from .store import ModelRecord

__all__ = ["DEFAULT_INSTRUCTION", "QWEN3_RERANK_PROMPT", "Reranker", "reranker_for"]

QWEN3_RERANK_PROMPT = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct "
    'provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
    "<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}<|im_end|>\n"
    "<|im_start|>assistant\n<think>\n\n</think>\n\n"
)
"""The prompt of the Qwen3-Reranker model card; the answer is read as the next token."""

DEFAULT_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
"""The instruction the Qwen3-Reranker model card uses when the caller gives none."""

RANK_POOLING = 4
_NAMED = re.compile(r"rerank", re.IGNORECASE)


@dataclass(frozen=True)
class Reranker:
    """How a model reranks: its kind, the prompt (None: llama-server's plain pair) and the yes/no answers."""

    kind: Literal["cross-encoder", "generative"]
    prompt: str | None = None
    answers: tuple[str, str] = ("yes", "no")

    def render(self, query: str, document: str, instruction: str | None) -> str:
        """The prompt text for one pair (only for a model with a prompt)."""
        assert self.prompt is not None
        return (self.prompt.replace("{instruction}", instruction or DEFAULT_INSTRUCTION)
                .replace("{query}", query).replace("{document}", document))

    def split(self, query: str, instruction: str | None) -> tuple[str, str]:
        """The prompt's text before and after the document, so a long document can be cut between them."""
        assert self.prompt is not None
        marker = "\x00document\x00"
        before, _, after = self.render(query, marker, instruction).partition(marker)
        return before, after


def _is_prompt(text: str | None) -> bool:
    return bool(text) and "{query}" in text and "{document}" in text  # type: ignore[operator]


def reranker_for(record: ModelRecord, info: GGUFInfo | None,
                 options: Mapping[str, Any] | None = None) -> Reranker | None:
    """The Reranker a stored model is, or None when it cannot rerank. ``options`` are a request's merged options
    (the Modelfile's parameters when omitted); their ``rerank_answer`` names a generative reranker's answers."""
    if info is None:
        return None
    gguf_prompt = info.metadata.get("tokenizer.chat_template.rerank")
    gguf_prompt = gguf_prompt if isinstance(gguf_prompt, str) and _is_prompt(gguf_prompt) else None
    if info.pooling_type == RANK_POOLING:
        return Reranker("cross-encoder", gguf_prompt)
    if info.is_embedding:
        return None
    named = (record.parameters if options is None else options).get("rerank_answer")
    labels = named or info.arch_value("classifier.output_labels")
    answers = (str(labels[0]), str(labels[1])) if isinstance(labels, list) and len(labels) == 2 else ("yes", "no")
    prompt = record.template if _is_prompt(record.template) else gguf_prompt
    if prompt is None:
        name = " ".join(str(info.metadata.get(k, "")) for k in ("general.name", "general.basename"))
        if not _NAMED.search(name):
            return None
        prompt = QWEN3_RERANK_PROMPT
    return Reranker("generative", prompt, answers)
