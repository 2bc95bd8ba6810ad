"""Evaluation sets of bench/models_realphoto.py and their cached tower features.

`val` is what the targets are stated on: fashion-detection VAL boxes cut by the detector's own
crop policy, clothing-small VALIDATION, the catalog's 1,000-product held-out gallery. `tune` is
carved from the train splits (see realphoto.tuning_splits): candidates are chosen on it, so the
val numbers stay unseen until the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from catalens.datasets.yolo import read_data_yaml
from catalens.training.aligned import dataset, realphoto
from catalens.training.aligned.features import FeatureCache
from catalens.training.aligned.view_features import Item, view_features
from core.detection.crop_policy import crop_rejection, padded_box
from core.domain import Box
from core.embedding.aligned.towers import ImageTower, image_tower_spec
from core.paths import shared_path
from core.settings import CropSettings


@dataclass(frozen=True)
class EvalSets:
    split: str
    catalog: list[dataset.Product]  # the gallery street crops are searched in: every product
    text_gallery: list[dataset.Product]  # held-out products for text→image
    street: list[realphoto.Photo]  # fashion-detection crops
    clothing: list[realphoto.Photo]  # clothing-small photos


def policy_crops(root: Path, split: str) -> list[realphoto.Photo]:
    """fashion-detection boxes of `split`, padded and filtered by the detector's crop policy."""
    settings = CropSettings()
    names = read_data_yaml(root)["names"]  # type: ignore[index]
    photos = []
    for path in sorted((root / "images" / split).glob("*.jpg")):
        labels = root / "labels" / split / f"{path.stem}.txt"
        if not labels.is_file():
            continue
        with Image.open(path) as image:
            width, height = image.size
        for line in labels.read_text().splitlines():
            if not line.strip():
                continue
            cls, cx, cy, w, h = line.split()
            x, y, bw, bh = (
                float(cx) * width,
                float(cy) * height,
                float(w) * width,
                float(h) * height,
            )
            box = Box(x - bw / 2, y - bh / 2, x + bw / 2, y + bh / 2)  # type: ignore[arg-type]
            padded = padded_box(box, settings.padding, width, height)
            if crop_rejection(padded, settings) is None:
                photos.append(
                    realphoto.Photo(path, names[int(cls)], realphoto.DETECTION, padded.as_tuple())
                )
    return photos


def eval_sets(split: str, seed: int = 0, holdout: int = 1000) -> EvalSets:
    shared = shared_path("datasets")
    if shared is None:
        raise SystemExit("needs ../shared/datasets (see DATA.md)")
    products = dataset.load_products(shared / "fashion-products")
    train, held_out = dataset.split_holdout(products, holdout, seed)
    fd, cs = shared / "fashion-detection", shared / "clothing-small"
    if split == "val":
        street = policy_crops(fd, "val")
        mine = realphoto.detection_photos(fd, "val")
        assert [(p.path, p.box) for p in mine] == [(p.path, p.box) for p in street], "crop drift"
        return EvalSets(
            split, products, held_out, street, realphoto.folder_photos(cs, "validation")
        )
    if split != "tune":
        raise SystemExit(f"unknown split {split!r}: val or tune")
    _, tune = realphoto.tuning_splits(
        realphoto.detection_photos(fd, "train"), realphoto.folder_photos(cs, "train"), seed
    )
    _, text_tune = realphoto.tune_products(train, seed)
    return EvalSets(
        split,
        products,
        text_tune,
        [p for p in tune if p.source == realphoto.DETECTION],
        [p for p in tune if p.source == realphoto.CLOTHING],
    )


class Features:
    """Cached (n, views, dim) tower features of products and photos for one image tower."""

    def __init__(self, tower: str, cache_dir: Path) -> None:
        self.tower = tower
        self.cache = FeatureCache(cache_dir)
        self._loaded: list[ImageTower] = []

    def _load(self) -> ImageTower:
        if not self._loaded:
            self._loaded.append(ImageTower(image_tower_spec(self.tower)))
        return self._loaded[0]

    def items(self, items: list[Item], views: tuple[str, ...]) -> np.ndarray:
        return view_features(items, views, self.tower, self._load, self.cache)

    def products(self, products: list[dataset.Product], views: tuple[str, ...]) -> np.ndarray:
        return self.items([Item(p.image) for p in products], views)

    def photos(self, photos: list[realphoto.Photo], views: tuple[str, ...]) -> np.ndarray:
        return self.items([Item(p.path, p.box) for p in photos], views)
