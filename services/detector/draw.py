"""Draw the crops the detector kept onto the image, so people can look rather than read."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw

from catalens.domain import Crop
from catalens.drawing import label_colour, label_font


def draw_crops(image: Image.Image, crops: Sequence[Crop]) -> Image.Image:
    """A copy of `image` with each object crop's box and `label score` drawn on it."""
    image = image.copy()
    draw = ImageDraw.Draw(image)
    side = max(image.size)
    line = max(2, side // 250)
    font = label_font(max(12, side // 45))
    for crop in crops:
        if crop.kind != "object":
            continue
        colour = label_colour(crop.label)
        x1, y1, x2, y2 = crop.box.as_tuple()
        draw.rectangle((x1, y1, x2 - 1, y2 - 1), outline=colour, width=line)
        text = f"{crop.label} {crop.score:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        height = bottom - top + 2 * line
        y = y1 - height if y1 - height >= 0 else y1  # above the box, or inside at the top
        draw.rectangle((x1, y, x1 + right - left + 2 * line, y + height), fill=colour)
        draw.text((x1 + line, y + line - top), text, fill=(255, 255, 255), font=font)
    return image
