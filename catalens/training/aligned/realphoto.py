"""Real photos with class labels: fashion-detection boxes (street photos) and clothing-small
images (single garments), plus a deterministic tuning split carved from their train splits.

A `Photo` is a whole image or one box of it. Boxes are grown the way the detector's crop policy
grows them (`padding` × box size on each side, clipped to the image) and dropped when the crop
policy would drop them (shorter side < `min_size` or aspect > `max_aspect`), so training crops
look like the crops search indexes.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

from catalens.training.aligned.dataset import Product, split_holdout
from core.errors import ModelError

DETECTION = "fashion-detection"
CLOTHING = "clothing-small"
Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})


@dataclass(frozen=True)
class Photo:
    path: Path
    label: str  # the class name in its dataset
    source: str  # DETECTION or CLOTHING
    box: Box | None = None  # the padded crop; None = the whole image


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def padded_crop_box(
    cx: float, cy: float, w: float, h: float, size: tuple[int, int], padding: float
) -> Box:
    """A normalised YOLO box grown by `padding` × its size on each side, in clipped pixels."""
    width, height = size
    bw, bh = w * width, h * height
    x1, y1 = cx * width - bw / 2, cy * height - bh / 2
    return (
        max(0, math.floor(x1 - padding * bw)),
        max(0, math.floor(y1 - padding * bh)),
        min(width, math.ceil(x1 + bw + padding * bw)),
        min(height, math.ceil(y1 + bh + padding * bh)),
    )


def kept(box: Box, min_size: int, max_aspect: float) -> bool:
    short, long = sorted((box[2] - box[0], box[3] - box[1]))
    return short >= min_size and long / short <= max_aspect


def detection_photos(
    root: Path, split: str, padding: float = 0.1, min_size: int = 32, max_aspect: float = 7.0
) -> list[Photo]:
    """Every labelled box of a YOLO split (`train` / `val`) as a padded crop, in file order."""
    import yaml

    data_yaml = root / "data.yaml"
    meta = yaml.safe_load(data_yaml.read_text()) if data_yaml.is_file() else None
    if not isinstance(meta, dict) or split not in meta:
        raise ModelError(f"{root}: no data.yaml with a {split!r} split")
    names = meta["names"]
    names = [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)
    images = root / str(meta[split])
    labels = Path(str(images).replace("images", "labels", 1))
    photos = []
    for path in sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        label_file = labels / f"{path.stem}.txt"
        if not label_file.is_file():
            continue
        size = _image_size(path)
        for line in label_file.read_text().splitlines():
            parts = line.split()
            if len(parts) != 5:
                continue
            cx, cy, w, h = (float(v) for v in parts[1:])
            box = padded_crop_box(cx, cy, w, h, size, padding)
            if kept(box, min_size, max_aspect):
                photos.append(Photo(path, names[int(parts[0])], DETECTION, box))
    return photos


def folder_photos(root: Path, split: str) -> list[Photo]:
    """`root/<split>/<class>/<image>` as whole-image photos, sorted by class then file."""
    base = root / split
    if not base.is_dir():
        raise ModelError(f"{root}: no {split}/ folder")
    return [
        Photo(path, folder.name, CLOTHING)
        for folder in sorted(p for p in base.iterdir() if p.is_dir())
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES
    ]


def split_tune(photos: list[Photo], share: float, seed: int) -> tuple[list[Photo], list[Photo]]:
    """(rest, tune): whole source images (all boxes of one photo together) go to `tune` when
    their seeded name hash falls below `share`. Same files, same split, on every machine."""

    def score(photo: Photo) -> float:
        digest = hashlib.sha256(f"{seed}:{photo.source}:{photo.path.name}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    tune = [p for p in photos if score(p) < share]
    rest = [p for p in photos if score(p) >= share]
    return rest, tune


TUNE_SHARE = 0.2  # of each real-photo train split, held out for choosing between candidates
TUNE_PRODUCTS = 700  # of the catalog's train products, likewise


def tuning_splits(
    detection: list[Photo], clothing: list[Photo], seed: int
) -> tuple[list[Photo], list[Photo]]:
    """(train, tune) over both real-photo train splits."""
    det_rest, det_tune = split_tune(detection, TUNE_SHARE, seed)
    clo_rest, clo_tune = split_tune(clothing, TUNE_SHARE, seed)
    return det_rest + clo_rest, det_tune + clo_tune


def tune_products(train: list[Product], seed: int) -> tuple[list[Product], list[Product]]:
    """(rest, tune): `TUNE_PRODUCTS` of the catalog's train products, by a second seeded hash."""
    return split_holdout(train, TUNE_PRODUCTS, seed + 1)
