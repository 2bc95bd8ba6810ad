"""`EmbeddedView`: an `ObjectsEmbedded` record as a replay applies it, without a model per
vector (read by `schemas.embedded_reader.read_embedded` from JSON or a vector frame)."""

from __future__ import annotations

import numpy as np

from schemas.codec import decode
from schemas.events import EmbedderRef, ObjectsEmbedded


class EmbeddedView:
    """One `ObjectsEmbedded` record as a replay needs it, read from a frame or from JSON and
    checked as `decode` checks it (`schemas.embedded_reader.read_embedded`): its vectors as one
    float32 matrix, row i the vector of `object_ids[i]`, instead of a model per vector.
    `message()` gives the full model."""

    __slots__ = ("data", "embedder", "image_id", "image_uri", "matrix", "modalities", "object_ids")

    def __init__(
        self,
        data: bytes,
        image_id: str,
        image_uri: str | None,
        embedder: EmbedderRef,
        object_ids: list[str],
        modalities: list[str],
        matrix: np.ndarray,
    ) -> None:
        self.data, self.image_id, self.image_uri = data, image_id, image_uri
        self.embedder, self.object_ids, self.modalities = embedder, object_ids, modalities
        self.matrix = matrix

    def message(self) -> ObjectsEmbedded:
        return decode(self.data, ObjectsEmbedded)

    def __repr__(self) -> str:
        return f"EmbeddedView({self.image_id!r}, {len(self.object_ids)} vectors)"
