"""``GET /api/ready[?model=NAME]``: a cheap readiness answer for routers and probes (ollamalib's addition).

Without ``model``: 200 while the server takes work. With ``model``: 200 only when that model is loaded now,
503 otherwise, so a router's health check (HAProxy ``option httpchk``, a Kubernetes readiness probe) can keep
a replica out of rotation until it is warm. While draining the middleware answers 503 before this runs.
The body is JSON: ``{"ready": bool, "loaded": [names...]}`` plus ``"model"`` when one was asked about.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, route
from litestar.handlers import HTTPRouteHandler

from ollamalib.errors import InvalidNameError
from ollamalib.names import ModelName

from ._encoding import JSON_TYPE, dumps

__all__ = ["ready_route"]


def ready_route(engine: Any) -> HTTPRouteHandler:
    """The readiness route over ``engine`` (reads only its in-memory metrics snapshot: no I/O, no locks held)."""

    @route("/api/ready", http_method=["GET", "HEAD"], summary="Readiness (optionally: is a model loaded)")
    async def ready(request: Request) -> Response:
        loaded = sorted(m.name for m in engine.metrics() if m.loaded)
        body: dict[str, Any] = {"ready": True, "loaded": loaded}
        wanted = request.query_params.get("model")
        if wanted:
            try:
                name = ModelName.parse(wanted)
            except InvalidNameError:
                raise InvalidNameError("invalid model name") from None
            body["model"] = wanted
            body["ready"] = any(name == other for other in loaded)
        return Response(dumps(body), status_code=200 if body["ready"] else 503, media_type=JSON_TYPE)

    return ready

