"""``serve(settings)``: what ``ollamalib serve`` and ``python -m ollamalib_server`` run.

Sets up logging (stderr and ``<data_dir>/server.log``), creates the signing key on first start, prints the
effective settings as Ollama does (``server config env=map[...]``), prunes unreferenced blobs unless
``OLLAMA_NOPRUNE``, then serves the app under uvicorn on ``OLLAMA_HOST`` until interrupted.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from ollamalib.config import Settings

from ._app import create_app
from ._drain import Drain
from ._native import server_version
from ._protocol import timed_protocol

__all__ = ["configure_logging", "ensure_key", "freeze_heap", "serve"]

log = logging.getLogger("ollamalib.server")
_HANDLER_MARK = "_ollamalib_server_handler"


class _SlogFormatter(logging.Formatter):
    """``time=... level=... source=file:line msg="..."``, the shape of Ollama's log lines."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if not message.startswith("msg="):
            head, sep, tail = message.partition(" ")
            if "=" in tail.split(" ", 1)[0] and "=" not in head:
                message = f'msg={head} {tail}'
            else:
                message = f"msg={_quote(message)}"
        line = (f"time={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}.{int(record.msecs):03d} "
                f"level={record.levelname} source={record.filename}:{record.lineno} {message}")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _quote(text: str) -> str:
    if text and not any(c in text for c in ' "=\n\t'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def configure_logging(settings: Settings) -> None:
    """Log ``ollamalib.*`` to stderr and ``<data_dir>/server.log``; DEBUG when ``OLLAMA_DEBUG`` is set."""
    root = logging.getLogger("ollamalib")
    root.setLevel(logging.DEBUG if settings.debug else logging.INFO)
    asgi = logging.getLogger("uvicorn")  # its warnings and errors (a port in use...) go to the same places
    asgi.setLevel(logging.WARNING)
    for logger in (root, asgi):
        for handler in [h for h in logger.handlers if getattr(h, _HANDLER_MARK, False)]:
            logger.removeHandler(handler)
            handler.close()
    formatter = _SlogFormatter()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    try:
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(Path(settings.data_dir) / "server.log", encoding="utf-8"))
    except OSError as exc:
        print(f"warning: cannot write {settings.data_dir}/server.log: {exc}", file=sys.stderr)
    for handler in handlers:
        handler.setFormatter(formatter)
        setattr(handler, _HANDLER_MARK, True)
        root.addHandler(handler)
        asgi.addHandler(handler)


def ensure_key(settings: Settings) -> None:
    """Create the ed25519 key pair on first start, printing what Ollama prints."""
    try:
        from ollamalib.registry.keys import KEY_FILENAME, load_or_create_key
    except ImportError:  # pragma: no cover - registry not installed
        return
    path = Path(settings.home_dir).expanduser() / KEY_FILENAME
    try:
        _, public, created = load_or_create_key(settings.home_dir)
    except Exception as exc:  # a broken key must not stop the server
        log.warning("could not load or create the private key %s: %s", path, exc)
        return
    if created:
        print(f"Couldn't find '{path}'. Generating new private key.")
        print(f"Your new public key is: \n\n{public}\n", flush=True)


def env_map(settings: Settings) -> str:
    """``map[K:V ...]`` as Go prints a map, sorted by key."""
    return "map[" + " ".join(f"{k}:{v}" for k, v in sorted(settings.as_env().items())) + "]"


def freeze_heap() -> int:
    """Move every object alive now (the app, its routes and schemas, llama.cpp's bindings) out of the garbage
    collector's reach; returns how many there were.

    CPython's full collections walk every tracked object: with the server's ~100k startup objects one took
    50-200 ms, holding the GIL, so a request it hit waited that long for its first token (and every stream stalled).
    Frozen objects are never walked again, so a full collection costs what was allocated since. Objects that
    live for the whole process lose nothing by it; the bindings are imported first so that they are frozen too.
    """
    import ollamalib.runner  # noqa: F401  (llama.cpp's ctypes bindings: ~18k objects every generating server loads)

    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def _draining_server(config: Any, drain: Drain) -> Any:
    """A uvicorn server that drains on SIGTERM (see ``drain.py``) and stops at once on a second one."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        drain_task: asyncio.Task[None] | None = None

        def handle_exit(self, sig: int, frame: Any) -> None:
            if sig != signal.SIGTERM:
                super().handle_exit(sig, frame)  # Ctrl-C: uvicorn's own short graceful shutdown
                return
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # not serving yet
                loop = None
            if drain.draining or drain.grace <= 0 or loop is None:
                drain.abort()
                self.should_exit = True
            else:
                drain.begin()
                loop.call_soon_threadsafe(self._start_drain)

        def _start_drain(self) -> None:
            self.drain_task = asyncio.ensure_future(self._drain())

        async def _drain(self) -> None:
            if not await drain.wait_idle(drain.grace):
                log.warning("drain grace period of %.1fs is over", drain.grace)
                drain.abort()
            self.should_exit = True

    return DrainingServer(config)


def serve(settings: Settings | None = None, *, engine: Any = None) -> None:
    """Run the server in the foreground until SIGINT/SIGTERM; unloads models on the way out.

    SIGTERM drains: new work gets 503 while requests in flight finish within ``settings.drain_timeout``.
    """
    import uvicorn

    from ollamalib.engine import AsyncEngine

    settings = settings or Settings.from_env()
    configure_logging(settings)
    ensure_key(settings)
    log.info('msg="server config" env="%s"', env_map(settings))
    engine = engine or AsyncEngine(settings)
    if not settings.noprune:
        try:
            removed = engine.store.prune()
            if removed:
                log.info("pruned unused blobs count=%d", len(removed))
        except OSError as exc:
            log.warning("blob pruning failed: %s", exc)
    app = create_app(engine, settings)

    async def close_engine() -> None:
        close = getattr(engine, "close", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result

    app.on_shutdown.append(close_engine)
    freeze_heap()
    host, port = settings.bind
    log.info('msg="Listening on %s:%d (version %s)"', host, port, server_version())
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="on",
                            timeout_graceful_shutdown=5, server_header=False,
                            http=timed_protocol(settings.header_timeout))
    try:
        _draining_server(config, app.state.drain).run()
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it handled, after a graceful shutdown
        pass
