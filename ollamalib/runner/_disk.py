"""The prompt cache on disk: saved prefix states in files that outlive the process (``OLLAMALIB_CACHE_DIR``).

A second tier under the host-RAM cache (``_cache``): every state the RAM cache saves is also written here (by a
writer thread, so the decode thread never waits on the disk), the slots' states are written when a runner closes,
and a prompt the RAM cache has nothing for is looked up here and read back into RAM. A file holds one state:

    header (magic, version, token count, start count, state size, identity digest, content digest)
    tokens (int32), starts (int32), the state bytes (``llama_state_seq_get_data``)

Its name is ``<identity>-<hash of its tokens>.kv``. The identity is a digest of what makes a KV state valid for a
context: the model's weights (the blob's digest), adapters and projector, num_ctx, num_batch, the KV type, flash
attention, offload and the llama.cpp build; a runner only ever sees the files of its own identity, so a model
loaded with other options never reads another's states. Files are written to a temporary name and renamed; one
whose size, header or content digest is wrong is removed and treated as absent (never restored). The directory
is bounded in bytes over all models: the least recently used files (by mtime; a read touches its file) go first.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import queue
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ._cache import CachedPrompt
from ._llama import common_prefix

__all__ = ["DiskCache", "identity"]

log = logging.getLogger(__name__)

_MAGIC = b"OLKVSEQ\x00"
_VERSION = 1
_HEADER = struct.Struct("<8sIIIQ32s32s")  # magic, version, n_tokens, n_starts, state bytes, identity, content
_SUFFIX = ".kv"
_STALE_TMP = 3600.0  # seconds after which a temporary file is a crashed writer's leftover


def identity(*parts: object) -> str:
    """The hex digest that names what a state depends on (see the module docstring)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def file_identity(path: Path) -> str:
    """A weights file's identity: its digest when it is a store blob (``sha256-<hex>``), else path, size and mtime."""
    if path.name.startswith("sha256-") and len(path.name) == 71:
        return path.name
    st = path.stat()
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


@dataclass(eq=False)
class _Stored:
    """A file of this identity: its path and the tokens it holds (the state is read only when used)."""

    path: Path
    tokens: np.ndarray


class DiskCache:
    """The files of one identity in ``root``, within ``capacity`` bytes for the whole directory (see above)."""

    def __init__(self, root: Path, capacity: int, ident: str) -> None:
        self.root = root
        self.capacity = capacity
        self.ident = ident
        self._ident_bytes = bytes.fromhex(ident)
        self._prefix = ident[:16] + "-"
        self._index: dict[str, _Stored] = {}
        self._lock = threading.Lock()  # guards _index (the decode thread reads it, the writer thread changes it)
        self._scanned_ns = -1
        self.loads = 0
        self.rejected = 0
        root.mkdir(parents=True, exist_ok=True)
        self._queue: queue.Queue[CachedPrompt | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name="ollamalib-kv-writer", daemon=True)
        self._writer.start()

    # -- the decode thread ---------------------------------------------------------------------------------

    def find(self, prompt: np.ndarray) -> tuple[_Stored | None, int]:
        """The file sharing the longest prefix with ``prompt`` and that length (files other processes wrote count)."""
        self._rescan()
        best, length = None, 0
        with self._lock:
            stored = list(self._index.values())
        for entry in stored:
            n = common_prefix(entry.tokens, prompt)
            if n > length:
                best, length = entry, n
        return best, length

    def load(self, stored: _Stored) -> CachedPrompt | None:
        """The verified state of ``stored`` (its file touched, as used), or None when it is gone or corrupt."""
        try:
            with open(stored.path, "rb") as f:
                entry = self._read(f, stored.path)
        except FileNotFoundError:
            entry = None
        except (OSError, ValueError) as exc:
            self.rejected += 1
            log.warning("removing the unreadable prompt cache file %s: %s", stored.path, exc)
            entry = None
            with contextlib.suppress(OSError):
                stored.path.unlink()
        if entry is None:
            self._forget(stored.path)
            return None
        with contextlib.suppress(OSError):
            os.utime(stored.path)
        self.loads += 1
        return entry

    def put(self, entry: CachedPrompt) -> None:
        """Write ``entry`` to disk soon (on the writer thread; its state is never changed after it is saved); a
        state larger than the whole directory's bound is not written."""
        if entry.size <= self.capacity:
            self._queue.put(entry)

    def flush(self) -> None:
        """Wait until everything put so far is written."""
        self._queue.join()

    def forget(self, tokens: np.ndarray) -> None:
        """Remove the file holding exactly ``tokens`` (a state llama.cpp refused to restore)."""
        path = self.root / self._name(tokens)
        with contextlib.suppress(OSError):
            path.unlink()
        self._forget(path)

    def close(self) -> None:
        """Write what is queued, then stop the writer thread."""
        self._queue.put(None)
        self._writer.join()

    # -- the writer thread ---------------------------------------------------------------------------------

    def _write_loop(self) -> None:
        while (entry := self._queue.get()) is not None:
            try:
                self._write(entry)
            except OSError as exc:  # a full or read-only disk costs the cache, never a request
                log.warning("could not write a prompt cache file to %s: %s", self.root, exc)
            except Exception:  # nor does a bug here stop the writer (a close would then wait for it forever)
                log.exception("writing a prompt cache file to %s failed", self.root)
            finally:
                self._queue.task_done()

    def _write(self, entry: CachedPrompt) -> None:
        tokens = np.ascontiguousarray(entry.tokens, np.int32)
        with self._lock:
            stored = list(self._index.values())
        for other in stored:
            if len(other.tokens) >= len(tokens) and common_prefix(other.tokens, tokens) == len(tokens):
                return  # a file holds this prefix already (or a longer one)
        starts = np.asarray(entry.starts, np.int32)
        state = memoryview(entry.state).cast("B")
        digest = hashlib.blake2b(digest_size=32)
        for part in (tokens.tobytes(), starts.tobytes(), state):
            digest.update(part)
        header = _HEADER.pack(_MAGIC, _VERSION, len(tokens), len(starts), len(state), self._ident_bytes,
                              digest.digest())
        path = self.root / self._name(tokens)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(header)
                f.write(tokens.tobytes())
                f.write(starts.tobytes())
                f.write(state)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        with self._lock:
            for name, other in list(self._index.items()):  # files this one extends are covered by it
                if common_prefix(other.tokens, tokens) == len(other.tokens):
                    with contextlib.suppress(OSError):
                        other.path.unlink()
                    del self._index[name]
            self._index[path.name] = _Stored(path, tokens)
        self._bound()

    def _bound(self) -> None:
        """Remove the least recently used files (of any model) until the directory is within capacity."""
        files = []
        for item in os.scandir(self.root):
            if not item.name.endswith(_SUFFIX):
                continue
            with contextlib.suppress(OSError):
                st = item.stat()
                files.append((st.st_mtime_ns, item.name, st.st_size))
        total = sum(size for _, _, size in files)
        for _, name, size in sorted(files):
            if total <= self.capacity:
                break
            with contextlib.suppress(OSError):
                (self.root / name).unlink()
            self._forget(self.root / name)
            total -= size

    # -- files ---------------------------------------------------------------------------------------------

    def _name(self, tokens: np.ndarray) -> str:
        digest = hashlib.sha256(np.ascontiguousarray(tokens, np.int32).tobytes()).hexdigest()
        return f"{self._prefix}{digest[:32]}{_SUFFIX}"

    def _forget(self, path: Path) -> None:
        with self._lock:
            self._index.pop(path.name, None)

    def _rescan(self) -> None:
        """Index the files of this identity when the directory changed since the last look (cheap otherwise)."""
        try:
            mtime = os.stat(self.root).st_mtime_ns
        except OSError:
            return
        if mtime == self._scanned_ns:
            return
        self._scanned_ns = mtime
        found: dict[str, _Stored] = {}
        now = time.time()
        with self._lock:
            known = dict(self._index)
        for item in os.scandir(self.root):
            name = item.name
            if name.endswith(".tmp") and name.startswith("."):
                with contextlib.suppress(OSError):
                    if now - item.stat().st_mtime > _STALE_TMP:
                        os.unlink(item.path)
                continue
            if not (name.startswith(self._prefix) and name.endswith(_SUFFIX)):
                continue
            if name in known:
                found[name] = known[name]
                continue
            tokens = self._read_tokens(Path(item.path))
            if tokens is not None:
                found[name] = _Stored(Path(item.path), tokens)
        with self._lock:
            self._index = found

    def _read_tokens(self, path: Path) -> np.ndarray | None:
        """The tokens of a file whose header is this identity's (a bad one is removed; full checks come on load)."""
        try:
            with open(path, "rb") as f:
                n_tokens, _, _ = self._header(f)
                return np.frombuffer(_read_exactly(f, 4 * n_tokens), np.int32).copy()
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            self.rejected += 1
            log.warning("removing the unreadable prompt cache file %s: %s", path, exc)
            with contextlib.suppress(OSError):
                path.unlink()
            return None

    def _header(self, f: BinaryIO) -> tuple[int, int, int]:
        magic, version, n_tokens, n_starts, n_state, ident, _ = _HEADER.unpack(_read_exactly(f, _HEADER.size))
        if magic != _MAGIC or version != _VERSION:
            raise ValueError("not a prompt cache file of this version")
        if ident != self._ident_bytes:
            raise ValueError("written for another model or other load options")
        if _HEADER.size + 4 * (n_tokens + n_starts) + n_state != os.fstat(f.fileno()).st_size or not n_tokens:
            raise ValueError("truncated or padded")
        return n_tokens, n_starts, n_state

    def _read(self, f: BinaryIO, path: Path) -> CachedPrompt:
        n_tokens, n_starts, n_state = self._header(f)
        f.seek(0)
        want = _HEADER.unpack(_read_exactly(f, _HEADER.size))[6]
        tokens = _read_exactly(f, 4 * n_tokens)
        starts = _read_exactly(f, 4 * n_starts)
        state = (ctypes.c_uint8 * n_state)()
        if f.readinto(memoryview(state).cast("B")) != n_state:
            raise ValueError("truncated")
        digest = hashlib.blake2b(digest_size=32)
        for part in (tokens, starts, memoryview(state).cast("B")):
            digest.update(part)
        if digest.digest() != want:
            raise ValueError("its content does not match its digest")
        token_array = np.frombuffer(tokens, np.int32).copy()
        if path.name != self._name(token_array):
            raise ValueError("its name does not match its tokens")
        return CachedPrompt(token_array, np.frombuffer(starts, np.int32).tolist(), state)


def _read_exactly(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise ValueError("truncated")
    return data
