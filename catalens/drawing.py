"""What every picture catalens draws shares: a stable colour per class and a legible font."""

from __future__ import annotations

import zlib

from PIL import ImageFont

PALETTE = (
    (230, 57, 70),
    (42, 157, 143),
    (233, 196, 106),
    (69, 123, 157),
    (244, 162, 97),
    (131, 56, 236),
    (6, 214, 160),
    (255, 0, 110),
)


def label_colour(label: str) -> tuple[int, int, int]:
    """A stable colour per label: the same class is the same colour on every image."""
    return PALETTE[zlib.crc32(label.encode()) % len(PALETTE)]


def label_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: fixed bitmap font
        return ImageFont.load_default()
