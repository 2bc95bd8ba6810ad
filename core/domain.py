"""In-process value types shared by the services. Wire contracts live in `schemas/`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from schemas.ids import ObjectKind

__all__ = [
    "Attributes",
    "Box",
    "Caption",
    "Crop",
    "Detection",
    "ModelIdentity",
    "ObjectKind",
    "l2_normalise",
]


@dataclass(frozen=True)
class Box:
    """Pixel box in the source image, x1/y1 inclusive, x2/y2 exclusive."""

    x1: int
    y1: int
    x2: int
    y2: int

    @property
    def width(self) -> int:
        return self.x2 - self.x1

    @property
    def height(self) -> int:
        return self.y2 - self.y1

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x1, self.y1, self.x2, self.y2)

    def scaled(self, factor: float) -> Box:
        """This box in an image `factor` times larger (rounded to whole pixels)."""
        if factor == 1.0:
            return self
        x1, y1, x2, y2 = (round(v * factor) for v in self.as_tuple())
        return Box(x1, y1, x2, y2)


@dataclass(frozen=True)
class Detection:
    label: str
    class_id: int
    score: float
    box: Box


@dataclass(frozen=True)
class Crop:
    """One searchable object: a padded detection crop, or the whole image (kind `image`)."""

    kind: ObjectKind
    label: str
    score: float
    box: Box
    image: Image.Image = field(repr=False, compare=False)


@dataclass(frozen=True)
class ModelIdentity:
    """Which model made a vector or a detection. Indexes are kept per `key`."""

    backend: str
    name: str
    version: str
    dim: int = 0

    @property
    def key(self) -> str:
        safe = self.name.replace("/", "-").replace(":", "-")
        return f"{self.backend}-{safe}-{self.version}"


@dataclass(frozen=True)
class Attributes:
    category: str
    colours: tuple[str, ...] = ()
    pattern: str | None = None
    material: str | None = None
    style: str | None = None


@dataclass(frozen=True)
class Caption:
    caption: str
    attributes: Attributes
    model: str


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation to float32; zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
