"""Rerank: turn (query, document) pairs into a reranker's inputs, score them on the runner, order the results.

A cross-encoder's pairs go to ``Runner.rank`` (rank pooling, packed into batches); a generative reranker's
prompts go to ``Runner.score_all`` with the two answer words as continuations, spread over the runner's slots
and read together. The score of a generative pair is P(yes) / (P(yes) + P(no)), the Qwen3-Reranker recipe.

A document too long for the context is cut (its tokens, between the query and the prompt's end, never the
query) so the pair fits, logged, and listed in the response's ``truncated``; with ``truncate=False`` it is a
ContextLengthError naming the document instead.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from .._go.strconv import go_quote
from ..errors import ContextLengthError, InvalidOptionError
from ..rerank import Reranker
from ..requests import RerankRequest
from ..types import RerankResponse, RerankResult

__all__ = ["Pairs", "generative_scores", "order"]

log = logging.getLogger("ollamalib.engine")


class Pairs:
    """The token inputs of a request's pairs, each within ``limit`` tokens, and which documents were cut."""

    def __init__(self, vocab: Any, reranker: Reranker, req: RerankRequest, limit: int) -> None:
        self.vocab = vocab
        self.reranker = reranker
        self.limit = limit
        self.truncate = req.truncate is not False
        self.truncated: list[int] = []
        add_special = reranker.kind == "generative"  # a generative prompt starts as any prompt does (BOS)
        if reranker.prompt is not None:
            before, after = reranker.split(req.query, req.instruction)
            self.inputs = [self._fit(i, doc, lambda d, b=before, a=after: vocab.tokenize(b + d + a,
                                                                                   add_special=add_special))
                           for i, doc in enumerate(req.documents)]
        else:
            head, tail = self._frame(req.query)  # the query is tokenized once, not once per document
            self.inputs = [self._pair(i, head, tail, doc) for i, doc in enumerate(req.documents)]

    @property
    def n_tokens(self) -> int:
        return sum(len(t) for t in self.inputs)

    def _cut(self, index: int, n_tokens: int) -> None:
        what = f"rerank document {index} with the query takes {n_tokens} tokens, more than the {self.limit} that fit"
        if not self.truncate:
            raise ContextLengthError(f"the input length exceeds the context length: {what}")
        log.warning("%s: the document is truncated", what)
        self.truncated.append(index)

    def _fit(self, index: int, doc: str, build: Callable[[str], list[int]]) -> list[int]:
        """The prompt around ``doc``, with the document's tokens cut until it fits."""
        tokens = build(doc)
        if len(tokens) <= self.limit:
            return tokens
        self._cut(index, len(tokens))
        doc_tokens = self.vocab.tokenize(doc, add_special=False)
        keep = len(doc_tokens) - (len(tokens) - self.limit)
        while True:
            if keep <= 0:
                raise ContextLengthError(f"the input length exceeds the context length: the rerank query takes all "
                                         f"the {self.limit} tokens that fit")
            tokens = build(self.vocab.detokenize(doc_tokens[:keep]))
            if len(tokens) <= self.limit:
                return tokens
            keep -= len(tokens) - self.limit

    def _frame(self, query: str) -> tuple[list[int], list[int]]:
        """llama-server's pair (format_prompt_rerank) around the document: [BOS] query [EOS] [SEP] | [EOS], each
        where the vocabulary adds it, SEP standing in for a missing EOS (BERT: [CLS] query [SEP] document [SEP])."""
        v = self.vocab
        eos = v.eos_id if v.eos_id >= 0 else v.sep_id
        head = [v.bos_id] if v.add_bos and v.bos_id >= 0 else []
        head += v.tokenize(query, add_special=False)
        if v.add_eos and eos >= 0:
            head.append(eos)
        if v.add_sep and v.sep_id >= 0:
            head.append(v.sep_id)
        tail = [eos] if v.add_eos and eos >= 0 else []
        return head, tail

    def _pair(self, index: int, head: list[int], tail: list[int], doc: str) -> list[int]:
        """One document between the query's ``_frame``, its tokens cut so the pair fits ``limit``."""
        v = self.vocab
        doc_tokens = v.tokenize(doc, add_special=False)
        room = self.limit - len(head) - len(tail)
        if len(doc_tokens) > room:
            self._cut(index, len(head) + len(doc_tokens) + len(tail))
            if room <= 0:
                raise ContextLengthError(f"the input length exceeds the context length: the rerank query takes all "
                                         f"the {self.limit} tokens that fit")
            doc_tokens = doc_tokens[:room]
        return head + doc_tokens + tail


def answer_tokens(vocab: Any, reranker: Reranker) -> list[list[int]]:
    """The token ids of the yes and no answers as the model would write them after the prompt; an answer that
    makes no token (``rerank_answer`` of only spaces, for a vocabulary that drops them) is a 400."""
    out = [vocab.tokenize(word, add_special=False) for word in reranker.answers]
    for word, tokens in zip(reranker.answers, out):
        if not tokens:
            raise InvalidOptionError(f"rerank_answer {go_quote(word)} makes no token in this model's vocabulary",
                                     status_code=400)
    return out


def generative_scores(finals: list[Any]) -> list[float]:
    """P(yes) / (P(yes) + P(no)) of each scored prompt, from the answers' summed log probabilities."""
    out = []
    for final in finals:
        yes, no = (sum(s) for s in final.scores)
        out.append(1.0 / (1.0 + math.exp(no - yes)) if no - yes < 700 else 0.0)
    return out


def order(req: RerankRequest, model: str, scores: list[float], pairs: Pairs, started_ns: int, load_ns: int,
          now_ns: int) -> RerankResponse:
    """The response: results by descending score (ties in document order), ``top_n`` of them."""
    ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    if req.top_n is not None:
        ranked = ranked[: req.top_n]
    results = [RerankResult(index=i, relevance_score=scores[i],
                            document=req.documents[i] if req.return_documents else None) for i in ranked]
    return RerankResponse(model=model, results=results, truncated=pairs.truncated or None,
                          total_duration=now_ns - started_ns, load_duration=load_ns, prompt_eval_count=pairs.n_tokens)
