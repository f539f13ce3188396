"""Pull a GGUF from Hugging Face: ``hf.co/<user>/<repo>[:<quant>]`` (or ``huggingface.co/...``).

huggingface-hub lists the repository and builds the file URL (so ``HF_ENDPOINT`` and the user's token
apply); the file whose name carries the quantization tag (``Q4_K_M`` by default, also for ``latest``) is
downloaded with the registry's parallel, resumable downloader into the store, and the registry's
``model_builder`` (the engine passes ``create_model``) turns it into a model (template and parameters read from
the GGUF). A repository that also holds a vision projector (``mmproj*.gguf``) gives the model a projector
layer as well, as Ollama's Hugging Face pulls do. Split (``-00001-of-00003``) files are refused: a store blob is one file, and llama.cpp finds shards by file name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import ModelNotFoundError, RegistryError, UnauthorizedError
from ..names import Digest, ModelName
from ..types import ProgressResponse

if TYPE_CHECKING:
    from ._client import Registry

__all__ = ["DEFAULT_QUANT", "HF_HOSTS", "GGUFFile", "choose_gguf", "choose_projector", "is_hf_name", "pull"]

HF_HOSTS = frozenset({"hf.co", "huggingface.co"})
DEFAULT_QUANT = "Q4_K_M"
_SHARD = re.compile(r"-\d{5}-of-\d{5}\.gguf$", re.IGNORECASE)
_PASSED_THROUGH = {"writing manifest"}


@dataclass(frozen=True)
class GGUFFile:
    """A ``.gguf`` file of a repository: its path, size and (for LFS files) sha256."""

    path: str
    size: int
    sha256: str | None = None


def is_hf_name(name: ModelName) -> bool:
    return name.host.lower() in HF_HOSTS


def quant_of(name: ModelName) -> str:
    """The quantization a tag asks for: the tag itself, or Q4_K_M for ``latest``."""
    return DEFAULT_QUANT if name.tag.lower() == "latest" else name.tag


def choose_gguf(files: list[GGUFFile], quant: str) -> GGUFFile:
    """The GGUF whose file name carries ``quant`` as a whole token, case-insensitively (projectors excluded)."""
    pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(quant)}(?![A-Za-z0-9_])", re.IGNORECASE)
    candidates = [
        f
        for f in files
        if f.path.lower().endswith(".gguf")
        and not _is_projector_file(f.path)
        and pattern.search(f.path.rsplit("/", 1)[-1][: -len(".gguf")])
    ]
    if not candidates:
        raise RegistryError(
            f'pull model manifest: the tag "{quant}" matches no GGUF file in this repository; '
            'use another tag or "latest"',
            status_code=400,
        )
    whole = [f for f in candidates if not _SHARD.search(f.path)]
    if not whole:
        raise RegistryError(f"pull model manifest: {candidates[0].path} is split into shards, which is not supported")
    return sorted(whole, key=lambda f: (f.path.count("/"), len(f.path), f.path))[0]


def _is_projector_file(path: str) -> bool:
    return "mmproj" in path.rsplit("/", 1)[-1].lower()


def choose_projector(files: list[GGUFFile], quant: str) -> GGUFFile | None:
    """The vision projector to pull with the model: one named with ``quant``, else the F16, BF16, F32 or Q8_0
    one (projectors are usually published unquantized), else the first; None when the repository has none."""
    projectors = sorted((f for f in files if f.path.lower().endswith(".gguf") and _is_projector_file(f.path)),
                        key=lambda f: (f.path.count("/"), len(f.path), f.path))
    for token in (quant, "F16", "BF16", "F32", "Q8_0"):
        pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(token)}(?![A-Za-z0-9_])", re.IGNORECASE)
        for f in projectors:
            if pattern.search(f.path.rsplit("/", 1)[-1][: -len(".gguf")]):
                return f
    return projectors[0] if projectors else None


def list_gguf_files(repo_id: str, endpoint: str | None) -> list[GGUFFile]:
    """Every ``.gguf`` file of a model repository, through huggingface-hub."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=endpoint)
    try:
        entries = list(api.list_repo_tree(repo_id, recursive=True))
    except GatedRepoError:
        raise UnauthorizedError(
            f"pull model manifest: {repo_id} is gated: accept its terms and log in to Hugging Face (HF_TOKEN)"
        ) from None
    except (RepositoryNotFoundError, RevisionNotFoundError):
        raise ModelNotFoundError(repo_id, "pull model manifest: file does not exist") from None
    except HfHubHTTPError as exc:
        raise RegistryError(f"pull model manifest: {exc}") from exc
    out = []
    for entry in entries:
        if isinstance(entry, RepoFile) and entry.path.lower().endswith(".gguf"):
            out.append(GGUFFile(entry.path, int(entry.size), entry.lfs.sha256 if entry.lfs else None))
    return out


def _endpoint(registry: Registry) -> str | None:
    # passed to huggingface-hub on each call (it reads HF_ENDPOINT once, at import)
    return registry.hf_endpoint or registry.settings.hf_endpoint or None


def pull(registry: Registry, name: ModelName) -> Iterator[ProgressResponse]:
    """Pull ``hf.co/<user>/<repo>:<quant>`` into the registry's store with Ollama's pull statuses."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers

    if registry.model_builder is None:
        raise RegistryError("pulling from Hugging Face needs a model builder (Registry(model_builder=...))")
    store = registry.store
    endpoint = _endpoint(registry)
    repo_id = f"{name.namespace}/{name.model}"
    old = registry._existing_digests(name)
    yield ProgressResponse(status="pulling manifest")
    listing = list_gguf_files(repo_id, endpoint)
    chosen = choose_gguf(listing, quant_of(name))
    projector = choose_projector(listing, quant_of(name))
    headers = build_hf_headers(library_name="ollamalib")
    files: dict[str, str] = {}
    for filename, file in (("model.gguf", chosen), ("mmproj.gguf", projector)):
        if file is None:
            continue
        url = hf_hub_url(repo_id, file.path, endpoint=endpoint)
        if file.sha256:
            digest = Digest.parse(f"sha256:{file.sha256}")
            yield from registry.downloader.download(url, digest, size=file.size, headers=headers)
        else:
            digest = yield from _download_unhashed(registry, url, headers, file)
        files[filename] = str(digest)
    yield ProgressResponse(status="verifying sha256 digest")
    for event in registry.model_builder(name, files):
        if event.status in _PASSED_THROUGH:
            yield event
    yield from registry._remove_unused(old - store.resolve(name).manifest.digests())
    yield ProgressResponse(status="success")


def _download_unhashed(
    registry: Registry, url: str, headers: dict[str, str], file: GGUFFile
) -> Iterator[ProgressResponse]:
    """A file without an LFS sha256: stream it to a scratch file, then store it under its hash."""
    import httpx

    store = registry.store
    with store.temp_dir() as tmp:
        path = tmp / "model.gguf"
        try:
            with open(path, "wb") as out, registry.http.stream(
                "GET", url, headers={"User-Agent": registry.transport.user_agent, **headers}, follow_redirects=True
            ) as resp:
                if resp.status_code >= 400:
                    raise RegistryError(f"{resp.status_code}: {resp.read().decode('utf-8', 'replace')}")
                for chunk in resp.iter_bytes():
                    out.write(chunk)
        except httpx.HTTPError as exc:
            raise RegistryError(f"{type(exc).__name__}: {exc}") from exc
        digest = store.put_blob(path)
    size = store.blob_size(digest)
    yield ProgressResponse(status=f"pulling {digest.short}", digest=str(digest), total=size, completed=size)
    return digest
