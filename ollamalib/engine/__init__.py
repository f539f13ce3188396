"""Engine and AsyncEngine: Ollama's API as Python methods, running models in-process.

The methods, arguments and results are those of the official ``ollama`` client (generate, chat, embed,
embeddings, create, pull, push, list, show, copy, delete, ps), with Ollama's behaviour behind them: option
precedence, templates, history truncation, tool-call and thinking parsing, structured output, keep_alive.
``stream=True`` returns an iterator of chunks; leaving it early cancels the generation within a token.
"""

from ._async import AsyncEngine
from ._engine import Engine

__all__ = ["AsyncEngine", "Engine"]
