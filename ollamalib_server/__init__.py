"""ollamalib's HTTP server: Ollama's native API and an OpenAI-compatible API over an AsyncEngine, on Litestar."""

from __future__ import annotations

from ._app import create_app
from ._serve import serve

__all__ = ["create_app", "serve"]
