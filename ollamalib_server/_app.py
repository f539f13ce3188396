"""The app factory: ``create_app(engine)`` builds the Litestar app serving Ollama's and OpenAI's APIs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from ollamalib.config import Settings

from ._anthropic import anthropic_routes
from ._decisions import decision_routes
from ._drain import Drain
from ._errors import exception_handler
from ._metrics import RequestMetrics, metrics_route
from ._middleware import Gate
from ._native import native_routes, server_version
from ._openai import openai_routes
from ._ready import ready_route
from ._rerank import rerank_routes
from ._webui import ui_routes
from ._responses import ResponseStore, responses_routes

if TYPE_CHECKING:
    from ollamalib.engine import AsyncEngine

__all__ = ["create_app"]


def create_app(engine: AsyncEngine, settings: Settings | None = None) -> Litestar:
    """A Litestar app serving ``engine`` (an AsyncEngine) with Ollama's native API and the OpenAI shim.

    ``settings`` (default: the engine's) supplies the CORS origins, the API key and the request body limit.
    The OpenAPI document is served at ``/schema/openapi.json`` and Prometheus metrics at ``/metrics``.
    """
    settings = settings or getattr(engine, "settings", None) or Settings.from_env()
    security = None
    components = Components()
    if settings.api_key:
        components = Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")})
        security = [{"bearer": []}]
    request_metrics = RequestMetrics()
    drain = Drain(settings.drain_timeout)
    stored = ResponseStore(settings.max_stored_responses, settings.stored_response_seconds)
    app = Litestar(
        route_handlers=[*native_routes(engine), *openai_routes(engine), *responses_routes(engine, stored),
                        *anthropic_routes(engine), *rerank_routes(engine), *decision_routes(engine),
                        metrics_route(engine, request_metrics, drain),
                        ready_route(engine), *ui_routes(not settings.noui)],
        exception_handlers={Exception: exception_handler},
        openapi_config=OpenAPIConfig(
            title="ollamalib",
            version=server_version(),
            description="Ollama's HTTP API and an OpenAI-compatible API over ollamalib's engine.",
            path="/schema",
            render_plugins=[JsonRenderPlugin(), YamlRenderPlugin(), SwaggerRenderPlugin()],
            components=components,
            security=security,
        ),
        request_max_body_size=settings.max_request_bytes,  # JSON bodies are read whole
        logging_config=None,
        debug=False,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.request_metrics = request_metrics
    app.state.drain = drain
    app.state.responses = stored
    app.asgi_handler = Gate(app.asgi_handler, settings, request_metrics, drain)
    return app
