"""The one error mapping of the server: exception -> (HTTP status, Ollama's text), in one table.

Native routes answer ``{"error": "<text>"}``; routes under ``/v1`` answer OpenAI's
``{"error": {"message", "type", "param", "code"}}`` built from the same (status, text) pair, except Ollama's own
``/v1/systemone``, which answers natively.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, InternalServerException, MethodNotAllowedException, NotFoundException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from pydantic import ValidationError

from ollamalib.errors import API, OllamalibError, status_api_type

from ._encoding import JSON_TYPE, dumps

__all__ = [
    "anthropic_error_body",
    "api_error_type",
    "body_too_large_text",
    "error_body",
    "error_status_and_text",
    "exception_handler",
    "openai_error_body",
]

log = logging.getLogger("ollamalib.server")


def body_too_large_text(limit: int, setting: str) -> str:
    """The 413 text: Go's ``http: request body too large`` plus the limit and the variable that raises it."""
    return f"http: request body too large (the limit is {limit} bytes; {setting} raises it)"


def _validation_text(exc: BaseException) -> str:
    assert isinstance(exc, ValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"invalid request: {where}: {first.get('msg', 'invalid value')}" if where else "invalid request"


_Rule = tuple[type[BaseException], Callable[[BaseException], int], Callable[[BaseException], str]]

ERROR_TABLE: tuple[_Rule, ...] = (
    (OllamalibError, lambda e: e.status_code, lambda e: e.api_text),  # type: ignore[attr-defined]
    (RequestEntityTooLarge, lambda e: 413, lambda e: "http: request body too large"),
    (NotFoundException, lambda e: 404, lambda e: "404 page not found"),
    (MethodNotAllowedException, lambda e: 405, lambda e: "405 method not allowed"),
    (InternalServerException, lambda e: 500, lambda e: str(e.detail)),  # type: ignore[attr-defined]
    (HTTPException, lambda e: e.status_code, lambda e: str(e.detail)),  # type: ignore[attr-defined]
    (ValidationError, lambda e: 400, _validation_text),
    (Exception, lambda e: 500, lambda e: str(e) or type(e).__name__),
)
"""Exception type -> status and text; the first matching row wins. Library errors declare both themselves
(``status_code``, ``api_text`` in ``ollamalib.errors``); the other rows are the framework's own."""

_PLAIN_TEXT = (NotFoundException, MethodNotAllowedException)  # gin answers these in plain text, under /v1 too


def error_status_and_text(exc: BaseException) -> tuple[int, str]:
    """The (status, text) Ollama would answer with for ``exc``."""
    exc = _unwrap(exc)
    for kind, status, text in ERROR_TABLE:
        if isinstance(exc, kind):
            return status(exc), text(exc)
    return 500, str(exc)


def _unwrap(exc: BaseException) -> BaseException:
    """The one error inside (nested) single-member exception groups, which task groups wrap errors in."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def error_body(message: str, exc: BaseException | None = None) -> dict[str, Any]:
    return {"error": message, **_fields(exc)}


def _library_error(exc: BaseException | None) -> OllamalibError | None:
    exc = _unwrap(exc) if exc is not None else None
    return exc if isinstance(exc, OllamalibError) else None


def _fields(exc: BaseException | None) -> dict[str, Any]:
    """What an error adds beside its text in every shape (a context overflow's counts, as llama-server sends)."""
    error = _library_error(exc)
    return dict(error.fields) if error is not None else {}


def api_error_type(api: API, status: int, exc: BaseException | None = None) -> str:
    """The ``type`` of ``api``'s error body: the library error's own (``OllamalibError.api_type``), else the
    status's (``ollamalib.errors.status_api_type``); one rule for the OpenAI and the Anthropic shapes."""
    error = _library_error(exc)
    return error.api_type(api) if error is not None else status_api_type(api, status)


def openai_error_body(status: int, message: str, exc: BaseException | None = None) -> dict[str, object]:
    """OpenAI's error shape; a context overflow adds llama-server's counts and OpenAI's own code."""
    error = _library_error(exc)
    return {"error": {"message": message, "type": api_error_type("openai", status, exc), "param": None,
                      "code": error.api_code if error is not None else None, **_fields(exc)}}


def anthropic_error_body(status: int, message: str, exc: BaseException | None = None) -> dict[str, Any]:
    """Anthropic's error shape: ``{"type": "error", "error": {"type": ..., "message": ...}}``."""
    return {"type": "error", "error": {"type": api_error_type("anthropic", status, exc), "message": message,
                                       **_fields(exc)}}


def is_anthropic_path(path: str) -> bool:
    return path == "/v1/messages" or path.startswith("/v1/messages/")


_NATIVE_V1 = ("/v1/systemone",)  # Ollama's own API under /v1: its errors keep the native shape


def is_openai_path(path: str) -> bool:
    return (path.startswith("/v1/") or path == "/v1") and path not in _NATIVE_V1


def error_json(path: str, status: int, text: str) -> bytes:
    """The encoded error body for ``path``: Anthropic's under ``/v1/messages``, OpenAI's under ``/v1``, else Ollama's."""
    return dumps(error_body_for(path, status, text))


def error_body_for(path: str, status: int, text: str, exc: BaseException | None = None) -> dict[str, object]:
    """The error body ``path`` answers with (see ``error_json``); ``exc`` may add fields (``_fields``)."""
    if is_anthropic_path(path):
        return anthropic_error_body(status, text, exc)
    return openai_error_body(status, text, exc) if is_openai_path(path) else error_body(text, exc)


def exception_handler(request: Request, exc: Exception) -> Response:
    """Litestar's handler for every exception: one table, two body shapes."""
    status, text = error_status_and_text(exc)
    if isinstance(exc, RequestEntityTooLarge):  # Litestar's count of a chunked body passed the limit
        settings = getattr(request.app.state, "settings", None)
        if settings is not None:
            text = body_too_large_text(settings.max_request_bytes, "OLLAMALIB_MAX_REQUEST_BYTES")
    if status >= 500 and status != 503:
        log.error("request %s %s failed: %s", request.method, request.url.path, text, exc_info=exc)
    headers = {}
    if status in (408, 413):  # the rest of the request body is never read: do not reuse the connection
        headers["connection"] = "close"
    if isinstance(exc, MethodNotAllowedException) and exc.headers:
        headers.update(exc.headers)
    if isinstance(exc, _PLAIN_TEXT):  # no route matched: gin's text, before Ollama's OpenAI middleware runs
        return Response(text.encode(), status_code=status, media_type="text/plain", headers=headers)
    body = error_body_for(request.url.path, status, text, exc)
    return Response(dumps(body), status_code=status, media_type=JSON_TYPE, headers=headers)

