"""`catalens.mlops.tflite_convert`: the shipped COCO int8 TFLite back as an ultralytics .pt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from catalens.mlops.detector_training import offline_ultralytics
from catalens.mlops.tflite_convert import convert_tflite_to_yolo, read_tflite_convs
from core.paths import shared_path

TFLITE = shared_path("models", "yolov8n-coco", "yolov8n_int8.tflite")
COCO128 = shared_path("datasets", "coco128", "images", "train2017")
pytestmark = pytest.mark.skipif(
    TFLITE is None or COCO128 is None, reason="needs ../shared (yolov8n-coco + coco128)"
)
IMAGES = ("000000000009.jpg", "000000000025.jpg", "000000000036.jpg", "000000000061.jpg")


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert TFLITE is not None and COCO128 is not None
    calibration = sorted(COCO128.glob("*.jpg"))[:8]
    out = tmp_path_factory.mktemp("tflite") / "yolov8n_coco.pt"
    with offline_ultralytics():
        return convert_tflite_to_yolo(TFLITE, out, calibration_images=calibration)


def _detections(weights: Path, image: Path) -> list[tuple[int, float, np.ndarray]]:
    with offline_ultralytics():
        from ultralytics import YOLO

        result = YOLO(str(weights), task="detect").predict(str(image), imgsz=640, verbose=False)
    boxes = result[0].boxes
    return [
        (int(c), float(s), b.numpy())
        for b, s, c in zip(boxes.xyxy, boxes.conf, boxes.cls, strict=True)
    ]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None).prod()
    union = (a[2:] - a[:2]).prod() + (b[2:] - b[:2]).prod() - inter
    return float(inter / union)


def _unmatched(ours: list, theirs: list, min_conf: float = 0.4) -> list:
    """Confident detections of `ours` with no same-class box of `theirs` at IoU > 0.8."""
    return [
        (cls, conf)
        for cls, conf, box in ours
        if conf >= min_conf and not any(c == cls and _iou(box, b) > 0.8 for c, _, b in theirs)
    ]


def test_the_tflite_holds_63_int8_convs_and_two_float_ones() -> None:
    assert TFLITE is not None
    convs, size = read_tflite_convs(TFLITE)
    assert size == (640, 640)
    assert len(convs) == 64
    assert [i for i, conv in enumerate(convs) if not conv.quantized] == [0, 63]
    assert np.allclose(convs[-1].weight.ravel(), np.arange(16))  # the DFL's fixed arange


def test_the_converted_model_finds_what_the_tflite_finds(converted: Path) -> None:
    assert TFLITE is not None and COCO128 is not None
    found = 0
    for name in IMAGES:
        tflite = _detections(TFLITE, COCO128 / name)
        ours = _detections(converted, COCO128 / name)
        assert _unmatched(tflite, ours) == [], name
        assert _unmatched(ours, tflite) == [], name
        found += sum(conf >= 0.4 for _, conf, _ in tflite)
    assert found >= 8


def test_the_fused_model_carries_the_tflite_weights_exactly(converted: Path) -> None:
    assert TFLITE is not None
    with offline_ultralytics():
        from ultralytics import YOLO

        model = YOLO(str(converted)).model.fuse()
    convs, _ = read_tflite_convs(TFLITE)
    first, dfl = model.model[0].conv, model.model[22].dfl.conv
    torch.testing.assert_close(first.weight, torch.from_numpy(convs[0].weight))
    torch.testing.assert_close(first.bias, torch.from_numpy(convs[0].bias), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(dfl.weight, torch.from_numpy(convs[-1].weight))
    assert model.names[0] == "person" and len(model.names) == 80


def test_training_on_ten_classes_transfers_everything_but_the_class_outputs(
    converted: Path,
) -> None:
    with offline_ultralytics():
        from ultralytics import YOLO
        from ultralytics.nn.tasks import DetectionModel

        source = YOLO(str(converted)).model
        fresh = DetectionModel("yolov8n.yaml", nc=10, verbose=False)
        fresh.load(source)
    theirs = source.state_dict()
    differ = [k for k, v in fresh.state_dict().items() if not torch.equal(v, theirs[k])]
    assert sorted(differ) == sorted(
        f"model.22.cv3.{level}.2.{part}" for level in range(3) for part in ("weight", "bias")
    )


def test_a_tflite_of_another_architecture_is_refused(tmp_path: Path) -> None:
    assert TFLITE is not None
    with offline_ultralytics(), pytest.raises(ValueError):
        convert_tflite_to_yolo(TFLITE, tmp_path / "s.pt", cfg="yolov8s.yaml")
