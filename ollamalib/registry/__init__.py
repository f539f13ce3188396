"""Pull and push models over Ollama's registry protocol (OCI distribution), and pull GGUFs from Hugging Face."""

from ._client import Registry
from .keys import load_or_create_key
from ._transport import InsecureProtocolError, RemoteNotFoundError

__all__ = ["InsecureProtocolError", "Registry", "RemoteNotFoundError", "load_or_create_key"]
