"""The version this CLI reports for itself."""

from __future__ import annotations

__all__ = ["client_version"]


def client_version() -> str:
    """``ollamalib.__version__`` when set, else the installed distribution's version."""
    import ollamalib

    version = getattr(ollamalib, "__version__", None)
    if version:
        return str(version)
    from importlib.metadata import PackageNotFoundError, version as dist_version

    try:
        return dist_version("ollamalib")
    except PackageNotFoundError:
        return "0.0.0"
