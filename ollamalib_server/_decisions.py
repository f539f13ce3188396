"""Ollama's decision API (``POST /v1/systemone``): typed questions answered from the model's probabilities.

The body is decoded with Go's rules, becomes a ``SystemOneRequest`` (which checks every question), and the
AsyncEngine answers it in one JSON object; there is no streaming. Errors keep Ollama's native shape,
``{"error": "<text>"}``, as the official client reads them (not the OpenAI shape of the other ``/v1`` routes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar import Request, Response, post
from litestar.handlers import HTTPRouteHandler

from ollamalib.errors import BadRequestError, InvalidNameError
from ollamalib.requests import SystemOneRequest

from . import _bodies as rq
from ._decode import body_operation, decode_body
from ._encoding import JSON_TYPE, wire
from ._streaming import call_engine, until_disconnect

if TYPE_CHECKING:
    from ollamalib.engine import AsyncEngine

__all__ = ["SYSTEMONE_PATH", "decision_routes"]

SYSTEMONE_PATH = "/v1/systemone"


def decision_routes(engine: AsyncEngine) -> list[HTTPRouteHandler]:
    """The ``/v1/systemone`` route over ``engine``."""

    @post(SYSTEMONE_PATH, operation_class=body_operation(rq.SYSTEMONE), summary="Answer typed questions (decisions)",
          status_code=200)
    async def systemone(request: Request) -> Response:
        body = decode_body(await request.body(), rq.SYSTEMONE)
        if body.get("stream"):
            raise BadRequestError("streaming is not supported by systemone")
        if not body.get("model"):
            raise InvalidNameError("model is required")
        settings = engine.settings
        req = SystemOneRequest.from_wire(body, max_questions=settings.max_questions, max_choices=settings.max_choices)
        result = await until_disconnect(request, call_engine(engine.systemone_request, req))
        return Response(wire(result), status_code=200, media_type=JSON_TYPE)

    return [systemone]
