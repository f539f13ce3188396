"""Model options: Ollama's option table and defaults, typing of PARAMETER strings and request ``options``.

Mirrors api/types.go (``Options``, ``DefaultOptions``, ``FormatParams``, ``Options.FromMap``) and the
``parameters`` text of ``/api/show`` (routes.go), including Go's number and string formatting, so values,
error texts and printed forms match Ollama's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from ._go.fmt import sprintf
from ._go.json import decoded, go_json
from ._go.strconv import go_quote, parse_bool, parse_float32, parse_int64
from .config import CONTEXT_OVERFLOW_POLICIES
from .errors import InvalidOptionError

__all__ = [
    "DEFAULT_OPTIONS",
    "DEPRECATED_OPTIONS",
    "DEPRECATED_PARAMETERS",
    "OPTIONS",
    "RUNNER_OPTIONS",
    "OptionSpec",
    "default_options",
    "format_parameters",
    "format_params",
    "merge_options",
    "params_json",
    "validate_options",
]

log = logging.getLogger(__name__)

OptionKind = Literal["int", "float", "bool", "list", "str"]


@dataclass(frozen=True)
class OptionSpec:
    """One option: its JSON name, Go kind, code default (None = unset) and whether it is fixed at load time.

    A ``str`` option (an ollamalib extension; Ollama has none) takes one of ``choices``; a ``list`` option with a
    ``count`` takes exactly that many non-empty strings (checked where a whole list is known: request ``options``
    and create's parameters, not each PARAMETER line)."""

    name: str
    kind: OptionKind
    default: Any
    runner: bool
    description: str
    choices: tuple[str, ...] = ()
    count: int | None = None


_SPECS = (
    OptionSpec("num_ctx", "int", None, True, "context window in tokens; default from OLLAMA_CONTEXT_LENGTH/VRAM"),
    OptionSpec("num_batch", "int", 512, True, "prompt tokens processed per batch"),
    OptionSpec("num_gpu", "int", -1, True, "layers offloaded to the GPU; -1 automatic, 0 CPU only"),
    OptionSpec("main_gpu", "int", None, True, "GPU used for small tensors"),
    OptionSpec("use_mmap", "bool", None, True, "memory-map the model file; unset means automatic"),
    OptionSpec("num_thread", "int", 0, True, "CPU threads; 0 lets the runtime decide"),
    OptionSpec("draft_num_predict", "int", None, True, "tokens a draft model proposes per step (4 with a draft)"),
    OptionSpec("num_keep", "int", 4, False, "prompt tokens kept when the context shifts"),
    OptionSpec("seed", "int", -1, False, "random seed; -1 picks a random one"),
    OptionSpec("num_predict", "int", -1, False, "maximum tokens to generate; -1 until a stop condition"),
    OptionSpec("top_k", "int", 40, False, "sample from the k most likely tokens"),
    OptionSpec("top_p", "float", 0.9, False, "nucleus sampling threshold"),
    OptionSpec("min_p", "float", 0.0, False, "minimum probability relative to the most likely token"),
    OptionSpec("typical_p", "float", 1.0, False, "locally typical sampling; 1.0 disables"),
    OptionSpec("repeat_last_n", "int", 64, False, "tokens looked back for repeat penalties; 0 off, -1 num_ctx"),
    OptionSpec("temperature", "float", 0.8, False, "sampling temperature"),
    OptionSpec("repeat_penalty", "float", 1.0, False, "penalty for repeated tokens"),
    OptionSpec("presence_penalty", "float", 0.0, False, "penalty for tokens already present"),
    OptionSpec("frequency_penalty", "float", 0.0, False, "penalty scaled by token frequency"),
    OptionSpec("stop", "list", None, False, "stop sequences (a list; repeat PARAMETER stop to add more)"),
    OptionSpec("context_overflow", "str", None, False,
               "a prompt longer than num_ctx: truncate (reported) or error (400); ollamalib extension",
               CONTEXT_OVERFLOW_POLICIES),
    OptionSpec("draft_ngram", "int", None, False,
               "speculative decoding by n-gram prompt lookup with n-grams of up to this many tokens; 0 off"),
    OptionSpec("rerank_answer", "list", None, False,
               "a generative reranker's two answers, the yes word then the no word (repeat PARAMETER rerank_answer)",
               count=2),
)

OPTIONS: Mapping[str, OptionSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})
"""Every option Ollama accepts, by JSON name, in api/types.go order, then ollamalib's own (``context_overflow``,
``draft_ngram``, ``rerank_answer``)."""

RUNNER_OPTIONS: frozenset[str] = frozenset(spec.name for spec in _SPECS if spec.runner)
"""Options fixed when a model is loaded; changing one means reloading the runner."""

DEFAULT_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {spec.name: spec.default for spec in _SPECS if spec.default is not None}
)
"""Ollama's code defaults for the options that have one (num_ctx depends on settings: see default_options)."""

DEPRECATED_PARAMETERS: tuple[str, ...] = (
    "penalize_newline",
    "low_vram",
    "f16_kv",
    "logits_all",
    "vocab_only",
    "use_mlock",
    "mirostat",
    "mirostat_tau",
    "mirostat_eta",
)
"""PARAMETER names Ollama's Modelfile parser ignores with ``warning: parameter X is deprecated``."""

DEPRECATED_OPTIONS: tuple[str, ...] = (*DEPRECATED_PARAMETERS, "numa")
"""Option names Ollama no longer has; in request ``options`` they are ignored with a warning."""


def default_options(num_ctx: int, *, has_draft: bool = False) -> dict[str, Any]:
    """Ollama's DefaultOptions with ``num_ctx`` from settings; ``draft_num_predict`` is 4 with a draft, else 0."""
    opts = dict(DEFAULT_OPTIONS)
    opts["num_ctx"] = num_ctx
    opts["draft_num_predict"] = 4 if has_draft else 0
    return opts


# --- FormatParams: PARAMETER strings -> typed values ------------------------------------------------------


def format_params(params: Mapping[str, Sequence[str] | str]) -> dict[str, Any]:
    """Type Modelfile / ``/set parameter`` strings the way Ollama's FormatParams does.

    Each key maps to its string values (a plain string counts as one). ``stop`` keeps all values as a list;
    other options parse the first value. Deprecated names are skipped with a logged warning. Raises
    InvalidOptionError with Ollama's texts: ``unknown parameter 'X'``, ``invalid int value [x]``,
    ``invalid float value [x]``, ``invalid bool value [x]``.
    """
    out: dict[str, Any] = {}
    for key, raw in params.items():
        vals = [raw] if isinstance(raw, str) else [str(v) for v in raw]
        if key in DEPRECATED_PARAMETERS:
            log.warning("parameter %s is deprecated", key)
            continue
        spec = OPTIONS.get(key)
        if spec is None:
            raise InvalidOptionError(f"unknown parameter '{key}'")
        shown = "[" + " ".join(vals) + "]"
        first = vals[0] if vals else ""
        if spec.kind == "list":
            out[key] = list(vals)
        elif spec.kind == "str":
            out[key] = _choice(spec, first)
        elif spec.kind == "int":
            value = parse_int64(first)
            if value is None:
                raise InvalidOptionError(f"invalid int value {shown}")
            out[key] = value
        elif spec.kind == "float":
            fvalue = parse_float32(first)
            if fvalue is None:
                raise InvalidOptionError(f"invalid float value {shown}")
            out[key] = fvalue
        else:
            bvalue = parse_bool(first)
            if bvalue is None:
                raise InvalidOptionError(f"invalid bool value {shown}")
            out[key] = bvalue
    return out


# --- Options.FromMap: request options -> checked values ---------------------------------------------------

_KIND_NAMES = {"int": "integer", "float": "float32", "bool": "boolean", "list": "array", "str": "string"}


def validate_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check request ``options`` the way Ollama's Options.FromMap does and return the cleaned values.

    Unknown keys are dropped with a logged warning, ``None`` values are skipped. Numbers are accepted for
    both integer and float options (a float for an integer option is truncated, as Go does). A wrong type
    raises InvalidOptionError(``option "X" must be of type integer|float32|boolean|array``).
    """
    out: dict[str, Any] = {}
    for key, val in (options or {}).items():
        spec = OPTIONS.get(key)
        if spec is None:
            if key in DEPRECATED_OPTIONS:
                log.warning("invalid option provided: option %s is deprecated", key)
            else:
                log.warning("invalid option provided: option %s", key)
            continue
        if val is None:
            continue
        out[key] = _check_option(spec, val)
    return out


def _check_option(spec: OptionSpec, val: Any) -> Any:
    err = InvalidOptionError(f"option {go_quote(spec.name)} must be of type {_KIND_NAMES[spec.kind]}")
    is_number = isinstance(val, (int, float)) and not isinstance(val, bool)
    if spec.kind == "int":
        if not is_number or (isinstance(val, float) and not math.isfinite(val)):
            raise err
        return int(val)
    if spec.kind == "float":
        if not is_number:
            raise err
        return float(val)
    if spec.kind == "bool":
        if not isinstance(val, bool):
            raise err
        return val
    if spec.kind == "str":
        if not isinstance(val, str):
            raise err
        return _choice(spec, val)
    if not isinstance(val, (list, tuple)):
        raise err
    if not all(isinstance(item, str) for item in val):
        raise InvalidOptionError(f"option {go_quote(spec.name)} must be of an array of strings")
    if spec.count is not None:
        _check_count(spec, val)
    return list(val)


def _check_count(spec: OptionSpec, values: Sequence[str]) -> None:
    """A counted list option (``rerank_answer``): exactly ``count`` non-empty strings, else a 400 saying so."""
    if len(values) != spec.count:
        raise InvalidOptionError(f"{spec.name} takes exactly {spec.count} values, got {len(values)}",
                                 status_code=400)
    if not all(values):
        raise InvalidOptionError(f"{spec.name} values must not be empty", status_code=400)


def _choice(spec: OptionSpec, value: str) -> str:
    """A ``str`` option's value, one of its choices (case-insensitive), else a 400 naming them."""
    if value.lower() in spec.choices:
        return value.lower()
    allowed = " or ".join(go_quote(c) for c in spec.choices)
    raise InvalidOptionError(f"invalid {spec.name} value: {go_quote(value)} (must be {allowed})", status_code=400)


def merge_options(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge option layers (defaults, Modelfile parameters, request options); later layers win.

    ``None`` layers and ``None`` values are skipped; lists (``stop``) are replaced, not concatenated.
    """
    out: dict[str, Any] = {}
    for layer in layers:
        if not layer:
            continue
        for key, val in layer.items():
            if val is not None:
                out[key] = list(val) if isinstance(val, (list, tuple)) else val
    return out


# --- printed forms -----------------------------------------------------------------------------------------


def format_parameters(params: Mapping[str, Any] | None) -> str:
    """The ``parameters`` text of ``/api/show``: ``%-30s %#v`` per option, one line per list value.

    Values print as Go prints the JSON-decoded params layer: numbers as float64 (``0.7``, ``1``,
    ``1e+06``), strings quoted (``"<|im_end|>"``), booleans ``true``/``false``.
    """
    lines = []
    for key, val in (params or {}).items():
        for item in val if isinstance(val, (list, tuple)) else [val]:
            lines.append(f"{key:<30} {sprintf('%#v', [decoded(item)])}")
    return "\n".join(lines)


def params_json(params: Mapping[str, Any]) -> bytes:
    """The params layer blob exactly as Ollama writes it (Go json.Encoder: sorted keys, HTML-escaped, newline)."""
    return (go_json(decoded(dict(params))) + "\n").encode()
