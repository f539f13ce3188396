"""Registry authentication: ``WWW-Authenticate`` challenges, Ollama's signed token request, HTTP basic.

A Bearer challenge is answered the way Ollama answers it (server/auth.go): a GET to the realm with
``service``, ``scope``, ``ts`` and ``nonce`` added, carrying ``Authorization: <public key>:<signature>``
where the signature is ed25519 over ``GET,<token url>,<base64(hex(sha256("")))>``. A Basic challenge is
answered with a password only when one is configured for exactly that host (``RegistryCredentials``), and
only over https unless the host is listed as insecure. Tokens and passwords are kept per origin
(scheme://host:port), so neither follows a redirect to another host or a downgrade to plain http.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..errors import RegistryError, UnauthorizedError
from .keys import sign

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["Authenticator", "Challenge", "RegistryCredentials", "parse_challenge", "signed_payload", "token_url"]

log = logging.getLogger("ollamalib.registry")

# Registries that serve their API from one host and issue tokens from another (server/auth.go).
TRUSTED_REALM_HOSTS: dict[str, tuple[str, ...]] = {"registry.ollama.ai": ("ollama.com",)}

_PARAM = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)=("(?:[^"\\]|\\.)*"|[^,\s]*)')
_EMPTY_SHA256_B64 = base64.b64encode(hashlib.sha256(b"").hexdigest().encode()).decode()


@dataclass(frozen=True)
class Challenge:
    """One parsed ``WWW-Authenticate`` header."""

    scheme: str
    realm: str = ""
    service: str = ""
    scope: str = ""


def parse_challenge(header: str) -> Challenge:
    """Parse ``Bearer realm="…",service="…",scope="…"`` (or ``Basic realm="…"``)."""
    text = (header or "").strip()
    scheme, _, rest = text.partition(" ")
    params: dict[str, str] = {}
    for key, value in _PARAM.findall(rest):
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"')
        params[key.lower()] = value
    return Challenge(scheme.lower(), params.get("realm", ""), params.get("service", ""), params.get("scope", ""))


def token_url(challenge: Challenge, *, now: float | None = None, nonce: str | None = None) -> str:
    """The realm URL with ``service``, each ``scope``, ``ts`` and ``nonce`` added, keys sorted (Go's Encode)."""
    parts = urlsplit(challenge.realm)
    values = parse_qsl(parts.query, keep_blank_values=True)
    values.append(("service", challenge.service))
    values.extend(("scope", s) for s in challenge.scope.split(" "))
    values.append(("ts", str(int(time.time() if now is None else now))))
    if nonce is None:
        nonce = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
    values.append(("nonce", nonce))
    values.sort(key=lambda kv: kv[0])
    query = urlencode(values, quote_via=quote_plus)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def signed_payload(method: str, url: str) -> bytes:
    """The bytes Ollama signs for a token request: ``<METHOD>,<url>,<base64(hex(sha256(empty body)))>``."""
    return f"{method},{url},{_EMPTY_SHA256_B64}".encode()


def host_key(text: str) -> str:
    """A registry host as credentials are keyed: ``host[:port]``, lower-case, without scheme or path
    (so Docker's ``https://index.docker.io/v1/`` is ``index.docker.io``)."""
    value = text.strip().lower()
    if "://" in value:
        value = value.split("://", 1)[1]
    return value.split("/", 1)[0]


@dataclass(frozen=True)
class RegistryCredentials:
    """Which registry hosts get which username and password, and which may get them over plain http."""

    basic: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    insecure: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> RegistryCredentials:
        """The auth file's entries, then OLLAMA_REGISTRY_USERNAME/PASSWORD for OLLAMALIB_REGISTRY_HOST (which win)."""
        basic: dict[str, tuple[str, str]] = {}
        if settings.registry_auth_file is not None:
            basic.update(read_auth_file(settings.registry_auth_file))
        if settings.registry_username and settings.registry_password:
            if settings.registry_host:
                basic[host_key(settings.registry_host)] = (settings.registry_username, settings.registry_password)
            else:
                log.warning("OLLAMA_REGISTRY_USERNAME/PASSWORD are set but OLLAMALIB_REGISTRY_HOST is not: "
                            "the password is sent to no registry")
        return cls(basic, frozenset(host_key(h) for h in settings.insecure_registries))

    def basic_header(self, url: str) -> str | None:
        """``Basic …`` for ``url``'s host when one is configured and the scheme allows it (https, or insecure)."""
        parts = urlsplit(url)
        host = host_key(parts.netloc)
        pair = self.basic.get(host)
        if pair is None or (parts.scheme != "https" and host not in self.insecure):
            return None
        return _basic(*pair)

    def refusal(self, url: str) -> str:
        """Why no password goes to ``url`` (the text of the UnauthorizedError a Basic challenge then gets)."""
        parts = urlsplit(url)
        host = host_key(parts.netloc)
        if host in self.basic and parts.scheme != "https":
            return (f"unauthorized: access denied (not sending the password for {host} over plain http; "
                    "list the host in OLLAMALIB_INSECURE_REGISTRIES to allow it)")
        return "unauthorized: access denied"


def read_auth_file(path: Path) -> dict[str, tuple[str, str]]:
    """``{host: (user, password)}`` from a Docker ``config.json``-shaped file (``auth`` or ``username``/``password``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegistryError(f"registry auth file {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise RegistryError(f"registry auth file {path}: {exc}") from None
    auths = data.get("auths") if isinstance(data, dict) else None
    if not isinstance(auths, dict):
        raise RegistryError(f'registry auth file {path}: expected {{"auths": {{"host:port": {{"auth": ...}}}}}}')
    out: dict[str, tuple[str, str]] = {}
    for host, entry in auths.items():
        if not isinstance(entry, dict):
            continue
        user, password = entry.get("username"), entry.get("password")
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, _, password = base64.b64decode(entry["auth"], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise RegistryError(f"registry auth file {path}: the auth of {host!r} is not base64(user:password)"
                                    ) from None
        if isinstance(user, str) and isinstance(password, str) and user and password:
            out[host_key(host)] = (user, password)
    return out


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


class Authenticator:
    """Credentials for one Registry: bearer tokens it obtained and passwords it was given, each kept to the
    origin (scheme://host:port) it belongs to."""

    def __init__(
        self,
        key_loader: Callable[[], Ed25519PrivateKey],
        credentials: RegistryCredentials | None = None,
    ) -> None:
        self._key_loader = key_loader
        self._credentials = credentials if credentials is not None else RegistryCredentials()
        self._tokens: dict[str, str] = {}
        self._basic_origins: set[str] = set()
        self._lock = threading.Lock()

    def headers(self, url: str) -> dict[str, str]:
        """The Authorization header to send with a request to ``url``, if any."""
        origin = _origin(url)
        with self._lock:
            token = self._tokens.get(origin)
            if token:
                return {"Authorization": f"Bearer {token}"}
            if origin in self._basic_origins:
                basic = self._credentials.basic_header(url)
                if basic:
                    return {"Authorization": basic}
        return {}

    def handle_unauthorized(self, response: httpx.Response, url: str, http: httpx.Client, user_agent: str) -> None:
        """Answer a 401 so the request can be retried once; raises when no credentials fit the challenge."""
        challenge = parse_challenge(response.headers.get("www-authenticate", ""))
        if challenge.scheme == "basic":
            if self._credentials.basic_header(url) is None:
                raise UnauthorizedError(self._credentials.refusal(url))
            with self._lock:
                self._basic_origins.add(_origin(url))
            return
        token = self.fetch_token(challenge, urlsplit(url).netloc, http, user_agent)
        with self._lock:
            self._tokens[_origin(url)] = token

    def fetch_token(self, challenge: Challenge, host: str, http: httpx.Client, user_agent: str) -> str:
        """Ollama's signed token request against the challenge's realm."""
        url = token_url(challenge)
        realm_host = urlsplit(url).netloc
        if realm_host != host and realm_host not in TRUSTED_REALM_HOSTS.get(host, ()):
            raise RegistryError(f'realm host "{realm_host}" does not match original host "{host}"')
        signature = sign(self._key_loader(), signed_payload("GET", url))
        try:
            resp = http.get(url, headers={"Authorization": signature, "User-Agent": user_agent})
        except httpx.HTTPError as exc:
            raise RegistryError(str(exc) or type(exc).__name__) from exc
        if resp.status_code >= 400:
            body = resp.text
            raise RegistryError(f"{resp.status_code}: {body}" if body else str(resp.status_code))
        try:
            data = resp.json()
        except ValueError as exc:
            raise RegistryError(f"invalid token response: {exc}") from exc
        token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        if not token:
            raise UnauthorizedError()
        return str(token)


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
