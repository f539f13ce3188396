"""Typed requests: each call of the method surface as one pydantic model with Ollama's field names.

Engine, AsyncEngine, Client, the server and the CLI all build (or decode into) these models, so a request is
coerced and validated once, here: paths and bytes become base64 images, functions become tools, ``think`` and
``keep_alive`` are parsed, ``options`` are typed against the option table. A bad value raises the library's
typed error with Ollama's text (``InvalidOptionError('invalid think value: ...')``), never a pydantic
ValidationError. ``to_wire()`` is the JSON body Ollama's API takes for the same request.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import os
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from .config import FOREVER, parse_keep_alive
from .errors import InvalidDigestError, InvalidOptionError, ModelfileError, OllamalibError
from .names import ModelName
from .options import validate_options
from .types import CheckedModel, Message, Options, SubscriptableModel, Tool

__all__ = [
    "THINK_LEVELS",
    "TOOL_CHOICES",
    "BlobRequest",
    "ChatRequest",
    "CopyRequest",
    "ChoiceQuestion",
    "CreateRequest",
    "DeleteRequest",
    "EmbedRequest",
    "EmbeddingsRequest",
    "GenerateRequest",
    "ListRequest",
    "NoulQuestion",
    "ProcessRequest",
    "PullRequest",
    "PushRequest",
    "Question",
    "Request",
    "RerankRequest",
    "ScoreQuestion",
    "ShowRequest",
    "SystemOneContent",
    "SystemOneRequest",
    "json_kind",
    "parse_tool_choice",
    "to_image",
    "to_message",
    "to_question",
    "to_tool",
]

THINK_LEVELS = ("high", "medium", "low", "max")
TOOL_CHOICES = ("auto", "none", "required")
_TOOL_CHOICE_HELP = '"auto", "none", "required" or {"type": "function", "function": {"name": ...}}'
_THINK_HELP = '"high", "medium", "low", "max", true, or false'
_DIGEST = re.compile(r"^sha256[:-][0-9a-fA-F]{64}$")
_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_GO_TYPES: dict[Any, str] = {str: "string", bool: "bool", int: "int", float: "float64"}
_WIRE: ContextVar[dict[str, Any] | None] = ContextVar("ollamalib_request_wire", default=None)


def json_kind(value: Any) -> str:
    """The JSON kind Go names in its decoding errors: string, number, bool, array, object, null."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "null"


# --- coercion of the arguments every surface accepts ------------------------------------------------------


def to_image(image: str | bytes | Path | Any, *, paths: bool = True) -> str:
    """An image argument as the standard base64 string Ollama carries (paths and raw bytes are encoded).

    With ``paths`` a string naming a local file is read (a caller's convenience; never for a request that came
    over the network), else it is base64, checked as Go's decoder checks ``[]byte``:
    ``illegal base64 data at input byte N``.
    """
    value = getattr(image, "value", image)  # the official client's Image wrapper
    if isinstance(value, Path):
        return base64.b64encode(value.read_bytes()).decode()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if not isinstance(value, str):
        raise InvalidOptionError(f"json: cannot unmarshal {json_kind(value)} into Go value of type []uint8")
    if paths and len(value) < 1024:
        try:
            path = Path(os.path.expanduser(value))
            if path.is_file():
                return base64.b64encode(path.read_bytes()).decode()
        except (OSError, ValueError):
            pass
    data = value.replace("\r", "").replace("\n", "").encode("utf-8", "replace")  # Go skips line breaks
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        bad = next((i for i, c in enumerate(data) if c not in _B64 and c != ord("=")), None)
        if bad is None:
            bad = len(data) - (len(data) % 4 or 4) if data else 0
        raise InvalidOptionError(f"illegal base64 data at input byte {bad}") from None
    return value


def to_message(value: Message | Mapping[str, Any] | Any, *, paths: bool = True) -> Message:
    """A message argument (dict, our Message or the official client's) as a Message with base64 images."""
    if isinstance(value, Message) and not value.images:
        return value
    data = value.model_dump(exclude_none=True) if hasattr(value, "model_dump") else dict(value)
    if data.get("images"):
        data["images"] = [to_image(i, paths=paths) for i in data["images"]]
    if data.get("tool_calls"):
        data["tool_calls"] = [tc.model_dump(exclude_none=True) if hasattr(tc, "model_dump") else tc
                              for tc in data["tool_calls"]]
    data["role"] = data.get("role") or ""
    return Message.model_validate(data)


_PY_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean", list: "array", dict: "object"}


def to_tool(value: Tool | Mapping[str, Any] | Callable[..., Any]) -> Tool:
    """A tool argument as a Tool: dicts and Tools as they are, Python functions described from their signature."""
    if isinstance(value, Tool):
        return value
    if isinstance(value, Mapping):
        return Tool.model_validate(dict(value))
    if hasattr(value, "model_dump"):
        return Tool.model_validate(value.model_dump(exclude_none=True))
    if callable(value):
        return _tool_from_function(value)
    raise InvalidOptionError(f"invalid tool: {value!r}")


def _tool_from_function(fn: Callable[..., Any]) -> Tool:
    """Describe a function as a tool: name, the docstring's summary, parameters from annotations and ``Args:``."""
    doc = inspect.getdoc(fn) or ""
    summary, _, rest = doc.partition("\n\n")
    arg_docs: dict[str, str] = {}
    in_args = False
    for line in rest.splitlines():
        stripped = line.strip()
        if stripped.lower() in ("args:", "arguments:", "parameters:"):
            in_args = True
            continue
        if in_args:
            m = re.match(r"(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)", stripped)
            if m:
                arg_docs[m.group(1)] = m.group(2)
            elif stripped.endswith(":"):
                in_args = False
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # unresolvable annotations: describe those parameters as strings
        hints = {}
    props: dict[str, Any] = {}
    required: list[str] = []
    for name, param in inspect.signature(fn).parameters.items():
        ann = hints.get(name, param.annotation)
        origin = typing.get_origin(ann) or ann
        prop: dict[str, Any] = {"type": _PY_TYPES.get(origin, "string")}
        if name in arg_docs:
            prop["description"] = arg_docs[name]
        props[name] = prop
        if param.default is inspect.Parameter.empty:
            required.append(name)
    return Tool.model_validate({
        "type": "function",
        "function": {
            "name": fn.__name__,
            "description": summary.replace("\n", " ").strip(),
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    })


def parse_think(value: Any) -> bool | str | None:
    """``think`` as Ollama's ThinkValue reads it: a bool or a level; anything else gets Ollama's error."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value in THINK_LEVELS:
            return value
        raise InvalidOptionError(f"invalid think value: {json.dumps(value)} (must be {_THINK_HELP})")
    raise InvalidOptionError(f"think must be a boolean or string ({_THINK_HELP})")


def parse_tool_choice(value: Any) -> str | dict[str, Any] | None:
    """``tool_choice`` in OpenAI's chat shape: "auto", "none", "required", or a named function, normalised to
    ``{"type": "function", "function": {"name": ...}}``; anything else gets a 400 that names the valid forms."""
    if value is None or (isinstance(value, str) and value in TOOL_CHOICES):
        return value
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, Mapping):
        fn = value.get("function")
        name = fn.get("name") if isinstance(fn, Mapping) else None
        if value.get("type", "function") == "function" and isinstance(name, str) and name:
            return {"type": "function", "function": {"name": name}}
    shown = json.dumps(value) if isinstance(value, (str, int, float, list, dict)) else repr(value)
    raise InvalidOptionError(f"invalid tool_choice: {shown} (must be {_TOOL_CHOICE_HELP})")


def parse_request_keep_alive(value: Any) -> float | None:
    """A request's ``keep_alive`` (seconds or a Go duration, as Ollama's Duration reads it) in seconds."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, str))):
        raise InvalidOptionError(f"Unsupported type: '{json_kind(value)}'")
    return parse_keep_alive(value)


def to_options(value: Any) -> Options | None:
    """Request ``options`` (a dict, our Options or the official client's) checked against the option table."""
    if value is None or isinstance(value, Options):
        return value
    if hasattr(value, "model_dump"):  # the official client's Options
        value = {k: v for k, v in value.model_dump().items() if v is not None}
    if not isinstance(value, Mapping):
        raise InvalidOptionError(f"json: cannot unmarshal {json_kind(value)} into Go value of type "
                                 "map[string]interface {}")
    try:
        return Options.model_construct(**validate_options(value))
    except InvalidOptionError as exc:
        raise exc.scheduled() from None


# --- the models ---------------------------------------------------------------------------------------------


class Request(CheckedModel):
    """Base of every request: strict Go-like types, typed errors with Ollama's texts, ``to_wire()``."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", strict=True, arbitrary_types_allowed=True)
    go_name: ClassVar[str] = ""
    """The Go struct name Ollama's decoder errors mention (``GenerateRequest``)."""

    @classmethod
    def _type_error(cls, first: Any) -> OllamalibError:
        """Go's decoding error for a value of the wrong type: ``json: cannot unmarshal X into Go struct field``."""
        loc = first.get("loc", ())
        name = str(loc[0]) if loc else ""
        value = first.get("input")
        field = cls.model_fields.get(name)
        go = _go_type(field.annotation if field else Any, element=len(loc) > 1)
        kind = json_kind(value)
        if go == "int" and isinstance(value, float):
            kind = f"number {value!r}"
        wire = field.alias if field and field.alias else name
        return InvalidOptionError(f"json: cannot unmarshal {kind} into Go struct field "
                                  f"{cls.go_name or cls.__name__}.{wire} of type {go}")

    @classmethod
    def from_wire(cls, body: Mapping[str, Any], *, max_messages: int | None = None, max_questions: int | None = None,
                  max_choices: int | None = None) -> Any:
        """The request a decoded JSON body describes; strings are never read as local file paths.

        ``max_messages`` (Settings.max_messages) refuses a longer chat before any message is converted;
        ``max_questions`` and ``max_choices`` (Settings) bound a decision request the same way.
        """
        token = _WIRE.set({"wire": True, "max_messages": max_messages, "max_questions": max_questions,
                           "max_choices": max_choices})
        try:  # a context var, not model_validate(context=): CheckedModel's own __init__ would drop that
            return cls.model_validate(dict(body))
        finally:
            _WIRE.reset(token)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body Ollama's API takes for this request (aliases applied, unset fields left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _go_type(annotation: Any, *, element: bool) -> str:
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    first = args[0]
    origin = typing.get_origin(first)
    if origin is list:
        inner = _go_type(typing.get_args(first)[0], element=False)
        return inner if element else f"[]{inner}"
    if origin is dict:
        return "map[string]interface {}"
    return _GO_TYPES.get(first, "interface {}")


class _Named(Request):
    """A request about one model; Ollama still accepts the deprecated ``name`` for ``model``."""

    model: str = ""

    @model_validator(mode="before")
    @classmethod
    def _name(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not data.get("model") and data.get("name"):
            data = {**data, "model": data["name"]}
        return data


class _Loaded(Request):
    """A request that runs a model: ``options`` and ``keep_alive``."""

    model: str = ""
    options: Options | None = None
    keep_alive: float | None = None

    @field_validator("options", mode="before")
    @classmethod
    def _options(cls, v: Any) -> Any:
        return to_options(v)

    @field_validator("keep_alive", mode="before")
    @classmethod
    def _keep_alive(cls, v: Any) -> Any:
        return parse_request_keep_alive(v)

    @field_serializer("keep_alive")
    def _dump_keep_alive(self, v: float | None) -> float | int | None:
        return -1 if v == FOREVER else v

    def options_dict(self) -> dict[str, Any]:
        """The request's options as a plain dict of the values that are set."""
        return self.options.model_dump(exclude_none=True) if self.options is not None else {}


class _Inference(_Loaded):
    """Fields generate and chat share: format, think, logprobs, truncate, shift, stream."""

    stream: bool | None = None
    format: str | dict[str, Any] | None = None
    think: bool | str | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    truncate: bool | None = None
    shift: bool | None = None
    debug_render_only: bool | None = Field(default=None, alias="_debug_render_only")

    @field_validator("think", mode="before")
    @classmethod
    def _think(cls, v: Any) -> Any:
        return parse_think(v)

    @field_validator("format", mode="before")
    @classmethod
    def _format(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            return dict(v)
        return None if v == "" else v

    @field_validator("top_logprobs")
    @classmethod
    def _top_logprobs(cls, v: int | None) -> int | None:
        if v is not None and not 0 <= v <= 20:
            raise InvalidOptionError("top_logprobs must be between 0 and 20")
        return v


class GenerateRequest(_Inference):
    """``/api/generate``: complete a prompt (an empty prompt loads the model, with keep_alive 0 unloads it)."""

    go_name = "GenerateRequest"
    prompt: str | None = None
    suffix: str | None = None
    system: str | None = None
    template: str | None = None
    context: list[int] | None = None
    raw: bool | None = None
    images: list[str] | None = None

    @field_validator("images", mode="before")
    @classmethod
    def _images(cls, v: Any, info: ValidationInfo) -> Any:
        if v is None or isinstance(v, (str, bytes)) or not isinstance(v, Sequence):
            return v
        return [to_image(i, paths=_local(info)) for i in v]

    @field_validator("context", mode="before")
    @classmethod
    def _context(cls, v: Any) -> Any:
        return list(v) if isinstance(v, (tuple, range)) else v

    @model_validator(mode="after")
    def _raw_alone(self) -> GenerateRequest:
        if self.raw and (self.template or self.system or self.context):
            raise InvalidOptionError("raw mode does not support template, system, or context")
        return self


class ChatRequest(_Inference):
    """``/api/chat``: answer a conversation (no messages loads the model, with keep_alive 0 unloads it)."""

    go_name = "ChatRequest"
    messages: list[Message] | None = None
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None
    """An ollamalib extension (Ollama ignores it): "auto" (the default), "none", "required", or
    ``{"type": "function", "function": {"name": ...}}``; enforced with a grammar (see ``forced_tools``)."""

    @field_validator("messages", mode="before")
    @classmethod
    def _messages(cls, v: Any, info: ValidationInfo) -> Any:
        limit = _context(info).get("max_messages")
        if limit is not None and isinstance(v, Sequence):
            check_message_count(v, limit)
        return _messages(v, _local(info))

    @field_validator("tools", mode="before")
    @classmethod
    def _tools(cls, v: Any) -> Any:
        if v is None or isinstance(v, (str, bytes, Mapping)) or not isinstance(v, Sequence):
            return v
        return [to_tool(t) for t in v] or None

    @field_validator("tool_choice", mode="before")
    @classmethod
    def _tool_choice(cls, v: Any) -> Any:
        return parse_tool_choice(v)

    @model_validator(mode="after")
    def _tool_choice_needs_tools(self) -> ChatRequest:
        choice = self.tool_choice
        if choice is None or choice in ("auto", "none"):
            return self
        if not self.tools:
            shown = choice if isinstance(choice, str) else f'naming "{choice["function"]["name"]}"'
            raise InvalidOptionError(f"tool_choice {shown} needs tools, but the request has none")
        if isinstance(choice, dict):
            name = choice["function"]["name"]
            if not any(t.function.name == name for t in self.tools):
                known = ", ".join(f'"{t.function.name}"' for t in self.tools)
                raise InvalidOptionError(f'tool_choice names the function "{name}", which is not among the tools '
                                         f"({known})")
        return self

    def offered_tools(self) -> list[Tool]:
        """The tools the prompt shows and the output is parsed for: none at all with ``tool_choice`` "none"."""
        return [] if self.tool_choice == "none" else list(self.tools or [])

    def forced_tools(self) -> list[Tool] | None:
        """The tools the answer must call one of ("required": any, a named function: that one); None when the
        model may answer in text."""
        choice = self.tool_choice
        if choice == "required":
            return list(self.tools or [])
        if isinstance(choice, dict):
            return [t for t in self.tools or [] if t.function.name == choice["function"]["name"]][:1]
        return None


class EmbedRequest(_Loaded):
    """``/api/embed``: embed one text or a list."""

    go_name = "EmbedRequest"
    input: str | list[str] = ""
    truncate: bool | None = None
    dimensions: int | None = None

    @field_validator("input", mode="before")
    @classmethod
    def _input(cls, v: Any) -> Any:
        if v is None:
            return ""
        if isinstance(v, str):
            return v
        if isinstance(v, Sequence) and all(isinstance(x, str) for x in v):
            return list(v)
        raise InvalidOptionError("invalid input type")

    @field_validator("dimensions")
    @classmethod
    def _dimensions(cls, v: int | None) -> int | None:
        if v is not None and v < 0:
            raise InvalidOptionError("dimensions must be a positive integer")
        return v

    @property
    def texts(self) -> list[str]:
        """The inputs as a list (an empty string is no input)."""
        return [self.input] if isinstance(self.input, str) and self.input else list(self.input or [])


class RerankRequest(_Loaded):
    """``/api/rerank``: order ``documents`` by relevance to ``query`` (a reranker model; see ollamalib.rerank)."""

    go_name = "RerankRequest"
    query: str = ""
    documents: list[str] = Field(default_factory=list)
    top_n: int | None = None
    return_documents: bool | None = None
    instruction: str | None = None
    truncate: bool | None = None

    @field_validator("documents", mode="before")
    @classmethod
    def _documents(cls, v: Any) -> Any:
        if v is None:
            return []
        if isinstance(v, Sequence) and not isinstance(v, str) and all(isinstance(x, str) for x in v):
            return list(v)
        raise InvalidOptionError("documents must be a list of strings")

    @field_validator("top_n")
    @classmethod
    def _top_n(cls, v: int | None) -> int | None:
        if v is not None and v < 1:
            raise InvalidOptionError("top_n must be a positive integer")
        return v

    @model_validator(mode="after")
    def _some_documents(self) -> RerankRequest:
        if not self.documents:
            raise InvalidOptionError("documents must not be empty")
        return self


class EmbeddingsRequest(_Loaded):
    """``/api/embeddings`` (legacy): one prompt, one vector."""

    go_name = "EmbeddingRequest"
    prompt: str | None = None


# --- decisions (POST /v1/systemone) ------------------------------------------------------------------------

SystemOneContent = str | dict[str, Any] | list[Any]
"""A ``state`` or ``instructions``: text, or a JSON object or array (rendered as JSON text in the prompt)."""

QUESTION_TYPES = ("choice", "noul", "score")
SCORE_LEVELS = (2, 10)  # the fewest and most levels a score question may have


class ChoiceQuestion(SubscriptableModel):
    """Pick one of ``criteria``'s options (ordered ``{option: description or None}``, at least two)."""

    type: Literal["choice"] = "choice"
    instructions: SystemOneContent
    criteria: dict[str, str | None]


class NoulQuestion(SubscriptableModel):
    """True or false; ``criteria`` may describe what ``"true"`` and ``"false"`` mean."""

    type: Literal["noul"] = "noul"
    instructions: SystemOneContent
    criteria: dict[str, str] | None = None


class ScoreQuestion(SubscriptableModel):
    """A level on a scale: ``criteria`` describes each level, lowest first (2 to 10 levels)."""

    type: Literal["score"] = "score"
    instructions: SystemOneContent
    criteria: list[str]


Question = ChoiceQuestion | NoulQuestion | ScoreQuestion


def _content(value: Any, what: str) -> SystemOneContent:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    raise InvalidOptionError(f"{what} must be a string, an object or an array, not {json_kind(value)}")


def to_question(qid: str, value: Any) -> Question:
    """One question of a decision request (a dict, our model or the official client's), checked, with a clear
    400 naming the question for anything a model could not answer."""
    where = f"question {json.dumps(qid)}"
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    if not isinstance(value, Mapping):
        raise InvalidOptionError(f"{where} must be an object, not {json_kind(value)}")
    kind = value.get("type")
    if kind is None:
        raise InvalidOptionError(f'{where}: type is required ("choice", "noul" or "score")')
    if kind not in QUESTION_TYPES:
        raise InvalidOptionError(f'{where}: unknown type {json.dumps(kind)} (must be "choice", "noul" or "score")')
    instructions = value.get("instructions")
    if instructions is None or instructions == "" or instructions == {} or instructions == []:
        raise InvalidOptionError(f"{where}: instructions are required")
    instructions = _content(instructions, f"{where}: instructions")
    criteria = value.get("criteria")
    if kind == "choice":
        if not isinstance(criteria, Mapping):
            raise InvalidOptionError(f"{where}: criteria are required: an object of choices, "
                                     "each with a description or null")
        if len(criteria) < 2:
            raise InvalidOptionError(f"{where}: a choice question needs at least 2 choices")
        for option, text in criteria.items():
            if not isinstance(option, str) or not option.strip():
                raise InvalidOptionError(f"{where}: a choice must be a non-empty string")
            if text is not None and not isinstance(text, str):
                raise InvalidOptionError(f"{where}: the description of choice {json.dumps(option)} must be a "
                                         f"string or null, not {json_kind(text)}")
        return ChoiceQuestion(instructions=instructions, criteria=dict(criteria))
    if kind == "noul":
        if criteria is None:
            return NoulQuestion(instructions=instructions)
        if not isinstance(criteria, Mapping) or any(k not in ("true", "false") for k in criteria):
            raise InvalidOptionError(f'{where}: criteria of a noul question may only describe "true" and "false"')
        if any(not isinstance(t, str) for t in criteria.values()):
            raise InvalidOptionError(f'{where}: the descriptions of "true" and "false" must be strings')
        return NoulQuestion(instructions=instructions, criteria=dict(criteria))
    low, high = SCORE_LEVELS
    if not isinstance(criteria, (list, tuple)) or not all(isinstance(t, str) for t in criteria):
        raise InvalidOptionError(f"{where}: criteria are required: an array of level descriptions, lowest first")
    if not low <= len(criteria) <= high:
        raise InvalidOptionError(f"{where}: a score question needs {low} to {high} levels, not {len(criteria)}")
    return ScoreQuestion(instructions=instructions, criteria=list(criteria))


class SystemOneRequest(_Loaded):
    """``/v1/systemone``: answer typed questions about a ``state`` from the model's probabilities (no streaming).

    ``questions`` maps an id of the caller's choosing to a choice, noul or score question; ``options`` (not in
    Ollama's request) may set load options such as ``num_ctx``.
    """

    go_name = "SystemOneRequest"
    state: SystemOneContent | None = None
    questions: dict[str, Question] | None = None

    @field_validator("state", mode="before")
    @classmethod
    def _state(cls, v: Any) -> Any:
        return None if v is None else _content(v, "state")

    @field_validator("questions", mode="before")
    @classmethod
    def _questions(cls, v: Any, info: ValidationInfo) -> Any:
        if v is None:
            return None
        if not isinstance(v, Mapping):
            raise InvalidOptionError(f"questions must be an object of named questions, not {json_kind(v)}")
        limits = _context(info)
        check_decision_size(v, limits.get("max_questions"), limits.get("max_choices"))
        return {str(qid): to_question(str(qid), q) for qid, q in v.items()}

    @model_validator(mode="after")
    def _required(self) -> SystemOneRequest:
        if self.state is None:
            raise InvalidOptionError("state is required")
        if not self.questions:
            raise InvalidOptionError("questions are required")
        return self


class CreateRequest(_Named):
    """``/api/create``: a model from a base model, a GGUF or uploaded blobs, and Modelfile settings."""

    go_name = "CreateRequest"
    from_: str | ModelName | None = Field(default=None, alias="from")  # a ModelName is never read as a path
    files: dict[str, str] | None = None
    adapters: dict[str, str] | None = None
    draft_files: dict[str, str] | None = None  # a speculative-decoding draft model (one GGUF)
    draft: str | None = None  # ollamalib: a model in the store whose GGUF is the draft (a Modelfile DRAFT name)
    template: str | None = None
    license: str | list[str] | None = None
    system: str | None = None
    parameters: dict[str, Any] | None = None
    messages: list[Message] | None = None
    quantize: str | None = None
    requires: str | None = None
    stream: bool | None = None

    @field_validator("messages", mode="before")
    @classmethod
    def _messages(cls, v: Any, info: ValidationInfo) -> Any:
        return _messages(v, _local(info))

    @classmethod
    def from_modelfile(
        cls, modelfile: _ResolvesCreate, model: str, upload: Callable[[Path], str], *,
        base_dir: str | os.PathLike[str] | None = None, quantize: str | None = None, stream: bool | None = None,
    ) -> CreateRequest:
        """The create request a parsed Modelfile describes, built the way Ollama's client builds it.

        The one Modelfile-to-create path (Engine, ``create_from_modelfile`` and the CLI): FROM/ADAPTER/DRAFT paths are
        resolved against ``base_dir`` by ``Modelfile.create_args`` and each local file is handed to ``upload``
        (path -> blob digest: the store in process, ``create_blob`` over HTTP). Raises ModelfileError.
        """
        args = modelfile.create_args(base_dir)
        if not args.from_ and not args.files:
            raise ModelfileError("no FROM line")
        return cls(
            model=model, from_=args.from_, quantize=quantize, stream=stream,
            files={args.name_of(p): upload(p) for p in args.files} or None,
            adapters={args.name_of(p): upload(p) for p in args.adapters} or None,
            draft_files={args.name_of(p): upload(p) for p in args.draft_files} or None, draft=args.draft_from,
            template=args.template, system=args.system, parameters=args.parameters or None,
            messages=[{"role": role, "content": content} for role, content in args.messages] or None,
            license=args.license or None, requires=args.requires,
        )

    @field_serializer("from_")
    def _dump_from(self, v: str | ModelName | None) -> str | None:
        return None if v is None else str(v)

    @model_validator(mode="before")
    @classmethod
    def _quantization(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not data.get("quantize") and data.get("quantization"):
            data = {**data, "quantize": data["quantization"]}
        return data

    @field_validator("draft")
    @classmethod
    def _draft(cls, v: str | None) -> str | None:
        if v:
            ModelName.parse(v)  # a draft is a model name, never a path (a client uploads a DRAFT file)
        return v or None

    @field_validator("files", "adapters", "draft_files")
    @classmethod
    def _files(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        for filename, digest in (v or {}).items():
            if not _valid_relative_path(filename):
                raise ModelfileError("file path must be relative")
            if not digest or not _DIGEST.match(digest):
                raise InvalidDigestError("invalid digest format")
        return v or None

    @field_validator("parameters", mode="before")
    @classmethod
    def _parameters(cls, v: Any) -> Any:
        if isinstance(v, Options):
            return v.model_dump(exclude_none=True)
        if hasattr(v, "model_dump"):
            return {k: x for k, x in v.model_dump().items() if x is not None}
        return dict(v) if isinstance(v, Mapping) else v

    @field_validator("license", mode="before")
    @classmethod
    def _license(cls, v: Any) -> Any:
        if v is None or isinstance(v, str):
            return v
        if isinstance(v, Sequence) and all(isinstance(x, str) for x in v):
            return list(v)
        raise InvalidOptionError(f"json: cannot unmarshal {json_kind(v)} into Go value of type []string")


class _ResolvesCreate(typing.Protocol):
    """A Modelfile as ``CreateRequest.from_modelfile`` reads it (``ollamalib.modelfile`` sits above requests)."""

    def create_args(self, base_dir: str | os.PathLike[str] | None = None) -> Any: ...


def check_message_count(messages: Sequence[Any] | None, limit: int) -> None:
    """At most ``limit`` messages in one chat (Settings.max_messages)."""
    if messages is not None and len(messages) > limit:
        raise InvalidOptionError(f"too many messages: {len(messages):,}, more than the {limit:,} allowed "
                                 "(OLLAMALIB_MAX_MESSAGES)")


def check_decision_size(questions: Mapping[str, Any], max_questions: int | None, max_choices: int | None) -> None:
    """At most ``max_questions`` questions in one decision request and ``max_choices`` choices in each choice
    question (Settings.max_questions, Settings.max_choices; None: no limit), checked before any is converted."""
    if max_questions is not None and len(questions) > max_questions:
        raise InvalidOptionError(f"too many questions: {len(questions):,}, more than the {max_questions:,} allowed "
                                 "(OLLAMALIB_MAX_QUESTIONS)")
    if max_choices is None:
        return
    for qid, question in questions.items():
        fields = question if isinstance(question, Mapping) else vars(question) if hasattr(question, "__dict__") else {}
        criteria = fields.get("criteria")
        if fields.get("type") == "choice" and isinstance(criteria, Mapping) and len(criteria) > max_choices:
            raise InvalidOptionError(f"question {json.dumps(str(qid))}: too many choices: {len(criteria):,}, more "
                                     f"than the {max_choices:,} allowed (OLLAMALIB_MAX_CHOICES)")


def _messages(value: Any, paths: bool) -> Any:
    if value is None or isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        return value
    return [to_message(m, paths=paths) for m in value]


def _local(info: ValidationInfo) -> bool:
    """Whether a request was built in this process (image strings may name local files), not read from a body."""
    return not _context(info).get("wire")


def _context(info: ValidationInfo) -> dict[str, Any]:
    """How the request is being built: ``from_wire``'s settings (``wire``, ``max_messages``, ``max_questions``,
    ``max_choices``), else none."""
    return info.context or _WIRE.get() or {}


def _valid_relative_path(name: str) -> bool:
    """Go's ``fs.ValidPath``: slash-separated, no empty, ``.`` or ``..`` elements, no leading slash."""
    if name == ".":
        return True
    return bool(name) and all(part not in ("", ".", "..") for part in name.split("/"))


class _Transfer(_Named):
    insecure: bool = False
    stream: bool | None = None


class PullRequest(_Transfer):
    """``/api/pull``: download a model from its registry."""

    go_name = "PullRequest"


class PushRequest(_Transfer):
    """``/api/push``: upload a model to its registry."""

    go_name = "PushRequest"


class ShowRequest(_Named):
    """``/api/show``: a model's details."""

    go_name = "ShowRequest"
    verbose: bool | None = None
    system: str | None = None
    template: str | None = None


class DeleteRequest(_Named):
    """``/api/delete``: remove a model."""

    go_name = "DeleteRequest"


class CopyRequest(Request):
    """``/api/copy``: a model under a second name."""

    go_name = "CopyRequest"
    source: str = ""
    destination: str = ""



class ListRequest(Request):
    """``GET /api/tags``: the models in the store (no fields)."""


class ProcessRequest(Request):
    """``GET /api/ps``: the models loaded now (no fields)."""


class BlobRequest(Request):
    """A local file to keep as a blob: the store's copy in process, ``POST /api/blobs/:digest`` over HTTP (never
    decoded from a body)."""

    path: str | Path
