"""The real YOLOv8n (int8 TFLite) detector on real pictures, through the crop policy."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from core.detection.crop_policy import crop_rejection, make_crops
from core.detection.yolo import YoloDetector
from core.errors import ModelError, NotAnImage
from core.imaging import load_image, load_image_file
from core.paths import shared_path
from core.settings import CropSettings, DetectorSettings

WEIGHTS = shared_path("models", "yolov8n-coco", "yolov8n_int8.tflite")
FASHION_VAL = shared_path("datasets", "fashion-detection", "images", "val")
STREET_PHOTO = "100232.jpg"  # a person in a street photo

pytestmark = pytest.mark.skipif(WEIGHTS is None, reason="shared/ with the YOLO weights is missing")


def _settings(**changes: object) -> DetectorSettings:
    return DetectorSettings(model=str(WEIGHTS), **changes)


@pytest.fixture(scope="module")
def every_class() -> YoloDetector:
    return YoloDetector.from_settings(_settings(preset="all"))


@pytest.fixture(scope="module")
def coco7() -> YoloDetector:
    return YoloDetector.from_settings(_settings(preset="coco7"))


@pytest.fixture(scope="module")
def bus() -> Image.Image:
    from ultralytics.utils import ASSETS

    return load_image_file(Path(ASSETS) / "bus.jpg")


@pytest.fixture(scope="module")
def street() -> Image.Image:
    if FASHION_VAL is None:
        pytest.skip("shared/datasets/fashion-detection is missing")
    return load_image_file(FASHION_VAL / STREET_PHOTO)


def test_the_bus_photo_gives_four_people_and_a_bus(
    every_class: YoloDetector, bus: Image.Image
) -> None:
    [detections] = every_class.detect([bus])
    counts = Counter(detection.label for detection in detections)
    assert counts["person"] >= 4 and counts["bus"] == 1


def test_the_bus_photo_crops_all_obey_the_crop_policy(
    every_class: YoloDetector, bus: Image.Image
) -> None:
    policy = CropSettings()
    [detections] = every_class.detect([bus])
    crops = make_crops(bus, detections, policy)
    objects = [crop for crop in crops if crop.kind == "object"]
    counts = Counter(crop.label for crop in objects)
    # the default policy keeps the fourth person too: a 56x317 sliver cut by the left border
    assert counts["person"] >= 4 and counts["bus"] == 1
    for crop in objects:
        assert crop_rejection(crop.box, policy) is None
        assert 0 <= crop.box.x1 < crop.box.x2 <= bus.width
        assert 0 <= crop.box.y1 < crop.box.y2 <= bus.height
        assert crop.image.size == (crop.box.width, crop.box.height)
    assert crops[-1].kind == "image" and crops[-1].image.size == bus.size


def test_a_stricter_aspect_limit_drops_the_thin_person_at_the_border(
    every_class: YoloDetector, bus: Image.Image
) -> None:
    [detections] = every_class.detect([bus])
    crops = make_crops(bus, detections, CropSettings(max_aspect=5.0))
    assert Counter(crop.label for crop in crops)["person"] == 3


def test_the_coco7_preset_keeps_the_people_and_drops_the_bus(
    coco7: YoloDetector, bus: Image.Image
) -> None:
    [detections] = coco7.detect([bus])
    labels = {detection.label for detection in detections}
    assert "person" in labels and "bus" not in labels


def test_a_street_photo_from_the_fashion_set_gives_at_least_one_crop(
    coco7: YoloDetector, street: Image.Image
) -> None:
    [detections] = coco7.detect([street])
    objects = [c for c in make_crops(street, detections, CropSettings()) if c.kind == "object"]
    assert any(crop.label == "person" for crop in objects)


def test_a_batch_returns_one_list_per_image_in_input_order(
    every_class: YoloDetector, bus: Image.Image, street: Image.Image
) -> None:
    blank = Image.new("RGB", (320, 240), (255, 255, 255))
    batch = [bus, blank, street, bus]
    results = every_class.detect(batch)
    assert len(results) == 4
    assert results[1] == []
    assert results[0] == results[3] == every_class.detect([bus])[0]
    assert "bus" not in {detection.label for detection in results[2]}
    assert all(d.box.x2 <= street.width and d.box.y2 <= street.height for d in results[2])


def test_a_batch_larger_than_the_batch_size_is_split_but_complete(
    every_class: YoloDetector, bus: Image.Image
) -> None:
    small = every_class.with_settings(_settings(preset="all", batch_size=2))
    assert small.detect([bus] * 3) == every_class.detect([bus]) * 3


def test_the_identity_names_the_weights_file_and_its_hash(every_class: YoloDetector) -> None:
    identity = every_class.identity
    assert (identity.backend, identity.name, identity.dim) == ("ultralytics", "yolov8n_int8", 0)
    assert identity.version == "c8c5ea2b540c"  # sha256 in shared/DATA.md


def test_the_fashion_preset_with_the_coco_model_raises_a_model_error() -> None:
    with pytest.raises(ModelError, match=r"shoe.*The model has: .*person"):
        YoloDetector.from_settings(_settings(preset="fashion"))


def test_a_class_the_model_does_not_have_raises_a_model_error() -> None:
    with pytest.raises(ModelError, match="unicorn"):
        YoloDetector.from_settings(_settings(classes=["person", "unicorn"]))


def test_missing_weights_raise_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        YoloDetector.from_settings(DetectorSettings(model=str(tmp_path / "nope.tflite")))


def test_text_bytes_stay_not_an_image_after_ultralytics_patched_pil(
    every_class: YoloDetector,
) -> None:
    from ultralytics.utils import patches  # replaces Image.open with a pip-installing wrapper

    assert Image.open is patches.image_open
    with pytest.raises(NotAnImage):
        load_image(b"hello, this is a text file\n" * 20)


def test_the_cli_prints_a_line_per_image_and_goes_on_past_a_broken_one(
    every_class: YoloDetector, tmp_path: Path
) -> None:
    import json

    from typer.testing import CliRunner
    from ultralytics.utils import ASSETS

    from catalens.cli.main import app

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_broken.jpg").write_bytes((Path(ASSETS) / "bus.jpg").read_bytes()[:5000])
    (folder / "bus.jpg").write_bytes((Path(ASSETS) / "bus.jpg").read_bytes())
    drawn = tmp_path / "drawn"
    args = ["detect", str(folder), "--classes", "person,bus", "--draw", str(drawn)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1  # one image failed
    broken, bus = (json.loads(line) for line in result.stdout.splitlines())
    assert broken["error"] == "corrupt_image"
    assert "a_broken.jpg" in result.stderr and "Traceback" not in result.stderr
    labels = [item["label"] for item in bus["objects"]]
    assert "bus" in labels and labels[-1] == "image"
    [picture] = drawn.iterdir()
    assert Image.open(picture).size == (bus["width"], bus["height"])
