"""Ollama's and OpenAI's request types as Go-typed field tables (api/types.go, openai/openai.go).

Each table drives both the decoding of a route's body and its OpenAPI request schema; the custom decoders
mirror the Go types with their own ``UnmarshalJSON`` (images, ``think``, ``keep_alive``).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from litestar.openapi.spec import OpenAPIType, Schema

from ollamalib._go.duration import MAX_DURATION
from ollamalib.config import parse_keep_alive
from ollamalib.errors import InvalidOptionError
from ollamalib.options import OPTIONS

from .decode import AnyValue, Bool, Custom, Float, Int, Map, Slice, String, Struct, json_kind
from .errors import APIError

__all__ = [
    "CHAT",
    "COPY",
    "CREATE",
    "DELETE",
    "EMBED",
    "EMBEDDINGS",
    "GENERATE",
    "OA_CHAT",
    "OA_COMPLETION",
    "OA_EMBED",
    "PULL",
    "PUSH",
    "SHOW",
]

# --- custom decoders ------------------------------------------------------------------------------------

_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _base64(value: Any) -> Any:
    if not isinstance(value, str):
        raise APIError(400, f"json: cannot unmarshal {json_kind(value)} into Go value of type []uint8")
    data = value.replace("\r", "").replace("\n", "").encode("utf-8", "replace")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        bad = next((i for i, c in enumerate(data) if c not in _B64 and c != ord("=")), None)
        if bad is None:
            bad = len(data) - (len(data) % 4 or 4) if data else 0
        raise APIError(400, f"illegal base64 data at input byte {bad}") from None
    return value


_THINK_LEVELS = ("high", "medium", "low", "max")
_THINK_HELP = '("high", "medium", "low", "max", true, or false)'


def _think(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value not in _THINK_LEVELS:
            raise APIError(400, f"invalid think value: {json.dumps(value)} (must be {_THINK_HELP[1:-1]})")
        return value
    raise APIError(400, f"think must be a boolean or string {_THINK_HELP}")


def _keep_alive(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # Go converts out-of-range seconds to a negative Duration, which means "forever"
        return value if abs(value) <= MAX_DURATION else -1
    if isinstance(value, str):
        try:
            seconds = parse_keep_alive(value)
        except InvalidOptionError as exc:
            raise APIError(400, str(exc)) from None
        if seconds is not None and math.isfinite(seconds) and seconds > MAX_DURATION:
            raise APIError(400, f'time: invalid duration "{value}"')
        return value
    raise APIError(400, f"Unsupported type: '{json_kind(value)}'")


BASE64 = Custom("[]uint8", _base64, Schema(type=OpenAPIType.STRING, description="standard base64"))
THINK = Custom(
    "api.ThinkValue",
    _think,
    Schema(one_of=[Schema(type=OpenAPIType.BOOLEAN), Schema(type=OpenAPIType.STRING, enum=list(_THINK_LEVELS))]),
)
KEEP_ALIVE = Custom(
    "api.Duration",
    _keep_alive,
    Schema(
        one_of=[Schema(type=OpenAPIType.NUMBER), Schema(type=OpenAPIType.STRING, pattern=r"^-?([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$")],
        description='seconds, or a Go duration such as "5m"; negative keeps the model loaded forever',
    ),
)
FORMAT = AnyValue(
    Schema(
        one_of=[Schema(type=OpenAPIType.STRING, enum=["json", ""]), Schema(type=OpenAPIType.OBJECT)],
        description='"json" or a JSON schema object',
    )
)

_KIND_SCHEMA = {
    "int": lambda: Schema(type=OpenAPIType.INTEGER),
    "float": lambda: Schema(type=OpenAPIType.NUMBER),
    "bool": lambda: Schema(type=OpenAPIType.BOOLEAN),
    "list": lambda: Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.STRING)),
}
OPTIONS_MAP = Map(
    AnyValue(),
    go="map[string]interface {}",
    schema=Schema(
        type=OpenAPIType.OBJECT,
        properties={name: _KIND_SCHEMA[spec.kind]() for name, spec in OPTIONS.items()},
        additional_properties=True,
        description="model options (Modelfile PARAMETER names)",
    ),
)


# --- Ollama's request types (api/types.go) --------------------------------------------------------------

TOOL_CALL = Struct(
    "ToolCall",
    {
        "id": String(),
        "function": Struct(
            "ToolCallFunction",
            {"index": Int(), "name": String(), "arguments": Map(AnyValue(), go="api.ToolCallFunctionArguments")},
        ),
    },
)
MESSAGE = Struct(
    "Message",
    {
        "role": String(),
        "content": String(),
        "thinking": String(),
        "images": Slice(BASE64, go="[]api.ImageData"),
        "tool_calls": Slice(TOOL_CALL),
        "tool_name": String(),
        "tool_call_id": String(),
    },
)
TOOL = Struct(
    "Tool",
    {
        "type": String(),
        "items": AnyValue(),
        "function": Struct(
            "ToolFunction",
            {
                "name": String(),
                "description": String(),
                "parameters": Map(AnyValue(), go="api.ToolFunctionParameters"),
            },
        ),
    },
)

GENERATE = Struct(
    "GenerateRequest",
    {
        "model": String(),
        "prompt": String(),
        "suffix": String(),
        "system": String(),
        "template": String(),
        "context": Slice(Int()),
        "stream": Bool(),
        "raw": Bool(),
        "format": FORMAT,
        "keep_alive": KEEP_ALIVE,
        "images": Slice(BASE64, go="[]api.ImageData"),
        "options": OPTIONS_MAP,
        "think": THINK,
        "truncate": Bool(),
        "shift": Bool(),
        "logprobs": Bool(),
        "top_logprobs": Int(),
        "_debug_render_only": Bool(),
    },
    required=("model",),
)
CHAT = Struct(
    "ChatRequest",
    {
        "model": String(),
        "messages": Slice(MESSAGE),
        "tools": Slice(TOOL, go="api.Tools"),
        "stream": Bool(),
        "format": FORMAT,
        "keep_alive": KEEP_ALIVE,
        "options": OPTIONS_MAP,
        "think": THINK,
        "truncate": Bool(),
        "shift": Bool(),
        "logprobs": Bool(),
        "top_logprobs": Int(),
        "_debug_render_only": Bool(),
    },
    required=("model",),
)
EMBED = Struct(
    "EmbedRequest",
    {
        "model": String(),
        "input": AnyValue(
            Schema(one_of=[Schema(type=OpenAPIType.STRING),
                           Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.STRING))])
        ),
        "truncate": Bool(),
        "dimensions": Int(),
        "keep_alive": KEEP_ALIVE,
        "options": OPTIONS_MAP,
    },
    required=("model",),
)
EMBEDDINGS = Struct(
    "EmbeddingRequest",
    {"model": String(), "prompt": String(), "keep_alive": KEEP_ALIVE, "options": OPTIONS_MAP},
    required=("model",),
)
CREATE = Struct(
    "CreateRequest",
    {
        "model": String(),
        "name": String(),
        "from": String(),
        "files": Map(String()),
        "adapters": Map(String()),
        "template": String(),
        "system": String(),
        "license": AnyValue(
            Schema(one_of=[Schema(type=OpenAPIType.STRING),
                           Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.STRING))])
        ),
        "parameters": OPTIONS_MAP,
        "messages": Slice(MESSAGE),
        "quantize": String(),
        "quantization": String(),
        "requires": String(),
        "renderer": String(),
        "parser": String(),
        "stream": Bool(),
    },
    required=("model",),
)
SHOW = Struct(
    "ShowRequest",
    {"model": String(), "name": String(), "system": String(), "template": String(), "verbose": Bool(),
     "options": OPTIONS_MAP},
    required=("model",),
)
COPY = Struct("CopyRequest", {"source": String(), "destination": String()}, required=("source", "destination"))
DELETE = Struct("DeleteRequest", {"model": String(), "name": String()}, required=("model",))
PULL = Struct(
    "PullRequest",
    {"model": String(), "name": String(), "insecure": Bool(), "username": String(), "password": String(),
     "stream": Bool()},
    required=("model",),
)
PUSH = Struct(
    "PushRequest",
    {"model": String(), "name": String(), "insecure": Bool(), "username": String(), "password": String(),
     "stream": Bool()},
    required=("model",),
)

# --- OpenAI's request types (openai/openai.go), plus Ollama's options as an extension ---------------------

_OA_TOOL_CALL = Struct(
    "ToolCall",
    {
        "id": String(),
        "index": Int(),
        "type": String(),
        "function": Struct("Function", {"name": String(), "arguments": String()}),
    },
)
OA_MESSAGE = Struct(
    "Message",
    {
        "role": String(),
        "content": AnyValue(
            Schema(one_of=[Schema(type=OpenAPIType.STRING),
                           Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.OBJECT))])
        ),
        "reasoning": String(),
        "tool_calls": Slice(_OA_TOOL_CALL),
        "name": String(),
        "tool_call_id": String(),
    },
)
_STREAM_OPTIONS = Struct("StreamOptions", {"include_usage": Bool()})
_STOP = AnyValue(
    Schema(one_of=[Schema(type=OpenAPIType.STRING),
                   Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.STRING))])
)
OA_CHAT = Struct(
    "ChatCompletionRequest",
    {
        "model": String(),
        "messages": Slice(OA_MESSAGE),
        "stream": Bool(),
        "stream_options": _STREAM_OPTIONS,
        "max_tokens": Int(),
        "max_completion_tokens": Int(),
        "seed": Int(),
        "stop": _STOP,
        "temperature": Float(),
        "frequency_penalty": Float(),
        "presence_penalty": Float(),
        "top_p": Float(),
        "response_format": Struct(
            "ResponseFormat",
            {"type": String(), "json_schema": Struct("JsonSchema", {"name": String(), "schema": AnyValue(),
                                                                    "strict": Bool()})},
        ),
        "tools": Slice(TOOL),
        "reasoning": Struct("Reasoning", {"effort": String()}),
        "reasoning_effort": String(),
        "logprobs": Bool(),
        "top_logprobs": Int(),
        "options": OPTIONS_MAP,
        "keep_alive": KEEP_ALIVE,
    },
    required=("model", "messages"),
)
OA_COMPLETION = Struct(
    "CompletionRequest",
    {
        "model": String(),
        "prompt": String(),
        "suffix": String(),
        "max_tokens": Int(),
        "temperature": Float("float32"),
        "top_p": Float("float32"),
        "frequency_penalty": Float("float32"),
        "presence_penalty": Float("float32"),
        "seed": Int(),
        "stop": _STOP,
        "stream": Bool(),
        "stream_options": _STREAM_OPTIONS,
        "logprobs": Int(),
        "options": OPTIONS_MAP,
        "keep_alive": KEEP_ALIVE,
    },
    required=("model",),
)
OA_EMBED = Struct(
    "EmbedRequest",
    {
        "model": String(),
        "input": AnyValue(
            Schema(one_of=[Schema(type=OpenAPIType.STRING),
                           Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.STRING))])
        ),
        "dimensions": Int(),
        "encoding_format": String(),
        "options": OPTIONS_MAP,
        "keep_alive": KEEP_ALIVE,
    },
    required=("model", "input"),
)
