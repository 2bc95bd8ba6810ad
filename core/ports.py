"""Ports: what handlers need from the world. Adapters implement them; tests fake them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from PIL import Image

from core.domain import Caption, Crop, Detection, ModelIdentity


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


class ObjectStore(Protocol):
    """Bytes by key: a local folder in embedded mode, a MinIO/S3 bucket on the real stack."""

    async def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> str:
        """Store `data`; return the object's URI."""
        ...

    async def get(self, key: str, version: str | None = None) -> bytes:
        """Raise KeyError when the key does not exist. `version`: the etag the caller expects;
        a store with versions raises `errors.VersionChanged` (a KeyError) when the key holds
        another one now; a store without them ignores it."""
        ...

    async def delete(self, key: str) -> None: ...

    async def exists(self, key: str) -> bool: ...
