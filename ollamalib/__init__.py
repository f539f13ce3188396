"""ollamalib: Ollama as an importable Python library.

The public objects are re-exported here; everything else is an implementation detail. Importing this package
does not import llama.cpp, Litestar or uvicorn: the runner loads llama.cpp the first time a model is used.
"""

from .client import AsyncClient, Client
from .config import Settings
from .engine import AsyncEngine, Engine
from .errors import (
    BlobNotFoundError,
    CapabilityError,
    ContextLengthError,
    ContextOverflowError,
    ConversionError,
    DigestMismatchError,
    InvalidDigestError,
    InvalidFormatError,
    InvalidNameError,
    InvalidOptionError,
    ModelfileError,
    ModelNotFoundError,
    NoSpaceError,
    OllamalibError,
    RegistryError,
    RequestCancelledError,
    ResponseError,
    ServerBusyError,
    StoreError,
    TemplateError,
    UnauthorizedError,
    UnsupportedQuantizationError,
)
from .modelfile import Modelfile
from .names import Digest, ModelName
from .protocol import OllamaAPI
from .registry import Registry
from .store import ModelStore
from .template import Template
from .types import (
    ChatResponse,
    EmbeddingsResponse,
    EmbedResponse,
    GenerateResponse,
    ListResponse,
    Message,
    Options,
    ProcessResponse,
    ProgressResponse,
    RerankResponse,
    ShowResponse,
    StatusResponse,
    SystemOneResponse,
    Tool,
    ToolCall,
)

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "AsyncEngine",
    "BlobNotFoundError",
    "CapabilityError",
    "ChatResponse",
    "Client",
    "ContextLengthError",
    "ContextOverflowError",
    "ConversionError",
    "Digest",
    "DigestMismatchError",
    "EmbedResponse",
    "EmbeddingsResponse",
    "Engine",
    "GenerateResponse",
    "InvalidDigestError",
    "InvalidFormatError",
    "InvalidNameError",
    "InvalidOptionError",
    "ListResponse",
    "Message",
    "ModelName",
    "ModelNotFoundError",
    "ModelStore",
    "Modelfile",
    "ModelfileError",
    "NoSpaceError",
    "OllamaAPI",
    "OllamalibError",
    "Options",
    "ProcessResponse",
    "ProgressResponse",
    "Registry",
    "RegistryError",
    "RequestCancelledError",
    "RerankResponse",
    "ResponseError",
    "ServerBusyError",
    "Settings",
    "ShowResponse",
    "StatusResponse",
    "StoreError",
    "SystemOneResponse",
    "Template",
    "TemplateError",
    "Tool",
    "ToolCall",
    "UnauthorizedError",
    "UnsupportedQuantizationError",
    "__version__",
]
