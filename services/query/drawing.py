"""Draw every object's box and label onto its source image (the UI's `boxes.jpg`)."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw

from catalens.drawing import label_colour, label_font
from catalens.imaging import encode_jpeg, load_image
from services.query.ports import ObjectView

HIGHLIGHT = (255, 214, 10)


def boxes_jpeg(
    image_data: bytes, objects: Sequence[ObjectView], highlight: str | None = None
) -> bytes:
    """JPEG of the image with each `object` box (kind `image` skipped); `highlight` drawn last."""
    return encode_jpeg(draw_boxes(load_image(image_data), objects, highlight), quality=85)


def draw_boxes(
    image: Image.Image, objects: Sequence[ObjectView], highlight: str | None = None
) -> Image.Image:
    image = image.copy()
    draw = ImageDraw.Draw(image)
    side = max(image.size)
    width = max(2, side // 250)
    font = label_font(max(12, side // 45))
    boxes = [o for o in objects if o.kind == "object"]
    boxes.sort(key=lambda o: o.object_id == highlight)
    for obj in boxes:
        focused = obj.object_id == highlight
        colour = HIGHLIGHT if focused else label_colour(obj.label)
        x1, y1, x2, y2 = obj.box
        draw.rectangle(
            (x1, y1, x2 - 1, y2 - 1), outline=colour, width=width * (2 if focused else 1)
        )
        text = f"{obj.label} {obj.detector_score:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tag_h = bottom - top + 2 * width
        tag_y = y1 - tag_h if y1 - tag_h >= 0 else y1
        draw.rectangle((x1, tag_y, x1 + right - left + 2 * width, tag_y + tag_h), fill=colour)
        draw.text((x1 + width, tag_y + width - top), text, fill=(0, 0, 0), font=font)
    return image
