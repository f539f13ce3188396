"""Wire models with Ollama's field names, shared by Engine, Client and the server.

Responses are subscriptable (``resp["message"]["content"]``) like the official ``ollama`` client's, and
serialise without unset fields, as Ollama's ``omitempty`` does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from .errors import InvalidOptionError, OllamalibError
from .options import OPTIONS, OptionSpec, validate_options

__all__ = [
    "MEDIA_TYPE_ADAPTER",
    "MEDIA_TYPE_CONFIG",
    "MEDIA_TYPE_DRAFT",
    "MEDIA_TYPE_LICENSE",
    "MEDIA_TYPE_MANIFEST",
    "MEDIA_TYPE_MESSAGES",
    "MEDIA_TYPE_MODEL",
    "MEDIA_TYPE_PARAMS",
    "MEDIA_TYPE_PROJECTOR",
    "MEDIA_TYPE_PROMPT",
    "MEDIA_TYPE_SYSTEM",
    "MEDIA_TYPE_TEMPLATE",
    "ChatResponse",
    "CheckedModel",
    "EmbedResponse",
    "EmbeddingsResponse",
    "GenerateResponse",
    "Image",
    "Layer",
    "ListModel",
    "ListResponse",
    "Logprob",
    "Manifest",
    "Message",
    "ModelConfig",
    "ModelDetails",
    "Options",
    "ProcessModel",
    "ProcessResponse",
    "ProgressResponse",
    "RerankResponse",
    "RerankResult",
    "ShowResponse",
    "StatusResponse",
    "SubscriptableModel",
    "SystemOneAnswer",
    "SystemOneChoiceAnswer",
    "SystemOneNoulAnswer",
    "SystemOneResponse",
    "SystemOneScoreAnswer",
    "SystemOneUsage",
    "TokenLogprob",
    "Tool",
    "ToolCall",
    "ToolCallFunction",
    "ToolFunction",
    "Truncation",
]

MEDIA_TYPE_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_TYPE_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_TYPE_MODEL = "application/vnd.ollama.image.model"
MEDIA_TYPE_PROJECTOR = "application/vnd.ollama.image.projector"
MEDIA_TYPE_ADAPTER = "application/vnd.ollama.image.adapter"
MEDIA_TYPE_DRAFT = "application/vnd.ollama.image.draft"  # a speculative-decoding draft model (GGUF)
MEDIA_TYPE_TEMPLATE = "application/vnd.ollama.image.template"
MEDIA_TYPE_PROMPT = "application/vnd.ollama.image.prompt"
MEDIA_TYPE_SYSTEM = "application/vnd.ollama.image.system"
MEDIA_TYPE_PARAMS = "application/vnd.ollama.image.params"
MEDIA_TYPE_MESSAGES = "application/vnd.ollama.image.messages"
MEDIA_TYPE_LICENSE = "application/vnd.ollama.image.license"


class SubscriptableModel(BaseModel):
    """A pydantic model that also reads like a dict, as the official client's responses do."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    def __getitem__(self, key: str) -> Any:
        if key in type(self).model_fields or key in (self.model_extra or {}):
            return getattr(self, key)
        raise KeyError(key)

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and getattr(self, key, None) is not None

    def get(self, key: str, default: Any = None) -> Any:
        value = getattr(self, key, None)
        return default if value is None else value

    def to_wire(self) -> dict[str, Any]:
        """The JSON object Ollama would send: aliases applied, unset (None) fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class CheckedModel(SubscriptableModel):
    """A model whose validation raises the library's typed errors (Ollama's texts), never a ValidationError."""

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise self._typed_error(exc) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise cls._typed_error(exc) from None

    @classmethod
    def _typed_error(cls, exc: ValidationError) -> OllamalibError:
        """A validator's own library error, else the type error ``_type_error`` words for the first complaint."""
        first = exc.errors()[0]
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, OllamalibError):
            return cause
        return cls._type_error(first)

    @classmethod
    def _type_error(cls, error: Any) -> OllamalibError:
        """An InvalidOptionError with pydantic's message (subclasses word it as their wire format does)."""
        return InvalidOptionError(f"{'.'.join(map(str, error.get('loc', ())))}: {error.get('msg')}")


# --- options --------------------------------------------------------------------------------------------


def _option_field(spec: OptionSpec) -> tuple[Any, Any]:
    kind = {"int": int, "float": float, "bool": bool, "list": list[str], "str": str}[spec.kind]
    return (kind | None, Field(default=None, description=spec.description))


def _check_options(cls: type[BaseModel], data: Any) -> Any:
    """Options(...) checks its values as Ollama's Options.FromMap does (typed errors, unknown names dropped)."""
    if isinstance(data, dict):
        return validate_options(data)
    return data


Options = create_model(  # one field per row of the option table in options.py, nothing written twice
    "Options",
    __base__=CheckedModel,
    __doc__='''Model options (Modelfile PARAMETERs and request ``options``); None means "not set".

    One field per option of ``ollamalib.options.OPTIONS``; values are checked as Ollama checks request options
    (``Options(temperature="hot")`` raises InvalidOptionError, unknown names are dropped with a warning).
    ''',
    __module__=__name__,
    __validators__={"_check": model_validator(mode="before")(classmethod(_check_options))},
    **{name: _option_field(spec) for name, spec in OPTIONS.items()},
)


# --- messages and tools ---------------------------------------------------------------------------------

Image = str
"""An image as a standard base64 string (bytes and paths are converted by the callers)."""


class ToolCallFunction(SubscriptableModel):
    index: int | None = None
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolCall(SubscriptableModel):
    id: str | None = None
    function: ToolCallFunction


class Message(SubscriptableModel):
    """One chat message, with Ollama's fields."""

    role: str
    content: str | None = ""
    thinking: str | None = None
    images: list[Image] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None

    @field_validator("role", mode="before")
    @classmethod
    def _lower_role(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v


class ToolFunction(SubscriptableModel):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class Tool(SubscriptableModel):
    type: str = "function"
    function: ToolFunction


# --- inference responses --------------------------------------------------------------------------------


class TokenLogprob(SubscriptableModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class Logprob(TokenLogprob):
    top_logprobs: list[TokenLogprob] | None = None


class Truncation(SubscriptableModel):
    """How a prompt that did not fit num_ctx was cut (ollamalib: Ollama cuts silently).

    ``n_prompt_tokens`` is the prompt as requested, ``n_ctx`` the context it had to fit, ``n_dropped_tokens``
    what was not evaluated, ``n_dropped_messages`` the oldest chat messages left out (chat only).
    """

    n_prompt_tokens: int
    n_ctx: int
    n_dropped_tokens: int
    n_dropped_messages: int | None = None


class _Metrics(SubscriptableModel):
    model: str = ""
    created_at: datetime | None = None
    done: bool = False
    done_reason: Literal["stop", "length", "load", "unload"] | None = None
    stop_sequence: str | None = None  # ollamalib: the stop string that ended the answer (omitted otherwise)
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None  # prompt tokens evaluated (as Ollama: a cached prefix is not counted)
    prompt_cached_count: int | None = None  # ollamalib: prompt tokens reused from the cache (omitted when none)
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None
    truncated: bool | None = None  # ollamalib: true when the prompt was cut to fit (absent otherwise)
    truncation: Truncation | None = None  # ollamalib: the counts of that cut
    # ollamalib: speculative decoding's drafted tokens and how many were accepted (omitted without drafting)
    draft_count: int | None = None
    draft_accepted_count: int | None = None


class GenerateResponse(_Metrics):
    response: str = ""
    thinking: str | None = None
    context: list[int] | None = None
    tool_calls: list[ToolCall] | None = None
    logprobs: list[Logprob] | None = None


class ChatResponse(_Metrics):
    message: Message = Field(default_factory=lambda: Message(role="assistant", content=""))
    logprobs: list[Logprob] | None = None


class EmbedResponse(SubscriptableModel):
    model: str = ""
    embeddings: list[list[float]] = Field(default_factory=list)
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None


class RerankResult(SubscriptableModel):
    """One document's relevance: its index in the request, its score, and its text when asked for."""

    index: int = 0
    relevance_score: float = 0.0
    document: str | None = None


class RerankResponse(SubscriptableModel):
    """``/api/rerank``: results by descending ``relevance_score``; ``truncated`` lists documents cut to fit."""

    model: str = ""
    results: list[RerankResult] = Field(default_factory=list)
    truncated: list[int] | None = None
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None


class EmbeddingsResponse(SubscriptableModel):
    embedding: list[float] = Field(default_factory=list)


class StatusResponse(SubscriptableModel):
    """What delete and copy return, as the official client does (``status="success"``)."""

    status: str | None = None


class ProgressResponse(SubscriptableModel):
    status: str | None = None
    digest: str | None = None
    total: int | None = None
    completed: int | None = None


# --- decisions (POST /v1/systemone) ---------------------------------------------------------------------


class SystemOneNoulAnswer(SubscriptableModel):
    """A true/false answer: ``noul`` is the probability of true."""

    type: Literal["noul"] = "noul"
    noul: float


class SystemOneChoiceAnswer(SubscriptableModel):
    """A choice: the most probable option, every option's probability, and how strongly the model favours it."""

    type: Literal["choice"] = "choice"
    choice: str
    probabilities: dict[str, float]
    confidence: float


class SystemOneScoreAnswer(SubscriptableModel):
    """A score: the expected zero-based level (may be fractional), the levels' descriptions and probabilities."""

    type: Literal["score"] = "score"
    score: float
    legend: dict[str, str]
    probabilities: dict[str, float]
    confidence: float


SystemOneAnswer = Annotated[SystemOneNoulAnswer | SystemOneChoiceAnswer | SystemOneScoreAnswer,
                            Field(discriminator="type")]


class SystemOneUsage(SubscriptableModel):
    input_tokens: int = 0
    output_tokens: int = 0


class SystemOneResponse(SubscriptableModel):
    """What ``/v1/systemone`` answers (the official client's ``SystemOneResponse``)."""

    model: str = ""
    answers: dict[str, SystemOneAnswer] = Field(default_factory=dict)
    usage: SystemOneUsage = Field(default_factory=SystemOneUsage)


# --- model management -----------------------------------------------------------------------------------


class ModelDetails(SubscriptableModel):
    parent_model: str = ""
    format: str = ""
    family: str = ""
    families: list[str] | None = None
    parameter_size: str = ""
    quantization_level: str = ""


class ListModel(SubscriptableModel):
    name: str
    model: str
    modified_at: datetime
    size: int
    digest: str
    details: ModelDetails = Field(default_factory=ModelDetails)
    capabilities: list[str] | None = None


class ListResponse(SubscriptableModel):
    models: list[ListModel] = Field(default_factory=list)


class ShowResponse(SubscriptableModel):
    license: str | None = None
    modelfile: str | None = None
    parameters: str | None = None
    template: str | None = None
    system: str | None = None
    details: ModelDetails = Field(default_factory=ModelDetails)
    messages: list[Message] | None = None
    model_info: dict[str, Any] | None = Field(default=None, alias="model_info")
    projector_info: dict[str, Any] | None = None
    tensors: list[dict[str, Any]] | None = None
    capabilities: list[str] | None = None
    modified_at: datetime | None = None
    requires: str | None = None


class ProcessModel(SubscriptableModel):
    name: str
    model: str
    size: int
    digest: str
    details: ModelDetails = Field(default_factory=ModelDetails)
    expires_at: datetime | None = None
    size_vram: int = 0
    context_length: int | None = None
    slots_in_use: int | None = None
    num_parallel: int | None = None


class ProcessResponse(SubscriptableModel):
    models: list[ProcessModel] = Field(default_factory=list)


# --- store records --------------------------------------------------------------------------------------


class Layer(SubscriptableModel):
    """One entry of a manifest's ``layers`` (or its ``config``)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    mediaType: str
    digest: str
    size: int
    from_: str | None = Field(default=None, alias="from")
    name: str | None = None


class Manifest(SubscriptableModel):
    """A v2 image manifest as Ollama writes it; the store keeps the original bytes beside it."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    schemaVersion: int = 2
    mediaType: str = MEDIA_TYPE_MANIFEST
    config: Layer
    layers: list[Layer] = Field(default_factory=list)

    @property
    def size(self) -> int:
        """Total size of config and layers, as ``list`` reports it."""
        return self.config.size + sum(layer.size for layer in self.layers)

    def layers_of(self, media_type: str) -> list[Layer]:
        return [layer for layer in self.layers if layer.mediaType == media_type]

    def digests(self) -> set[str]:
        return {self.config.digest, *(layer.digest for layer in self.layers)}


class ModelConfig(SubscriptableModel):
    """The config blob (types/model/config.go ConfigV2)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    model_format: str = ""
    model_family: str = ""
    model_families: list[str] | None = None
    model_type: str = ""
    file_type: str = ""
    renderer: str | None = None
    parser: str | None = None
    requires: str | None = None
    capabilities: list[str] | None = None
    context_length: int | None = None
    embedding_length: int | None = None
    architecture: str = "amd64"
    os: str = "linux"
    rootfs: dict[str, Any] = Field(default_factory=lambda: {"type": "layers", "diff_ids": []})
