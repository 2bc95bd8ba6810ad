"""The YOLO dataset layout: image folders, their label folders, class names, label lines.

A YOLO dataset is a folder with `data.yaml` (`path`, `train`/`val`/`test`, `names`) or, without
one, an `images/` folder whose subfolders (or itself) hold the images. Labels live in the same
place with `images` replaced by `labels`, one `<stem>.txt` per image, one box per line:
`class cx cy w h`, all but the class normalised to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from core.paths import shared_path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
SPLIT_KEYS = ("train", "val", "test")


@dataclass(frozen=True)
class Box:
    class_id: int
    cx: float
    cy: float
    w: float
    h: float

    def line(self) -> str:
        return f"{self.class_id} {self.cx:.6f} {self.cy:.6f} {self.w:.6f} {self.h:.6f}"


@dataclass(frozen=True)
class ImageFolder:
    """One folder of images and the folder where their label files belong."""

    images: Path
    labels: Path

    def image_files(self) -> list[Path]:
        if not self.images.is_dir():
            return []
        return sorted(p for p in self.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)

    def label_files(self) -> list[Path]:
        return sorted(self.labels.glob("*.txt")) if self.labels.is_dir() else []

    def label_for(self, image: Path) -> Path:
        return self.labels / f"{image.stem}.txt"


def labels_dir_for(images_dir: Path) -> Path:
    """YOLO's rule: the last `images` part of the path becomes `labels`."""
    parts = list(images_dir.parts)
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] == "images":
            parts[index] = "labels"
            return Path(*parts)
    return images_dir  # labels next to the images


def read_data_yaml(root: Path) -> dict | None:
    path = root if root.suffix in (".yaml", ".yml") else root / "data.yaml"
    if not path.is_file():
        return None
    return yaml.safe_load(path.read_text()) or {}


def dataset_root(root: Path) -> Path:
    return root.parent if root.suffix in (".yaml", ".yml") else root


def image_folders(root: Path) -> list[ImageFolder]:
    """The dataset's image folders: from data.yaml's splits, else `images/` (or its subfolders)."""
    base = dataset_root(root)
    data = read_data_yaml(root)
    if data is not None and any(key in data for key in SPLIT_KEYS):
        declared = Path(str(data.get("path", ".")))
        top = declared if declared.is_absolute() and declared.is_dir() else base / declared
        found: list[Path] = []
        for key in SPLIT_KEYS:
            entries = data.get(key) or []
            for entry in [entries] if isinstance(entries, str) else entries:
                if (top / entry).is_dir() and (top / entry) not in found:
                    found.append(top / entry)
    else:
        images = base / "images"
        subfolders = sorted(p for p in images.iterdir() if p.is_dir()) if images.is_dir() else []
        found = subfolders or [images]
    return [ImageFolder(folder, labels_dir_for(folder)) for folder in found]


def class_names(root: Path, names_file: Path | None = None) -> list[str] | None:
    """Class names from `names_file` (one a line), else data.yaml `names`, else None."""
    if names_file is not None:
        return [line.strip() for line in names_file.read_text().splitlines() if line.strip()]
    data = read_data_yaml(root)
    names = (data or {}).get("names")
    if isinstance(names, dict):
        return [str(names[key]) for key in sorted(names, key=int)]
    if isinstance(names, list):
        return [str(name) for name in names]
    return None


def coco80_names_file() -> Path | None:
    """The 80 COCO class names shipped with the shared YOLOv8n weights (for coco128)."""
    return shared_path("models", "yolov8n-coco", "coco_labels.txt")


def parse_label_line(line: str) -> Box:
    """One label line as a Box; ValueError when it is not `int float float float float`."""
    fields = line.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields, got {len(fields)}")
    cx, cy, w, h = (float(value) for value in fields[1:])
    return Box(int(fields[0]), cx, cy, w, h)


def read_boxes(label_file: Path) -> list[Box]:
    """The boxes of a label file (none when it is missing); ValueError on a malformed line."""
    if not label_file.is_file():
        return []
    return [parse_label_line(line) for line in label_file.read_text().splitlines() if line.strip()]
