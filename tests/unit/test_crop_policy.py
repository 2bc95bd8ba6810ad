"""The crop policy decides what becomes a searchable object."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.detection.crop_policy import make_crops
from core.domain import Box, Detection
from core.settings import CropSettings

NO_WHOLE = CropSettings(padding=0.1, min_size=32, max_aspect=5.0, keep_whole_image=False)


def _image(width: int = 400, height: int = 300) -> Image.Image:
    pixels = np.arange(width * height * 3, dtype=np.uint32).reshape(height, width, 3) % 251
    return Image.fromarray(pixels.astype(np.uint8))


def _detection(x1: int, y1: int, x2: int, y2: int, score: float = 0.9, label: str = "bag"):
    return Detection(label=label, class_id=0, score=score, box=Box(x1, y1, x2, y2))


def test_a_box_is_padded_by_a_share_of_its_size_on_every_side() -> None:
    [crop] = make_crops(_image(), [_detection(100, 100, 200, 150)], NO_WHOLE)
    assert crop.box == Box(90, 95, 210, 155)


def test_the_crop_image_is_the_padded_region_of_the_source() -> None:
    image = _image()
    [crop] = make_crops(image, [_detection(100, 100, 200, 150)], NO_WHOLE)
    assert crop.image.size == (120, 60)
    assert np.array_equal(np.asarray(crop.image), np.asarray(image)[95:155, 90:210])


def test_padding_is_clipped_at_the_image_borders() -> None:
    [crop] = make_crops(_image(400, 300), [_detection(0, 5, 100, 300)], NO_WHOLE)
    assert crop.box == Box(0, 0, 110, 300)


def test_a_crop_with_a_short_side_below_min_size_is_dropped() -> None:
    settings = NO_WHOLE.model_copy(update={"padding": 0.0, "min_size": 32})
    crops = make_crops(_image(), [_detection(10, 10, 60, 41), _detection(10, 10, 60, 42)], settings)
    assert [crop.box.height for crop in crops] == [32]


def test_a_thin_crop_is_dropped() -> None:
    settings = NO_WHOLE.model_copy(update={"padding": 0.0, "max_aspect": 5.0})
    crops = make_crops(
        _image(), [_detection(0, 0, 301, 60), _detection(0, 100, 300, 160)], settings
    )
    assert [crop.box for crop in crops] == [Box(0, 100, 300, 160)]


def test_the_whole_image_is_kept_last_as_an_image_object() -> None:
    image = _image(400, 300)
    crops = make_crops(
        image,
        [_detection(100, 100, 200, 150)],
        NO_WHOLE.model_copy(update={"keep_whole_image": True}),
    )
    whole = crops[-1]
    assert (whole.kind, whole.label, whole.score) == ("image", "image", 1.0)
    assert whole.box == Box(0, 0, 400, 300) and whole.image.size == (400, 300)
    assert [crop.kind for crop in crops] == ["object", "image"]


def test_an_image_with_nothing_detected_still_keeps_the_whole_image() -> None:
    crops = make_crops(_image(), [], CropSettings(keep_whole_image=True))
    assert [crop.kind for crop in crops] == ["image"]


def test_crops_come_in_the_same_order_whatever_order_the_detections_came_in() -> None:
    detections = [
        _detection(10, 10, 100, 100, 0.5, "hat"),
        _detection(200, 10, 300, 100, 0.9, "bag"),
        _detection(10, 150, 100, 250, 0.5, "bag"),
    ]
    forward = make_crops(_image(), detections, NO_WHOLE)
    backward = make_crops(_image(), detections[::-1], NO_WHOLE)
    assert [(c.label, c.box) for c in forward] == [(c.label, c.box) for c in backward]
    assert [c.score for c in forward] == [0.9, 0.5, 0.5]
