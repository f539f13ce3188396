"""The CLI's one error table: which exception becomes which one-line ``Error: ...`` message and exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["CLIError", "ServerUnreachableError", "UsageError", "CLI_ERROR_MAPPINGS", "describe"]

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

CONNECT_MESSAGE = "could not connect to ollama server, run 'ollamalib serve' to start it"


class CLIError(Exception):
    """An error the CLI itself detects; its text is printed as is."""

    exit_code = EXIT_ERROR


class UsageError(CLIError):
    """Wrong arguments or flags (exit code 2)."""

    exit_code = EXIT_USAGE


class ServerUnreachableError(CLIError):
    """The server named by ``--host`` or ``OLLAMA_HOST`` refused the connection."""

    def __init__(self, message: str = CONNECT_MESSAGE) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Mapping:
    """One row of the table: an exception type (or a predicate), how to word it, the exit code."""

    match: type[BaseException] | Callable[[BaseException], bool]
    message: Callable[[BaseException], str] | None = None
    exit_code: int = EXIT_ERROR

    def matches(self, exc: BaseException) -> bool:
        if isinstance(self.match, type):
            return isinstance(exc, self.match)
        return self.match(exc)


def _is_connect_error(exc: BaseException) -> bool:
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return True
    return isinstance(exc, ConnectionRefusedError)


def _is_library_error(exc: BaseException) -> bool:
    errors = sys.modules.get("ollamalib.errors")
    return errors is not None and isinstance(exc, errors.OllamalibError)


def _os_error(exc: BaseException) -> str:
    assert isinstance(exc, OSError)
    if exc.filename is not None and exc.strerror:
        return f"open {exc.filename}: {exc.strerror.lower()}"
    return str(exc)


CLI_ERROR_MAPPINGS: tuple[Mapping, ...] = (
    Mapping(UsageError, exit_code=EXIT_USAGE),
    Mapping(CLIError),
    Mapping(_is_connect_error, lambda e: CONNECT_MESSAGE),
    # every library error prints the text its class declares for Ollama's API (``api_text``), so a command
    # run in process prints what the same command against a server prints
    Mapping(_is_library_error, lambda e: e.api_text),  # type: ignore[attr-defined]
    Mapping(FileNotFoundError, _os_error),
    Mapping(PermissionError, _os_error),
    Mapping(IsADirectoryError, _os_error),
)


def describe(exc: BaseException) -> tuple[str, int] | None:
    """The one-line message and exit code for ``exc``, or None when it is a bug (not in the table)."""
    for row in CLI_ERROR_MAPPINGS:
        if row.matches(exc):
            text = row.message(exc) if row.message else str(exc)
            return text, row.exit_code
    return None
