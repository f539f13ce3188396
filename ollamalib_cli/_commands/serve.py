"""``ollamalib serve`` (alias ``start``): make sure the signing key exists, then run the HTTP server."""

from __future__ import annotations

import argparse
from typing import Any

from .._context import Context

__all__ = ["ENVIRONMENT", "add_serve", "environment_help"]

ENVIRONMENT: tuple[tuple[str, str], ...] = (
    ("OLLAMA_DEBUG", "Show additional debug information (e.g. OLLAMA_DEBUG=1)"),
    ("OLLAMA_HOST", "IP Address for the ollama server"),
    ("OLLAMA_KEEP_ALIVE", "The duration that models stay loaded in memory"),
    ("OLLAMA_MAX_LOADED_MODELS", "Maximum number of loaded models"),
    ("OLLAMA_MAX_QUEUE", "Maximum number of queued requests"),
    ("OLLAMA_MODELS", "The path to the models directory"),
    ("OLLAMA_NUM_PARALLEL", "Maximum number of parallel requests per model"),
    ("OLLAMA_NOPRUNE", "Do not prune model blobs on startup"),
    ("OLLAMA_ORIGINS", "A comma separated list of allowed origins"),
    ("OLLAMA_FLASH_ATTENTION", "Enable flash attention (1 on, 0 off, unset auto)"),
    ("OLLAMA_KV_CACHE_TYPE", "Quantization type for the K/V cache"),
    ("OLLAMA_LOAD_TIMEOUT", "How long to allow model loads to stall before giving up"),
    ("OLLAMA_CONTEXT_LENGTH", "Context length to use unless otherwise specified"),
    ("OLLAMA_API_KEY", "Bearer token the server requires from clients"),
    ("OLLAMALIB_CACHE_RAM", "MiB of host RAM per loaded model for prompts that lost their slot (0 off)"),
    ("OLLAMALIB_CACHE_DIR", "Also keep those prompts' states in files here, across restarts (unset: off)"),
    ("OLLAMALIB_CACHE_DISK", "MiB that OLLAMALIB_CACHE_DIR may hold, least recently used files go first"),
    ("OLLAMALIB_DRAIN_TIMEOUT", "On SIGTERM, how long requests in flight may run before they are ended"),
    ("OLLAMALIB_DATA_DIR", "Data directory (models/ lives below it unless OLLAMA_MODELS is set)"),
    ("OLLAMALIB_HOME", "Directory of the signing key (id_ed25519) and the REPL history"),
)


def _defaults() -> dict[str, str]:
    from ollamalib.config import Settings

    defaults = Settings.from_env({})
    values = defaults.as_env()
    values["OLLAMA_ORIGINS"] = ""
    values["OLLAMALIB_DATA_DIR"] = str(defaults.data_dir)
    values["OLLAMALIB_HOME"] = str(defaults.home_dir)
    values["OLLAMA_FLASH_ATTENTION"] = ""
    return values


def environment_help() -> str:
    """The ``Environment Variables:`` block of ``serve --help``, with each default from ``Settings``."""
    defaults = _defaults()
    lines = ["Environment Variables:"]
    for name, text in ENVIRONMENT:
        value = defaults.get(name, "")
        if value in ("True", "False"):
            value = value.lower()
        suffix = f" (default: {value})" if value else ""
        lines.append(f"      {name:<24}   {text}{suffix}")
    return "\n".join(lines) + "\n"


def add_serve(sub: Any, common: argparse.ArgumentParser, fmt: type) -> None:
    p = sub.add_parser("serve", aliases=["start"], parents=[common], formatter_class=fmt, help="Start ollamalib",
                       description="Serve Ollama's HTTP API (and the OpenAI-compatible one) on OLLAMA_HOST.",
                       epilog=environment_help())
    p.set_defaults(func=serve)


def serve(ctx: Context, args: argparse.Namespace) -> int:
    from ollamalib.registry.keys import KEY_FILENAME, load_or_create_key

    settings = ctx.settings
    if ctx.host:
        from .._backend import normalize_host

        settings = settings.replace(host=normalize_host(ctx.host))
    key_path = settings.home_dir / KEY_FILENAME
    _, public, created = load_or_create_key(settings.home_dir)
    if created:
        ctx.out(f"Couldn't find '{key_path}'. Generating new private key.")
        ctx.out(f"Your new public key is: \n\n{public}\n")
    from ollamalib_server import serve as run_server

    run_server(settings)
    return 0
