"""The exception tree: one base, subclasses that also inherit the matching builtin.

Each error carries the text Ollama would send for the same situation, so adapters (server, CLI) can pass
``str(error)`` through unchanged; ``status_code`` is the HTTP status Ollama answers with, and ``wire`` lists
the (status, text pattern) pairs of Ollama's answers the class stands for. Those declarations are the one
table: the server answers with ``status_code`` and ``str(error)``, and ``error_from_wire`` (the client's
reverse mapping) is generated from ``wire``. The ``type`` of an OpenAI- or Anthropic-shaped error body is
``error.api_type(api)``: what the class declares in ``api_types``, else what its status gives in that API.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

__all__ = [
    "BadRequestError",
    "BlobNotFoundError",
    "CapabilityError",
    "ContextLengthError",
    "ContextOverflowError",
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
    "RequestTimeoutError",
    "ResponseError",
    "ResponseNotFoundError",
    "ServerBusyError",
    "StoreError",
    "TemplateError",
    "UnauthorizedError",
    "UnsupportedQuantizationError",
    "error_from_wire",
    "status_api_type",
]

API = Literal["openai", "anthropic"]
"""The APIs besides Ollama's own whose error bodies carry a ``type``."""

_STATUS_TYPES: dict[str, dict[int, str]] = {
    "openai": {400: "invalid_request_error", 404: "not_found_error"},  # Ollama's openai.NewError
    "anthropic": {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                  404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                  503: "overloaded_error", 529: "overloaded_error"},  # Ollama's anthropic.NewError
}


def status_api_type(api: API, status: int) -> str:
    """The ``type`` ``api``'s error body has for an HTTP ``status`` (any error, the library's or the framework's)."""
    default = "invalid_request_error" if api == "anthropic" and 400 <= status < 500 else "api_error"
    return _STATUS_TYPES[api].get(status, default)


class OllamalibError(Exception):
    """Base of every error raised by ollamalib."""

    status_code: int = 500
    wire: ClassVar[tuple[tuple[int | None, str], ...]] = ()
    """(status or None for any, regex) of the server texts that mean this error; ``""`` matches by status alone."""
    api_types: ClassVar[Mapping[str, str]] = {}
    """This error's ``type`` in an API's error body (``"openai"``, ``"anthropic"``) where its status gives another."""
    api_code: ClassVar[str | None] = None
    """The ``code`` of an OpenAI-shaped error body (``context_length_exceeded``); none by default."""

    def __init__(self, message: str = "", *, status_code: int | None = None) -> None:
        super().__init__(message)
        if status_code is not None:
            self.status_code = status_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:  # never the quoted KeyError form
        return self.message

    @property
    def api_text(self) -> str:
        """The text Ollama's API answers with for this error: ``str(self)`` unless the class words it otherwise."""
        return self.message

    def api_type(self, api: API) -> str:
        """The ``type`` of ``api``'s error body for this error: the class's own (``api_types``), else its status's."""
        return self.api_types.get(api) or status_api_type(api, self.status_code)

    @property
    def fields(self) -> dict[str, Any]:
        """What every API's error body carries beside the text (a context overflow's counts); none by default."""
        return {}

    @classmethod
    def from_wire(cls, match: re.Match[str], text: str) -> OllamalibError:
        """The error for a server's text that matched one of ``wire``."""
        return cls(text)


class InvalidNameError(OllamalibError, ValueError):
    """A model name that breaks Ollama's naming rules."""

    status_code = 400
    wire = ((400, r'^(invalid model name|model is required$|(source|destination|name) ".*" is invalid)'),)
    _OWN_TEXT = re.compile(r'^(model is required$|(source|destination|name) ".*" is invalid$)')

    @property
    def api_text(self) -> str:
        """Ollama answers ``invalid model name`` for a name that does not parse, and its own texts otherwise."""
        return self.message if self._OWN_TEXT.match(self.message) else "invalid model name"


class InvalidDigestError(OllamalibError, ValueError):
    """A digest that is not ``sha256:<64 hex>``."""

    status_code = 400
    wire = ((400, r"^invalid digest format"),)


class ModelNotFoundError(OllamalibError, LookupError):
    """No manifest for this model name in the store."""

    status_code = 404
    wire = ((404, r"^model ['\"](.*?)['\"] not found"), (None, r"^pull model manifest: file does not exist"))

    def __init__(self, name: str, message: str | None = None) -> None:
        super().__init__(message if message is not None else f"model '{name}' not found")
        self.name = name

    @classmethod
    def from_wire(cls, match: re.Match[str], text: str) -> OllamalibError:
        return cls(match.group(1) if match.re.groups else "", text)


class BlobNotFoundError(OllamalibError, LookupError):
    """A blob a manifest refers to is missing from the store."""

    status_code = 404
    wire = ((404, r'^blob "(.*)" not found$'),)

    def __init__(self, digest: str) -> None:
        super().__init__(f'blob "{digest}" not found')
        self.digest = digest

    @classmethod
    def from_wire(cls, match: re.Match[str], text: str) -> OllamalibError:
        return cls(match.group(1))


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
    wire = ((400, r'^digest mismatch, expected "(.*)", got "(.*)"$'),)

    def __init__(self, expected: str, actual: str, message: str | None = None) -> None:
        super().__init__(message or f'digest mismatch, expected "{expected}", got "{actual}"')
        self.expected = expected
        self.actual = actual

    @classmethod
    def from_wire(cls, match: re.Match[str], text: str) -> OllamalibError:
        return cls(match.group(1), match.group(2), text)


class ModelfileError(OllamalibError, ValueError):
    """A Modelfile (or the equivalent create arguments) that cannot be parsed or applied."""

    status_code = 400
    wire = ((400, r"^(\(line \d+\)|neither 'from' or 'files'|file path must be relative|command must be one of)"),)

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"(line {line}): {message}" if line is not None else message)
        self.line = line


class UnsupportedQuantizationError(OllamalibError, ValueError):
    """A quantization type or source file type Ollama would refuse."""

    status_code = 400
    wire = ((400, r"^(unsupported quantization type|quantization is only supported)"),)


class ConversionError(OllamalibError, ValueError):
    """A safetensors model or adapter that cannot be converted to GGUF (the cause is in the text)."""

    status_code = 400
    wire = ((None, r'^(unsupported architecture "|conversion failed: |converting safetensors needs |'
                   r'(config\.json|adapter_config\.json|tokenizer) not found|.*safetensors (file|header))'),)


class TemplateError(OllamalibError, ValueError):
    """A prompt template that fails to parse or execute; the text carries line and column."""

    status_code = 400


class InvalidOptionError(OllamalibError, ValueError):
    """A request option of the wrong type, or an invalid request field value (400).

    A request's option type error is a 500 (``scheduled``), as Ollama finds it while scheduling
    (``handleScheduleError``), not while decoding.
    """

    status_code = 400
    wire = (
        (None, r'^option ".*" must be of '),
        (400, r"^(time: |invalid think value|think must be|top_logprobs must be|invalid keep_alive|"
              r"raw mode does not support|illegal base64 data|json: cannot unmarshal|Unsupported type: |"
              r"invalid input type|dimensions must be|documents must|top_n must be|question \"|"
              r"questions (are required|must be)|state (is required|must be)|rerank_answer |too many questions)"),
    )


    def scheduled(self) -> InvalidOptionError:
        """This error as a request's options raise it: a 500, unless it was given its own status (a bad choice)."""
        if "status_code" not in vars(self):
            self.status_code = 500
        return self


class BadRequestError(OllamalibError, ValueError):
    """A request the server refuses before it is a typed request: no body, bad JSON, a value no route takes."""

    status_code = 400
    wire = ((400, r"^(missing request body$|invalid character |unexpected end of JSON input|exceeded max depth)"),)


class InvalidFormatError(OllamalibError, ValueError):
    """A ``format`` that is neither ``"json"`` nor a JSON schema object."""

    status_code = 400
    wire = ((400, r"^invalid format: "),)


class CapabilityError(OllamalibError, ValueError):
    """The model lacks a capability the request needs (chat, tools, thinking, insert, vision...)."""

    status_code = 400
    wire = ((400, r" does not support "),)


class ImageError(OllamalibError, ValueError):
    """An image that cannot be decoded or fed to the model's projector."""

    status_code = 400


class ContextLengthError(OllamalibError, ValueError):
    """The prompt does not fit the context and shifting is disabled, or input exceeds it."""

    status_code = 400
    wire = ((400, r"context length|prompt is longer than"),)


class ContextOverflowError(ContextLengthError):
    """A prompt that does not fit the context under the ``error`` overflow policy (``context_overflow``).

    Worded as llama-server words it, with its counts, so clients written against llama-server recognise it;
    the server adds ``n_prompt_tokens`` and ``n_ctx`` to each API's error body, and llama-server's type and OpenAI's
    code to the OpenAI shape (Anthropic's is the ``invalid_request_error`` of its status).
    """

    status_code = 400
    api_types = {"openai": "exceed_context_size_error"}
    api_code = "context_length_exceeded"
    wire = ((400, r"^request \((\d+) tokens\) exceeds the available context size \((\d+) tokens\)"),)

    def __init__(self, n_prompt_tokens: int, n_ctx: int) -> None:
        super().__init__(f"request ({n_prompt_tokens} tokens) exceeds the available context size ({n_ctx} tokens), "
                         "try increasing it")
        self.n_prompt_tokens = n_prompt_tokens
        self.n_ctx = n_ctx

    @property
    def fields(self) -> dict[str, int]:
        """The counts llama-server sends next to the message."""
        return {"n_prompt_tokens": self.n_prompt_tokens, "n_ctx": self.n_ctx}

    @classmethod
    def from_wire(cls, match: re.Match[str], text: str) -> OllamalibError:
        return cls(int(match.group(1)), int(match.group(2)))


class PayloadTooLargeError(OllamalibError, ValueError):
    """A request whose text is larger than the configured limit."""

    status_code = 413


class RequestTimeoutError(OllamalibError, TimeoutError):
    """The client stopped sending the request body (the server's body read timeout)."""

    status_code = 408
    wire = ((408, ""),)


class ResponseNotFoundError(OllamalibError, LookupError):
    """A stored response (OpenAI's Responses API, ``previous_response_id``) that does not exist."""

    status_code = 404
    wire = ((404, r"^Response with id '.*' not found"),)


class ServerBusyError(OllamalibError, RuntimeError):
    """The request queue is full."""

    status_code = 503
    wire = ((503, ""),)

    def __init__(self, message: str = "server busy, please try again.  maximum pending requests exceeded") -> None:
        super().__init__(message)


class RequestCancelledError(OllamalibError, RuntimeError):
    """The caller went away before the request finished."""

    status_code = 499
    wire = ((499, ""),)

    def __init__(self, message: str = "request canceled") -> None:
        super().__init__(message)


class RegistryError(OllamalibError, OSError):
    """A registry answered with an error or could not be reached."""

    wire = ((None, r"^(pull model manifest|push|unauthorized|realm host|insecure protocol)"),)


class UnauthorizedError(RegistryError):
    """The registry refused our credentials."""

    status_code = 401
    wire = ((401, ""),)

    def __init__(self, message: str = "unauthorized: access denied") -> None:
        super().__init__(message)


class ResponseError(OllamalibError):
    """An error body from a remote Ollama-compatible server that maps to no narrower type."""

    def __init__(self, message: str, status_code: int = 500) -> None:
        super().__init__(message, status_code=status_code)


_WIRE_ORDER: tuple[type[OllamalibError], ...] = (
    ModelNotFoundError,
    BlobNotFoundError,
    DigestMismatchError,
    InvalidDigestError,
    InvalidNameError,
    InvalidFormatError,
    CapabilityError,
    ContextOverflowError,
    ContextLengthError,
    UnsupportedQuantizationError,
    ConversionError,
    InvalidOptionError,
    BadRequestError,
    ModelfileError,
    ResponseNotFoundError,
    ServerBusyError,
    RequestCancelledError,
    RequestTimeoutError,
    UnauthorizedError,
    RegistryError,
)
"""The classes a server's error text can be read back into, most specific text first."""

_WIRE_TABLE = tuple(
    (status, re.compile(pattern), cls) for cls in _WIRE_ORDER for status, pattern in cls.__dict__.get("wire", ())
)


def error_from_wire(status: int | None, text: str) -> OllamalibError:
    """The typed error for a server's ``{"error": text}`` answer (``status`` None for a mid-stream error line).

    Generated from each class's ``wire`` declaration; a text no class claims is a ResponseError.
    """
    for want, pattern, cls in _WIRE_TABLE:
        if want is not None and status is not None and want != status:
            continue
        if want is not None and status is None and pattern.pattern == "":
            continue
        m = pattern.search(text)
        if m:
            err = cls.from_wire(m, text)
            if status is not None:
                err.status_code = status
            return err
    return ResponseError(text, status or 500)
