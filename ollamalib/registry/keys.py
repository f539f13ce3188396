"""The ed25519 key pair Ollama signs registry token requests with (``~/.ollama/id_ed25519``).

The private key is kept in OpenSSH PEM format (0600) and the public key as an authorized_keys line in
``id_ed25519.pub``, exactly as Ollama writes them, so one key pair serves both programs.
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..errors import RegistryError

__all__ = ["KEY_FILENAME", "load_or_create_key", "public_key_line", "sign"]

KEY_FILENAME = "id_ed25519"


def public_key_line(key: Ed25519PrivateKey) -> str:
    """The authorized_keys form of the public key: ``ssh-ed25519 AAAA...``."""
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def load_or_create_key(home_dir: str | os.PathLike[str]) -> tuple[Ed25519PrivateKey, str, bool]:
    """Load ``<home_dir>/id_ed25519`` or create it (and its ``.pub``); returns (key, public line, created)."""
    home = Path(home_dir).expanduser()
    path = home / KEY_FILENAME
    if path.is_file():
        try:
            key = serialization.load_ssh_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise RegistryError(f"couldn't read private key {path}: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise RegistryError(f"private key {path} is not an ed25519 key")
        return key, public_key_line(key), False
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    home.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{KEY_FILENAME}-", dir=home)  # created 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        os.link(tmp, path)  # atomic "create if absent": a concurrent creator's key wins
    except FileExistsError:
        return load_or_create_key(home)
    finally:
        os.unlink(tmp)
    line = public_key_line(key)
    pub = path.with_name(KEY_FILENAME + ".pub")
    pub.write_text(line + "\n")
    os.chmod(pub, 0o644)
    return key, line, True


def sign(key: Ed25519PrivateKey, data: bytes) -> str:
    """Ollama's signature header value: ``<base64 public key blob>:<base64 raw 64-byte signature>``."""
    blob = public_key_line(key).split(" ")[1]
    return f"{blob}:{base64.b64encode(key.sign(data)).decode()}"
