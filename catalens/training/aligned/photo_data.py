"""Real photos as extra training data for the image head (see `photo_terms`).

Each photo brings its tower features (plain and optionally flipped), its class
and that class's catalog articleTypes (`categories`), so a loss can pull a street crop of a
jacket towards catalog jackets and towards the text "jacket".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from catalens.training.aligned import realphoto
from catalens.training.aligned.categories import TYPES, phrase
from catalens.training.aligned.features import FeatureCache, Progress
from catalens.training.aligned.view_features import Item, view_features
from core.embedding.aligned.towers import ImageTower

EmbedTexts = Callable[[list[str]], np.ndarray]
TEMPLATES = ("{}", "a {}", "a photo of a {}", "a person wearing a {}", "{} on a street photo")


@dataclass(frozen=True)
class PhotoSet:
    image: np.ndarray  # (n, views, d_img)
    cls: np.ndarray  # (n,) index into `classes`
    classes: list[tuple[str, str]]  # (source, label)
    prompts: np.ndarray  # (classes, templates, d_txt) text features of each class's prompts
    class_types: list[frozenset[str]]  # the catalog articleTypes each class stands for

    @property
    def sources(self) -> list[str]:
        return sorted({source for source, _ in self.classes})


def load_photos(
    detection: Path | None, clothing: Path | None, hold_tune: bool, seed: int
) -> list[realphoto.Photo]:
    """The train splits of the real-photo datasets given, minus their tuning part when
    `hold_tune` (see realphoto.tuning_splits)."""
    det = realphoto.detection_photos(detection, "train") if detection else []
    clo = realphoto.folder_photos(clothing, "train") if clothing else []
    if hold_tune:
        photos, _ = realphoto.tuning_splits(det, clo, seed)
        return photos
    return det + clo


def held_out_photos(
    detection: Path | None, clothing: Path | None, hold_tune: bool, seed: int
) -> list[realphoto.Photo]:
    """The photos the held-out metrics use: the datasets' tuning parts when `hold_tune`,
    else their val splits (fashion-detection `val`, clothing-small `validation`)."""
    if hold_tune:
        det = realphoto.detection_photos(detection, "train") if detection else []
        clo = realphoto.folder_photos(clothing, "train") if clothing else []
        return realphoto.tuning_splits(det, clo, seed)[1]
    det = realphoto.detection_photos(detection, "val") if detection else []
    return det + (realphoto.folder_photos(clothing, "validation") if clothing else [])


def photo_views(flip: bool) -> tuple[str, ...]:
    return ("plain", "flip") if flip else ("plain",)


def build_photo_set(
    photos: Sequence[realphoto.Photo],
    views: Sequence[str],
    tower_name: str,
    load_tower: Callable[[], ImageTower],
    cache: FeatureCache,
    embed_texts: EmbedTexts,
    progress: Progress | None = None,
) -> PhotoSet:
    classes = sorted({(p.source, p.label) for p in photos})
    index = {c: i for i, c in enumerate(classes)}
    texts = [t.format(phrase(s, label)) for s, label in classes for t in TEMPLATES]
    prompts = embed_texts(texts).reshape(len(classes), len(TEMPLATES), -1)
    image = view_features(
        [Item(p.path, p.box) for p in photos],
        views,
        tower_name,
        load_tower,
        cache,
        progress=progress,
    )
    return PhotoSet(
        image=image,
        cls=np.asarray([index[(p.source, p.label)] for p in photos]),
        classes=classes,
        prompts=prompts.astype(np.float32),
        class_types=[TYPES[s][label] for s, label in classes],
    )
