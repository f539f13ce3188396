"""Rerank routes: ``POST /api/rerank`` (ollamalib's native shape) and ``POST /v1/rerank`` (the Jina/Cohere shape
llama-server serves), both onto ``AsyncEngine.rerank_request``.

Native: ``{model, results: [{index, relevance_score, document?}], truncated?, total_duration, load_duration,
prompt_eval_count}``. ``/v1/rerank``: ``{model, object: "list", results: [{index, relevance_score,
document?: {text}}], usage: {prompt_tokens, total_tokens}}``; its documents may be strings or ``{"text": ...}``
objects, and ``top_n`` and ``return_documents`` keep their Cohere meaning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler

from ollamalib.errors import InvalidOptionError, ModelNotFoundError
from ollamalib.requests import RerankRequest

from . import _bodies as rq
from ._decode import body_operation
from ._native import check_name, json_response, read
from ._streaming import call_engine, until_disconnect

if TYPE_CHECKING:
    from ollamalib.engine import AsyncEngine

__all__ = ["rerank_routes"]


def _texts(documents: Any) -> Any:
    """Jina/Cohere documents as strings: a ``{"text": ...}`` object becomes its text; others are left to the
    request model to refuse."""
    if not isinstance(documents, list):
        return documents
    out = []
    for doc in documents:
        if isinstance(doc, dict):
            if not isinstance(doc.get("text"), str):
                raise InvalidOptionError('documents must be strings or objects with a "text" string')
            doc = doc["text"]
        out.append(doc)
    return out


def rerank_routes(engine: AsyncEngine) -> list[HTTPRouteHandler]:
    """The two rerank routes over ``engine``."""

    async def run(request: Request, body: dict[str, Any]) -> Any:
        req = RerankRequest.from_wire(body)
        if not req.model:
            raise ModelNotFoundError("")
        check_name(req.model)
        return await until_disconnect(request, call_engine(engine.rerank_request, req))

    @post("/api/rerank", operation_class=body_operation(rq.RERANK), summary="Rerank documents", status_code=200)
    async def rerank(request: Request) -> Response:
        return json_response(await run(request, await read(request, rq.RERANK)))

    @post("/v1/rerank", operation_class=body_operation(rq.RERANK), summary="Rerank (Jina/Cohere shape)",
          status_code=200)
    async def v1_rerank(request: Request) -> Response:
        body = await read(request, rq.RERANK)
        body["documents"] = _texts(body.get("documents"))
        r = await run(request, body)
        results = []
        for x in r.results:
            item: dict[str, Any] = {"index": x.index, "relevance_score": x.relevance_score}
            if x.document is not None:
                item["document"] = {"text": x.document}
            results.append(item)
        tokens = r.prompt_eval_count or 0
        return json_response({"model": r.model, "object": "list", "results": results,
                              "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    return [rerank, v1_rerank]
