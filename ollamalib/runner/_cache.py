"""The host-RAM prompt cache: KV states of long prefixes that lost their slot, kept in memory for a later request.

When a slot is taken for a request that shares little with what the slot holds, the decode loop saves the slot's
sequence state (llama.cpp's ``llama_state_seq_get_data``: its KV cells and positions) here first; a later request
whose prompt starts with a saved prefix gets it copied back into its slot (``llama_state_seq_set_data``) and
evaluates only the rest, as llama-server's ``--cache-ram`` does. The cache is bounded in bytes and drops the least
recently used state first. Everything here runs on the decode thread.

With a ``DiskCache`` (``_disk``) under it, every saved state is also written to a file, a prompt the RAM entries
do not cover as well as a file does is read back from that file, and ``persist`` writes the slots' states when the
runner closes, so the cache outlives the process.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import llama_cpp.llama_cpp as C
import numpy as np

from ._llama import common_prefix

if TYPE_CHECKING:
    from ._disk import DiskCache

__all__ = ["CachedPrompt", "PromptCache"]


@dataclass(eq=False)
class CachedPrompt:
    """One saved sequence state: the tokens its KV cells hold (positions 0..n-1) and how they were evaluated."""

    tokens: np.ndarray  # int32
    starts: list[int]  # first position of each llama_decode that wrote these cells (for exact replays)
    state: ctypes.Array[ctypes.c_uint8]

    @property
    def size(self) -> int:
        return len(self.state)


class PromptCache:
    """Saved prefix states, least recently used first, within ``capacity`` bytes (see the module docstring)."""

    def __init__(self, capacity: int, disk: DiskCache | None = None) -> None:
        self.capacity = capacity
        self.disk = disk
        self._entries: OrderedDict[int, CachedPrompt] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.saved = 0
        self.tokens_restored = 0

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, prompt: list[int]) -> tuple[CachedPrompt | None, int]:
        """The entry sharing the longest prefix with ``prompt``, and that length (``None, 0`` when none does); a
        longer one on disk is read into the cache first."""
        query = np.asarray(prompt, np.int32)
        best, length = None, 0
        for entry in self._entries.values():
            n = common_prefix(entry.tokens, query)
            if n > length:
                best, length = entry, n
        if self.disk is not None:
            stored, n = self.disk.find(query)
            if stored is not None and n > length:
                loaded = self.disk.load(stored)
                if loaded is not None:
                    self._add(loaded)
                    return loaded, n
        return best, length

    def save(self, ctx: ctypes.c_void_p, seq_id: int, tokens: list[int], starts: list[int]) -> bool:
        """Copy sequence ``seq_id``'s state (which holds exactly ``tokens``) into the cache, dropping entries it
        extends and then the least recently used ones until it fits. False when it is already covered by an
        entry, or larger than the whole cache."""
        array = np.asarray(tokens, np.int32)
        for key, entry in self._entries.items():
            if len(entry.tokens) >= len(array) and common_prefix(entry.tokens, array) == len(array):
                self._entries.move_to_end(key)
                return False
        if int(C.llama_state_seq_get_size(ctx, seq_id)) > self.capacity:
            return False
        state = _seq_state(ctx, seq_id)
        if state is None:
            return False
        for key in [k for k, e in self._entries.items() if common_prefix(e.tokens, array) == len(e.tokens)]:
            self._drop(key)
        entry = CachedPrompt(array, list(starts), state)
        self._add(entry)
        if self.disk is not None:
            self.disk.put(entry)
        self.saved += 1
        return True

    def persist(self, ctx: ctypes.c_void_p, seq_id: int, tokens: list[int], starts: list[int]) -> None:
        """Write sequence ``seq_id``'s state (exactly ``tokens``) to the disk cache only (a closing runner's slots)."""
        if self.disk is None:
            return
        if int(C.llama_state_seq_get_size(ctx, seq_id)) > self.disk.capacity:
            return
        state = _seq_state(ctx, seq_id)
        if state is not None:
            self.disk.put(CachedPrompt(np.asarray(tokens, np.int32), list(starts), state))
            self.disk.flush()  # one slot's state in memory at a time

    def restore(self, ctx: ctypes.c_void_p, entry: CachedPrompt, seq_id: int) -> bool:
        """Replace sequence ``seq_id``'s cells with ``entry``'s state; False (the sequence then empty) on failure."""
        mem = C.llama_get_memory(ctx)
        C.llama_memory_seq_rm(mem, seq_id, -1, -1)
        read = int(C.llama_state_seq_set_data(ctx, entry.state, entry.size, seq_id))
        if read != entry.size:
            C.llama_memory_seq_rm(mem, seq_id, -1, -1)
            if id(entry) in self._entries:  # a state llama.cpp refuses once it refuses again: forget it
                self._drop(id(entry))
            if self.disk is not None:
                self.disk.forget(entry.tokens)
            return False
        if id(entry) in self._entries:  # (saving the slot's own state first may have pushed it out)
            self._entries.move_to_end(id(entry))
        return True

    def close(self) -> None:
        """Finish writing to the disk cache (the RAM entries go with the object)."""
        if self.disk is not None:
            self.disk.close()

    def _add(self, entry: CachedPrompt) -> None:
        """Keep ``entry`` as the most recently used, dropping the least recently used ones until it fits."""
        if entry.size > self.capacity:
            return
        self._entries[id(entry)] = entry
        self.bytes += entry.size
        while self.bytes > self.capacity:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: int) -> None:
        self.bytes -= self._entries.pop(key).size


def _seq_state(ctx: ctypes.c_void_p, seq_id: int) -> ctypes.Array[ctypes.c_uint8] | None:
    """A copy of sequence ``seq_id``'s state (``llama_state_seq_get_data``), or None when it has none."""
    size = int(C.llama_state_seq_get_size(ctx, seq_id))
    if size <= 0:
        return None
    state = (ctypes.c_uint8 * size)()
    written = int(C.llama_state_seq_get_data(ctx, state, size, seq_id))
    if written <= 0:
        return None
    if written < size:
        state = (ctypes.c_uint8 * written).from_buffer_copy(state)
    return state
