"""Images in prompts the way Ollama places them: ``[img-N]`` tags in the rendered prompt (server/prompt.go).

A message's images are numbered across the kept conversation; each becomes an ``[img-N]`` tag that replaces the
next literal ``[img]`` in the message's content, or, when the content has no ``[img]``, is put in front of it.
The runner then reads the rendered prompt as text pieces and images, split at the tags.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence

from ..errors import ImageError
from ..types import Message

__all__ = ["IMAGE_TAG", "decode_image", "split_at_tags", "tag_images"]

IMAGE_TAG = re.compile(r"\[img-(\d+)\]")


def tag_images(messages: Sequence[Message]) -> tuple[list[Message], list[str]]:
    """Messages with ``[img-N]`` tags in their content, and the images (base64) in tag order."""
    images: list[str] = []
    tagged: list[Message] = []
    for msg in messages:
        if not msg.images:
            tagged.append(msg)
            continue
        prefix = ""
        content = msg.content or ""
        for data in msg.images:
            tag = f"[img-{len(images)}]"
            if "[img]" in content:
                content = content.replace("[img]", tag, 1)
            else:
                prefix += tag
            images.append(str(data))
        tagged.append(msg.model_copy(update={"content": prefix + content}))
    return tagged, images


def decode_image(data: str | bytes) -> bytes:
    """An image's bytes from its base64 text (bytes pass through)."""
    if isinstance(data, bytes):
        return data
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        raise ImageError("illegal base64 data in image") from None


def split_at_tags(prompt: str, images: Sequence[bytes]) -> list[str | bytes]:
    """The prompt as text pieces and image bytes: each ``[img-N]`` with an image N becomes that image.

    A tag naming no image stays text; an image no tag names is not used (as in Ollama's runner).
    """
    parts: list[str | bytes] = []
    at = 0
    for match in IMAGE_TAG.finditer(prompt):
        index = int(match.group(1))
        if index >= len(images):
            continue
        parts.append(prompt[at : match.start()])
        parts.append(images[index])
        at = match.end()
    parts.append(prompt[at:])
    return [p for p in parts if not isinstance(p, str) or p]
