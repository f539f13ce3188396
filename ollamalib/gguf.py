"""GGUF metadata and tensor facts for show, details and capabilities, read without loading the model.

Only the header is parsed (through a read-only memory map): key/values and tensor descriptors, never tensor data,
so a 250 MB model is read in a fraction of a second. The names follow Ollama (fs/ggml): file types use llama.cpp's
``LLAMA_FTYPE`` numbering, tensor types ggml's, ``parameter_count`` is the sum of tensor elements.
"""

from __future__ import annotations

import math
import mmap
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import OllamalibError, UnsupportedQuantizationError
from .types import ModelDetails

__all__ = [
    "DECISION_TEMPLATE_KEY",
    "FILE_TYPES",
    "QUANTIZATION_TYPES",
    "QUANTIZE_SOURCES",
    "TENSOR_TYPES",
    "GGUFError",
    "GGUFInfo",
    "TensorInfo",
    "human_number",
    "normalize_quantization",
]

GGUF_MAGIC = b"GGUF"

FILE_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 4: "MXFP4", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S",
    27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
    38: "MXFP4_MOE",
}
"""llama.cpp's ``llama_ftype`` values (``general.file_type``) with Ollama's names (4 is Ollama's MXFP4)."""

TENSOR_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K",
    12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S",
    20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64",
    29: "IQ1_M", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4",
}
"""ggml's ``ggml_type`` values (one per tensor) with their names."""

_SCALARS: dict[int, tuple[str, int]] = {
    0: ("B", 1), 1: ("b", 1), 2: ("H", 2), 3: ("h", 2), 4: ("I", 4), 5: ("i", 4), 6: ("f", 4), 7: ("?", 1),
    10: ("Q", 8), 11: ("q", 8), 12: ("d", 8),
}
_STRING, _ARRAY = 8, 9
_NUMPY = {0: "u1", 1: "i1", 2: "u2", 3: "i2", 4: "u4", 5: "i4", 6: "f4", 7: "?", 10: "u8", 11: "i8", 12: "f8"}

_HIDDEN_KEYS = ("general.name", "tokenizer.chat_template")
DECISION_TEMPLATE_KEY = "tokenizer.chat_template.systemone"


class GGUFError(OllamalibError, ValueError):
    """A file that is not a readable GGUF model."""

    status_code = 400


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One tensor descriptor: name, ggml type name, shape in GGUF order (innermost dimension first)."""

    name: str
    type: str
    shape: tuple[int, ...]
    type_id: int
    offset: int

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)

    def as_dict(self) -> dict[str, Any]:
        """The ``tensors`` entry of Ollama's show response."""
        return {"name": self.name, "type": self.type, "shape": list(self.shape)}


def human_number(n: int) -> str:
    """Ollama's ``format.HumanNumber``: 268098176 -> "268.10M", 8030261248 -> "8.0B", 1000000 -> "1M"."""
    for scale, suffix, decimals in ((1_000_000_000, "B", 1), (1_000_000, "M", 2)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f}{suffix}" if value == math.floor(value) else f"{value:.{decimals}f}{suffix}"
    if n >= 1000:
        return f"{n / 1000:.0f}K"
    return str(n)


@dataclass(frozen=True)
class GGUFInfo:
    """The header of a GGUF file: every key/value as Python values, and the tensor descriptors."""

    path: Path
    version: int
    metadata: dict[str, Any]
    tensors: list[TensorInfo] = field(repr=False)
    tensor_data_offset: int = 0

    @classmethod
    def read(cls, path: str | Path) -> GGUFInfo:
        """Parse the header of ``path``; raises GGUFError for a non-GGUF or truncated file."""
        path = Path(path)
        with open(path, "rb") as f:
            if f.read(4) != GGUF_MAGIC:
                raise GGUFError("invalid file magic")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                try:
                    return _Parser(mm, path).parse()
                except (struct.error, ValueError, IndexError) as e:
                    if isinstance(e, GGUFError):
                        raise
                    raise GGUFError(f"invalid GGUF file {path.name}: {e}") from e
                except (RecursionError, MemoryError, OverflowError):
                    raise GGUFError(f"invalid GGUF file {path.name}: metadata arrays nested too deep") from None

    def check_tensor_data(self) -> None:
        """Raise GGUFError unless every tensor's data lies inside the file (a truncated or corrupt model).

        ``read`` parses the header only; create calls this too, so a model that llama.cpp cannot load is refused
        with a clear cause instead of failing at its first run.
        """
        from gguf.constants import GGML_QUANT_SIZES

        size = self.path.stat().st_size
        sizes = {int(k): v for k, v in GGML_QUANT_SIZES.items()}
        for t in self.tensors:
            block = sizes.get(t.type_id)
            if block is None:  # a type newer than the gguf package: llama.cpp judges it at load
                continue
            elements, nbytes = block
            if t.n_elements % elements:
                raise GGUFError(f"invalid GGUF file {self.path.name}: tensor {t.name!r} has a shape its type "
                                f"{t.type} cannot hold")
            end = self.tensor_data_offset + t.offset + t.n_elements // elements * nbytes
            if end > size:
                raise GGUFError(
                    f"invalid GGUF file {self.path.name}: tensor {t.name!r} runs past the end of the file "
                    f"(needs {end} bytes, the file has {size}); the file is truncated or corrupt"
                )

    # --- plain facts ------------------------------------------------------------------------------------

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    @property
    def kind(self) -> str:
        """``general.type``: "model", "adapter", "projector", "mmproj"... ("unknown" when absent)."""
        return str(self.metadata.get("general.type", "unknown"))

    def arch_value(self, key: str, default: Any = None) -> Any:
        """``<architecture>.<key>``, as Ollama's ``KV`` getters read it."""
        return self.metadata.get(f"{self.architecture}.{key}", default)

    @property
    def parameter_count(self) -> int:
        """Sum of tensor elements (what Ollama reports), or ``general.parameter_count`` without tensors."""
        if self.tensors:
            return sum(t.n_elements for t in self.tensors)
        return int(self.metadata.get("general.parameter_count", 0))

    @property
    def context_length(self) -> int | None:
        value = self.arch_value("context_length")
        return int(value) if value is not None else None

    @property
    def embedding_length(self) -> int | None:
        value = self.arch_value("embedding_length")
        return int(value) if value is not None else None

    @property
    def block_count(self) -> int:
        return int(self.arch_value("block_count", 0) or 0)

    @property
    def file_type(self) -> str:
        """Ollama's name for ``general.file_type`` ("F16", "Q4_K_M"...), "unknown" when absent or unnamed."""
        value = self.metadata.get("general.file_type")
        return FILE_TYPES.get(int(value), "unknown") if isinstance(value, int) else "unknown"

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) and value else None

    @property
    def decision_template(self) -> str | None:
        """A decision model's own prompt format for ``/v1/systemone``: the GGUF's named chat template
        ``tokenizer.chat_template.systemone`` (rendered with the question's messages instead of the chat one)."""
        value = self.metadata.get(DECISION_TEMPLATE_KEY)
        return value if isinstance(value, str) and value else None

    @property
    def is_decision(self) -> bool:
        """Whether the GGUF declares a decision (System One) model: ``<arch>.decision.type`` or its own template."""
        return not self.is_embedding and (self.decision_template is not None
                                          or self.arch_value("decision.type") is not None)

    @property
    def pooling_type(self) -> int | None:
        """``<arch>.pooling_type`` (0 none, 1 mean, 2 cls, 3 last, 4 rank); its presence makes an embedding model."""
        value = self.arch_value("pooling_type")
        return int(value) if value is not None else None

    @property
    def is_embedding(self) -> bool:
        return self.pooling_type is not None

    @property
    def has_vision(self) -> bool:
        return self.arch_value("vision.block_count") is not None

    @property
    def is_adapter(self) -> bool:
        return self.kind == "adapter"

    @property
    def is_projector(self) -> bool:
        """A standalone vision projector, by Ollama's rule (create.go): no text blocks but vision blocks."""
        vision_blocks = self.arch_value("vision.block_count", 0)
        return self.kind == "projector" or (self.block_count == 0 and bool(vision_blocks))

    @property
    def tokens(self) -> list[str]:
        value = self.metadata.get("tokenizer.ggml.tokens")
        return value if isinstance(value, list) else []

    def _token(self, key: str) -> str | None:
        token_id = self.metadata.get(key)
        tokens = self.tokens
        if isinstance(token_id, int) and 0 <= token_id < len(tokens):
            return tokens[token_id]
        return None

    @property
    def bos_token_id(self) -> int | None:
        return self.metadata.get("tokenizer.ggml.bos_token_id")

    @property
    def eos_token_id(self) -> int | None:
        return self.metadata.get("tokenizer.ggml.eos_token_id")

    @property
    def bos_token(self) -> str | None:
        return self._token("tokenizer.ggml.bos_token_id")

    @property
    def eos_token(self) -> str | None:
        return self._token("tokenizer.ggml.eos_token_id")

    # --- Ollama views -----------------------------------------------------------------------------------

    def model_info(self, verbose: bool = False) -> dict[str, Any]:
        """Ollama's show ``model_info``: all key/values but the name and chat template, keys sorted.

        ``general.parameter_count`` is the tensor element sum (Ollama patches it in); arrays longer than five
        become ``[]`` unless ``verbose``.
        """
        info = {k: v for k, v in self.metadata.items() if k not in _HIDDEN_KEYS}
        info["general.parameter_count"] = self.parameter_count
        if not verbose:
            info = {k: ([] if isinstance(v, list) and len(v) > 5 else v) for k, v in info.items()}
        return dict(sorted(info.items()))

    def tensor_summaries(self) -> list[dict[str, Any]]:
        """Ollama's show ``tensors`` list."""
        return [t.as_dict() for t in self.tensors]

    def details(self, parent_model: str = "") -> ModelDetails:
        """Ollama's ``details`` for a model whose weights are this file."""
        arch = self.architecture
        return ModelDetails(
            parent_model=parent_model,
            format="gguf",
            family=arch,
            families=[arch],
            parameter_size=human_number(self.parameter_count),
            quantization_level=self.file_type,
        )

    def capabilities(self, template_hints: Iterable[str] = frozenset(), *, has_projector: bool = False) -> list[str]:
        """Capabilities in Ollama's order (server/images.go): completion or embedding, vision, then template ones.

        ``template_hints`` are what the prompt template supports ("tools", "insert", "thinking").
        """
        hints = set(template_hints)
        caps = ["embedding" if self.is_embedding else "completion"]
        if self.has_vision:
            caps.append("vision")
        caps += [c for c in ("tools", "insert") if c in hints]
        if has_projector and "vision" not in caps:
            caps.append("vision")
        if "thinking" in hints:
            caps.append("thinking")
        if self.is_decision:
            caps.append("decision")
        return caps


class _Parser:
    """A cursor over the memory-mapped header."""

    def __init__(self, buf: mmap.mmap, path: Path) -> None:
        self.buf = buf
        self.path = path
        self.pos = 4
        self.order = "<"

    def _unpack(self, fmt: str, size: int) -> Any:
        (value,) = struct.unpack_from(self.order + fmt, self.buf, self.pos)
        self.pos += size
        return value

    def _string(self) -> str:
        n = self._unpack("Q", 8)
        if self.pos + n > len(self.buf):
            raise GGUFError(f"invalid GGUF file {self.path.name}: string runs past the end of the file")
        s = self.buf[self.pos : self.pos + n].decode("utf-8", errors="replace")
        self.pos += n
        return s

    def _value(self, vtype: int) -> Any:
        if vtype == _STRING:
            return self._string()
        if vtype == _ARRAY:
            return self._array()
        try:
            fmt, size = _SCALARS[vtype]
        except KeyError:
            raise GGUFError(f"invalid GGUF file {self.path.name}: unknown value type {vtype}") from None
        value = self._unpack(fmt, size)
        if vtype == 6:  # float32: the shortest decimal that round-trips, as Go prints a float32
            value = _short_float32(value) if math.isfinite(value) else value
        return value

    def _array(self) -> list[Any]:
        etype = self._unpack("I", 4)
        n = self._unpack("Q", 8)
        if etype in _NUMPY:
            import numpy as np

            dtype = np.dtype(_NUMPY[etype]).newbyteorder(self.order)
            end = self.pos + n * dtype.itemsize
            if end > len(self.buf):
                raise GGUFError(f"invalid GGUF file {self.path.name}: array runs past the end of the file")
            values = np.frombuffer(self.buf, dtype=dtype, count=n, offset=self.pos).tolist()
            self.pos = end
            return values
        if etype == _STRING:
            return self._strings(n)
        return [self._value(etype) for _ in range(n)]

    def _strings(self, n: int) -> list[str]:
        buf, pos, out = self.buf, self.pos, []
        unpack = struct.Struct(self.order + "Q").unpack_from
        append = out.append
        for _ in range(n):
            (length,) = unpack(buf, pos)
            pos += 8
            append(buf[pos : pos + length].decode("utf-8", errors="replace"))
            pos += length
        if pos > len(buf):
            raise GGUFError(f"invalid GGUF file {self.path.name}: array runs past the end of the file")
        self.pos = pos
        return out

    def parse(self) -> GGUFInfo:
        version = self._unpack("I", 4)
        if version & 0xFFFF == 0:  # written big-endian
            self.order = ">"
            version = struct.unpack(">I", struct.pack("<I", version))[0]
        if version not in (2, 3):
            raise GGUFError(f"unsupported GGUF version {version}")
        n_tensors = self._unpack("Q", 8)
        n_kv = self._unpack("Q", 8)
        metadata: dict[str, Any] = {}
        for _ in range(n_kv):
            key = self._string()
            metadata[key] = self._value(self._unpack("I", 4))
        tensors = []
        for _ in range(n_tensors):
            name = self._string()
            n_dims = self._unpack("I", 4)
            shape = struct.unpack_from(f"{self.order}{n_dims}Q", self.buf, self.pos)
            self.pos += 8 * n_dims
            type_id = self._unpack("I", 4)
            offset = self._unpack("Q", 8)
            tensors.append(TensorInfo(name, TENSOR_TYPES.get(type_id, "unknown"), tuple(shape), type_id, offset))
        alignment = metadata.get("general.alignment", 32)
        alignment = alignment if isinstance(alignment, int) and alignment > 0 else 32
        data_offset = -(-self.pos // alignment) * alignment
        return GGUFInfo(self.path, version, metadata, tensors, data_offset)


def _short_float32(value: float) -> float:
    """The shortest decimal that reads back as the same float32 (9.99999997e-07 -> 1e-06)."""
    packed = struct.pack("<f", value)
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack("<f", candidate) == packed:
            return candidate
    return value


# --- quantization types Ollama accepts (fs/ggml/type.go); the runner does the quantizing ---------------

QUANTIZATION_TYPES: dict[str, int] = {"F32": 0, "F16": 1, "Q8_0": 7, "Q4_K_S": 14, "Q4_K_M": 15, "BF16": 32}
"""Target names Ollama accepts, with their llama.cpp ``llama_ftype``."""

QUANTIZE_SOURCES = ("F16", "BF16", "F32")

_QUANT_ALIASES = {"Q4_K": "Q4_K_M"}
_SUPPORTED_QUANTIZATIONS = "F32, F16, Q4_K_S, Q4_K_M, Q8_0"


def normalize_quantization(qtype: str) -> str:
    """The canonical name of a quantization type ("q4_k_m" -> "Q4_K_M"), with Ollama's error for others."""
    name = qtype.upper()
    name = _QUANT_ALIASES.get(name, name)
    if name not in QUANTIZATION_TYPES:
        raise UnsupportedQuantizationError(
            f"unsupported quantization type {qtype.upper()} - supported types are {_SUPPORTED_QUANTIZATIONS}"
        )
    return name
