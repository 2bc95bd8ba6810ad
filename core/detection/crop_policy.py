"""Which parts of an image become searchable objects: padded detection crops that are big and
square enough, plus (optionally) the whole image. Pure: same inputs, same crops, same order."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image

from core.domain import Box, Crop, Detection
from core.settings import CropSettings


def padded_box(box: Box, padding: float, width: int, height: int) -> Box:
    """`box` grown by `padding` × its width (left and right) and height (top and bottom),
    clipped to a `width` × `height` image."""
    pad_x, pad_y = padding * box.width, padding * box.height
    return Box(
        x1=max(0, math.floor(box.x1 - pad_x)),
        y1=max(0, math.floor(box.y1 - pad_y)),
        x2=min(width, math.ceil(box.x2 + pad_x)),
        y2=min(height, math.ceil(box.y2 + pad_y)),
    )


def crop_rejection(box: Box, settings: CropSettings) -> str | None:
    """Why a (padded) crop box is not worth indexing, or None when it is."""
    short, long = sorted((box.width, box.height))
    if short < settings.min_size:
        return f"shorter side {short}px < min_size {settings.min_size}"
    if long / short > settings.max_aspect:
        return f"aspect {long / short:.1f} > max_aspect {settings.max_aspect}"
    return None


def whole_image_crop(image: Image.Image) -> Crop:
    return Crop("image", "image", 1.0, Box(0, 0, image.width, image.height), image)


def make_crops(
    image: Image.Image, detections: Sequence[Detection], settings: CropSettings
) -> list[Crop]:
    """Object crops by score (highest first; ties by box, then label), then the whole image
    when `settings.keep_whole_image`."""
    ordered = sorted(detections, key=lambda d: (-d.score, d.box.as_tuple(), d.label))
    crops = []
    for detection in ordered:
        box = padded_box(detection.box, settings.padding, image.width, image.height)
        if crop_rejection(box, settings) is None:
            crops.append(
                Crop("object", detection.label, detection.score, box, image.crop(box.as_tuple()))
            )
    if settings.keep_whole_image:
        crops.append(whole_image_crop(image))
    return crops
