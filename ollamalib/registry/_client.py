"""Registry: pull models from and push them to an OCI registry (Ollama's, a private one) into a ModelStore.

The protocol, progress statuses and error texts are Ollama's (server/images.go ``PullModel``/``PushModel``);
``hf.co/<user>/<repo>[:<quant>]`` names are pulled from Hugging Face instead (see ``_hf.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from types import TracebackType

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..config import Settings
from ..errors import ModelNotFoundError, RegistryError, UnauthorizedError
from ..names import Digest, ModelName
from ..store import ModelStore
from ..types import MEDIA_TYPE_MANIFEST, Layer, Manifest, ProgressResponse
from . import _hf as hf
from ._auth import Authenticator, RegistryCredentials
from ._download import NUM_PARTS, SOLO_RATE, BlobDownloader
from .keys import load_or_create_key
from ._transport import InsecureProtocolError, RemoteNotFoundError, Transport
from ._upload import BlobUploader

__all__ = ["ModelBuilder", "Registry"]

ModelBuilder = Callable[[ModelName, dict[str, str]], Iterator[ProgressResponse]]
"""Builds model ``name`` from GGUF blobs (file name -> digest) already in the store; yields progress."""


class Registry:
    """Pull and push models between a ModelStore and OCI registries, the way Ollama does.

    ``pull`` and ``push`` are generators of ProgressResponse: iterating one performs the transfer, and
    closing it early leaves a download that the next pull resumes. ``part_size``/``max_parts`` set the Range
    parts of a download (Ollama's layout by default); ``solo_rate`` (bytes/s) is the speed of one in-order
    stream below which the other parts get streams of their own (None: all parts at once, as Ollama does).
    ``model_builder(name, files)`` turns the GGUF blobs of a Hugging Face pull into a model (the engine
    passes ``create_model``; the registry does not build models itself).
    """

    def __init__(
        self,
        store: ModelStore,
        *,
        settings: Settings | None = None,
        http: httpx.Client | None = None,
        part_size: int | None = None,
        max_parts: int = NUM_PARTS,
        solo_rate: float | None = SOLO_RATE,
        insecure: bool = False,
        verify: bool = True,
        stall_timeout: float = 30.0,
        max_retries: int = 6,
        retry_backoff: float = 1.0,
        hf_endpoint: str | None = None,
        model_builder: ModelBuilder | None = None,
    ) -> None:
        self.store = store
        self.settings = settings if settings is not None else Settings.from_env()
        self.insecure = insecure
        self.hf_endpoint = hf_endpoint
        self.model_builder = model_builder
        self._owns_http = http is None
        self.http = http if http is not None else _default_client(verify, max_parts)
        self._key: Ed25519PrivateKey | None = None
        self._key_lock = threading.Lock()
        auth = Authenticator(self._signing_key, RegistryCredentials.from_settings(self.settings))
        self.transport = Transport(self.http, auth)
        self.downloader = BlobDownloader(
            store,
            self.transport,
            part_size=part_size,
            max_parts=max_parts,
            solo_rate=solo_rate,
            stall_timeout=stall_timeout,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
        )
        self.uploader = BlobUploader(
            store, self.transport, part_size=part_size, max_retries=max_retries, retry_backoff=retry_backoff
        )

    # -- lifecycle ---------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client if this Registry created it."""
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _signing_key(self) -> Ed25519PrivateKey:
        with self._key_lock:
            if self._key is None:
                self._key = load_or_create_key(self.settings.home_dir)[0]
            return self._key

    # -- pull --------------------------------------------------------------------------------------------

    def pull(self, name: str | ModelName, *, insecure: bool = False) -> Iterator[ProgressResponse]:
        """Download ``name``'s manifest and missing blobs into the store; yields Ollama's progress events."""
        model = ModelName.parse(name)
        if hf.is_hf_name(model):
            yield from hf.pull(self, model)
            return
        old = self._existing_digests(model)
        base = self._base_url(model, insecure)
        yield ProgressResponse(status="pulling manifest")
        raw, manifest = self._pull_manifest(model, base, name)
        layers = _layers(manifest)
        with self.store.claim() as claim:  # a delete meanwhile must not free blobs this pull found present
            claim.add(*manifest.digests())
            for layer in layers:
                digest = Digest.parse(layer.digest)
                url = f"{base}/v2/{model.namespace}/{model.model}/blobs/{digest}"
                yield from self.downloader.download(url, digest, size_hint=layer.size)
            yield ProgressResponse(status="verifying sha256 digest")
            yield ProgressResponse(status="writing manifest")
            self.store.put_manifest(model, raw)
        yield from self._remove_unused(old - manifest.digests())
        yield ProgressResponse(status="success")

    def _pull_manifest(self, model: ModelName, base: str, given: str | ModelName) -> tuple[bytes, Manifest]:
        url = f"{base}/v2/{model.namespace}/{model.model}/manifests/{model.tag}"
        try:
            resp = self.transport.request("GET", url, headers={"Accept": MEDIA_TYPE_MANIFEST})
            raw = resp.content
            return raw, Manifest.model_validate_json(raw)
        except RemoteNotFoundError:
            err = ModelNotFoundError(str(given), "pull model manifest: file does not exist")
            err.status_code = 500
            raise err from None
        except UnauthorizedError as exc:
            raise UnauthorizedError(f"pull model manifest: {exc}") from exc
        except RegistryError as exc:
            raise RegistryError(f"pull model manifest: {exc}", status_code=exc.status_code) from exc
        except ValueError as exc:
            raise RegistryError(f"pull model manifest: {exc}") from exc

    def _existing_digests(self, model: ModelName) -> set[str]:
        try:
            return self.store.resolve(model).manifest.digests()
        except Exception:  # no manifest yet, or a corrupt one: nothing to prune
            return set()

    def _remove_unused(self, candidates: set[str]) -> Iterator[ProgressResponse]:
        if self.settings.noprune or not candidates:
            return
        yield ProgressResponse(status="removing unused layers")
        try:
            self.store.remove_unused_layers(candidates)
        except OSError as exc:
            yield ProgressResponse(status=f"couldn't remove unused layers: {exc}")

    # -- push --------------------------------------------------------------------------------------------

    def push(self, name: str | ModelName, *, insecure: bool = False) -> Iterator[ProgressResponse]:
        """Upload ``name``'s blobs the registry lacks, then its manifest (byte for byte)."""
        model = ModelName.parse(name)
        yield ProgressResponse(status="retrieving manifest")
        base = self._base_url(model, insecure)
        stored = self.store.resolve(name)
        for layer in _layers(stored.manifest):
            yield from self.uploader.upload(base, model, layer)
        yield ProgressResponse(status="pushing manifest")
        url = f"{base}/v2/{model.namespace}/{model.model}/manifests/{model.tag}"
        raw = stored.raw
        self.transport.request("PUT", url, headers={"Content-Type": MEDIA_TYPE_MANIFEST}, body=lambda: raw)
        yield ProgressResponse(status="success")

    # -- helpers -----------------------------------------------------------------------------------------

    def _base_url(self, model: ModelName, insecure: bool) -> str:
        insecure = insecure or self.insecure
        if model.scheme == "http" and not insecure:
            raise InsecureProtocolError()
        scheme = "http" if insecure else model.scheme
        return f"{scheme}://{model.host}"


def _layers(manifest: Manifest) -> list[Layer]:
    """The blobs of a manifest in Ollama's order: layers, then the config."""
    layers = list(manifest.layers)
    if manifest.config.digest:
        layers.append(manifest.config)
    return layers


def _default_client(verify: bool, max_parts: int) -> httpx.Client:
    connections = max(32, 2 * max_parts)
    return httpx.Client(
        verify=verify,
        timeout=httpx.Timeout(300.0, connect=30.0),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        follow_redirects=False,
    )
