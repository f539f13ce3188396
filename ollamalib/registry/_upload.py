"""Blob upload over the OCI distribution API, as Ollama's server/upload.go.

HEAD skips a blob the repository has; POST opens an upload session (or mounts the blob from the repository
a layer came from: 201); the bytes go up in PATCH chunks with ``Content-Range`` (a 307 answer means "PUT
this chunk to the redirect URL without credentials"); a final PUT with ``?digest=`` commits the blob.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import httpx

from ..errors import InvalidNameError, RegistryError
from ..names import Digest, ModelName
from ..store import ModelStore
from ..types import Layer, ProgressResponse
from ._download import PROGRESS_INTERVAL, default_part_size
from ._transport import RemoteNotFoundError, Transport, location

__all__ = ["BlobUploader"]

log = logging.getLogger("ollamalib.registry")

_READ = 1 << 20


class BlobUploader:
    """Uploads a store's blobs to one registry repository at a time."""

    def __init__(
        self,
        store: ModelStore,
        transport: Transport,
        *,
        part_size: int | None = None,
        max_retries: int = 6,
        retry_backoff: float = 1.0,
    ) -> None:
        self.store = store
        self.transport = transport
        self.part_size = part_size
        self.max_retries = max(1, max_retries)
        self.retry_backoff = retry_backoff

    def upload(self, base: str, name: ModelName, layer: Layer) -> Iterator[ProgressResponse]:
        """Push one layer's blob to ``name``'s repository; yields ``pushing <12hex>`` events."""
        digest = Digest.parse(layer.digest)
        status = f"pushing {digest.short}"
        repo = f"{base}/v2/{name.namespace}/{name.model}"
        try:
            self.transport.request("HEAD", f"{repo}/blobs/{digest}")
        except RemoteNotFoundError:
            pass
        else:
            yield ProgressResponse(status=status, digest=str(digest), total=layer.size, completed=layer.size)
            return

        path = self.store.blob_path(digest)
        total = path.stat().st_size
        params: dict[str, str] = {}
        if layer.from_:
            try:
                source = ModelName.parse(layer.from_)
                params = {"mount": str(digest), "from": f"{source.namespace}/{source.model}"}
            except InvalidNameError:
                pass
        resp = self.transport.request("POST", str(httpx.URL(f"{repo}/blobs/uploads/", params=params)))
        if resp.status_code == 201:  # cross-repository mount done
            yield ProgressResponse(status=status, digest=str(digest), total=total, completed=total)
            return
        upload_url = location(resp, "Docker-Upload-Location", "Location")
        if not upload_url:
            raise RegistryError("location header is missing in response")

        progress = [0]
        errors: list[BaseException] = []

        def run() -> None:
            try:
                self._send_chunks(upload_url, path, digest, total, progress)
            except BaseException as exc:  # noqa: BLE001 - handed to the generator
                errors.append(exc)

        thread = threading.Thread(target=run, name=f"push-{digest.short}", daemon=True)
        thread.start()
        yield ProgressResponse(status=status, digest=str(digest), total=total, completed=0)
        while thread.is_alive():
            thread.join(PROGRESS_INTERVAL)
            yield ProgressResponse(status=status, digest=str(digest), total=total, completed=progress[0])
        if errors:
            raise errors[0]

    def _send_chunks(self, url: str, path: Path, digest: Digest, total: int, progress: list[int]) -> None:
        size = self.part_size or default_part_size(total)
        sums: list[bytes] = []
        offset = 0
        with open(path, "rb") as f:
            while offset < total:
                length = min(size, total - offset)
                url, sent, md5 = self._send_chunk(url, f, offset, length, progress)
                sums.append(md5)
                offset += sent
        etag = f"{hashlib.md5(b''.join(sums)).hexdigest()}-{len(sums)}"
        commit = httpx.URL(url).copy_merge_params({"digest": str(digest), "etag": etag})
        headers = {"Content-Type": "application/octet-stream", "Content-Length": "0"}
        self._retry(lambda: self.transport.request("PUT", str(commit), headers=headers, body=lambda: b""))

    def _send_chunk(
        self, url: str, f: BinaryIO, offset: int, length: int, progress: list[int]
    ) -> tuple[str, int, bytes]:
        """PATCH ``length`` bytes at ``offset``; returns (next upload URL, bytes accepted, md5 of the chunk)."""
        failures = 0
        while True:
            counted = [0]
            md5 = [hashlib.md5()]

            def body(off: int = offset, n: int = length) -> Iterator[bytes]:
                progress[0] -= counted[0]
                counted[0] = 0
                md5[0] = hashlib.md5()
                remaining = n
                pos = off
                while remaining > 0:
                    data = os.pread(f.fileno(), min(_READ, remaining), pos)
                    if not data:
                        raise RegistryError("blob file shrank during upload")
                    pos += len(data)
                    remaining -= len(data)
                    md5[0].update(data)
                    counted[0] += len(data)
                    progress[0] += len(data)
                    yield data

            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Length": str(length),
                "Content-Range": f"{offset}-{offset + length - 1}",
                "X-Redirect-Uploads": "1",
            }
            try:
                resp = self.transport.request("PATCH", url, headers=headers, body=body)
                nxt = location(resp, "Docker-Upload-Location", "Location")
                if resp.status_code == 307:
                    redirect = location(resp) or ""
                    progress[0] -= counted[0]
                    counted[0] = 0
                    put_headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
                    self._retry(
                        lambda: self.transport.request("PUT", redirect, headers=put_headers, body=body, with_auth=False)
                    )
                if not nxt:
                    raise RegistryError("location header is missing in response")
                return nxt, length, md5[0].digest()
            except RegistryError as exc:
                progress[0] -= counted[0]
                failures += 1
                if failures >= self.max_retries:
                    raise RegistryError(f"max retries exceeded: {exc}") from exc
                sleep = self.retry_backoff * 2 ** (failures - 1)
                log.info("upload part at %d attempt %d failed: %s, retrying in %.2fs", offset, failures, exc, sleep)
                time.sleep(sleep)

    def _retry(self, call: Callable[[], httpx.Response]) -> httpx.Response:
        failures = 0
        while True:
            try:
                return call()
            except RegistryError as exc:
                failures += 1
                if failures >= self.max_retries or not isinstance(exc.__cause__, httpx.TransportError):
                    raise
                time.sleep(self.retry_backoff * 2 ** (failures - 1))
