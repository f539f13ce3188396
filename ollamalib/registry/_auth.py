"""Registry authentication: ``WWW-Authenticate`` challenges, Ollama's signed token request, HTTP basic.

A Bearer challenge is answered the way Ollama answers it (server/auth.go): a GET to the realm with
``service``, ``scope``, ``ts`` and ``nonce`` added, carrying ``Authorization: <public key>:<signature>``
where the signature is ed25519 over ``GET,<token url>,<base64(hex(sha256("")))>``. A Basic challenge is
answered with the configured username and password.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..errors import RegistryError, UnauthorizedError
from .keys import sign

__all__ = ["Authenticator", "Challenge", "parse_challenge", "signed_payload", "token_url"]

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


class Authenticator:
    """Per-host credentials for one Registry: bearer tokens it obtained, basic credentials it was given."""

    def __init__(
        self,
        key_loader: Callable[[], Ed25519PrivateKey],
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._key_loader = key_loader
        self._username = username
        self._password = password
        self._tokens: dict[str, str] = {}
        self._basic_hosts: set[str] = set()
        self._lock = threading.Lock()

    def headers(self, host: str) -> dict[str, str]:
        """The Authorization header to send to ``host`` (host:port), if any."""
        with self._lock:
            token = self._tokens.get(host)
            if token:
                return {"Authorization": f"Bearer {token}"}
            if host in self._basic_hosts and self._username and self._password:
                return {"Authorization": _basic(self._username, self._password)}
        return {}

    def handle_unauthorized(self, response: httpx.Response, host: str, http: httpx.Client, user_agent: str) -> None:
        """Answer a 401 so the request can be retried once; raises when no credentials fit the challenge."""
        challenge = parse_challenge(response.headers.get("www-authenticate", ""))
        if challenge.scheme == "basic":
            if not (self._username and self._password):
                raise UnauthorizedError()
            with self._lock:
                self._basic_hosts.add(host)
            return
        token = self.fetch_token(challenge, host, http, user_agent)
        with self._lock:
            self._tokens[host] = token

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
