"""The demo's sample catalog: product photos, COCO street scenes and fashion street photos from
`../shared` when it exists, or any folders the user names."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.paths import shared_path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


@dataclass(frozen=True)
class SampleSet:
    source: str
    paths: tuple[Path, ...]


def image_files(folder: Path, limit: int | None = None) -> list[Path]:
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return found[:limit] if limit is not None else found


STREET_PHOTOS = 300  # fashion street photos in the demo catalog


def default_samples(products: int) -> list[SampleSet]:
    """A few thousand catalog products, plus coco128 and 300 fashion street photos from the
    *train* split: the val photos stay out of the catalog, so shown to shop the look they find
    the items in them, not themselves."""
    wanted = [
        ("products", ("datasets", "fashion-products", "images"), products),
        ("coco128", ("datasets", "coco128", "images"), None),
        ("street", ("datasets", "fashion-detection", "images", "train"), STREET_PHOTOS),
    ]
    sets = []
    for source, parts, limit in wanted:
        folder = shared_path(*parts)
        if folder is not None:
            sets.append(SampleSet(source, tuple(image_files(folder, limit))))
    return sets


def folder_samples(folders: Iterable[Path]) -> list[SampleSet]:
    return [SampleSet(folder.name or "upload", tuple(image_files(folder))) for folder in folders]


def flatten(sets: Iterable[SampleSet]) -> Iterator[tuple[Path, str]]:
    for sample in sets:
        for path in sample.paths:
            yield path, sample.source
