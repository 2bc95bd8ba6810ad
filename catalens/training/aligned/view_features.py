"""Tower features of image items (a file, optionally a box of it) under the views "plain" and
"flip" (mirrored), cached.

Whole-image entries share the keys of `features.image_features`, so catalog features extracted
by either are extracted once; a box adds itself to the key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from tqdm import tqdm

from catalens.training.aligned.features import FeatureCache, Progress, image_cache_key
from catalens.training.aligned.realphoto import Box
from core.embedding.aligned.towers import ImageTower
from core.imaging import load_image_file

VIEWS = ("plain", "flip")


@dataclass(frozen=True)
class Item:
    path: Path
    box: Box | None = None


def item_key(tower: str, view: str, item: Item) -> str:
    if item.box is None:
        return image_cache_key(tower, view, item.path)
    base = image_cache_key(tower, "plain", item.path)
    return hashlib.sha1(f"{base}|{view}|{item.box}|".encode()).hexdigest()


def render(path: Path, box: Box | None, view: str) -> Image.Image:
    """The pixels of `view` ("plain" / "flip") of the image at `path`, cropped to `box` if any."""
    image = load_image_file(path)
    crop = image.crop(box) if box else image
    return ImageOps.mirror(crop) if view == "flip" else crop


def view_features(
    items: Sequence[Item],
    views: Sequence[str],
    tower_name: str,
    load_tower: Callable[[], ImageTower],
    cache: FeatureCache,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> np.ndarray:
    """(n, len(views), dim) float32 tower features; each missing (item, view) is rendered and
    extracted once. Raises ValueError for a view other than "plain"/"flip"."""
    unknown = [v for v in views if v not in VIEWS]
    if unknown:
        raise ValueError(f"unknown views {unknown}")
    todo: list[tuple[int, int, str]] = []
    found: dict[tuple[int, int], np.ndarray] = {}
    for i, item in enumerate(items):
        for j, view in enumerate(views):
            key = item_key(tower_name, view, item)
            value = cache.get("image", tower_name, key)
            if value is None:
                todo.append((i, j, key))
            else:
                found[i, j] = value
    if todo:
        tower = load_tower()
        bar = tqdm(total=len(todo), desc=f"view features ({tower_name})", unit="img")
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            images = [render(items[i].path, items[i].box, views[j]) for i, j, _ in chunk]
            values = tower.features(images)
            for (i, j, key), value in zip(chunk, values, strict=True):
                found[i, j] = value
                cache.put("image", tower_name, key, value)
            bar.update(len(chunk))
            if progress:
                progress("view features", min(start + batch_size, len(todo)), len(todo))
        bar.close()
    return np.stack(
        [np.stack([found[i, j] for j in range(len(views))]) for i in range(len(items))]
    ).astype(np.float32)
