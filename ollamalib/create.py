"""create: build a model in the store from a Modelfile or the equivalent arguments, as Ollama's /api/create.

The base comes from ``from_`` (an existing model name, a ``sha256:`` blob digest or a GGUF path) or from
``files`` (file name -> blob digest); template, system, parameters, messages, license and adapters become
layers with Ollama's media types; a config blob and the manifest finish it. Progress events carry Ollama's
status texts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import convert
from .errors import BlobNotFoundError, ConversionError, ModelfileError, ModelNotFoundError, UnsupportedQuantizationError
from .gguf import QUANTIZE_SOURCES, GGUFInfo, normalize_quantization
from .modelfile import Modelfile, files_for_model
from .names import Digest, ModelName
from .options import params_json, validate_options
from .requests import CreateRequest
from .store import Claim, ModelStore
from .types import (
    MEDIA_TYPE_ADAPTER,
    MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_DRAFT,
    MEDIA_TYPE_LICENSE,
    MEDIA_TYPE_MANIFEST,
    MEDIA_TYPE_MESSAGES,
    MEDIA_TYPE_MODEL,
    MEDIA_TYPE_PARAMS,
    MEDIA_TYPE_PROJECTOR,
    MEDIA_TYPE_PROMPT,
    MEDIA_TYPE_SYSTEM,
    MEDIA_TYPE_TEMPLATE,
    Layer,
    Manifest,
    Message,
    ModelConfig,
    ProgressResponse,
)

__all__ = ["create_from_modelfile", "create_from_request", "create_model"]

_REPLACED_BY_NEW = {
    "template": (MEDIA_TYPE_TEMPLATE, MEDIA_TYPE_PROMPT),
    "system": (MEDIA_TYPE_SYSTEM,),
    "messages": (MEDIA_TYPE_MESSAGES,),
    "license": (MEDIA_TYPE_LICENSE,),
    "adapters": (MEDIA_TYPE_ADAPTER,),
    "draft": (MEDIA_TYPE_DRAFT,),
}
Quantizer = Callable[[Path, Path, str], object]
"""Writes GGUF ``src`` quantized to a type into ``dst``: the runner's ``quantize`` (create never imports it)."""


def create_model(
    store: ModelStore,
    name: str | ModelName,
    *,
    from_: str | ModelName | None = None,
    files: Mapping[str, str] | None = None,
    adapters: Mapping[str, str] | None = None,
    draft_files: Mapping[str, str] | None = None,
    draft: str | ModelName | None = None,
    template: str | None = None,
    system: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    messages: Sequence[Message | Mapping[str, Any]] | None = None,
    license: str | Sequence[str] | None = None,
    requires: str | None = None,
    quantize: str | None = None,
    templates_dir: str | Path | None = None,
    quantizer: Quantizer | None = None,
    claim: Claim | None = None,
) -> Iterator[ProgressResponse]:
    """Create ``name`` and yield progress; the manifest is written only after every layer is stored.

    A string ``from_`` may be a digest, a local GGUF path or a model name; a ``ModelName`` is only ever a name
    (the server passes one, so a client's ``from`` can never make it read a file).

    ``quantize`` names a target type; ``quantizer`` (the runner's ``quantize``) does the work.

    ``draft_files`` (file name -> blob digest of one GGUF) becomes the draft layer: a smaller model with the same
    vocabulary that the runner uses for speculative decoding. ``draft`` names a model in the store instead
    (Modelfile ``DRAFT <model>``): its GGUF blob becomes the draft layer.

    Every blob the model uses is claimed (in ``claim`` when given, else in a claim of its own) before it is
    checked or written, so a delete running at the same time cannot free it before the manifest exists.
    """
    if claim is None:
        with store.claim() as own:
            yield from create_model(
                store, name, from_=from_, files=files, adapters=adapters, draft_files=draft_files, draft=draft,
                template=template,
                system=system,
                parameters=parameters, messages=messages, license=license, requires=requires, quantize=quantize,
                templates_dir=templates_dir, quantizer=quantizer, claim=own,
            )
        return
    target = ModelName.parse(name)
    seen: set[str] = set()  # digests of layers whose blobs were already in the store
    fresh: set[str] = set()  # digests this call stored from a local folder (removed again if conversion fails)
    if not from_ and not files:
        raise ModelfileError("neither 'from' or 'files' was specified")
    local = isinstance(from_, str) and not files and not Digest.is_valid(from_)  # a ModelName is never a path
    folder = Path(os.path.expanduser(from_)) if local and isinstance(from_, str) else None
    if folder is not None and os.path.isdir(folder):  # os.path: False (not OSError) for a name too long for a path
        files, from_ = _store_folder(store, folder, fresh), None
    base_layers: list[Layer] = []
    config = ModelConfig()
    new_gguf: Path | None = None
    if files:
        model_layers: list[Layer] = []
        for filename, digest in files.items():
            _check_relative(filename)
            blob = _blob_layer(store, digest, MEDIA_TYPE_MODEL, seen, claim)
            model_layers.append(blob)
        if convert.is_safetensors_set(files):
            yield ProgressResponse(status="converting model")
            model_layers = [_converted_model(store, files, fresh, claim)]
        yield ProgressResponse(status="parsing GGUF")
        infos = [(layer, _read_gguf(store.blob_path(layer.digest))) for layer in model_layers]
        for layer, info in infos:
            if info.is_projector:
                layer.mediaType = MEDIA_TYPE_PROJECTOR
        base_layers = [layer for layer, _ in infos]
        main = next(((layer, info) for layer, info in infos if not info.is_projector), infos[0])
        new_gguf = store.blob_path(main[0].digest)
        config = _config_from_gguf(main[1])
    else:
        assert from_ is not None
        if isinstance(from_, str) and Digest.is_valid(from_):
            yield ProgressResponse(status="parsing GGUF")
            layer = _blob_layer(store, from_, MEDIA_TYPE_MODEL, seen, claim)
            base_layers = [layer]
            new_gguf = store.blob_path(layer.digest)
            config = _config_from_gguf(_read_gguf(new_gguf))
        else:
            # unlike Path's, os.path leaves "~nobody" as it is and says False for a name too long to be a path
            path = Path(os.path.expanduser(from_)) if isinstance(from_, str) else None
            if path is not None and os.path.isfile(path):
                yield ProgressResponse(status="parsing GGUF")
                _read_gguf(path)  # a GGUF, checked before any byte of it is copied into the store
                digest = store.put_blob_file(path, claim=claim)
                layer = Layer(mediaType=MEDIA_TYPE_MODEL, digest=str(digest), size=store.blob_size(digest))
                base_layers = [layer]
                new_gguf = store.blob_path(digest)
                config = _config_from_gguf(_read_gguf(new_gguf))
            else:
                base = store.claim_model(from_, claim)
                base_name = base.name.display_shortest
                config = store.config(base)
                seen.update(layer.digest for layer in base.manifest.layers)
                for layer in base.manifest.layers:
                    copy = layer.model_copy()
                    if copy.mediaType in (MEDIA_TYPE_MODEL, MEDIA_TYPE_PROJECTOR, MEDIA_TYPE_ADAPTER) and not copy.from_:
                        copy.from_ = base_name
                    base_layers.append(copy)

    if quantize:
        base_layers, config = yield from _quantize(store, base_layers, config, quantize, quantizer, claim)
        new_gguf = None

    layers = list(base_layers)

    def replace(kind: str, new: list[Layer]) -> None:
        nonlocal layers
        drop = _REPLACED_BY_NEW[kind]
        layers = [layer for layer in layers if layer.mediaType not in drop] + new

    params: dict[str, Any] | None = None
    if template is None and new_gguf is not None and templates_dir is not None:
        named = _autodetect_template(new_gguf, templates_dir)
        if named is not None:
            yield ProgressResponse(status=f"using autodetected template {named.name}")
            template = named.template
            params = dict(named.parameters or {})
    if template is not None:
        replace("template", [_text_layer(store, template, MEDIA_TYPE_TEMPLATE, seen, claim)])
    if system is not None:
        replace("system", [_text_layer(store, system, MEDIA_TYPE_SYSTEM, seen, claim)])
    if adapters:
        adapter_layers = []
        for filename, digest in adapters.items():
            _check_relative(filename)
            adapter_layers.append(_blob_layer(store, digest, MEDIA_TYPE_ADAPTER, seen, claim))
        if convert.is_adapter_set(adapters):
            yield ProgressResponse(status="converting adapter")
            adapter_layers = [_converted_adapter(store, adapters, layers, claim)]
        replace("adapters", adapter_layers)
    if draft_files or draft:
        if draft and draft_files or len(draft_files or ()) > 1:
            raise ModelfileError("a draft model must be a single GGUF file")
        if draft:
            layer = _model_gguf_layer(store, draft, claim)
            seen.add(layer.digest)
        else:
            assert draft_files is not None
            ((filename, digest),) = draft_files.items()
            _check_relative(filename)
            layer = _blob_layer(store, digest, MEDIA_TYPE_DRAFT, seen, claim)
        _read_gguf(store.blob_path(layer.digest))  # a GGUF with all its tensor data, checked now, not at load
        replace("draft", [layer])
    if license is not None:
        texts = [license] if isinstance(license, str) else list(license)
        replace("license", [_text_layer(store, t, MEDIA_TYPE_LICENSE, seen, claim) for t in texts])
    if messages is not None:
        msgs = [m if isinstance(m, Message) else Message.model_validate(m) for m in messages]
        body = json.dumps([m.model_dump(mode="json", exclude_none=True) for m in msgs], separators=(",", ":"))
        replace("messages", [_text_layer(store, body, MEDIA_TYPE_MESSAGES, seen, claim)])
    if parameters or params:
        merged: dict[str, Any] = {}
        old = next((layer for layer in layers if layer.mediaType == MEDIA_TYPE_PARAMS), None)
        if old is not None:
            merged.update(json.loads(store.read_blob(old.digest) or b"{}"))
        merged.update(params or {})
        merged.update(validate_options(dict(parameters or {})))
        layers = [layer for layer in layers if layer.mediaType != MEDIA_TYPE_PARAMS]
        layers.append(_text_layer(store, params_json(merged).decode(), MEDIA_TYPE_PARAMS, seen, claim))
    if requires is not None:
        config.requires = requires

    for layer in layers:
        status = "using existing layer" if layer.digest in seen else "creating new layer"
        yield ProgressResponse(status=f"{status} {layer.digest}")

    config_raw = json.dumps(config.model_dump(mode="json", exclude_none=True), separators=(",", ":")).encode()
    config_digest = store.put_blob(config_raw, claim=claim)
    manifest = Manifest(
        config=Layer(mediaType=MEDIA_TYPE_CONFIG, digest=str(config_digest), size=len(config_raw)),
        layers=layers,
        mediaType=MEDIA_TYPE_MANIFEST,
    )
    yield ProgressResponse(status="writing manifest")
    store.put_manifest(target, manifest)
    yield ProgressResponse(status="success")


def _model_gguf_layer(store: ModelStore, name: str | ModelName, claim: Claim) -> Layer:
    """The draft layer for a model in the store: its one GGUF weights blob, shared, not copied. An unknown model
    raises ModelNotFoundError; one whose weights are not a single GGUF (tensor layers, or a projector beside
    them) cannot be a draft."""
    stored = store.claim_model(name, claim)
    kinds = {layer.mediaType for layer in stored.manifest.layers}
    weights = [layer for layer in stored.manifest.layers if layer.mediaType == MEDIA_TYPE_MODEL]
    if len(weights) != 1 or MEDIA_TYPE_PROJECTOR in kinds:
        raise ModelfileError("a draft model must be a single GGUF file")
    return Layer(mediaType=MEDIA_TYPE_DRAFT, digest=weights[0].digest, size=weights[0].size)


def _store_folder(store: ModelStore, folder: Path, fresh: set[str]) -> dict[str, str]:
    """Store a local model folder's files as blobs (after checking a safetensors folder will convert).

    The digests it adds to the store go into ``fresh``, so that a failed conversion can take them out again.
    """
    paths = files_for_model(folder)
    if convert.is_safetensors_set(p.name for p in paths):
        convert.check_model_dir(folder)
    before = {p.name for p in store.iter_blobs()}
    files: dict[str, str] = {}
    for path in paths:
        digest = store.put_blob_file(path)
        if digest.filename not in before:
            fresh.add(str(digest))
        files[path.relative_to(folder.resolve()).as_posix()] = str(digest)
    return files


def _converted_model(store: ModelStore, files: Mapping[str, str], fresh: set[str], claim: Claim) -> Layer:
    """Convert a safetensors ``files`` map (name -> blob digest) into a GGUF model layer."""
    with store.temp_dir() as tmp:
        staged = convert.stage_files({n: store.blob_path(d) for n, d in files.items()}, tmp / "model")
        try:
            out = convert.convert_model(staged, tmp / "model.gguf")
        except ConversionError:
            store.remove_unused_layers(fresh, claim=claim)  # its own claim does not keep them
            raise
        digest = store.move_blob_file(out, claim=claim)
    return Layer(mediaType=MEDIA_TYPE_MODEL, digest=str(digest), size=store.blob_size(digest))


def _converted_adapter(
    store: ModelStore, adapters: Mapping[str, str], layers: Sequence[Layer], claim: Claim
) -> Layer:
    """Convert a PEFT adapter ``adapters`` map into a LoRA GGUF layer for the model among ``layers``."""
    base = next((layer for layer in layers if layer.mediaType == MEDIA_TYPE_MODEL), None)
    if base is None:
        raise ConversionError("a safetensors adapter needs a base model to convert against")
    with store.temp_dir() as tmp:
        staged = convert.stage_files({n: store.blob_path(d) for n, d in adapters.items()}, tmp / "adapter")
        out = convert.convert_adapter(staged, store.blob_path(base.digest), tmp / "adapter.gguf")
        digest = store.move_blob_file(out, claim=claim)
    return Layer(mediaType=MEDIA_TYPE_ADAPTER, digest=str(digest), size=store.blob_size(digest))


def _check_relative(filename: str) -> None:
    p = Path(filename)
    if not filename or p.is_absolute() or ".." in p.parts or "\\" in filename:
        raise ModelfileError("file path must be relative")


def _blob_layer(store: ModelStore, digest: str, media_type: str, seen: set[str], claim: Claim) -> Layer:
    if not digest:
        raise ModelfileError("invalid digest format")
    d = Digest.parse(digest)
    claim.add(d)  # before the check: a delete cannot free it after
    if not store.has_blob(d):
        raise BlobNotFoundError(str(d))
    seen.add(str(d))
    return Layer(mediaType=media_type, digest=str(d), size=store.blob_size(d))


def _text_layer(store: ModelStore, text: str, media_type: str, seen: set[str], claim: Claim) -> Layer:
    data = text.encode("utf-8")
    existed = store.has_blob(_digest_of(data))
    digest = store.put_blob(data, claim=claim)
    if existed:
        seen.add(str(digest))
    return Layer(mediaType=media_type, digest=str(digest), size=len(data))


def _digest_of(data: bytes) -> Digest:
    import hashlib

    return Digest(hashlib.sha256(data).hexdigest())


def _read_gguf(path: Path) -> GGUFInfo:
    """The header of a model layer, refused (GGUFError, 400) when its tensor data is not all in the file."""
    info = GGUFInfo.read(path)
    info.check_tensor_data()
    return info


def _config_from_gguf(info: GGUFInfo) -> ModelConfig:
    details = info.details()
    return ModelConfig(
        model_format="gguf",
        model_family=details.family,
        model_families=details.families,
        model_type=details.parameter_size,
        file_type=details.quantization_level,
        context_length=info.context_length,
        embedding_length=info.embedding_length,
    )


def _autodetect_template(gguf_path: Path, templates_dir: str | Path) -> Any:
    from .template import match_named_template

    info = GGUFInfo.read(gguf_path)
    if not info.chat_template or not Path(templates_dir).is_dir():
        return None
    return match_named_template(info.chat_template, Path(templates_dir))


def _quantize(
    store: ModelStore, layers: list[Layer], config: ModelConfig, qtype: str, quantize: Quantizer | None,
    claim: Claim,
) -> Iterator[ProgressResponse]:
    target = normalize_quantization(qtype)
    if quantize is None:
        raise UnsupportedQuantizationError("quantization needs a quantizer (create_model(quantizer=...))")
    out_layers = []
    new_config = config
    for layer in layers:
        if layer.mediaType != MEDIA_TYPE_MODEL:
            out_layers.append(layer)
            continue
        src = store.blob_path(layer.digest)
        info = GGUFInfo.read(src)
        if info.file_type.upper() not in QUANTIZE_SOURCES:
            raise UnsupportedQuantizationError("quantization is only supported for F16, BF16 and F32 models")
        status = f"quantizing {info.file_type.upper()} model to {target}"
        total = store.blob_size(layer.digest)
        store.ensure_space(_quantized_size(total, info.file_type.upper(), target))
        yield ProgressResponse(status=status, digest=layer.digest, total=total, completed=0)
        with store.temp_dir() as tmp:
            dst = tmp / "quantized.gguf"
            quantize(src, dst, target)
            yield ProgressResponse(status=status, digest=layer.digest, total=total, completed=total)
            digest = store.move_blob_file(dst, claim=claim)
        out_layers.append(Layer(mediaType=MEDIA_TYPE_MODEL, digest=str(digest), size=store.blob_size(digest)))
        new_config = _config_from_gguf(GGUFInfo.read(store.blob_path(digest)))
        new_config.requires = config.requires
    return out_layers, new_config


_BITS_PER_WEIGHT = {"F32": 32.0, "F16": 16.0, "BF16": 16.0, "Q8_0": 8.5, "Q4_K_S": 4.6, "Q4_K_M": 4.9}


def _quantized_size(source_size: int, source_type: str, target: str) -> int:
    """An upper estimate of a quantized file's size, for the free-space check before quantizing: the source
    scaled by bits per weight, with a margin for tensors kept at higher precision and the header."""
    ratio = _BITS_PER_WEIGHT.get(target.upper(), 32.0) / _BITS_PER_WEIGHT.get(source_type.upper(), 16.0)
    return int(source_size * min(1.0, ratio * 1.25)) + (1 << 20)


def create_from_request(
    store: ModelStore, request: CreateRequest, *, templates_dir: str | Path | None = None,
    quantizer: Quantizer | None = None, claim: Claim | None = None,
) -> Iterator[ProgressResponse]:
    """``create_model`` for a typed request (the Engine's and the Modelfile's way in)."""
    yield from create_model(
        store, request.model, from_=request.from_, files=request.files, adapters=request.adapters,
        draft_files=request.draft_files, draft=request.draft, template=request.template, system=request.system, parameters=request.parameters or None,
        messages=request.messages or None, license=request.license, requires=request.requires,
        quantize=request.quantize, templates_dir=templates_dir, quantizer=quantizer, claim=claim,
    )


def create_from_modelfile(
    store: ModelStore,
    name: str | ModelName,
    modelfile: Modelfile | str,
    *,
    base_dir: str | Path = ".",
    quantize: str | None = None,
    templates_dir: str | Path | None = None,
    quantizer: Quantizer | None = None,
) -> Iterator[ProgressResponse]:
    """Create ``name`` from Modelfile text (or a parsed Modelfile); paths resolve against ``base_dir``."""
    mf = Modelfile.parse(modelfile) if isinstance(modelfile, str) else modelfile
    with store.claim() as claim:
        request = CreateRequest.from_modelfile(
            mf, str(name), lambda path: str(store.put_blob_file(path, claim=claim)), base_dir=base_dir,
            quantize=quantize,
        )
        try:
            yield from create_from_request(store, request, templates_dir=templates_dir, quantizer=quantizer,
                                           claim=claim)
        except ModelNotFoundError as exc:
            raise ModelNotFoundError(exc.name, f"model '{exc.name}' not found") from None

