"""Settings: every environment variable ollamalib reads, read in one place with Ollama's names and defaults.

``Settings.from_env()`` reads ``os.environ`` once; everything else takes a ``Settings`` (or its fields) as
arguments, so code and tests can override any value without touching the environment.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._go.duration import MAX_DURATION, format_duration, parse_duration
from .errors import InvalidOptionError

__all__ = [
    "CONTEXT_OVERFLOW_POLICIES",
    "DEFAULT_ORIGINS",
    "FOREVER",
    "OPENMP_DEFAULTS",
    "Settings",
    "apply_openmp_defaults",
    "format_duration",
    "parse_duration",
    "parse_host",
    "parse_keep_alive",
]

FOREVER = math.inf
"""keep_alive value meaning "never unload" (any negative duration in Ollama)."""

CONTEXT_OVERFLOW_POLICIES = ("truncate", "error")
"""What a prompt longer than num_ctx gets: Ollama's silent cut (now reported) or llama-server's 400."""

DEFAULT_ORIGINS: tuple[str, ...] = tuple(
    [
        f"{scheme}://{host}{port}"
        for host in ("localhost", "127.0.0.1", "0.0.0.0")
        for scheme in ("http", "https")
        for port in ("", ":*")
    ]
    + ["app://*", "file://*", "tauri://*", "vscode-webview://*", "vscode-file://*"]
)

def parse_keep_alive(value: Any) -> float | None:
    """Turn a request's or the environment's keep_alive into seconds (``FOREVER`` for negatives).

    Numbers are seconds; strings are Go durations (a bare number string is an error, as in Ollama);
    ``None`` means "not given".
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidOptionError(f"invalid keep_alive value: {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = parse_duration(value)
    else:
        raise InvalidOptionError(f"invalid keep_alive value: {value!r}")
    return FOREVER if seconds < 0 or seconds > MAX_DURATION else seconds


def parse_host(value: str | None, default_port: int = 11434) -> tuple[str, str, int]:
    """Parse ``OLLAMA_HOST`` the way Ollama does into (scheme, host, port)."""
    raw = (value or "").strip().strip("\"'")
    if not raw:
        return ("http", "127.0.0.1", default_port)
    scheme = "http"
    if "://" in raw:
        scheme, raw = raw.split("://", 1)
    port_default = default_port
    if scheme == "https":
        port_default = 443
    elif scheme == "http" and "://" in (value or ""):
        port_default = 80
    if raw == "ollama.com":
        return ("https", "ollama.com", 443)
    parts = urlsplit(f"//{raw}")
    host = parts.hostname or "127.0.0.1"
    try:
        port = parts.port or port_default
    except ValueError:
        port = default_port
    return (scheme, host, port)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip().strip("\"'").strip()


def _bool(value: str | None, default: bool = False) -> bool:
    value = _clean(value)
    if not value:
        return default
    low = value.lower()
    if low in ("1", "t", "true", "yes", "on"):
        return True
    if low in ("0", "f", "false", "no", "off"):
        return False
    return True  # Ollama: an unparseable non-empty value counts as true


def _int(value: str | None, default: int) -> int:
    value = _clean(value)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        return default


def _paths(value: str | None) -> tuple[Path, ...]:
    """An ``os.pathsep``-separated list of directories (``~`` expanded; empty entries dropped)."""
    value = _clean(value)
    return tuple(Path(os.path.expanduser(p.strip())) for p in (value or "").split(os.pathsep) if p.strip())


def _seconds(value: str | None) -> float | None:
    """A timeout: a Go duration ("30s") or plain seconds; 0 or less turns it off (stored as 0)."""
    value = _clean(value)
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parse_duration(value)
        except InvalidOptionError:
            return None
    return seconds if seconds > 0 else 0.0


def _default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("ollamalib", appauthor=False))


@dataclass(frozen=True)
class Settings:
    """Effective configuration. Field names follow the ``OLLAMA_*`` variables they come from."""

    host: str = "http://127.0.0.1:11434"
    models: Path = field(default_factory=lambda: _default_data_dir() / "models")
    data_dir: Path = field(default_factory=_default_data_dir)
    home_dir: Path = field(default_factory=lambda: Path.home() / ".ollama")
    keep_alive: float = 300.0
    num_parallel: int = 4
    max_loaded_models: int = 3
    max_queue: int = 512
    context_length: int = 4096
    origins: tuple[str, ...] = ()
    flash_attention: bool | None = None
    kv_cache_type: str = "f16"
    noprune: bool = False
    debug: int = 0
    load_timeout: float = 300.0
    nohistory: bool = False
    noui: bool = False
    api_key: str | None = None
    max_request_bytes: int = 64 * 1024 * 1024
    max_blob_bytes: int = 1024**4
    header_timeout: float = 30.0
    body_timeout: float = 60.0
    max_messages: int = 50_000  # messages in one chat request (400 past it)
    max_questions: int = 256  # questions in one /v1/systemone request (400 past it)
    max_choices: int = 256  # choices of one systemone choice question (400 past it)
    max_prompt_bytes: int = 16 * 1024 * 1024  # UTF-8 bytes of a request's prompt or message text (413 past it)
    max_grammar_repeats: int = 100_000  # repetitions a JSON-schema format may expand to (400 past it)
    max_stored_responses: int = 1000  # /v1/responses kept for previous_response_id (oldest dropped first)
    stored_response_seconds: int = 86_400  # ... and for at most this long
    context_overflow: str | None = None
    """A prompt longer than num_ctx: "truncate" (Ollama's cut) or "error" (a 400); None leaves each API its
    default (OLLAMALIB_CONTEXT_OVERFLOW; a request's ``context_overflow`` option wins)."""
    registry_username: str | None = None
    registry_password: str | None = None
    registry_host: str | None = None
    """The one registry host[:port] that registry_username/password are sent to (OLLAMALIB_REGISTRY_HOST)."""
    registry_auth_file: Path | None = None
    """A Docker-style ``{"auths": {"host:port": {"auth": base64(user:pass)}}}`` file (OLLAMALIB_REGISTRY_AUTH_FILE)."""
    insecure_registries: tuple[str, ...] = ()
    """Hosts that may get a password over plain http (OLLAMALIB_INSECURE_REGISTRIES, comma-separated)."""
    auth: bool = False
    editor: str | None = None
    drain_timeout: float = 25.0
    host_set: bool = False  # OLLAMA_HOST was given (the CLI then never falls back to in-process)
    hf_endpoint: str | None = None  # HF_ENDPOINT: the Hugging Face hub Hugging Face pulls use
    create_paths: tuple[Path, ...] = ()
    """Directories whose GGUF files ``/api/create`` may name in ``from`` (OLLAMALIB_CREATE_PATHS; none by default)."""
    cache_ram_mib: int = 2048
    """Host RAM per loaded model for the KV states of prompts that lost their slot (OLLAMALIB_CACHE_RAM, MiB; 0 off)."""
    cache_dir: Path | None = None
    """Where those states are also kept as files, across restarts (OLLAMALIB_CACHE_DIR; unset: in RAM only)."""
    cache_disk_mib: int = 8192
    """The bound of ``cache_dir`` over all models, least recently used files first (OLLAMALIB_CACHE_DISK, MiB)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the ``OLLAMA_*`` variables (from ``environ`` or ``os.environ``); ``overrides`` win."""
        env = os.environ if environ is None else environ
        get = env.get
        kw: dict[str, Any] = {}
        scheme, h, port = parse_host(get("OLLAMA_HOST"))
        kw["host"] = f"{scheme}://{h}:{port}"
        kw["host_set"] = bool(_clean(get("OLLAMA_HOST")))
        if _clean(get("OLLAMA_MODELS")):
            kw["models"] = Path(os.path.expanduser(_clean(get("OLLAMA_MODELS")) or ""))
        if _clean(get("OLLAMALIB_DATA_DIR")):
            kw["data_dir"] = Path(os.path.expanduser(_clean(get("OLLAMALIB_DATA_DIR")) or ""))
            kw.setdefault("models", kw["data_dir"] / "models")
        if _clean(get("OLLAMALIB_HOME")):
            kw["home_dir"] = Path(os.path.expanduser(_clean(get("OLLAMALIB_HOME")) or ""))
        ka = _clean(get("OLLAMA_KEEP_ALIVE"))
        if ka:
            try:
                kw["keep_alive"] = parse_keep_alive(ka)
            except InvalidOptionError:
                try:
                    kw["keep_alive"] = parse_keep_alive(int(ka))
                except ValueError:
                    pass
        kw["num_parallel"] = max(1, _int(get("OLLAMA_NUM_PARALLEL"), 4) or 4)
        kw["max_loaded_models"] = _int(get("OLLAMA_MAX_LOADED_MODELS"), 0) or 3
        kw["max_queue"] = _int(get("OLLAMA_MAX_QUEUE"), 512) or 512
        kw["context_length"] = _int(get("OLLAMA_CONTEXT_LENGTH"), 0) or 4096
        origins = _clean(get("OLLAMA_ORIGINS"))
        kw["origins"] = tuple(o.strip() for o in origins.split(",") if o.strip()) if origins else ()
        fa = _clean(get("OLLAMA_FLASH_ATTENTION"))
        kw["flash_attention"] = _bool(fa) if fa else None
        kw["kv_cache_type"] = _clean(get("OLLAMA_KV_CACHE_TYPE")) or "f16"
        kw["noprune"] = _bool(get("OLLAMA_NOPRUNE"))
        dbg = _clean(get("OLLAMA_DEBUG"))
        if dbg:
            try:
                kw["debug"] = int(dbg)
            except ValueError:
                kw["debug"] = 1 if _bool(dbg) else 0
        lt = _clean(get("OLLAMA_LOAD_TIMEOUT"))
        if lt:
            try:
                seconds = parse_duration(lt)
            except InvalidOptionError:
                seconds = float(_int(lt, 300))
            kw["load_timeout"] = seconds if seconds > 0 else FOREVER
        kw["nohistory"] = _bool(get("OLLAMA_NOHISTORY"))
        kw["noui"] = _bool(get("OLLAMA_NOUI"))
        kw["api_key"] = _clean(get("OLLAMA_API_KEY")) or None
        mrb = _clean(get("OLLAMALIB_MAX_REQUEST_BYTES"))
        if mrb:
            kw["max_request_bytes"] = _int(mrb, cls.max_request_bytes)
        kw["max_blob_bytes"] = _int(get("OLLAMALIB_MAX_BLOB_BYTES"), cls.max_blob_bytes)
        for name in ("header_timeout", "body_timeout", "drain_timeout"):
            seconds = _seconds(get(f"OLLAMALIB_{name.upper()}"))
            if seconds is not None:
                kw[name] = seconds
        for name in ("max_messages", "max_questions", "max_choices", "max_prompt_bytes", "max_grammar_repeats",
                     "max_stored_responses", "stored_response_seconds"):
            value = _clean(get(f"OLLAMALIB_{name.upper()}"))
            if value:
                kw[name] = max(1, _int(value, getattr(cls, name)))
        overflow = (_clean(get("OLLAMALIB_CONTEXT_OVERFLOW")) or "").lower()
        kw["context_overflow"] = overflow if overflow in CONTEXT_OVERFLOW_POLICIES else None
        kw["registry_username"] = _clean(get("OLLAMA_REGISTRY_USERNAME")) or None
        kw["registry_password"] = _clean(get("OLLAMA_REGISTRY_PASSWORD")) or None
        kw["registry_host"] = _clean(get("OLLAMALIB_REGISTRY_HOST")) or None
        auth_file = _clean(get("OLLAMALIB_REGISTRY_AUTH_FILE"))
        kw["registry_auth_file"] = Path(os.path.expanduser(auth_file)) if auth_file else None
        insecure = _clean(get("OLLAMALIB_INSECURE_REGISTRIES")) or ""
        kw["insecure_registries"] = tuple(h.strip() for h in insecure.split(",") if h.strip())
        kw["auth"] = _bool(get("OLLAMA_AUTH"))
        kw["hf_endpoint"] = _clean(get("HF_ENDPOINT")) or None
        kw["create_paths"] = _paths(get("OLLAMALIB_CREATE_PATHS"))
        kw["cache_ram_mib"] = max(0, _int(get("OLLAMALIB_CACHE_RAM"), cls.cache_ram_mib))
        cache_dir = _clean(get("OLLAMALIB_CACHE_DIR"))
        kw["cache_dir"] = Path(os.path.expanduser(cache_dir)) if cache_dir else None
        kw["cache_disk_mib"] = max(0, _int(get("OLLAMALIB_CACHE_DISK"), cls.cache_disk_mib))
        kw["editor"] = _clean(get("OLLAMA_EDITOR")) or _clean(get("VISUAL")) or _clean(get("EDITOR")) or None
        kw.update(overrides)
        return cls(**kw)

    def replace(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @property
    def all_origins(self) -> tuple[str, ...]:
        """OLLAMA_ORIGINS plus Ollama's default local and app origins."""
        return self.origins + DEFAULT_ORIGINS

    @property
    def bind(self) -> tuple[str, int]:
        """The (host, port) the server listens on."""
        _, h, port = parse_host(self.host)
        return h, port

    def as_env(self) -> dict[str, str]:
        """The effective values under their variable names, as the server prints them at start."""
        names = {
            "host": "OLLAMA_HOST",
            "models": "OLLAMA_MODELS",
            "keep_alive": "OLLAMA_KEEP_ALIVE",
            "num_parallel": "OLLAMA_NUM_PARALLEL",
            "max_loaded_models": "OLLAMA_MAX_LOADED_MODELS",
            "max_queue": "OLLAMA_MAX_QUEUE",
            "context_length": "OLLAMA_CONTEXT_LENGTH",
            "origins": "OLLAMA_ORIGINS",
            "flash_attention": "OLLAMA_FLASH_ATTENTION",
            "kv_cache_type": "OLLAMA_KV_CACHE_TYPE",
            "noprune": "OLLAMA_NOPRUNE",
            "debug": "OLLAMA_DEBUG",
            "load_timeout": "OLLAMA_LOAD_TIMEOUT",
            "nohistory": "OLLAMA_NOHISTORY",
            "noui": "OLLAMA_NOUI",
            "api_key": "OLLAMA_API_KEY",
            "drain_timeout": "OLLAMALIB_DRAIN_TIMEOUT",
            "cache_ram_mib": "OLLAMALIB_CACHE_RAM",
            "cache_dir": "OLLAMALIB_CACHE_DIR",
            "cache_disk_mib": "OLLAMALIB_CACHE_DISK",
            "context_overflow": "OLLAMALIB_CONTEXT_OVERFLOW",
        }
        out: dict[str, str] = {}
        for f in fields(self):
            if f.name not in names:
                continue
            value = getattr(self, f.name)
            if f.name == "api_key":
                value = "(set)" if value else ""
            elif f.name in ("keep_alive", "load_timeout", "drain_timeout"):
                value = "-1" if value == FOREVER else format_duration(value)
            elif f.name == "origins":
                value = ",".join(self.all_origins)
            if isinstance(value, bool):
                value = "true" if value else "false"
            out[names[f.name]] = "" if value is None else str(value)
        return out


# libgomp's settings for llama.cpp's CPU threads (``runner/_openmp`` applies them before llama_cpp loads).
OPENMP_DEFAULTS = {"OMP_WAIT_POLICY": "active", "GOMP_SPINCOUNT": "300000"}


def apply_openmp_defaults() -> None:
    """Set ``OPENMP_DEFAULTS`` unless the user set either variable (then both are left to them)."""
    if not any(name in os.environ for name in OPENMP_DEFAULTS):
        os.environ.update(OPENMP_DEFAULTS)
