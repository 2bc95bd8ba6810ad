"""`catalens data coco-subset`: a versioned YOLO class subset of coco128 (and of a COCO JSON)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from catalens.datasets.sources import open_source, read_coco
from catalens.datasets.subset import DEFAULT_CLASSES, SubsetOptions, write_subset
from catalens.datasets.yolo import read_boxes
from core.paths import shared_path

COCO128 = shared_path("datasets", "coco128")
COCO_NAMES = shared_path("models", "yolov8n-coco", "coco_labels.txt")
needs_coco128 = pytest.mark.skipif(
    COCO128 is None or COCO_NAMES is None, reason="shared/ (coco128 + coco_labels.txt) missing"
)


def expected_box_counts() -> Counter[str]:
    """Boxes per seed class in coco128, counted from the source label files of existing images."""
    names = COCO_NAMES.read_text().splitlines()
    counts: Counter[str] = Counter()
    for image in (COCO128 / "images" / "train2017").glob("*.jpg"):
        for box in read_boxes(COCO128 / "labels" / "train2017" / f"{image.stem}.txt"):
            if names[box.class_id] in DEFAULT_CLASSES:
                counts[names[box.class_id]] += 1
    return counts


def images_by_split(version_dir: Path) -> dict[str, set[str]]:
    return {
        split: {path.name for path in (version_dir / "images" / split).glob("*")}
        for split in ("train", "val", "test")
    }


@needs_coco128
def test_the_coco128_subset_keeps_exactly_the_seven_classes_with_every_box_remapped(tmp_path):
    version_dir = write_subset(open_source(COCO128), tmp_path, SubsetOptions())

    data = yaml.safe_load((version_dir / "data.yaml").read_text())
    assert data["names"] == dict(enumerate(DEFAULT_CLASSES))
    assert data["path"] == str(version_dir.resolve())
    written: Counter[str] = Counter()
    for label in (version_dir / "labels").glob("*/*.txt"):
        boxes = read_boxes(label)
        assert boxes, "images without a kept box are dropped by default"
        written.update(DEFAULT_CLASSES[box.class_id] for box in boxes)
    expected = expected_box_counts()
    assert written == expected
    assert set(written) == set(DEFAULT_CLASSES)
    manifest = json.loads((version_dir / "manifest.json").read_text())
    per_class = Counter()
    for counts in manifest["boxes"].values():
        per_class.update(counts)
    assert per_class == expected


@needs_coco128
def test_splits_partition_the_kept_images_and_depend_only_on_names_and_seed(tmp_path):
    first = images_by_split(write_subset(open_source(COCO128), tmp_path / "a", SubsetOptions()))
    again = images_by_split(write_subset(open_source(COCO128), tmp_path / "b", SubsetOptions()))
    other = write_subset(open_source(COCO128), tmp_path / "c", SubsetOptions(seed=1))

    kept = {p.name for p in (tmp_path / "a" / "v1" / "images").glob("*/*")}
    assert sum(len(names) for names in first.values()) == len(kept) == 74
    assert not (first["train"] & first["val"] or first["train"] & first["test"])
    assert not first["val"] & first["test"]
    assert all(first[split] for split in first), "every split gets images"
    assert first == again
    assert images_by_split(other) != first
    for split, names in first.items():  # labels sit beside their images, split by split
        labels = {p.stem for p in (tmp_path / "a" / "v1" / "labels" / split).glob("*.txt")}
        assert labels == {Path(name).stem for name in names}


@needs_coco128
def test_a_background_share_of_one_keeps_every_image_and_an_existing_version_is_refused(
    tmp_path,
):
    version_dir = write_subset(open_source(COCO128), tmp_path, SubsetOptions(background=1.0))

    manifest = json.loads((version_dir / "manifest.json").read_text())
    assert sum(manifest["images"].values()) == 128
    assert sum(manifest["background_images"].values()) == 128 - 74
    with pytest.raises(FileExistsError):
        write_subset(open_source(COCO128), tmp_path, SubsetOptions(background=1.0))


def test_a_coco_json_becomes_normalised_yolo_boxes_without_crowds_or_other_classes(tmp_path):
    (tmp_path / "images").mkdir()
    Image.fromarray(np.zeros((50, 100, 3), np.uint8)).save(tmp_path / "images" / "a.jpg")
    instances = {
        "images": [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 50}],
        "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}],
        "annotations": [
            {"image_id": 7, "category_id": 3, "bbox": [10, 5, 20, 10], "iscrowd": 0},
            {"image_id": 7, "category_id": 3, "bbox": [90, 40, 30, 30], "iscrowd": 0},
            {"image_id": 7, "category_id": 3, "bbox": [0, 0, 50, 50], "iscrowd": 1},
            {"image_id": 7, "category_id": 1, "bbox": [0, 0, 10, 10], "iscrowd": 0},
        ],
    }
    (tmp_path / "instances.json").write_text(json.dumps(instances))

    source = read_coco(tmp_path / "instances.json")
    options = SubsetOptions(classes=("car",), split=(1.0, 0.0, 0.0))
    version_dir = write_subset(source, tmp_path / "out", options)

    boxes = read_boxes(version_dir / "labels" / "train" / "a.txt")
    assert [box.class_id for box in boxes] == [0, 0]
    assert boxes[0].cx == pytest.approx(0.2) and boxes[0].cy == pytest.approx(0.2)
    assert boxes[0].w == pytest.approx(0.2) and boxes[0].h == pytest.approx(0.2)
    assert boxes[1].cx == pytest.approx(0.95) and boxes[1].w == pytest.approx(0.1)  # clipped
    assert source.skipped["crowd"] == 1
