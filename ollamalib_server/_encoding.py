"""JSON encoding for responses and stream chunks: cheap per chunk, Ollama's wire shapes (unset fields left out)."""

from __future__ import annotations

from typing import Any

import msgspec
from pydantic import BaseModel

__all__ = ["JSON_TYPE", "NDJSON_TYPE", "SSE_TYPE", "TEXT_TYPE", "dumps", "wire", "wire_dict"]

JSON_TYPE = "application/json; charset=utf-8"
NDJSON_TYPE = "application/x-ndjson"
SSE_TYPE = "text/event-stream"
TEXT_TYPE = "text/plain"

_encoder = msgspec.json.Encoder()


def dumps(value: Any) -> bytes:
    """Compact JSON of plain Python data (dicts, lists, str, numbers)."""
    return _encoder.encode(value)


def wire(model: BaseModel) -> bytes:
    """A response model as Ollama sends it: JSON names, unset (None) fields omitted."""
    return model.__pydantic_serializer__.to_json(model, exclude_none=True, by_alias=True)


def wire_dict(model: BaseModel) -> dict[str, Any]:
    """The same as :func:`wire`, as a dict (for reshaping into OpenAI objects)."""
    return model.model_dump(mode="json", exclude_none=True, by_alias=True)
