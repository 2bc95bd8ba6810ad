"""What every picture catalens draws shares: a stable colour per class and a legible font."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

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


HIGHLIGHT = (255, 214, 10)


@dataclass(frozen=True)
class LabelledBox:
    """One box to draw: pixel coordinates (x1, y1 inclusive; x2, y2 exclusive), its class label,
    its score in [0, 1] and a key (e.g. an object id) that `highlight` can name."""

    box: tuple[int, int, int, int]
    label: str
    score: float
    key: str = ""


def draw_boxes(
    image: Image.Image, boxes: Sequence[LabelledBox], highlight: str | None = None
) -> Image.Image:
    """A copy of `image` (RGB) with each box and a `label score` tag drawn on it, in its class's
    colour; the box whose key is `highlight` is drawn last, thicker, in yellow."""
    image = image.copy()
    draw = ImageDraw.Draw(image)
    side = max(image.size)
    width = max(2, side // 250)
    font = label_font(max(12, side // 45))
    for item in sorted(boxes, key=lambda b: bool(highlight) and b.key == highlight):
        focused = bool(highlight) and item.key == highlight
        colour = HIGHLIGHT if focused else label_colour(item.label)
        x1, y1, x2, y2 = item.box
        draw.rectangle(
            (x1, y1, x2 - 1, y2 - 1), outline=colour, width=width * (2 if focused else 1)
        )
        text = f"{item.label} {item.score:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tag_h = bottom - top + 2 * width
        tag_y = y1 - tag_h if y1 - tag_h >= 0 else y1  # above the box, or inside at the top
        draw.rectangle((x1, tag_y, x1 + right - left + 2 * width, tag_y + tag_h), fill=colour)
        draw.text((x1 + width, tag_y + width - top), text, fill=(0, 0, 0), font=font)
    return image
