"""The one embedder interface: batches in, L2-normalised float32 vectors out.

Backends subclass `BatchedEmbedder` and implement `_embed_image_batch` / `_embed_text_batch`;
batching, normalisation and dtype are handled here once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image

from core.domain import ModelIdentity, l2_normalise


class BatchedEmbedder(ABC):
    identity: ModelIdentity

    def __init__(self, batch_size: int = 32, device: str = "cpu") -> None:
        self.batch_size = batch_size
        self.device = device

    @property
    def dim(self) -> int:
        return self.identity.dim

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self._batched(list(images), self._embed_image_batch)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self._batched(list(texts), self._embed_text_batch)

    def _batched(self, items: list[Any], fn: Callable[[list[Any]], np.ndarray]) -> np.ndarray:
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [fn(items[i : i + self.batch_size]) for i in range(0, len(items), self.batch_size)]
        return l2_normalise(np.concatenate(parts, axis=0))

    @abstractmethod
    def _embed_image_batch(self, images: list[Image.Image]) -> np.ndarray: ...

    @abstractmethod
    def _embed_text_batch(self, texts: list[str]) -> np.ndarray: ...
