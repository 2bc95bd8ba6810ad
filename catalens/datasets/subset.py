"""Cut a class subset out of a labelled dataset into a versioned YOLO dataset.

`<out>/<version>/` gets `images/{train,val,test}`, `labels/{train,val,test}` (class ids remapped
to 0..k-1 in the order the classes were asked for; boxes of other classes dropped),
`data.yaml` and `manifest.json` (source, options, images and boxes per class per split).

An image's split depends only on its file name and the seed (a sha256 of both, compared with
the cumulative split fractions), so it never moves when images are added or removed. Images
left with no kept box are background: by default they are dropped; `background` keeps that
share of them (chosen the same way) with an empty label file. Images are hard-linked when the
file system allows it, else copied.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from catalens.datasets.sources import SourceDataset, SourceImage
from catalens.datasets.yolo import SPLIT_KEYS, Box

DEFAULT_CLASSES = ("person", "car", "cell phone", "laptop", "book", "handbag", "sports ball")
DEFAULT_SPLIT = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class SubsetOptions:
    classes: tuple[str, ...] = DEFAULT_CLASSES
    split: tuple[float, float, float] = DEFAULT_SPLIT
    seed: int = 0
    version: str = "v1"
    background: float = 0.0  # share of images without a kept box to keep as background


def unit_hash(name: str, seed: int, salt: str = "split") -> float:
    """A number in [0, 1) fixed by the name, the seed and the purpose."""
    digest = hashlib.sha256(f"{salt}:{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(name: str, seed: int, split: tuple[float, float, float]) -> str:
    point, edge = unit_hash(name, seed) * sum(split), 0.0
    for key, share in zip(SPLIT_KEYS, split, strict=True):
        edge += share
        if point < edge:
            return key
    return SPLIT_KEYS[-1]


def remap(boxes: tuple[Box, ...], new_id: dict[int, int]) -> list[Box]:
    return [
        Box(new_id[box.class_id], box.cx, box.cy, box.w, box.h)
        for box in boxes
        if box.class_id in new_id
    ]


def write_subset(source: SourceDataset, out: Path, options: SubsetOptions) -> Path:
    """Write the subset to `<out>/<version>/` (which must not exist) and return that folder."""
    missing = [name for name in options.classes if name not in source.names]
    if missing:
        raise ValueError(f"classes not in the source: {', '.join(missing)}")
    if any(share < 0 for share in options.split) or sum(options.split) <= 0:
        raise ValueError(f"bad split {options.split}")
    target = out / options.version
    if target.exists():
        raise FileExistsError(f"{target} exists; pick a new --version")
    new_id = {source.names.index(name): index for index, name in enumerate(options.classes)}
    boxes: dict[str, Counter[str]] = {key: Counter() for key in SPLIT_KEYS}
    images: Counter[str] = Counter()
    backgrounds: Counter[str] = Counter()
    dropped = 0
    for image in source.images:
        kept = remap(image.boxes, new_id)
        if not kept and unit_hash(image.name, options.seed, "background") >= options.background:
            dropped += 1
            continue
        split = split_of(image.name, options.seed, options.split)
        _write_image(target, split, image, kept)
        images[split] += 1
        backgrounds[split] += not kept
        boxes[split].update(options.classes[box.class_id] for box in kept)
    names = dict(enumerate(options.classes))
    data_yaml = {"path": str(target.resolve()), "names": names}
    data_yaml.update({key: f"images/{key}" for key in SPLIT_KEYS})
    (target / "data.yaml").write_text(yaml.safe_dump(data_yaml, sort_keys=False))
    manifest = {
        "version": options.version,
        "source": {
            "format": source.format,
            "path": str(source.path.resolve()),
            "class_names": source.names_source,
            "skipped": source.skipped,
        },
        "options": {
            "classes": list(options.classes),
            "split": list(options.split),
            "seed": options.seed,
            "background": options.background,
        },
        "names": names,
        "images": {key: images[key] for key in SPLIT_KEYS},
        "background_images": {key: backgrounds[key] for key in SPLIT_KEYS},
        "dropped_background_images": dropped,
        "boxes": {key: {name: boxes[key][name] for name in options.classes} for key in SPLIT_KEYS},
    }
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return target


def _write_image(target: Path, split: str, image: SourceImage, boxes: list[Box]) -> None:
    image_dir, label_dir = target / "images" / split, target / "labels" / split
    image_dir.mkdir(parents=True, exist_ok=True)
    label_dir.mkdir(parents=True, exist_ok=True)
    link_or_copy(image.path, image_dir / image.name)
    lines = "".join(f"{box.line()}\n" for box in boxes)
    (label_dir / f"{Path(image.name).stem}.txt").write_text(lines)


def link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
