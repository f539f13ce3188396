"""The host-RAM prompt cache: KV states of long prefixes that lost their slot, kept in memory for a later request.

When a slot is taken for a request that shares little with what the slot holds, the decode loop saves the slot's
sequence state (llama.cpp's ``llama_state_seq_get_data``: its KV cells and positions) here first; a later request
whose prompt starts with a saved prefix gets it copied back into its slot (``llama_state_seq_set_data``) and
evaluates only the rest, as llama-server's ``--cache-ram`` does. The cache is bounded in bytes and drops the least
recently used state first. Everything here runs on the decode thread.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from dataclasses import dataclass

import llama_cpp.llama_cpp as C
import numpy as np

from ._llama import common_prefix

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

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[int, CachedPrompt] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.saved = 0
        self.tokens_restored = 0

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, prompt: list[int]) -> tuple[CachedPrompt | None, int]:
        """The entry sharing the longest prefix with ``prompt``, and that length (``None, 0`` when none does)."""
        if not self._entries:
            return None, 0
        query = np.asarray(prompt, np.int32)
        best, length = None, 0
        for entry in self._entries.values():
            n = common_prefix(entry.tokens, query)
            if n > length:
                best, length = entry, n
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
        size = int(C.llama_state_seq_get_size(ctx, seq_id))
        if size <= 0 or size > self.capacity:
            return False
        state = (ctypes.c_uint8 * size)()
        written = int(C.llama_state_seq_get_data(ctx, state, size, seq_id))
        if written <= 0:
            return False
        if written < size:
            state = (ctypes.c_uint8 * written).from_buffer_copy(state)  # type: ignore[assignment]
        for key in [k for k, e in self._entries.items() if common_prefix(e.tokens, array) == len(e.tokens)]:
            self._drop(key)
        entry = CachedPrompt(array, list(starts), state)
        self._entries[id(entry)] = entry
        self.bytes += entry.size
        while self.bytes > self.capacity:
            self._drop(next(iter(self._entries)))
        self.saved += 1
        return True

    def restore(self, ctx: ctypes.c_void_p, entry: CachedPrompt, seq_id: int) -> bool:
        """Replace sequence ``seq_id``'s cells with ``entry``'s state; False (the sequence then empty) on failure."""
        mem = C.llama_get_memory(ctx)
        C.llama_memory_seq_rm(mem, seq_id, -1, -1)
        read = int(C.llama_state_seq_set_data(ctx, entry.state, entry.size, seq_id))
        if read != entry.size:
            C.llama_memory_seq_rm(mem, seq_id, -1, -1)
            return False
        if id(entry) in self._entries:  # (saving the slot's own state first may have pushed it out)
            self._entries.move_to_end(id(entry))
        return True

    def _drop(self, key: int) -> None:
        self.bytes -= self._entries.pop(key).size
