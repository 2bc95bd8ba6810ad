"""Fakes of the pipeline ports, for unit tests of handler logic only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from core.domain import Attributes, Box, Caption, Crop, Detection, ModelIdentity, l2_normalise


class DictStore:
    def __init__(self) -> None:
        self.items: dict[str, bytes] = {}

    async def put(self, key: str, data: bytes, content_type: str = "") -> str:
        self.items[key] = data
        return f"mem://{key}"

    async def get(self, key: str, version: str | None = None) -> bytes:
        return self.items[key]

    async def delete(self, key: str) -> None:
        self.items.pop(key, None)

    async def exists(self, key: str) -> bool:
        return key in self.items


class OneBoxDetector:
    """Finds one `handbag` in the middle half of every image."""

    identity = ModelIdentity("fake", "one-box", "1")

    def __init__(self) -> None:
        self.batches: list[int] = []

    def detect(self, images: Sequence[Image.Image]) -> list[list[Detection]]:
        self.batches.append(len(images))
        boxes = [
            Box(i.width // 4, i.height // 4, 3 * i.width // 4, 3 * i.height // 4) for i in images
        ]
        return [[Detection("handbag", 26, 0.9, box)] for box in boxes]


class FixedDetector:
    """Finds the same `detections` in every image (a scene whose objects the test drew); with
    `size`, only in images of that size (others have nothing)."""

    identity = ModelIdentity("fake", "fixed", "1")

    def __init__(
        self, detections: Sequence[Detection], size: tuple[int, int] | None = None
    ) -> None:
        self.detections, self.size = list(detections), size

    def detect(self, images: Sequence[Image.Image]) -> list[list[Detection]]:
        return [list(self.detections) if self.size in (None, i.size) else [] for i in images]


class MeanColourEmbedder:
    """3-d vectors: the mean RGB of an image; texts hash to a colour. Shapes only."""

    identity = ModelIdentity("fake", "mean-colour", "1", 3)

    def __init__(self) -> None:
        self.calls: list[int] = []

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        self.calls.append(len(images))
        return l2_normalise(
            np.stack([np.asarray(i, dtype=np.float32).mean((0, 1)) + 1 for i in images])
        )

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return l2_normalise(np.stack([[len(t), 1.0, 2.0] for t in texts]))


class LabelCaptioner:
    name = "label"

    async def caption(self, crop: Crop) -> Caption:
        if crop.label == "poison":
            from core.errors import CaptionerError

            raise CaptionerError("the captioner refused this crop")
        return Caption(f"a {crop.label}", Attributes(crop.label, ("red",)), "label")
