"""The chat page at ``/ui``: plain HTML, CSS and JS files shipped in ``ollamalib_server/ui/`` (no build step).

The page talks to the server's own ``/api/tags``, ``/api/show`` and ``/api/chat``; ``OLLAMA_NOUI=1`` leaves the
routes out (404). The files need no API key (the Gate lets ``/ui`` through); the page sends the key it asks for.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Response, get
from litestar.params import FromPath
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler

__all__ = ["UI_DIR", "UI_PREFIX", "ui_routes"]

UI_DIR = Path(__file__).resolve().parent / "ui"
UI_PREFIX = "/ui"
_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}


def _file(name: str) -> Response:
    path = UI_DIR / name
    if "/" in name or name.startswith(".") or path.suffix not in _TYPES or not path.is_file():
        raise NotFoundException()
    return Response(path.read_bytes(), media_type=_TYPES[path.suffix], headers={"cache-control": "no-cache"})


def ui_routes(enabled: bool = True) -> list[HTTPRouteHandler]:
    """The /ui route handlers, or none when the UI is turned off."""
    if not enabled:
        return []

    @get(UI_PREFIX, include_in_schema=False)  # Litestar serves /ui and /ui/ from one route
    async def ui_index() -> Response:
        return _file("index.html")

    @get(f"{UI_PREFIX}/{{name:str}}", include_in_schema=False)
    async def ui_asset(name: FromPath[str]) -> Response:
        return _file(name)

    return [ui_index, ui_asset]
