"""The shipped clothing detector on OpenVINO (the CPU default) finds what its PyTorch weights
find, and exports once."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.detection.openvino_export import openvino_model
from core.detection.weights import load_weights
from core.detection.yolo import YoloDetector
from core.domain import Detection
from core.imaging import load_image_file
from core.paths import shared_path
from core.settings import DetectorSettings

FASHION_VAL = shared_path("datasets", "fashion-detection", "images", "val")
pytestmark = pytest.mark.skipif(FASHION_VAL is None, reason="shared/ datasets are missing")


def iou(a: Detection, b: Detection) -> float:
    x1, y1 = max(a.box.x1, b.box.x1), max(a.box.y1, b.box.y1)
    x2, y2 = min(a.box.x2, b.box.x2), min(a.box.y2, b.box.y2)
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    union = a.box.width * a.box.height + b.box.width * b.box.height - inter
    return inter / union if union else 0.0


def test_openvino_and_pytorch_find_the_same_garments_on_street_photos() -> None:
    assert FASHION_VAL is not None
    photos = [load_image_file(p) for p in sorted(FASHION_VAL.glob("*.jpg"))[:6]]
    settings = DetectorSettings(preset="fashion")
    on_openvino = YoloDetector.from_settings(settings)
    on_torch = YoloDetector.from_settings(settings.model_copy(update={"runtime": "torch"}))
    assert on_openvino.identity == on_torch.identity  # the same weights, another runtime
    matched = total = 0
    for ov, pt in zip(on_openvino.detect(photos), on_torch.detect(photos), strict=True):
        confident = [d for d in pt if d.score >= 0.5]
        total += len(confident)
        matched += sum(any(o.label == d.label and iou(o, d) >= 0.8 for o in ov) for d in confident)
    assert total >= 10 and matched >= 0.9 * total


def test_the_export_is_made_once_and_reused(tmp_path: Path) -> None:
    weights = load_weights(DetectorSettings(preset="fashion").model)
    first = openvino_model(weights.path, weights.version, 320, cache=tmp_path)
    stamp = (first / "metadata.yaml").stat().st_mtime_ns
    again = openvino_model(weights.path, weights.version, 320, cache=tmp_path)
    assert again == first and (again / "metadata.yaml").stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no export folders left
