"""Images through a projector (libmtmd): tokenizing text and images together, and evaluating an image's chunk.

An ImagePrompt is a token list in which each image takes as many positions as it has embedding tokens; those
positions hold negative ids derived from the image's hash (never vocabulary ids), so the decode loop's prefix
matching reuses a slot's KV only for the very same image at the same place.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import llama_cpp.llama_cpp as C
import llama_cpp.mtmd_cpp as M
import numpy as np

from ..errors import ImageError
from ._llama import Model, _on_log, recent_errors
from ._types import RunnerError

__all__ = ["BAD_IMAGE", "ImageChunk", "ImagePrompt", "Projector"]

BAD_IMAGE = "failed to process inputs: image: unknown format"
_ID_SPACE = 2**31 - 2
# What stb_image decodes, by signature. Anything else is refused before libmtmd's helper, which would otherwise
# try it as audio and then as video by running ffprobe.
_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"8BPS", b"#?RADIANCE",
               b"#?RGBE", b"P5", b"P6")
_log_lock = threading.Lock()
_log_ready = False


def _route_logs() -> None:
    global _log_ready
    with _log_lock:
        if not _log_ready:
            M.mtmd_log_set(_on_log, ctypes.c_void_p(0))
            M.mtmd_helper_log_set(_on_log, ctypes.c_void_p(0))
            _log_ready = True


class ImageChunk:
    """One image, preprocessed for the projector: ``n_tokens`` embedding positions; encoded when evaluated."""

    def __init__(self, ptr: int, digest: str) -> None:
        self.ptr = ptr
        self.digest = digest
        self.n_tokens = int(M.mtmd_input_chunk_get_n_tokens(ptr))
        self._finalizer = weakref.finalize(self, M.mtmd_input_chunk_free, ptr)

    def ids(self) -> list[int]:
        """The placeholder ids of this image's positions: negative, distinct per position, fixed by its hash."""
        base = int(self.digest[:15], 16)
        return [-(1 + (base + j) % _ID_SPACE) for j in range(self.n_tokens)]


@dataclass
class ImagePrompt:
    """Text token ids with images in place: ``images`` maps an image's first position in ``tokens`` to it."""

    tokens: list[int]
    images: dict[int, ImageChunk] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def image_tokens(self) -> int:
        """How many positions the images take."""
        return sum(image.n_tokens for image in self.images.values())

    def spans(self) -> list[tuple[int, int]]:
        """``(start, end)`` of each image's positions, in order."""
        return sorted((start, start + image.n_tokens) for start, image in self.images.items())


class Projector:
    """A libmtmd context over a loaded text model (LLaVA-style projectors and their kin)."""

    def __init__(self, model: Model, path: Path, *, n_threads: int) -> None:
        _route_logs()
        if not path.is_file():
            raise RunnerError(f"projector file not found: {path}")
        params = M.mtmd_context_params_default()
        params.use_gpu = False
        params.print_timings = False
        params.n_threads = n_threads
        params.warmup = False
        ptr = M.mtmd_init_from_file(os.fsencode(path), model.ptr, params)
        if not ptr:
            detail = recent_errors()
            raise RunnerError(f"unable to load projector: {path}" + (f": {detail}" if detail else ""))
        self.ptr = ptr
        self.n_embd = int(C.llama_model_n_embd(model.ptr))
        if not M.mtmd_support_vision(ptr):
            self.free()
            raise RunnerError(f"the projector {path} has no vision encoder")
        if M.mtmd_decode_use_mrope(ptr):
            self.free()
            raise RunnerError(f"the projector {path} needs M-RoPE positions, which ollamalib's runner does not "
                              "support yet")

    def tokenize(self, parts: Sequence[str | bytes], *, add_special: bool, parse_special: bool) -> ImagePrompt:
        """Tokenize text pieces and images (raw file bytes: PNG, JPEG, BMP, GIF...) in order."""
        bitmaps: list[int] = []
        keep: list[object] = []
        try:
            part_structs = []
            for part in parts:
                if isinstance(part, str):
                    data = part.encode("utf-8")
                    keep.append(data)
                    text = M.mtmd_input_text(text=data, text_len=len(data), add_special=add_special,
                                             parse_special=parse_special)
                    keep.append(text)
                    part_structs.append(M.mtmd_input_part(text=ctypes.pointer(text), bitmap=None))
                else:
                    bitmap = self._bitmap(bytes(part))
                    bitmaps.append(bitmap)
                    part_structs.append(M.mtmd_input_part(text=None, bitmap=bitmap))
            if not part_structs:
                return ImagePrompt([])
            arr = (ctypes.POINTER(M.mtmd_input_part) * len(part_structs))(*map(ctypes.pointer, part_structs))
            chunks = M.mtmd_input_chunks_init()
            try:
                rc = M.mtmd_tokenize_from_parts(self.ptr, chunks, arr, len(part_structs), add_special)
                if rc != 0:
                    raise ImageError(BAD_IMAGE if rc == 2 else f"failed to tokenize the images (mtmd returned {rc})")
                return self._prompt(chunks)
            finally:
                M.mtmd_input_chunks_free(chunks)
        finally:
            for bitmap in bitmaps:
                M.mtmd_bitmap_free(bitmap)

    def _bitmap(self, data: bytes) -> int:
        if not data.startswith(_SIGNATURES):
            raise ImageError(BAD_IMAGE)
        buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        bitmap = M.mtmd_helper_bitmap_init_from_buf(self.ptr, buf, len(data), False)
        if not bitmap:
            raise ImageError(BAD_IMAGE)
        if M.mtmd_bitmap_is_audio(bitmap):
            M.mtmd_bitmap_free(bitmap)
            raise ImageError(BAD_IMAGE)
        if not M.mtmd_bitmap_get_id(bitmap):
            M.mtmd_bitmap_set_id(bitmap, hashlib.sha256(data).hexdigest().encode())
        return bitmap

    def _prompt(self, chunks: int) -> ImagePrompt:
        prompt = ImagePrompt([])
        n_out = ctypes.c_size_t(0)
        for i in range(int(M.mtmd_input_chunks_size(chunks))):
            chunk = M.mtmd_input_chunks_get(chunks, i)
            kind = M.mtmd_input_chunk_get_type(chunk)
            if kind == M.MTMD_INPUT_CHUNK_TYPE_TEXT:
                tokens = M.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n_out))
                prompt.tokens.extend(tokens[: n_out.value])
                continue
            if kind != M.MTMD_INPUT_CHUNK_TYPE_IMAGE:
                raise ImageError(BAD_IMAGE)
            if M.mtmd_input_chunk_get_n_pos(chunk) != M.mtmd_input_chunk_get_n_tokens(chunk):
                raise RunnerError("this projector places images on fewer positions than tokens, which ollamalib's "
                                  "runner does not support yet")
            raw_id = M.mtmd_input_chunk_get_id(chunk) or b""
            digest = hashlib.sha256(raw_id).hexdigest()
            copy = M.mtmd_input_chunk_copy(chunk)
            if not copy:
                raise RunnerError("failed to copy an image chunk")
            image = ImageChunk(copy, digest)
            prompt.images[len(prompt.tokens)] = image
            prompt.tokens.extend(image.ids())
        return prompt

    def evaluate(self, ctx: ctypes.c_void_p, image: ImageChunk, n_past: int, seq: int, n_batch: int,
                 logits_last: bool) -> int:
        """Encode ``image`` and decode its embeddings into sequence ``seq`` at ``n_past``; 0 on success.

        With ``logits_last`` the last position's logits are kept (row -1), for a prompt that ends with an image:
        libmtmd's own helper never asks for them.
        """
        rc = int(M.mtmd_encode_chunk(self.ptr, image.ptr))
        if rc != 0:
            return rc
        n, n_embd = image.n_tokens, self.n_embd
        out = M.mtmd_get_output_embd(self.ptr)
        if not out:
            return -1
        embd = np.ctypeslib.as_array(out, shape=(n * n_embd,))
        non_causal = bool(M.mtmd_decode_use_non_causal(self.ptr, image.ptr))
        step = n if non_causal else max(1, n_batch)  # a non-causal image is attended to in one batch
        batch = C.llama_batch_init(min(step, n), n_embd, 1)
        try:
            if non_causal:
                C.llama_set_causal_attn(ctx, False)
            for i0 in range(0, n, step):
                m = min(step, n - i0)
                ctypes.memmove(batch.embd, embd[i0 * n_embd:(i0 + m) * n_embd].ctypes.data, m * n_embd * 4)
                np.ctypeslib.as_array(batch.pos, shape=(m,))[:] = np.arange(n_past + i0, n_past + i0 + m)
                np.ctypeslib.as_array(batch.n_seq_id, shape=(m,))[:] = 1
                logits = np.ctypeslib.as_array(batch.logits, shape=(m,))
                logits[:] = 0
                logits[m - 1] = 1 if logits_last and i0 + m == n else 0
                for j in range(m):
                    batch.seq_id[j][0] = seq
                batch.n_tokens = m
                rc = int(C.llama_decode(ctx, batch))
                if rc != 0:
                    return rc
            return 0
        finally:
            if non_causal:
                C.llama_set_causal_attn(ctx, True)
            C.llama_batch_free(batch)

    def free(self) -> None:
        if self.ptr:
            M.mtmd_free(self.ptr)
            self.ptr = None
