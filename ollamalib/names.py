"""Model names and blob digests with Ollama's rules (types/model/name.go, manifest/paths.go).

A name is ``[scheme://][host/][namespace/]model[:tag]``; missing parts take Ollama's defaults. Every part is
checked character by character, so a valid name can never hold a path separator or ``..`` and can never
escape the store root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from .errors import InvalidDigestError, InvalidNameError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_NAMESPACE",
    "DEFAULT_TAG",
    "Digest",
    "ModelName",
]

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"
DEFAULT_SCHEME = "https"

PartKind = Literal["host", "namespace", "model", "tag"]
_MAX_LEN: dict[str, int] = {"host": 350, "namespace": 80, "model": 80, "tag": 80}
_EXTRA_CHARS: dict[str, str] = {"host": "-_.:", "namespace": "-_", "model": "-_.", "tag": "-_."}
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _check_part(kind: PartKind, value: str, whole: str) -> None:
    if not value:
        raise InvalidNameError(f"invalid model name {whole!r}: the {kind} part is empty")
    if len(value) > _MAX_LEN[kind]:
        raise InvalidNameError(
            f"invalid model name {whole!r}: the {kind} part is longer than {_MAX_LEN[kind]} characters"
        )
    if value[0] not in _ASCII_ALNUM:
        raise InvalidNameError(
            f"invalid model name {whole!r}: the {kind} part must start with a letter, digit or '_', not {value[0]!r}"
        )
    allowed = _ASCII_ALNUM | frozenset(_EXTRA_CHARS[kind])
    for ch in value[1:]:
        if ch not in allowed:
            raise InvalidNameError(f"invalid model name {whole!r}: {ch!r} is not allowed in the {kind} part")


@dataclass(frozen=True, eq=False)
class ModelName:
    """A parsed, validated model name; equality and hashing ignore case, as Ollama's lookups do."""

    host: str = DEFAULT_HOST
    namespace: str = DEFAULT_NAMESPACE
    model: str = ""
    tag: str = DEFAULT_TAG
    scheme: str = field(default=DEFAULT_SCHEME, compare=False)

    @classmethod
    def parse(cls, name: str | ModelName) -> ModelName:
        """Parse ``name``, fill Ollama's defaults and validate every part; raises InvalidNameError."""
        if isinstance(name, ModelName):
            return name
        if not isinstance(name, str):
            raise InvalidNameError(f"invalid model name {name!r}: not a string")
        whole = name
        s = name.strip()
        if not s:
            raise InvalidNameError("invalid model name '': the name is empty")
        scheme = DEFAULT_SCHEME
        tag = DEFAULT_TAG
        # "/" is not a tag character, so a ":" before the last "/" belongs to a host port.
        if s.rfind(":") > s.rfind("/"):
            s, tag = s.rsplit(":", 1)
            _check_part("tag", tag, whole)
        host, namespace = DEFAULT_HOST, DEFAULT_NAMESPACE
        if "://" in s:
            scheme, s = s.split("://", 1)
            if scheme not in ("http", "https"):
                raise InvalidNameError(f"invalid model name {whole!r}: unsupported scheme {scheme!r}")
            if s.count("/") < 2:
                raise InvalidNameError(f"invalid model name {whole!r}: a scheme needs a host")
        parts = s.split("/")
        if len(parts) > 3:
            raise InvalidNameError(f"invalid model name {whole!r}: too many '/' separated parts")
        model = parts[-1]
        if len(parts) >= 2:
            namespace = parts[-2]
            _check_part("namespace", namespace, whole)
        if len(parts) == 3:
            host = parts[0]
            _check_part("host", host, whole)
        _check_part("model", model, whole)
        return cls(host=host, namespace=namespace, model=model, tag=tag, scheme=scheme)

    @classmethod
    def is_valid(cls, name: str) -> bool:
        try:
            cls.parse(name)
        except InvalidNameError:
            return False
        return True

    @property
    def display_shortest(self) -> str:
        """The short form Ollama shows: host and namespace omitted when they are the defaults."""
        if self.host.lower() != DEFAULT_HOST:
            prefix = f"{self.host}/{self.namespace}/"
        elif self.namespace.lower() != DEFAULT_NAMESPACE:
            prefix = f"{self.namespace}/"
        else:
            prefix = ""
        return f"{prefix}{self.model}:{self.tag}"

    @property
    def full(self) -> str:
        """``host/namespace/model:tag``, the form Ollama uses in capability errors."""
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"

    @property
    def repository(self) -> str:
        """``namespace/model``, the repository path on a registry."""
        return f"{self.namespace}/{self.model}"

    @property
    def parts(self) -> tuple[str, str, str, str]:
        """The manifest path parts below ``manifests/``: host, namespace, model, tag."""
        return (self.host, self.namespace, self.model, self.tag)

    def with_tag(self, tag: str) -> ModelName:
        _check_part("tag", tag, tag)
        return ModelName(self.host, self.namespace, self.model, tag, self.scheme)

    def _key(self) -> tuple[str, ...]:
        return tuple(p.lower() for p in self.parts)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = ModelName.parse(other)
            except InvalidNameError:
                return False
        if not isinstance(other, ModelName):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.display_shortest


_DIGEST_RE = re.compile(r"^sha256[:-]([0-9a-fA-F]{64})$")


@dataclass(frozen=True)
class Digest:
    """A ``sha256:<hex>`` content digest; also parses the ``sha256-<hex>`` file-name form."""

    hex: str

    @classmethod
    def parse(cls, value: str | Digest) -> Digest:
        if isinstance(value, Digest):
            return value
        m = _DIGEST_RE.match(value or "") if isinstance(value, str) else None
        if not m:
            raise InvalidDigestError("invalid digest format")
        return cls(m.group(1).lower())

    @classmethod
    def is_valid(cls, value: str) -> bool:
        return bool(isinstance(value, str) and _DIGEST_RE.match(value))

    @property
    def filename(self) -> str:
        """The blob file name in the store: ``sha256-<hex>``."""
        return f"sha256-{self.hex}"

    @property
    def short(self) -> str:
        """The first 12 hex characters, as Ollama's progress and ``list`` show them."""
        return self.hex[:12]

    def __str__(self) -> str:
        return f"sha256:{self.hex}"
