"""Write a tiny but real LLaVA-style projector (mmproj) GGUF and tiny test images, for vision tests.

The projector is a CLIP ViT (``clip.projector_type`` "mlp": patch embedding, class embedding, learned positions,
pre-norm transformer blocks, then the two-layer ``mm.0``/``mm.2`` MLP) with random weights, as libmtmd's clip
loader reads it. Its output width equals the text model's ``n_embd``, so it pairs with ``write_tiny_gguf``.
An image becomes ``(image_size / patch_size) ** 2`` embedding tokens (16 with the defaults).

Images: ``png_bytes(width, height, seed)`` encodes an RGB PNG with zlib alone (no Pillow); stb_image decodes it.

Import the fixtures into a ``conftest.py``: ``from vision_factory import vision_pair``.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import gguf
import numpy as np
import pytest

from gguf_factory import CHATML_TEMPLATE, write_tensors, write_tiny_gguf

__all__ = ["VisionPair", "image_tokens", "png_bytes", "solid_png", "vision_pair", "write_tiny_mmproj"]

IMAGE_SIZE = 32
PATCH_SIZE = 8


def image_tokens(image_size: int = IMAGE_SIZE, patch_size: int = PATCH_SIZE) -> int:
    """How many embedding tokens one image takes with a projector written by ``write_tiny_mmproj``."""
    return (image_size // patch_size) ** 2


def write_tiny_mmproj(
    path: str | Path,
    *,
    text_n_embd: int = 64,
    image_size: int = IMAGE_SIZE,
    patch_size: int = PATCH_SIZE,
    n_embd: int = 32,
    n_head: int = 2,
    n_layer: int = 2,
    seed: int = 0,
) -> Path:
    """Write a tiny LLaVA-style CLIP projector GGUF projecting to ``text_n_embd`` and return its path.

    libmtmd reads the second-to-last block's output (LLaVA's feature layer), so ``n_layer`` blocks evaluate
    ``n_layer - 1`` of them; all are stored.
    """
    if image_size % patch_size:
        raise ValueError("image_size must be a multiple of patch_size")
    n_ff = 2 * n_embd  # != n_embd, so libmtmd's legacy up/down swap heuristic stays off
    n_patches = (image_size // patch_size) ** 2
    rng = np.random.default_rng(seed)

    def mat(*shape: int, std: float = 0.2) -> np.ndarray:
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    ones, zeros = (lambda n: np.ones(n, np.float32)), (lambda n: np.zeros(n, np.float32))
    tensors: dict[str, np.ndarray] = {
        "v.patch_embd.weight": mat(n_embd, 3, patch_size, patch_size),  # ggml conv2d kernel [KW, KH, IC, OC]
        "v.patch_embd.bias": mat(n_embd),
        "v.class_embd": mat(n_embd),
        "v.position_embd.weight": mat(n_patches + 1, n_embd),
        "v.pre_ln.weight": ones(n_embd),
        "v.pre_ln.bias": zeros(n_embd),
    }
    for i in range(n_layer):
        p = f"v.blk.{i}."
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            tensors[p + name + ".weight"] = mat(n_embd, n_embd)
            tensors[p + name + ".bias"] = zeros(n_embd)
        for name in ("ln1", "ln2"):
            tensors[p + name + ".weight"] = ones(n_embd)
            tensors[p + name + ".bias"] = zeros(n_embd)
        tensors[p + "ffn_up.weight"] = mat(n_ff, n_embd)
        tensors[p + "ffn_up.bias"] = zeros(n_ff)
        tensors[p + "ffn_down.weight"] = mat(n_embd, n_ff)
        tensors[p + "ffn_down.bias"] = zeros(n_embd)
    hidden = 2 * text_n_embd
    tensors["mm.0.weight"] = mat(hidden, n_embd)
    tensors["mm.0.bias"] = zeros(hidden)
    tensors["mm.2.weight"] = mat(text_n_embd, hidden, std=0.5)
    tensors["mm.2.bias"] = zeros(text_n_embd)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(path, "clip")
    w.add_name("tiny-mmproj")
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.has_text_encoder", False)
    w.add_string("clip.projector_type", "mlp")
    w.add_bool("clip.use_gelu", True)
    w.add_uint32("clip.vision.image_size", image_size)
    w.add_uint32("clip.vision.patch_size", patch_size)
    w.add_uint32("clip.vision.embedding_length", n_embd)
    w.add_uint32("clip.vision.feed_forward_length", n_ff)
    w.add_uint32("clip.vision.block_count", n_layer)
    w.add_uint32("clip.vision.projection_dim", text_n_embd)
    w.add_uint32("clip.vision.attention.head_count", n_head)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-5)
    w.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    w.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    write_tensors(w, tensors)
    return path


def png_bytes(width: int = IMAGE_SIZE, height: int = IMAGE_SIZE, seed: int = 0) -> bytes:
    """A random-noise RGB PNG (8-bit, no filter), encoded with zlib alone."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return _png(pixels)


def solid_png(rgb: tuple[int, int, int], width: int = IMAGE_SIZE, height: int = IMAGE_SIZE) -> bytes:
    """A one-colour RGB PNG."""
    return _png(np.broadcast_to(np.array(rgb, np.uint8), (height, width, 3)))


def _png(pixels: np.ndarray) -> bytes:
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


class VisionPair:
    """A tiny text GGUF and its projector, written together so that their widths match."""

    def __init__(self, text: Path, projector: Path) -> None:
        self.text = text
        self.projector = projector


@pytest.fixture(scope="session")
def vision_pair(tmp_path_factory: pytest.TempPathFactory) -> VisionPair:
    """(text GGUF, mmproj GGUF): a tiny ChatML llama (n_embd 64) and a LLaVA-style projector onto it."""
    root = tmp_path_factory.mktemp("vision")
    text = write_tiny_gguf(root / "tiny-text.gguf", chat_template=CHATML_TEMPLATE, name="tiny-vision")
    return VisionPair(text, write_tiny_mmproj(root / "tiny-mmproj.gguf", text_n_embd=64))
