"""Blob download in parallel HTTP Range parts, resumable, as Ollama's server/download.go.

A blob ``blobs/sha256-<hex>`` is written to ``sha256-<hex>-partial`` (pre-truncated to its size) with one
JSON state file ``sha256-<hex>-partial-<N>`` per part (``{"N","Offset","Size","Completed"}``), so a pull
that dies resumes where each part stopped. The SHA-256 is computed while the parts arrive, from the
contiguous downloaded prefix, and the blob is only renamed into place when it matches its digest. Writers
of one blob (threads or processes) are serialised by the store's blob lock: the second waits, then finds
the blob present.

Speed: the first part's request doubles as Ollama's direct-URL probe (the size comes from the manifest),
bodies are read from the socket straight into one buffer per part, and blobs of a few KB take one GET.
The parts are fetched in file order by one stream first; the other parts' parallel streams join as soon
as that stream turns out slower than ``solo_rate``. On a link that fast (a local registry) one stream is
about as quick as several, and bytes arriving in order let the hash finish with the download instead of
after it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import filelock
import httpx

from ..errors import DigestMismatchError, NoSpaceError, RegistryError
from ..names import Digest
from ..store import ModelStore
from ..types import ProgressResponse
from ._transport import Transport, location, raise_for_status

__all__ = ["BlobDownloader", "Part", "default_part_size"]

log = logging.getLogger("ollamalib.registry")

MIN_PART_SIZE = 100 * 1000 * 1000
MAX_PART_SIZE = 1000 * 1000 * 1000
NUM_PARTS = 16
SOLO_RATE = 500e6  # bytes/s: a single stream at least this fast is not joined by parallel ones
RATE_WINDOW = 0.25  # seconds of streaming that decide it
SMALL_BLOB = 64 * 1024
READ_SIZE = 1024 * 1024
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


class _Job:
    """One blob in flight: its parts, the partial file, where to fetch from, and the running hash.

    A part's ``completed`` only grows after its bytes are written, so everything before ``ready()`` is on
    disk for the hasher.
    """

    def __init__(
        self, parts: list[Part], final: Path, fd: int, origin: str, headers: dict[str, str], *, stored: bool
    ) -> None:
        self.parts = parts
        self.final = final
        self.fd = fd
        self.origin = origin
        self.origin_headers = headers
        self.total = sum(p.size for p in parts)
        self.stop = threading.Event()
        self.located = threading.Event()
        self.url = ""  # the direct URL, once the first response told it
        self.with_auth = True
        self.headers: dict[str, str] = {}
        self.stored = stored  # whether the state files on disk describe this layout
        self.save_lock = threading.Lock()
        self.hasher = _Hasher(self)

    def locate(self, url: str, with_auth: bool) -> None:
        """Record the direct URL (credentials only when it is on the origin's host) and release the workers."""
        self.url, self.with_auth = url, with_auth
        self.headers = self.origin_headers if with_auth else {}
        self.located.set()

    def ready(self) -> int:
        """End of the contiguous run of written bytes starting at 0."""
        for part in self.parts:
            if not part.done:
                return part.starts_at
        return self.total

    def completed(self) -> int:
        return sum(p.completed for p in self.parts)

    def save(self, part: Part | None = None) -> None:
        """Write ``part``'s state file, or every part's (always so the first time: the files on disk then
        describe the whole layout before any part's progress is recorded)."""
        with self.save_lock:
            for p in (part,) if part is not None and self.stored else self.parts:
                _write_state(self.final, p)
            self.stored = True


class _Workers:
    """The threads fetching a job's pending parts in file order; more can join while it runs. The first
    thread's first request finds the direct URL, the others wait for it. The first error stops them all,
    and ``finished`` is set when the last one exits."""

    def __init__(self, downloader: BlobDownloader, job: _Job, pending: list[Part]) -> None:
        self.downloader = downloader
        self.job = job
        self.queue = deque(pending)
        self.limit = min(downloader.max_parts, len(pending))
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []
        self.finished = threading.Event()
        self.lock = threading.Lock()
        self.running = 0

    def add(self, count: int) -> None:
        count = min(count, self.limit - len(self.threads))
        with self.lock:
            self.running += count
        name = f"pull-{self.job.final.name[7:19]}"
        for _ in range(count):
            first = not self.threads
            thread = threading.Thread(target=self._work, args=(first,), name=name, daemon=True)
            self.threads.append(thread)
            thread.start()

    def _work(self, first: bool) -> None:
        job = self.job
        try:
            if not first:
                while not job.located.wait(PROGRESS_INTERVAL):
                    if job.stop.is_set():
                        return
            while not job.stop.is_set():
                try:
                    part = self.queue.popleft()
                except IndexError:
                    return
                self.downloader._run_part(job, part)
        except BaseException as exc:  # noqa: BLE001 - handed to the generator
            self.errors.append(exc)
            job.stop.set()
        finally:
            with self.lock:
                self.running -= 1
                if self.running == 0 or self.errors:
                    self.finished.set()

    def join(self) -> None:
        for thread in self.threads:
            thread.join()


class _Stalled(Exception):
    pass


class _Resized(Exception):
    """The registry's blob is not the size the layout was made for (a manifest with a wrong size)."""

    def __init__(self, total: int) -> None:
        super().__init__(total)
        self.total = total


class BlobDownloader:
    """Downloads blobs into a store; one instance is shared by a Registry's pulls.

    ``part_size`` and ``max_parts`` are Ollama's part layout and parallelism. ``solo_rate`` (bytes/s) is
    the single-stream speed from which the other parts do not get streams of their own; None starts them
    all at once, as Ollama does.
    """

    def __init__(
        self,
        store: ModelStore,
        transport: Transport,
        *,
        part_size: int | None = None,
        max_parts: int = NUM_PARTS,
        solo_rate: float | None = SOLO_RATE,
        stall_timeout: float = 30.0,
        max_retries: int = 6,
        retry_backoff: float = 1.0,
        connect_timeout: float = 30.0,
    ) -> None:
        self.store = store
        self.transport = transport
        self.part_size = part_size
        self.max_parts = max(1, max_parts)
        self.solo_rate = solo_rate
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

        The blob's size is ``size``, else ``size_hint`` (the manifest's), else a HEAD request's; ``headers``
        go with every request to ``url``'s host (never to a cross-host redirect target).
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
            expected = size if size is not None else size_hint
            yield from self._download_locked(url, digest, final, status, expected, headers or {})
        finally:
            lock.release()

    # -- the download proper -----------------------------------------------------------------------------

    def _download_locked(
        self, url: str, digest: Digest, final: Path, status: str, expected: int | None, headers: dict[str, str]
    ) -> Iterator[ProgressResponse]:
        partial = final.with_name(final.name + "-partial")
        parts = self._load_parts(final, partial)
        resumed = bool(parts)
        if not parts:
            if expected is not None and expected <= min(SMALL_BLOB, self.part_size or SMALL_BLOB):
                yield from self._download_small(url, digest, final, status, expected, headers)
                return
            parts = self._layout(expected if expected is not None else self._head_size(url, headers))
        # Room for what is still to come, checked before the first byte: a pull that cannot fit fails at once
        # with Ollama's "no space left on device" instead of filling the disk first.
        self.store.ensure_space(sum(p.size - p.completed for p in parts))
        try:
            yield from self._download_parts(url, digest, final, partial, status, parts, resumed, headers)
        except _Resized as exc:
            log.info("%s is %d bytes, not %d; starting over", digest.short, exc.total, sum(p.size for p in parts))
            _remove_download(final, partial)
            try:
                yield from self._download_parts(
                    url, digest, final, partial, status, self._layout(exc.total), False, headers
                )
            except _Resized as again:
                _remove_download(final, partial)
                raise RegistryError(f"blob size changed during download: {exc.total}, then {again.total}") from None

    def _layout(self, total: int) -> list[Part]:
        step = max(self.part_size or default_part_size(total), 1)
        return [Part(i, off, min(step, total - off)) for i, off in enumerate(range(0, total, step))]

    def _download_parts(
        self,
        url: str,
        digest: Digest,
        final: Path,
        partial: Path,
        status: str,
        parts: list[Part],
        resumed: bool,
        headers: dict[str, str],
    ) -> Iterator[ProgressResponse]:
        log.info("downloading %s in %d part(s)", digest.short, len(parts))
        fd = os.open(partial, os.O_RDWR | os.O_CREAT, 0o644)
        job = _Job(parts, final, fd, url, headers, stored=resumed)
        total = job.total
        workers = _Workers(self, job, [p for p in parts if not p.done])
        full = False
        try:
            if os.fstat(fd).st_size != total:
                os.ftruncate(fd, total)
            resumed_at = job.completed()  # the first event says where the download resumes, before workers add to it
            if workers.limit:
                workers.add(1 if self.solo_rate is not None else workers.limit)
            job.hasher.start()
            yield _progress(status, digest, total, resumed_at)
            if workers.limit:
                job.save()
                rates: deque[tuple[float, int]] = deque()
                while not workers.finished.wait(PROGRESS_INTERVAL):
                    yield _progress(status, digest, total, job.completed())
                    if len(workers.threads) < workers.limit and self._too_slow(job, rates):
                        workers.add(workers.limit)
                workers.join()
                if workers.errors:
                    raise workers.errors[0]
            if job.ready() != total:
                raise RegistryError("download incomplete")
            actual = job.hasher.result()
            os.close(fd)
            fd = -1
            if actual != digest.hex:
                _remove_download(final, partial)
                raise _mismatch(digest, actual)
            os.chmod(partial, self.store.file_mode())
            os.replace(partial, final)
            for path in final.parent.glob(final.name + "-partial-*"):
                path.unlink(missing_ok=True)
            yield ProgressResponse(status=status, digest=str(digest), total=total, completed=total)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            full = True
            raise NoSpaceError() from exc
        finally:
            job.stop.set()
            workers.join()
            if job.hasher.is_alive():
                job.hasher.join()
            if fd >= 0:
                os.close(fd)
                if full:
                    self._after_disk_full(job, final, partial)
                elif partial.exists():
                    job.save()

    def _after_disk_full(self, job: _Job, final: Path, partial: Path) -> None:
        """Keep a download that filled the disk only as far as its bytes run contiguously from the start
        (parts beyond are dropped and the file truncated there), and only if the rest would now fit (the
        space was taken by something that has since let go); otherwise remove the partial file and its part
        states, so that a full disk is not kept full by a download that cannot finish."""
        kept = job.ready()
        try:
            if kept:
                os.truncate(partial, kept)
                for part in job.parts:
                    part.completed = max(0, min(part.size, kept - part.offset))
                job.stored = False
                job.save()
                if self.store.free_space_reserve_left() >= job.total - kept:
                    log.info("%s: disk full; kept %d resumable bytes", final.name, kept)
                    return
        except OSError:
            pass
        log.info("%s: disk full; removed the partial download", final.name)
        _remove_download(final, partial)

    def _too_slow(self, job: _Job, rates: deque[tuple[float, int]]) -> bool:
        """Whether the lone stream has run for ``RATE_WINDOW`` below ``solo_rate`` (``rates`` holds its
        recent (time, bytes) samples)."""
        if not job.located.is_set():
            return False
        now, done = time.monotonic(), job.completed()
        rates.append((now, done))
        while len(rates) > 1 and now - rates[1][0] >= RATE_WINDOW:
            rates.popleft()
        start, before = rates[0]
        return now - start >= RATE_WINDOW and (done - before) / (now - start) < (self.solo_rate or 0.0)

    def _download_small(
        self, url: str, digest: Digest, final: Path, status: str, expected: int, headers: dict[str, str]
    ) -> Iterator[ProgressResponse]:
        """A blob of a few KB (a config, template or license): one GET, hashed in memory, then written."""
        yield _progress(status, digest, expected, 0)
        data = self._get_small(url, headers, expected)
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest.hex:
            raise _mismatch(digest, actual)
        partial = final.with_name(final.name + "-partial")
        try:
            partial.write_bytes(data)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            if exc.errno == errno.ENOSPC:
                raise NoSpaceError() from exc
            raise
        os.chmod(partial, self.store.file_mode())
        os.replace(partial, final)
        yield _progress(status, digest, len(data), len(data))

    def _get_small(self, url: str, headers: dict[str, str], expected: int) -> bytes:
        """The body of ``url`` (at most ``expected + 1`` bytes: more cannot match the digest anyway),
        following redirects; transport errors and 5xx answers are retried with backoff."""
        timeout = httpx.Timeout(self.stall_timeout, connect=self.connect_timeout)
        failures = 0
        while True:
            try:
                with self._follow(url, headers, {"Accept-Encoding": "identity"}, timeout) as (resp, _, _):
                    raise_for_status(resp)
                    return _read_at_most(resp, expected + 1)
            except _TooManyRedirects:
                raise RegistryError(f"maximum redirects exceeded ({MAX_REDIRECTS}) for {url}") from None
            except RegistryError as exc:
                failures += 1
                transient = isinstance(exc.__cause__, httpx.TransportError) or exc.status_code >= 500
                if not transient or failures >= self.max_retries:
                    raise
                time.sleep(self.retry_backoff * 2 ** (failures - 1))

    @contextmanager
    def _follow(
        self, url: str, headers: dict[str, str], extra: dict[str, str], timeout: httpx.Timeout
    ) -> Iterator[tuple[httpx.Response, str, bool]]:
        """GET ``url`` following redirects as Ollama's directURL does: with the credentials on the same host,
        and without them from the first cross-host target on. Yields (response, its URL, with credentials)."""
        origin = urlsplit(url).hostname
        current, same = url, True
        for _ in range(MAX_REDIRECTS + 1):
            with self.transport.stream(
                "GET",
                current,
                headers={**headers, **extra} if same else extra,
                with_auth=same,
                timeout=timeout,
                check=False,
            ) as resp:
                target = location(resp) if 300 <= resp.status_code < 400 else None
                if target is None:
                    yield resp, current, same
                    return
            current = target
            same = same and urlsplit(target).hostname == origin
        raise _TooManyRedirects()

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

    def _run_part(self, job: _Job, part: Part) -> None:
        """Fetch one part, retrying with backoff: a stall that made progress is retried at once and not
        counted, other failures up to ``max_retries`` times."""
        failures = 0
        short = job.final.name[7:19]
        try:
            while not part.done and not job.stop.is_set():
                before = part.completed
                try:
                    self._fetch_part(job, part)
                    if part.done or job.stop.is_set():
                        return
                    raise RegistryError("unexpected EOF")
                except _Stalled:
                    log.info("%s part %d stalled; retrying", short, part.n)
                    if part.completed > before:
                        continue
                    err: BaseException = RegistryError("part stalled")
                except _TooManyRedirects:
                    raise RegistryError(f"maximum redirects exceeded ({MAX_REDIRECTS}) for directURL") from None
                except OSError as exc:
                    if exc.errno == errno.ENOSPC:
                        raise
                    err = exc
                failures += 1
                if failures >= self.max_retries:
                    raise RegistryError(f"max retries exceeded: {err}") from err
                sleep = self.retry_backoff * 2 ** (failures - 1)
                log.info("%s part %d attempt %d failed: %s, retrying in %.2fs", short, part.n, failures, err, sleep)
                if job.stop.wait(sleep):
                    return
        finally:
            job.save(part)

    @contextmanager
    def _open(self, job: _Job, extra: dict[str, str], timeout: httpx.Timeout) -> Iterator[httpx.Response]:
        """A GET of the blob: at the direct URL once known, else at the registry's, following its redirects
        (Ollama's directURL probe, made by the first part's own request)."""
        if job.located.is_set():
            headers = {**job.headers, **extra}
            with self.transport.stream(
                "GET", job.url, headers=headers, with_auth=job.with_auth, timeout=timeout, check=False
            ) as resp:
                yield resp
            return
        with self._follow(job.origin, job.origin_headers, extra, timeout) as (resp, url, same):
            if resp.status_code in (200, 206):
                job.locate(url, same)
            yield resp

    def _fetch_part(self, job: _Job, part: Part) -> None:
        start, end = part.starts_at, part.stops_at
        extra = {"Range": f"bytes={start}-{end - 1}", "Accept-Encoding": "identity"}
        timeout = httpx.Timeout(self.stall_timeout, connect=self.connect_timeout)
        try:
            with self._open(job, extra, timeout) as resp:
                code = resp.status_code
                if code not in (200, 206):
                    raise_for_status(resp)
                    raise RegistryError(f"unexpected status code {code} for a Range request")
                size = _blob_size(resp)
                if size is not None and size != job.total:
                    raise _Resized(size)
                if code == 200 and not (start == 0 and end == job.total):
                    raise RegistryError(f"unexpected status code {code} for a Range request")
                try:
                    self._receive(resp, job, part)
                except (httpx.ReadTimeout, socket.timeout) as exc:
                    raise _Stalled() from exc
                except httpx.HTTPError as exc:
                    raise RegistryError(f"{type(exc).__name__}: {exc}") from exc
        except RegistryError as exc:
            if isinstance(exc.__cause__, httpx.ReadTimeout):
                raise _Stalled() from exc
            raise

    def _receive(self, resp: httpx.Response, job: _Job, part: Part) -> None:
        """Write the response body at ``part.starts_at`` onwards until the part is full, the body ends or the
        job stops. After httpx's first chunk the rest is read straight from the socket when it can be."""
        pos, end = part.starts_at, part.stops_at
        fd, stop = job.fd, job.stop
        last_save = time.monotonic()
        sock = _raw_socket(resp, end - pos)
        chunks = resp.iter_bytes()  # kept referenced: dropping it midway would close the response
        for chunk in chunks:
            chunk = chunk[: end - pos]
            _pwrite(fd, chunk, pos)
            pos += len(chunk)
            part.completed = pos - part.offset
            if pos >= end or stop.is_set():
                return
            if sock is not None:
                break
            now = time.monotonic()
            if now - last_save >= STATE_INTERVAL:
                job.save(part)
                last_save = now
        else:
            return
        assert sock is not None
        sock.settimeout(self.stall_timeout)
        buf = memoryview(bytearray(min(READ_SIZE, end - pos)))
        while pos < end:
            n = sock.recv_into(buf, min(len(buf), end - pos))
            if not n:
                return
            _pwrite(fd, buf[:n], pos)
            pos += n
            part.completed = pos - part.offset
            if stop.is_set():
                return
            now = time.monotonic()
            if now - last_save >= STATE_INTERVAL:
                job.save(part)
                last_save = now


class _TooManyRedirects(Exception):
    pass


def _raw_socket(resp: httpx.Response, want: int) -> socket.socket | None:
    """The connection's socket when the rest of the body can be read from it directly: an unencoded HTTP/1.1
    body of exactly ``want`` bytes with a Content-Length, over a plain or TLS socket (not a tunnel in a tunnel).

    httpcore hands the first chunk over with everything its parser had buffered, so after it the socket holds
    the rest of the body; the connection is then closed, not reused, because its parser never saw that rest.
    """
    if resp.http_version != "HTTP/1.1" or "transfer-encoding" in resp.headers:
        return None
    if resp.headers.get("content-encoding", "identity") != "identity":
        return None
    if resp.headers.get("content-length") != str(want):
        return None
    stream = resp.extensions.get("network_stream")
    if stream is None or type(stream).__name__ != "SyncStream":
        return None
    sock = stream.get_extra_info("socket")
    return sock if isinstance(sock, socket.socket) else None


def _blob_size(resp: httpx.Response) -> int | None:
    """The whole blob's size as a 206 (Content-Range) or 200 (Content-Length) answer states it."""
    if resp.status_code == 206:
        value: str | None = resp.headers.get("content-range", "").rpartition("/")[2]
    else:
        value = resp.headers.get("content-length")
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _read_at_most(resp: httpx.Response, limit: int) -> bytes:
    data = bytearray()
    try:
        for chunk in resp.iter_bytes():
            data += chunk
            if len(data) >= limit:
                break
    except httpx.HTTPError as exc:
        raise RegistryError(f"{type(exc).__name__}: {exc}") from exc
    return bytes(data[:limit])


def _mismatch(digest: Digest, actual: str) -> DigestMismatchError:
    return DigestMismatchError(
        str(digest),
        f"sha256:{actual}",
        f"digest mismatch, file must be downloaded again: want {digest}, got sha256:{actual}",
    )


def _pwrite(fd: int, data: bytes | memoryview, offset: int) -> None:
    while data:
        n = os.pwrite(fd, data, offset)
        data = data[n:]
        offset += n


def _progress(status: str, digest: Digest, total: int, completed: int) -> ProgressResponse:
    return ProgressResponse(status=status, digest=str(digest), total=total, completed=completed)


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
    """SHA-256 of the partial file, computed while it downloads: it follows the contiguous written prefix,
    reading it back from the page cache into one reused buffer."""

    def __init__(self, job: _Job) -> None:
        super().__init__(name="pull-hash", daemon=True)
        self.job = job
        self.total = job.total
        self.finished = threading.Event()
        self.pos = 0
        self.sha = hashlib.sha256()
        self.buf: memoryview | None = None

    def _hash_to(self, ready: int) -> bool:
        if self.buf is None:
            self.buf = memoryview(bytearray(min(READ_SIZE, max(self.total, 1))))
        fd, buf = self.job.fd, self.buf
        while self.pos < ready:
            n = os.preadv(fd, [buf[: min(ready - self.pos, len(buf))]], self.pos)
            if not n:
                return False
            self.sha.update(buf[:n])
            self.pos += n
        return True

    def run(self) -> None:
        stop = self.job.stop
        while self.pos < self.total:
            ready = self.job.ready()
            if ready <= self.pos:
                if stop.is_set() and not self.finished.is_set():
                    return
                self.finished.wait(0.005)
                continue
            if not self._hash_to(ready):
                return

    def result(self) -> str:
        """The hex digest once every part is complete (hashes the rest itself if the thread stopped)."""
        self.finished.set()
        self.join()
        self._hash_to(self.total)
        return self.sha.hexdigest()
