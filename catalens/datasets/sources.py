"""Read a labelled dataset, YOLO or COCO, into one shape: images with boxes and class names.

- YOLO: a folder (images/ + labels/, or data.yaml). Class names come from `--names FILE`, then
  data.yaml `names`, then the 80 COCO names (coco128 ships without a data.yaml). An image without
  a label file has no boxes; a label file without an image is skipped and counted.
- COCO: an instances JSON (`images`, `annotations`, `categories`) and a folder of images
  (default: `images/` beside the JSON, else the JSON's folder). `bbox` is `[x, y, w, h]` in
  pixels; it is clipped to the image and converted to YOLO's normalised centre form. Crowd
  annotations (`iscrowd: 1`) and boxes with no area left after clipping are dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from catalens.datasets.yolo import Box, class_names, coco80_names_file, image_folders, read_boxes


@dataclass(frozen=True)
class SourceImage:
    name: str  # file name, unique within the dataset
    path: Path
    boxes: tuple[Box, ...]  # class ids index SourceDataset.names


@dataclass
class SourceDataset:
    format: str  # "yolo" or "coco"
    path: Path
    names: list[str]
    names_source: str
    images: list[SourceImage]
    skipped: dict[str, int] = field(default_factory=dict)


def open_source(
    src: Path, images_dir: Path | None = None, names_file: Path | None = None
) -> SourceDataset:
    if src.is_file() and src.suffix == ".json":
        return read_coco(src, images_dir)
    return read_yolo(src, names_file)


def read_yolo(root: Path, names_file: Path | None = None) -> SourceDataset:
    names, names_source = class_names(root, names_file), str(names_file or "data.yaml")
    if names is None:
        coco80 = coco80_names_file()
        if coco80 is None:
            raise FileNotFoundError(f"{root}: no data.yaml names; pass --names FILE")
        names, names_source = class_names(root, coco80), str(coco80)
    if names is None:
        raise FileNotFoundError(f"{root}: no class names found; pass --names FILE")
    images: list[SourceImage] = []
    seen: set[str] = set()
    labels_without_image = 0
    for folder in image_folders(root):
        files = folder.image_files()
        stems = {image.stem for image in files}
        labels_without_image += sum(1 for lbl in folder.label_files() if lbl.stem not in stems)
        for image in files:
            if image.name in seen:
                raise ValueError(f"{image.name} appears in more than one image folder")
            seen.add(image.name)
            images.append(
                SourceImage(image.name, image, tuple(read_boxes(folder.label_for(image))))
            )
    return SourceDataset(
        "yolo", root, names, names_source, images, {"labels_without_image": labels_without_image}
    )


def read_coco(instances_json: Path, images_dir: Path | None = None) -> SourceDataset:
    if images_dir is None:
        beside = instances_json.parent / "images"
        images_dir = beside if beside.is_dir() else instances_json.parent
    data = json.loads(instances_json.read_text())
    categories = sorted(data["categories"], key=lambda category: category["id"])
    index_of = {category["id"]: index for index, category in enumerate(categories)}
    boxes_of: dict[int, list[Box]] = {}
    skipped = {"crowd": 0, "empty_after_clip": 0, "missing_image_file": 0}
    sizes = {image["id"]: (image["width"], image["height"]) for image in data["images"]}
    for annotation in data.get("annotations", []):
        if annotation.get("iscrowd", 0):
            skipped["crowd"] += 1
            continue
        box = _yolo_box(
            index_of[annotation["category_id"]], annotation["bbox"], *sizes[annotation["image_id"]]
        )
        if box is None:
            skipped["empty_after_clip"] += 1
            continue
        boxes_of.setdefault(annotation["image_id"], []).append(box)
    images: list[SourceImage] = []
    for image in sorted(data["images"], key=lambda image: image["file_name"]):
        path = images_dir / image["file_name"]
        if not path.is_file():
            skipped["missing_image_file"] += 1
            continue
        images.append(SourceImage(path.name, path, tuple(boxes_of.get(image["id"], []))))
    names = [category["name"] for category in categories]
    return SourceDataset("coco", instances_json, names, "categories", images, skipped)


def _yolo_box(class_id: int, bbox: list[float], width: int, height: int) -> Box | None:
    x, y, w, h = bbox
    left, top = max(0.0, x), max(0.0, y)
    right, bottom = min(float(width), x + w), min(float(height), y + h)
    if right <= left or bottom <= top:
        return None
    return Box(
        class_id,
        (left + right) / 2 / width,
        (top + bottom) / 2 / height,
        (right - left) / width,
        (bottom - top) / height,
    )
