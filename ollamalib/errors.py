"""The exception tree: one base, subclasses that also inherit the matching builtin.

Each error carries the text Ollama would send for the same situation, so adapters (server, CLI) can pass
``str(error)`` through unchanged; ``status_code`` is the HTTP status Ollama answers with.
"""

from __future__ import annotations

import errno

__all__ = [
    "BlobNotFoundError",
    "CapabilityError",
    "ContextLengthError",
    "ConversionError",
    "DigestMismatchError",
    "ImageError",
    "InvalidDigestError",
    "InvalidFormatError",
    "InvalidNameError",
    "InvalidOptionError",
    "ModelNotFoundError",
    "ModelfileError",
    "NoSpaceError",
    "OllamalibError",
    "PayloadTooLargeError",
    "RegistryError",
    "RequestCancelledError",
    "ResponseError",
    "ServerBusyError",
    "StoreError",
    "TemplateError",
    "UnauthorizedError",
    "UnsupportedQuantizationError",
]


class OllamalibError(Exception):
    """Base of every error raised by ollamalib."""

    status_code: int = 500

    def __init__(self, message: str = "", *, status_code: int | None = None) -> None:
        super().__init__(message)
        if status_code is not None:
            self.status_code = status_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:  # never the quoted KeyError form
        return self.message


class InvalidNameError(OllamalibError, ValueError):
    """A model name that breaks Ollama's naming rules."""

    status_code = 400


class InvalidDigestError(OllamalibError, ValueError):
    """A digest that is not ``sha256:<64 hex>``."""

    status_code = 400


class ModelNotFoundError(OllamalibError, LookupError):
    """No manifest for this model name in the store."""

    status_code = 404

    def __init__(self, name: str, message: str | None = None) -> None:
        super().__init__(message if message is not None else f"model '{name}' not found")
        self.name = name


class BlobNotFoundError(OllamalibError, LookupError):
    """A blob a manifest refers to is missing from the store."""

    status_code = 404

    def __init__(self, digest: str) -> None:
        super().__init__(f'blob "{digest}" not found')
        self.digest = digest


class StoreError(OllamalibError, OSError):
    """The model store could not be read or written."""


class NoSpaceError(StoreError):
    """The store's file system is full (or would be after the write): Ollama's ``no space left on device``."""

    def __init__(self, message: str = "no space left on device") -> None:
        super().__init__(message)
        self.errno = errno.ENOSPC


class DigestMismatchError(StoreError):
    """Written or downloaded bytes do not hash to the digest they were announced with."""

    status_code = 400

    def __init__(self, expected: str, actual: str, message: str | None = None) -> None:
        super().__init__(message or f'digest mismatch, expected "{expected}", got "{actual}"')
        self.expected = expected
        self.actual = actual


class ModelfileError(OllamalibError, ValueError):
    """A Modelfile (or the equivalent create arguments) that cannot be parsed or applied."""

    status_code = 400

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"(line {line}): {message}" if line is not None else message)
        self.line = line


class UnsupportedQuantizationError(OllamalibError, ValueError):
    """A quantization type or source file type Ollama would refuse."""

    status_code = 400


class ConversionError(OllamalibError, ValueError):
    """A safetensors model or adapter that cannot be converted to GGUF (the cause is in the text)."""

    status_code = 400


class TemplateError(OllamalibError, ValueError):
    """A prompt template that fails to parse or execute; the text carries line and column."""

    status_code = 400


class InvalidOptionError(OllamalibError, ValueError):
    """A request option of the wrong type, or an invalid request field value."""

    status_code = 400


class InvalidFormatError(OllamalibError, ValueError):
    """A ``format`` that is neither ``"json"`` nor a JSON schema object."""

    status_code = 400


class CapabilityError(OllamalibError, ValueError):
    """The model lacks a capability the request needs (chat, tools, thinking, insert, vision...)."""

    status_code = 400


class ImageError(OllamalibError, ValueError):
    """An image that cannot be decoded or fed to the model's projector."""

    status_code = 400


class ContextLengthError(OllamalibError, ValueError):
    """The prompt does not fit the context and shifting is disabled, or input exceeds it."""

    status_code = 400


class PayloadTooLargeError(OllamalibError, ValueError):
    """A request whose text is larger than the configured limit."""

    status_code = 413


class ServerBusyError(OllamalibError, RuntimeError):
    """The request queue is full."""

    status_code = 503

    def __init__(self, message: str = "server busy, please try again.  maximum pending requests exceeded") -> None:
        super().__init__(message)


class RequestCancelledError(OllamalibError, RuntimeError):
    """The caller went away before the request finished."""

    status_code = 499

    def __init__(self, message: str = "request canceled") -> None:
        super().__init__(message)


class RegistryError(OllamalibError, OSError):
    """A registry answered with an error or could not be reached."""


class UnauthorizedError(RegistryError):
    """The registry refused our credentials."""

    status_code = 401

    def __init__(self, message: str = "unauthorized: access denied") -> None:
        super().__init__(message)


class ResponseError(OllamalibError):
    """An error body from a remote Ollama-compatible server that maps to no narrower type."""

    def __init__(self, message: str, status_code: int = 500) -> None:
        super().__init__(message, status_code=status_code)
