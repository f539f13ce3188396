"""Ollama's and OpenAI's request types as Go-typed field tables (api/types.go, openai/openai.go).

Each table drives both the decoding of a route's body and its OpenAPI request schema; the custom decoders
mirror the Go types with their own ``UnmarshalJSON`` (images, ``think``, ``keep_alive``).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from litestar.openapi.spec import OpenAPIType, Schema

from ollamalib.errors import InvalidOptionError
from ollamalib.options import OPTIONS
from ollamalib.requests import (
    THINK_LEVELS,
    ChatRequest,
    CopyRequest,
    CreateRequest,
    DeleteRequest,
    EmbeddingsRequest,
    EmbedRequest,
    GenerateRequest,
    PullRequest,
    PushRequest,
    Request,
    RerankRequest,
    ShowRequest,
    SystemOneRequest,
)

from ._decode import AnyValue, Bool, Custom, Float, GoType, Int, Map, Slice, String, Struct, json_kind

__all__ = [
    "CHAT",
    "CONTEXT_OVERFLOW",
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
    "RERANK",
    "SHOW",
    "SYSTEMONE",
]

# --- custom decoders ------------------------------------------------------------------------------------


def _base64(value: Any) -> Any:
    if not isinstance(value, str):  # the content is checked by the request model (ollamalib.requests.to_image)
        raise InvalidOptionError(f"json: cannot unmarshal {json_kind(value)} into Go value of type []uint8")
    return value


BASE64 = Custom("[]uint8", _base64, Schema(type=OpenAPIType.STRING, description="standard base64"))
# think and keep_alive are parsed by the request models (ollamalib.requests), with Ollama's error texts
THINK = AnyValue(
    Schema(one_of=[Schema(type=OpenAPIType.BOOLEAN), Schema(type=OpenAPIType.STRING, enum=list(THINK_LEVELS))]),
)
KEEP_ALIVE = AnyValue(
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
    "str": lambda: Schema(type=OpenAPIType.STRING),  # with the option's choices as its enum (below)
}
OPTIONS_MAP = Map(
    AnyValue(),
    go="map[string]interface {}",
    schema=Schema(
        type=OpenAPIType.OBJECT,
        properties={name: Schema(type=OpenAPIType.STRING, enum=list(spec.choices)) if spec.choices
                    else _KIND_SCHEMA[spec.kind]() for name, spec in OPTIONS.items()},
        additional_properties=True,
        description="model options (Modelfile PARAMETER names)",
    ),
)

CONTEXT_OVERFLOW = String()  # ollamalib: the context_overflow option as a top-level field of OpenAI/Anthropic bodies

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

TOOL_CHOICE = AnyValue(
    Schema(one_of=[Schema(type=OpenAPIType.STRING, enum=["auto", "none", "required"]),
                   Schema(type=OpenAPIType.OBJECT, description='{"type": "function", "function": {"name": ...}}')])
)
"""``tool_choice`` (an ollamalib extension on /api/chat): checked by ``ChatRequest``, so any JSON value decodes."""

_SCALARS: dict[Any, Callable[[], GoType]] = {str: String, bool: Bool, int: Int, float: Float}


def _field_type(annotation: Any) -> GoType | None:
    """The Go type of a request-model field whose annotation is plain (str, int, list[int], dict[str, str]...)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        if len(args) != 1:
            return None
        annotation = args[0]
    if annotation in _SCALARS:
        return _SCALARS[annotation]()
    origin, inner = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and inner[0] in _SCALARS:
        return Slice(_SCALARS[inner[0]]())
    if origin is dict and inner == (str, str):
        return Map(String())
    return None


_SHARED: dict[str, GoType] = {"options": OPTIONS_MAP, "keep_alive": KEEP_ALIVE, "format": FORMAT, "think": THINK,
                              "images": Slice(BASE64, go="[]api.ImageData"), "messages": Slice(MESSAGE)}
"""Fields whose Go type is not read off the annotation: one Go type for every request that has them."""


def derived(model: type[Request], *, required: tuple[str, ...] = ("model",),
            special: Mapping[str, GoType] | None = None, wire_only: Mapping[str, GoType] | None = None) -> Struct:
    """The Go-typed field table of a request model (``ollamalib.requests``): one field per model field, so a
    field added there is decoded and documented here; ``wire_only`` lists what Ollama accepts and ignores."""
    fields: dict[str, GoType] = {}
    for name, info in model.model_fields.items():
        wire = info.alias or name
        go = (special or {}).get(wire) or _SHARED.get(wire) or _field_type(info.annotation)
        if go is None:
            raise TypeError(f"{model.__name__}.{wire}: no Go type for {info.annotation!r}; name it in special=")
        fields[wire] = go
    return Struct(model.go_name or model.__name__, {**fields, **(wire_only or {})}, required=required)


_STRINGS = AnyValue(Schema(one_of=[Schema(type=OpenAPIType.STRING),
                                   Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.STRING))]))
_CREDENTIALS = {"name": String(), "username": String(), "password": String()}

GENERATE = derived(GenerateRequest)
CHAT = derived(ChatRequest, special={"tools": Slice(TOOL, go="api.Tools"), "tool_choice": TOOL_CHOICE})
EMBED = derived(EmbedRequest, special={"input": _STRINGS})
RERANK = derived(RerankRequest, required=("model", "query", "documents"), special={
    # strings; /v1/rerank also takes Jina/Cohere's {"text": ...} objects (ollamalib_server._rerank)
    "documents": AnyValue(Schema(type=OpenAPIType.ARRAY, items=Schema(one_of=[
        Schema(type=OpenAPIType.STRING),
        Schema(type=OpenAPIType.OBJECT, properties={"text": Schema(type=OpenAPIType.STRING)})])))})
EMBEDDINGS = derived(EmbeddingsRequest)
CREATE = derived(
    CreateRequest,
    special={"from": String(), "license": _STRINGS, "parameters": OPTIONS_MAP},
    wire_only={"name": String(), "quantization": String(), "renderer": String(), "parser": String()},
)
SHOW = derived(ShowRequest, wire_only={"name": String(), "options": OPTIONS_MAP})
COPY = derived(CopyRequest, required=("source", "destination"))
DELETE = derived(DeleteRequest, wire_only={"name": String()})
PULL = derived(PullRequest, wire_only=_CREDENTIALS)
PUSH = derived(PushRequest, wire_only=_CREDENTIALS)

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
        "stop": _STRINGS,
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
        "tool_choice": TOOL_CHOICE,
        "reasoning": Struct("Reasoning", {"effort": String()}),
        "reasoning_effort": String(),
        "logprobs": Bool(),
        "top_logprobs": Int(),
        "options": OPTIONS_MAP,
        "keep_alive": KEEP_ALIVE,
        "context_overflow": CONTEXT_OVERFLOW,
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
        "stop": _STRINGS,
        "stream": Bool(),
        "stream_options": _STREAM_OPTIONS,
        "logprobs": Int(),
        "options": OPTIONS_MAP,
        "keep_alive": KEEP_ALIVE,
        "context_overflow": CONTEXT_OVERFLOW,
    },
    required=("model",),
)
OA_EMBED = Struct(
    "EmbedRequest",
    {
        "model": String(),
        "input": _STRINGS,
        "dimensions": Int(),
        "encoding_format": String(),
        "options": OPTIONS_MAP,
        "keep_alive": KEEP_ALIVE,
    },
    required=("model", "input"),
)


_CONTENT = Schema(one_of=[Schema(type=OpenAPIType.STRING), Schema(type=OpenAPIType.OBJECT),
                          Schema(type=OpenAPIType.ARRAY)])

SYSTEMONE = derived(
    SystemOneRequest,
    required=("model", "state", "questions"),
    special={
        "state": AnyValue(_CONTENT, "the situation the questions are about: text, or a JSON object or array"),
        "questions": AnyValue(
            Schema(type=OpenAPIType.OBJECT, additional_properties=Schema(
                type=OpenAPIType.OBJECT,
                properties={"type": Schema(type=OpenAPIType.STRING, enum=["choice", "noul", "score"]),
                            "instructions": _CONTENT,
                            "criteria": Schema(one_of=[Schema(type=OpenAPIType.OBJECT),
                                                       Schema(type=OpenAPIType.ARRAY)])},
                required=["type", "instructions"])),
            "named questions: choice (criteria {option: description|null}), noul (optional criteria "
            "{true, false}), score (criteria: level descriptions, lowest first)",
        ),
    },
    wire_only={"stream": Bool()},  # refused when true (no streaming): the route reads it
)
