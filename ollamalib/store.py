"""ModelStore: Ollama's on-disk layout of manifests and content-addressed blobs.

``<root>/manifests/<host>/<namespace>/<model>/<tag>`` holds each manifest byte for byte, and
``<root>/blobs/sha256-<hex>`` each blob, so a store written by Ollama is read here and the other way round.
Blobs are written to a unique temporary file, verified, then renamed; writers of the same blob or manifest
(threads or processes) are serialised with file locks kept under ``<root>/locks``.

Two more kinds of lock keep the store whole across crashes and concurrent processes:

- a *claim* lists the blobs an in-flight create, pull or copy relies on; delete and prune free only blobs that
  no manifest references and no live claim holds (claims and frees take the store-wide ``gc`` lock);
- a *lease* is held by whoever writes a temporary file or folder (its name carries the lease id), so that a
  leftover whose lease can be taken belongs to a dead process and is removed at once at the next start.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from filelock import FileLock, Timeout

from .errors import (
    BlobNotFoundError,
    DigestMismatchError,
    InvalidNameError,
    ModelNotFoundError,
    NoSpaceError,
    StoreError,
)
from .names import Digest, ModelName
from .types import (
    MEDIA_TYPE_ADAPTER,
    MEDIA_TYPE_DRAFT,
    MEDIA_TYPE_LICENSE,
    MEDIA_TYPE_MESSAGES,
    MEDIA_TYPE_MODEL,
    MEDIA_TYPE_PARAMS,
    MEDIA_TYPE_PROJECTOR,
    MEDIA_TYPE_PROMPT,
    MEDIA_TYPE_SYSTEM,
    MEDIA_TYPE_TEMPLATE,
    Layer,
    ListModel,
    Manifest,
    Message,
    ModelConfig,
    ModelDetails,
)

__all__ = ["Claim", "ModelRecord", "ModelStore", "StoredManifest"]

_CHUNK = 1 << 20
STALE_SECONDS = 3600.0
RESERVE_MAX = 100 * 1000 * 1000  # free space kept beyond a large write: 1% of the file system, at most this
_TEMP_NAME = re.compile(r"(?:-tmp-|^\.tmp-)([0-9a-f]{32})$")  # temporary files and folders: their lease id


@dataclass(frozen=True)
class StoredManifest:
    """A manifest as found in the store: its name with the casing on disk, parsed form and raw bytes."""

    name: ModelName
    manifest: Manifest
    raw: bytes
    path: Path

    @property
    def digest(self) -> str:
        """Hex sha256 of the manifest file: the model "ID" Ollama shows."""
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def modified_at(self) -> datetime:
        return datetime.fromtimestamp(self.path.stat().st_mtime, tz=timezone.utc)


@dataclass
class ModelRecord:
    """Everything a manifest's layers say about a model, read from the store (no inference)."""

    name: ModelName
    stored: StoredManifest
    config: ModelConfig
    model_path: Path | None = None
    projectors: list[Path] = field(default_factory=list)
    adapters: list[Path] = field(default_factory=list)
    draft: Path | None = None  # a speculative-decoding draft model (GGUF)
    template: str | None = None
    system: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    license: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return self.stored.digest

    @property
    def details(self) -> ModelDetails:
        c = self.config
        parent = next((layer.from_ for layer in self.stored.manifest.layers if layer.from_), "") or ""
        return ModelDetails(
            parent_model=parent,
            format=c.model_format or "gguf",
            family=c.model_family,
            families=c.model_families,
            parameter_size=c.model_type,
            quantization_level=c.file_type,
        )


class ModelStore:
    """Manifests and blobs under one root directory, laid out exactly as Ollama lays them out."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()
        self.manifests_dir = self.root / "manifests"
        self.blobs_dir = self.root / "blobs"
        self.locks_dir = self.root / "locks"

    def __repr__(self) -> str:
        return f"ModelStore({str(self.root)!r})"

    # -- locking -----------------------------------------------------------------------------------------

    def _lock(self, key: str) -> FileLock:
        self.locks_dir.mkdir(parents=True, exist_ok=True)
        safe = hashlib.sha256(key.lower().encode()).hexdigest()[:32]
        return FileLock(str(self.locks_dir / f"{safe}.lock"), thread_local=False)

    def blob_lock(self, digest: str | Digest) -> FileLock:
        """The lock that serialises writers of one blob (shared with the registry's downloads)."""
        return self._lock("blob:" + str(Digest.parse(digest)))

    def _gc_lock(self) -> FileLock:
        """The store-wide lock taken to add to a claim and to free blobs (never while holding a blob lock)."""
        self.locks_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.locks_dir / "gc.lock"), thread_local=False)

    def claim(self) -> Claim:
        """A new, empty claim: ``with store.claim() as c: c.add(digest)`` keeps that blob until the block ends."""
        return Claim(self)

    def _lease(self) -> _Lease:
        return _Lease(self.locks_dir / "leases")

    @contextmanager
    def _temp_file(self, directory: Path, prefix: str) -> Iterator[tuple[int, Path]]:
        """A new file ``<prefix>tmp-<lease id>`` in ``directory``, open for writing, removed when the block ends
        unless renamed away; its lease is held meanwhile."""
        lease = self._lease()
        path = directory / f"{prefix}tmp-{lease.id}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                yield fd, path
            finally:
                path.unlink(missing_ok=True)
        finally:
            lease.release()

    def _live_claims(self, besides: Claim | None = None) -> set[str]:
        """Digests held by live claims other than ``besides`` (call with the gc lock held); claims of dead
        processes are removed."""
        held: set[str] = set()
        claims = self.locks_dir / "claims"
        if not claims.is_dir():
            return held
        for path in claims.iterdir():
            lease_id = path.name.split(".", 1)[0]
            if besides is not None and besides._lease is not None and lease_id == besides._lease.id:
                continue
            if _Lease.take_if_dead(self.locks_dir / "leases", lease_id):
                path.unlink(missing_ok=True)
                continue
            try:
                held.update(json.loads(path.read_text() or "[]"))
            except (OSError, ValueError):
                continue
        return held

    # -- free space ---------------------------------------------------------------------------------------

    def ensure_space(self, nbytes: int) -> None:
        """Raise NoSpaceError unless the store's file system has room for ``nbytes`` more plus a small reserve
        (1% of its size, at most 100 MB), so that a large write never leaves the store with no room at all."""
        if self.free_space_reserve_left() < nbytes:
            raise NoSpaceError()

    def free_space_reserve_left(self) -> int:
        """Bytes that can still be written before the file system's reserve is reached (may be negative)."""
        target = self.root
        while not target.exists() and target != target.parent:
            target = target.parent
        usage = shutil.disk_usage(target)
        return usage.free - min(usage.total // 100, RESERVE_MAX)

    # -- blobs -------------------------------------------------------------------------------------------

    def file_mode(self) -> int:
        """The mode of a new blob or manifest: read/write as the umask allows, never wider than the root's.

        Ollama chmods its blobs 0644; a store whose root is 0700 (or a umask of 077) keeps them private, so an
        imported file is never readable by users who could not read the store.
        """
        try:
            root_bits = self.root.stat().st_mode & 0o666
        except FileNotFoundError:
            root_bits = 0o666
        return 0o666 & ~_process_umask() & root_bits

    def blob_path(self, digest: str | Digest) -> Path:
        return self.blobs_dir / Digest.parse(digest).filename

    def has_blob(self, digest: str | Digest) -> bool:
        return self.blob_path(digest).is_file()

    def blob_size(self, digest: str | Digest) -> int:
        try:
            return self.blob_path(digest).stat().st_size
        except FileNotFoundError:
            raise BlobNotFoundError(str(Digest.parse(digest))) from None

    def read_blob(self, digest: str | Digest) -> bytes:
        try:
            return self.blob_path(digest).read_bytes()
        except FileNotFoundError:
            raise BlobNotFoundError(str(Digest.parse(digest))) from None

    def put_blob(
        self,
        data: bytes | IO[bytes] | Iterable[bytes] | Path,
        digest: str | Digest | None = None,
        *,
        claim: Claim | None = None,
    ) -> Digest:
        """Store ``data`` as a blob and return its digest.

        The bytes go to a unique temporary file in the blobs directory, are hashed on the way, and are renamed
        into place only when they match ``digest`` (when given). A mismatch raises DigestMismatchError and
        leaves nothing behind; a full disk raises NoSpaceError. With ``claim`` the blob is claimed before it
        is looked for or renamed into place, so a concurrent delete cannot free it.
        """
        expected = Digest.parse(digest) if digest is not None else None
        if expected is not None:
            if claim is not None:
                claim.add(expected)
            if self.has_blob(expected):
                _drain(data)
                os.utime(self.blob_path(expected))
                return expected
        self.blobs_dir.mkdir(parents=True, exist_ok=True)
        prefix = f"{expected.filename}-" if expected else "sha256-"
        with self._temp_file(self.blobs_dir, prefix) as (fd, tmp):
            h = hashlib.sha256()
            try:
                with os.fdopen(fd, "wb") as out:
                    for chunk in _chunks(data):
                        h.update(chunk)
                        out.write(chunk)
            except OSError as exc:
                raise _space_error(exc) from exc
            actual = Digest(h.hexdigest())
            if expected is not None and actual != expected:
                raise DigestMismatchError(str(expected), str(actual))
            os.chmod(tmp, self.file_mode())
            self._place_blob(tmp, actual, claim)
            return actual

    def put_blob_file(
        self, path: str | os.PathLike[str], digest: str | Digest | None = None, *, claim: Claim | None = None
    ) -> Digest:
        """Copy a local file into the store as a blob (hashing it on the way), after checking there is room."""
        with open(path, "rb") as f:
            if digest is None or not self.has_blob(digest):
                self.ensure_space(os.fstat(f.fileno()).st_size)
            return self.put_blob(f, digest, claim=claim)

    def move_blob_file(self, path: Path, *, claim: Claim | None = None) -> Digest:
        """Hash a file already on the store's file system and rename it into place as a blob (no copy)."""
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                h.update(chunk)
        actual = Digest(h.hexdigest())
        self.blobs_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(path, self.file_mode())
        self._place_blob(path, actual, claim)
        return actual

    def _place_blob(self, path: Path, digest: Digest, claim: Claim | None) -> None:
        """Rename a verified file to blob ``digest`` (claimed first), or touch the blob already there."""
        if claim is not None:
            claim.add(digest)
        with self.blob_lock(digest):
            final = self.blob_path(digest)
            if final.exists():
                os.utime(final)
            else:
                os.replace(path, final)

    def iter_blobs(self) -> Iterator[Path]:
        if self.blobs_dir.is_dir():
            yield from (p for p in self.blobs_dir.iterdir() if p.is_file())

    # -- manifests ---------------------------------------------------------------------------------------

    def manifest_path(self, name: str | ModelName) -> Path:
        n = ModelName.parse(name)
        path = self.manifests_dir.joinpath(*n.parts)
        if self.manifests_dir.resolve() not in path.resolve().parents:
            raise InvalidNameError(f"invalid model name {str(n)!r}")
        return path

    def _find_existing(self, name: ModelName) -> Path | None:
        """The manifest file for ``name``, matched case-insensitively part by part."""
        exact = self.manifest_path(name)
        if exact.is_file():
            return exact
        current = self.manifests_dir
        for part in name.parts:
            if not current.is_dir():
                return None
            low = part.lower()
            match = next((c for c in sorted(current.iterdir()) if c.name.lower() == low), None)
            if match is None:
                return None
            current = match
        return current if current.is_file() else None

    def put_manifest(self, name: str | ModelName, manifest: Manifest | bytes) -> StoredManifest:
        """Write a manifest (bytes are kept exactly as given); an existing name keeps its on-disk casing."""
        n = ModelName.parse(name)
        raw = manifest if isinstance(manifest, bytes) else _manifest_bytes(manifest)
        parsed = Manifest.model_validate_json(raw)
        with self._lock("manifest:" + str(n).lower()):
            path = self._find_existing(n) or self.manifest_path(n)
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._temp_file(path.parent, f".{path.name}-") as (fd, tmp):
                try:
                    with os.fdopen(fd, "wb") as f:
                        f.write(raw)
                except OSError as exc:
                    raise _space_error(exc) from exc
                os.chmod(tmp, self.file_mode())
                os.replace(tmp, path)
        return StoredManifest(self._name_from_path(path), parsed, raw, path)

    def _name_from_path(self, path: Path) -> ModelName:
        host, namespace, model, tag = path.relative_to(self.manifests_dir).parts
        return ModelName(host=host, namespace=namespace, model=model, tag=tag)

    def resolve(self, name: str | ModelName) -> StoredManifest:
        """Find a model's manifest (case-insensitively); raises ModelNotFoundError naming it as given."""
        n = ModelName.parse(name)
        path = self._find_existing(n)
        if path is None:
            raise ModelNotFoundError(str(name) if isinstance(name, str) else n.display_shortest)
        raw = path.read_bytes()
        try:
            manifest = Manifest.model_validate_json(raw)
        except ValueError as exc:
            raise StoreError(f"corrupt manifest {path}: {exc}") from exc
        return StoredManifest(self._name_from_path(path), manifest, raw, path)

    def exists(self, name: str | ModelName) -> bool:
        try:
            return self._find_existing(ModelName.parse(name)) is not None
        except InvalidNameError:
            return False

    def iter_manifests(self) -> Iterator[StoredManifest]:
        """Every readable manifest (exactly four levels below ``manifests/``); unreadable ones are skipped."""
        if not self.manifests_dir.is_dir():
            return
        for path in sorted(self.manifests_dir.glob("*/*/*/*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            try:
                name = self._name_from_path(path)
                ModelName.parse(name.full)
                raw = path.read_bytes()
                yield StoredManifest(name, Manifest.model_validate_json(raw), raw, path)
            except (ValueError, OSError):
                continue

    def config(self, stored: StoredManifest) -> ModelConfig:
        try:
            return ModelConfig.model_validate_json(self.read_blob(stored.manifest.config.digest))
        except (BlobNotFoundError, ValueError):
            return ModelConfig()

    def record(self, name: str | ModelName) -> ModelRecord:
        """Read a model's manifest and the small layers (template, system, params, messages, license)."""
        stored = self.resolve(name)
        rec = ModelRecord(name=stored.name, stored=stored, config=self.config(stored))
        for layer in stored.manifest.layers:
            mt = layer.mediaType
            if mt == MEDIA_TYPE_MODEL:
                rec.model_path = self.blob_path(layer.digest)
            elif mt == MEDIA_TYPE_PROJECTOR:
                rec.projectors.append(self.blob_path(layer.digest))
            elif mt == MEDIA_TYPE_ADAPTER:
                rec.adapters.append(self.blob_path(layer.digest))
            elif mt == MEDIA_TYPE_DRAFT:
                rec.draft = self.blob_path(layer.digest)
            elif mt in (MEDIA_TYPE_TEMPLATE, MEDIA_TYPE_PROMPT):
                rec.template = self._text(layer)
            elif mt == MEDIA_TYPE_SYSTEM:
                rec.system = self._text(layer)
            elif mt == MEDIA_TYPE_PARAMS:
                rec.parameters = json.loads(self.read_blob(layer.digest) or b"{}")
            elif mt == MEDIA_TYPE_MESSAGES:
                rec.messages = [Message.model_validate(m) for m in json.loads(self.read_blob(layer.digest) or b"[]")]
            elif mt == MEDIA_TYPE_LICENSE:
                rec.license.append(self._text(layer))
        return rec

    def _text(self, layer: Layer) -> str:
        return self.read_blob(layer.digest).decode("utf-8")

    # -- list, copy, delete, prune -----------------------------------------------------------------------

    def list(self) -> list[ListModel]:
        """Local models with Ollama's list fields, newest-modified first."""
        out: list[ListModel] = []
        for stored in self.iter_manifests():
            config = self.config(stored)
            rec = ModelRecord(name=stored.name, stored=stored, config=config)
            short = stored.name.display_shortest
            out.append(
                ListModel(
                    name=short,
                    model=short,
                    modified_at=stored.modified_at,
                    size=stored.manifest.size,
                    digest=stored.digest,
                    details=rec.details,
                    capabilities=config.capabilities,
                )
            )
        out.sort(key=lambda m: m.modified_at, reverse=True)
        return out

    def copy(self, source: str | ModelName, destination: str | ModelName) -> StoredManifest:
        """Copy a model under a new name (the manifest file only; blobs are shared)."""
        with self.claim() as claim:
            src = self.claim_model(source, claim)
            return self.put_manifest(destination, src.raw)

    def claim_model(self, name: str | ModelName, claim: Claim) -> StoredManifest:
        """Resolve ``name`` and claim its blobs, checking they are there: a model deleted meanwhile raises
        ModelNotFoundError, a model with a missing blob BlobNotFoundError."""
        stored = self.resolve(name)
        claim.add(*stored.manifest.digests())
        missing = sorted(d for d in stored.manifest.digests() if not self.has_blob(d))
        if missing:
            if not self.exists(name):
                raise ModelNotFoundError(str(name) if isinstance(name, str) else name.display_shortest)
            raise BlobNotFoundError(missing[0])
        return stored

    def delete(self, name: str | ModelName) -> None:
        """Remove a manifest, then every blob no other manifest uses, then empty directories."""
        stored = self.resolve(name)
        with self._lock("manifest:" + str(stored.name).lower()):
            stored.path.unlink(missing_ok=True)
        self._remove_empty_dirs(stored.path.parent)
        self.remove_unused_layers(stored.manifest.digests())

    def remove_unused_layers(self, candidates: Iterable[str], *, claim: Claim | None = None) -> list[str]:
        """Delete the blobs among ``candidates`` that no manifest references and no live claim (but ``claim``) holds."""
        removed = []
        with self._gc_lock():
            used = self.referenced_digests() | self._live_claims(besides=claim)
            for digest in sorted(set(candidates) - used):
                if digest:
                    self.blob_path(digest).unlink(missing_ok=True)
                    removed.append(digest)
        return removed

    def referenced_digests(self) -> set[str]:
        used: set[str] = set()
        for stored in self.iter_manifests():
            used |= stored.manifest.digests()
        return used

    def _remove_empty_dirs(self, start: Path) -> None:
        current = start
        while current != self.manifests_dir and self.manifests_dir in current.parents:
            try:
                current.rmdir()
            except OSError:
                return
            current = current.parent

    def prune(self, *, older_than: float = STALE_SECONDS) -> list[Path]:
        """Remove leftovers of dead processes at once, then blobs no manifest or live claim uses and other
        stray files (stale partial downloads) older than ``older_than`` seconds.

        As in Ollama, nothing but the leftovers is pruned when any manifest is corrupt (it could reference
        anything).
        """
        removed = self.remove_leftovers()
        if self.manifests_dir.is_dir():
            for path in self.manifests_dir.glob("*/*/*/*"):
                if path.is_file() and not path.name.startswith("."):
                    try:
                        Manifest.model_validate_json(path.read_bytes())
                    except (ValueError, OSError):
                        return removed
        cutoff = time.time() - older_than
        with self._gc_lock():
            used = {Digest.parse(d).filename for d in self.referenced_digests() | self._live_claims() if d}
            for path in self.iter_blobs():
                if path.name in used or _TEMP_NAME.search(path.name):
                    continue  # temporary files are the leftovers' business: their leases tell
                try:
                    if path.stat().st_mtime > cutoff or self._download_running(path.name):
                        continue
                    path.unlink()
                    removed.append(path)
                except FileNotFoundError:
                    continue
        if self.manifests_dir.is_dir():
            for d in sorted((p for p in self.manifests_dir.rglob("*") if p.is_dir()), reverse=True):
                try:
                    d.rmdir()
                except OSError:
                    pass
        return removed

    def remove_leftovers(self) -> list[Path]:
        """Remove, at once, the temporary blob and manifest files and ``.tmp-*`` folders whose writer is dead
        (its lease can be taken), dead claims, and the scraps of finished or dead downloads; files of live
        writers, and resumable partial downloads, are kept. Returns what was removed."""
        removed: list[Path] = []
        leases = self.locks_dir / "leases"
        candidates: list[Path] = []
        if self.root.is_dir():
            candidates += [p for p in self.root.iterdir() if p.name.startswith(".tmp-")]
        blobs = list(self.iter_blobs())
        candidates += blobs
        if self.manifests_dir.is_dir():
            candidates += [p for p in self.manifests_dir.glob("*/*/*/.*") if p.is_file()]
        for path in candidates:
            match = _TEMP_NAME.search(path.name)
            if match is None or not _Lease.take_if_dead(leases, match.group(1)):
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
        for path in blobs:
            name = path.name
            if "-partial-" not in name or not name.endswith(".tmp"):
                continue
            if not self._download_running(name):  # a part state being written when its writer died
                path.unlink(missing_ok=True)
                removed.append(path)
        for path in blobs:
            if _is_partial(path.name) and self.blob_path(path.name.split("-partial")[0]).is_file():
                if not self._download_running(path.name):  # the blob is complete: its download's scraps
                    path.unlink(missing_ok=True)
                    removed.append(path)
        if (self.locks_dir / "claims").is_dir():
            with self._gc_lock():
                self._live_claims()
        if leases.is_dir():  # lock files of leases whose holder died before making anything
            for path in leases.iterdir():
                lease_id = path.name.split(".", 1)[0]
                if _Lease.take_if_dead(leases, lease_id):
                    removed.append(path)
        return removed

    def _download_running(self, name: str) -> bool:
        """Whether the blob a ``sha256-<hex>...`` file belongs to is being downloaded now (its lock is held)."""
        try:
            digest = Digest.parse(name[:71])
        except ValueError:
            return False
        lock = self.blob_lock(digest)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return True
        lock.release()
        return False

    @contextmanager
    def temp_dir(self) -> Iterator[Path]:
        """A scratch directory on the store's file system (for conversions that end in a rename); its lease
        is held while it exists, so a crash leaves a folder the next start removes."""
        self.root.mkdir(parents=True, exist_ok=True)
        lease = self._lease()
        path = self.root / f".tmp-{lease.id}"
        try:
            path.mkdir()
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
            lease.release()


class Claim:
    """The blobs an in-flight create, pull or copy relies on; delete and prune never free them.

    The claim is a file under ``locks/claims`` guarded by a lease, so a claim of a dead process is ignored and
    removed. Add a blob *before* checking that it is there (or renaming it into place).
    """

    def __init__(self, store: ModelStore) -> None:
        self.store = store
        self.digests: set[str] = set()
        self._lease: _Lease | None = None
        self._path: Path | None = None

    def add(self, *digests: str | Digest) -> None:
        """Claim more blobs (under the store's gc lock, so no delete is halfway through freeing them)."""
        new = {str(Digest.parse(d)) for d in digests if d} - self.digests
        if not new:
            return
        with self.store._gc_lock():
            if self._lease is None:
                self._lease = self.store._lease()
                self._path = self.store.locks_dir / "claims" / f"{self._lease.id}.json"
                self._path.parent.mkdir(parents=True, exist_ok=True)
            self.digests |= new
            assert self._path is not None
            try:
                self._path.write_text(json.dumps(sorted(self.digests)))
            except OSError as exc:
                raise _space_error(exc) from exc

    def release(self) -> None:
        """End the claim: its blobs are freed by the next delete or prune that finds them unreferenced."""
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None
        if self._lease is not None:
            self._lease.release()
            self._lease = None
        self.digests.clear()

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class _Lease:
    """A lock file ``<dir>/<id>.lock`` this process holds while it owns the things named after ``id``."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.id = uuid.uuid4().hex
        self.path = directory / f"{self.id}.lock"
        self.lock = FileLock(str(self.path), thread_local=False)
        self.lock.acquire()

    def release(self) -> None:
        self.lock.release()
        self.path.unlink(missing_ok=True)

    @staticmethod
    def take_if_dead(directory: Path, lease_id: str) -> bool:
        """Whether lease ``lease_id`` has no live holder (its lock file is then removed)."""
        path = directory / f"{lease_id}.lock"
        if not path.exists():
            return True
        lock = FileLock(str(path), thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False
        try:
            path.unlink(missing_ok=True)
        finally:
            lock.release()
        return True


def _is_partial(name: str) -> bool:
    """Whether a blobs/ file name is a download's partial data or part state (Ollama's naming)."""
    return "-partial" in name


def _space_error(exc: OSError) -> OSError:
    """NoSpaceError (Ollama's ``no space left on device``) for ENOSPC; the error itself otherwise."""
    return NoSpaceError() if exc.errno == errno.ENOSPC else exc


@functools.cache
def _process_umask() -> int:
    """The process umask, read without changing it where the system tells (Linux), else set and restored once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _manifest_bytes(manifest: Manifest) -> bytes:
    data = manifest.model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.dumps(data, separators=(",", ":")).encode()


def _chunks(data: bytes | IO[bytes] | Iterable[bytes] | Path) -> Iterator[bytes]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        yield bytes(data)
    elif isinstance(data, Path):
        with data.open("rb") as f:
            yield from iter(lambda: f.read(_CHUNK), b"")
    elif hasattr(data, "read"):
        yield from iter(lambda: data.read(_CHUNK), b"")  # type: ignore[union-attr]
    else:
        for chunk in data:
            yield bytes(chunk)


def _drain(data: Any) -> None:
    if not isinstance(data, (bytes, bytearray, memoryview, Path)) and not hasattr(data, "read"):
        for _ in data:
            pass
