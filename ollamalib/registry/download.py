"""Blob download in parallel HTTP Range parts, resumable, as Ollama's server/download.go.

A blob ``blobs/sha256-<hex>`` is written to ``sha256-<hex>-partial`` (pre-truncated to its size) with one
JSON state file ``sha256-<hex>-partial-<N>`` per part (``{"N","Offset","Size","Completed"}``), so a pull
that dies resumes where each part stopped. The finished file is hashed and only renamed into place when it
matches its digest. Writers of one blob (threads or processes) are serialised by the store's blob lock:
the second waits, then finds the blob present.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import filelock
import httpx

from ..errors import DigestMismatchError, RegistryError
from ..names import Digest
from ..store import ModelStore
from ..types import ProgressResponse
from .transport import Transport, location, raise_for_status

__all__ = ["BlobDownloader", "Part", "default_part_size"]

log = logging.getLogger("ollamalib.registry")

MIN_PART_SIZE = 100 * 1000 * 1000
MAX_PART_SIZE = 1000 * 1000 * 1000
NUM_PARTS = 16
MAX_REDIRECTS = 10
PROGRESS_INTERVAL = 0.06
STATE_INTERVAL = 1.0


def default_part_size(total: int, parts: int = NUM_PARTS) -> int:
    """Ollama's part size: ``total / 16`` clamped to [100 MB, 1000 MB]."""
    return min(max(total // parts, MIN_PART_SIZE), MAX_PART_SIZE)


@dataclass
class Part:
    """One Range part of a blob download and how much of it is on disk."""

    n: int
    offset: int
    size: int
    completed: int = 0

    @property
    def starts_at(self) -> int:
        return self.offset + self.completed

    @property
    def stops_at(self) -> int:
        return self.offset + self.size

    @property
    def done(self) -> bool:
        return self.completed >= self.size

    def encode(self) -> bytes:
        """The state file body, byte for byte what Ollama's json.Encoder writes."""
        state = {"N": self.n, "Offset": self.offset, "Size": self.size, "Completed": self.completed}
        return json.dumps(state, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def decode(cls, data: bytes) -> Part:
        s = json.loads(data)
        return cls(int(s["N"]), int(s["Offset"]), int(s["Size"]), int(s.get("Completed", 0)))


class _Stalled(Exception):
    pass


class BlobDownloader:
    """Downloads blobs into a store; one instance is shared by a Registry's pulls."""

    def __init__(
        self,
        store: ModelStore,
        transport: Transport,
        *,
        part_size: int | None = None,
        max_parts: int = NUM_PARTS,
        stall_timeout: float = 30.0,
        max_retries: int = 6,
        retry_backoff: float = 1.0,
        connect_timeout: float = 30.0,
    ) -> None:
        self.store = store
        self.transport = transport
        self.part_size = part_size
        self.max_parts = max(1, max_parts)
        self.stall_timeout = stall_timeout
        self.max_retries = max(1, max_retries)
        self.retry_backoff = retry_backoff
        self.connect_timeout = connect_timeout

    # -- entry point -------------------------------------------------------------------------------------

    def download(
        self,
        url: str,
        digest: Digest,
        *,
        size_hint: int | None = None,
        size: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Iterator[ProgressResponse]:
        """Make sure ``digest`` is in the store, fetching it from ``url``; yields ``pulling <12hex>`` events.

        ``size`` (when the caller knows it) replaces the HEAD request; ``headers`` go with every request to
        ``url``'s host (never to a cross-host redirect target).
        """
        status = f"pulling {digest.short}"
        final = self.store.blob_path(digest)
        if final.is_file():
            have = final.stat().st_size
            yield ProgressResponse(status=status, digest=str(digest), total=have, completed=have)
            return
        self.store.blobs_dir.mkdir(parents=True, exist_ok=True)
        lock = self.store.blob_lock(digest)
        last = 0.0
        while True:
            try:
                lock.acquire(timeout=PROGRESS_INTERVAL)
                break
            except filelock.Timeout:
                now = time.monotonic()
                if now - last >= 0.25:  # someone else is downloading it: report their progress
                    last = now
                    total, completed = _peek(final)
                    total = total or size_hint
                    yield ProgressResponse(status=status, digest=str(digest), total=total, completed=completed)
        try:
            if final.is_file():  # another writer finished it while we waited
                have = final.stat().st_size
                yield ProgressResponse(status=status, digest=str(digest), total=have, completed=have)
                return
            yield from self._download_locked(url, digest, final, status, size, headers or {})
        finally:
            lock.release()

    # -- the download proper -----------------------------------------------------------------------------

    def _download_locked(
        self, url: str, digest: Digest, final: Path, status: str, size: int | None, headers: dict[str, str]
    ) -> Iterator[ProgressResponse]:
        partial = final.with_name(final.name + "-partial")
        parts = self._load_parts(final, partial)
        if not parts:
            total = size if size is not None else self._head_size(url, headers)
            step = max(self.part_size or default_part_size(total), 1)
            parts = [Part(i, off, min(step, total - off)) for i, off in enumerate(range(0, total, step))]
            for part in parts:
                _write_state(final, part)
        total = sum(p.size for p in parts)
        log.info("downloading %s in %d part(s)", digest.short, len(parts))

        fd = os.open(partial, os.O_RDWR | os.O_CREAT, 0o644)
        stop = threading.Event()
        hasher = _Hasher(fd, parts, stop)
        threads: list[threading.Thread] = []
        errors: list[BaseException] = []
        try:
            if os.fstat(fd).st_size != total:
                os.ftruncate(fd, total)
            hasher.start()
            pending = [p for p in parts if not p.done]
            yield _progress(status, digest, total, parts)
            if pending:
                finished = threading.Event()
                threads = self._start_workers(pending, url, headers, fd, final, total, stop, errors, finished)
                while not finished.wait(PROGRESS_INTERVAL):
                    yield _progress(status, digest, total, parts)
                for t in threads:
                    t.join()
                if errors:
                    raise errors[0]
            if not all(p.done for p in parts):
                raise RegistryError("download incomplete")
            actual = hasher.result()
            os.close(fd)
            fd = -1
            if actual != digest.hex:
                _remove_download(final, partial)
                raise DigestMismatchError(
                    str(digest),
                    f"sha256:{actual}",
                    f"digest mismatch, file must be downloaded again: want {digest}, got sha256:{actual}",
                )
            os.chmod(partial, 0o644)
            os.replace(partial, final)
            for path in final.parent.glob(final.name + "-partial-*"):
                path.unlink(missing_ok=True)
            yield ProgressResponse(status=status, digest=str(digest), total=total, completed=total)
        finally:
            stop.set()
            for t in threads:
                t.join()
            if hasher.is_alive():
                hasher.join()
            if fd >= 0:
                os.close(fd)
                if partial.exists():
                    for part in parts:
                        _write_state(final, part)

    def _start_workers(
        self,
        pending: list[Part],
        url: str,
        headers: dict[str, str],
        fd: int,
        final: Path,
        total: int,
        stop: threading.Event,
        errors: list[BaseException],
        finished: threading.Event,
    ) -> list[threading.Thread]:
        """Up to ``max_parts`` threads taking parts in order; the first error stops them all, and
        ``finished`` is set when the last one exits."""
        direct, with_auth = self._direct_url(url, headers)
        part_headers = headers if with_auth else {}
        queue = list(pending)
        qlock = threading.Lock()
        count = min(self.max_parts, len(pending))
        running = [count]

        def worker() -> None:
            try:
                while not stop.is_set():
                    with qlock:
                        if not queue:
                            return
                        part = queue.pop(0)
                    self._run_part(part, direct, with_auth, part_headers, fd, final, total, stop)
            except BaseException as exc:  # noqa: BLE001 - handed to the generator
                errors.append(exc)
                stop.set()
            finally:
                with qlock:
                    running[0] -= 1
                    if running[0] == 0 or errors:
                        finished.set()

        threads = [threading.Thread(target=worker, name=f"pull-{final.name[7:19]}", daemon=True) for _ in range(count)]
        for t in threads:
            t.start()
        return threads

    def _load_parts(self, final: Path, partial: Path) -> list[Part]:
        """Part states left by an earlier, interrupted download (empty when there are none or they are unusable)."""
        parts: list[Part] = []
        for path in final.parent.glob(final.name + "-partial-*"):
            suffix = path.name.rsplit("-", 1)[1]
            if not suffix.isdigit():
                continue
            try:
                parts.append(Part.decode(path.read_bytes()))
            except (ValueError, KeyError, OSError):
                _remove_download(final, partial)
                return []
        parts.sort(key=lambda p: p.n)
        expected = 0
        for i, part in enumerate(parts):
            if part.n != i or part.offset != expected or part.size < 0:
                _remove_download(final, partial)
                return []
            expected += part.size
        if parts and not partial.exists():
            for part in parts:
                part.completed = 0
        for part in parts:
            part.completed = max(0, min(part.completed, part.size))
        return parts

    def _head_size(self, url: str, headers: dict[str, str]) -> int:
        """The blob's Content-Length from a HEAD, following redirects (credentials only on the same host)."""
        origin = urlsplit(url).hostname
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            same = urlsplit(current).hostname == origin
            resp = self.transport.request(
                "HEAD", current, headers=headers if same else None, with_auth=same, check=False
            )
            target = location(resp) if 300 <= resp.status_code < 400 else None
            if target is None:
                raise_for_status(resp)
                try:
                    return int(resp.headers.get("Content-Length", "0"))
                except ValueError as exc:
                    raise RegistryError(f"invalid Content-Length from {current}") from exc
            current = target
        raise RegistryError(f"maximum redirects exceeded ({MAX_REDIRECTS}) for {url}")

    def _direct_url(self, url: str, headers: dict[str, str]) -> tuple[str, bool]:
        """Follow same-host redirects; the first cross-host redirect is the direct URL (fetched without auth)."""
        origin = urlsplit(url).hostname
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            for attempt in range(self.max_retries):
                try:
                    probe = {**headers, "Range": "bytes=0-0"}
                    with self.transport.stream("GET", current, headers=probe, check=False) as resp:
                        code = resp.status_code
                        target = location(resp) if 300 <= code < 400 else None
                        if code in (200, 206):
                            return current, True
                        if target is None:
                            raise_for_status(resp)
                            raise RegistryError(f"unexpected status code {code}")
                    break
                except RegistryError as exc:
                    if not isinstance(exc.__cause__, httpx.TransportError) or attempt == self.max_retries - 1:
                        raise
                    time.sleep(self.retry_backoff * (attempt + 1) ** 2 * 0.01)
            if urlsplit(target).hostname != origin:
                return target, False
            current = target
        raise RegistryError(f"maximum redirects exceeded ({MAX_REDIRECTS}) for directURL")

    def _run_part(
        self,
        part: Part,
        url: str,
        with_auth: bool,
        headers: dict[str, str],
        fd: int,
        final: Path,
        total: int,
        stop: threading.Event,
    ) -> None:
        failures = 0
        while not part.done and not stop.is_set():
            before = part.completed
            try:
                self._fetch_part(part, url, with_auth, headers, fd, final, total, stop)
                if part.done or stop.is_set():
                    return
                raise RegistryError("unexpected EOF")
            except _Stalled:
                log.info("%s part %d stalled; retrying", final.name[7:19], part.n)
                if part.completed > before:
                    continue
                err: BaseException = RegistryError("part stalled")
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise
                err = exc
            failures += 1
            if failures >= self.max_retries:
                raise RegistryError(f"max retries exceeded: {err}") from err
            sleep = self.retry_backoff * 2 ** (failures - 1)
            log.info(
                "%s part %d attempt %d failed: %s, retrying in %.2fs", final.name[7:19], part.n, failures, err, sleep
            )
            if stop.wait(sleep):
                return

    def _fetch_part(
        self,
        part: Part,
        url: str,
        with_auth: bool,
        extra: dict[str, str],
        fd: int,
        final: Path,
        total: int,
        stop: threading.Event,
    ) -> None:
        start, end = part.starts_at, part.stops_at - 1
        headers = {**extra, "Range": f"bytes={start}-{end}", "Accept-Encoding": "identity"}
        timeout = httpx.Timeout(self.stall_timeout, connect=self.connect_timeout)
        last_save = time.monotonic()
        try:
            with self.transport.stream(
                "GET", url, headers=headers, with_auth=with_auth, timeout=timeout, check=False
            ) as resp:
                if resp.status_code == 200 and start == 0 and part.size == total:
                    pass
                elif resp.status_code != 206:
                    raise_for_status(resp)
                    raise RegistryError(f"unexpected status code {resp.status_code} for a Range request")
                try:
                    for chunk in resp.iter_raw():
                        if stop.is_set():
                            return
                        room = part.size - part.completed
                        if len(chunk) > room:
                            chunk = chunk[:room]
                        os.pwrite(fd, chunk, part.starts_at)
                        part.completed += len(chunk)
                        if part.done:
                            return
                        now = time.monotonic()
                        if now - last_save >= STATE_INTERVAL:
                            _write_state(final, part)
                            last_save = now
                except httpx.ReadTimeout as exc:
                    raise _Stalled() from exc
                except httpx.HTTPError as exc:
                    raise RegistryError(f"{type(exc).__name__}: {exc}") from exc
        except RegistryError as exc:
            if isinstance(exc.__cause__, httpx.ReadTimeout):
                raise _Stalled() from exc
            raise
        finally:
            _write_state(final, part)


def _progress(status: str, digest: Digest, total: int, parts: list[Part]) -> ProgressResponse:
    return ProgressResponse(status=status, digest=str(digest), total=total, completed=sum(p.completed for p in parts))


def _state_path(final: Path, n: int) -> Path:
    return final.with_name(f"{final.name}-partial-{n}")


def _write_state(final: Path, part: Part) -> None:
    path = _state_path(final, part.n)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(part.encode())
    os.replace(tmp, path)


def _remove_download(final: Path, partial: Path) -> None:
    partial.unlink(missing_ok=True)
    for path in final.parent.glob(final.name + "-partial-*"):
        path.unlink(missing_ok=True)


def _peek(final: Path) -> tuple[int | None, int | None]:
    """(total, completed) from another writer's part state files, for progress while waiting on the lock."""
    total = completed = 0
    found = False
    for path in final.parent.glob(final.name + "-partial-*"):
        try:
            part = Part.decode(path.read_bytes())
        except (ValueError, KeyError, OSError):
            continue
        found = True
        total += part.size
        completed += part.completed
    return (total, completed) if found else (None, None)


class _Hasher(threading.Thread):
    """SHA-256 of the partial file, computed while it downloads: it follows the contiguous completed prefix."""

    def __init__(self, fd: int, parts: list[Part], stop: threading.Event) -> None:
        super().__init__(name="pull-hash", daemon=True)
        self.fd = fd
        self.parts = parts
        self.total = sum(p.size for p in parts)
        self.stop = stop
        self.finished = threading.Event()
        self.pos = 0
        self.sha = hashlib.sha256()

    def _ready(self) -> int:
        """End of the contiguous run of downloaded bytes starting at 0."""
        for part in self.parts:
            if not part.done:
                return part.starts_at
        return self.total

    def run(self) -> None:
        while self.pos < self.total:
            ready = self._ready()
            if ready <= self.pos:
                if self.stop.is_set() and not self.finished.is_set():
                    return
                self.finished.wait(0.005)
                continue
            data = os.pread(self.fd, min(ready - self.pos, 8 << 20), self.pos)
            if not data:
                return
            self.sha.update(data)
            self.pos += len(data)

    def result(self) -> str:
        """The hex digest once every part is complete (hashes the rest itself if the thread stopped)."""
        self.finished.set()
        self.join()
        while self.pos < self.total:
            data = os.pread(self.fd, min(self.total - self.pos, 8 << 20), self.pos)
            if not data:
                break
            self.sha.update(data)
            self.pos += len(data)
        return self.sha.hexdigest()
