"""Ports: what handlers need from the world. Adapters implement them; tests fake them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from PIL import Image

from catalens.domain import Caption, Crop, Detection, ModelIdentity


class Detector(Protocol):
    identity: ModelIdentity

    def detect(self, images: Sequence[Image.Image]) -> list[list[Detection]]:
        """Detections per image, for a batch of RGB images."""
        ...


class Embedder(Protocol):
    identity: ModelIdentity

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(n, dim) float32, L2-normalised."""
        ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised, in the same space as the images."""
        ...


class Captioner(Protocol):
    name: str

    async def caption(self, crop: Crop) -> Caption: ...
