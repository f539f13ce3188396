"""``python -m ollamalib_server``: serve on OLLAMA_HOST with settings from the environment."""

from __future__ import annotations

from ._serve import serve

if __name__ == "__main__":
    serve()
