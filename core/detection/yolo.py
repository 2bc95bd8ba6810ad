"""`YoloDetector`: the `Detector` port on an ultralytics YOLO model, loaded once, run in batches."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from PIL import Image

from core.detection.presets import resolve_class_ids
from core.detection.weights import load_weights
from core.domain import Box, Detection, ModelIdentity
from core.errors import ModelError
from core.settings import DetectorSettings

log = logging.getLogger(__name__)


class YoloDetector:
    """Batched object detection. Not thread-safe: run it from one thread (`ModelRunner`)."""

    def __init__(
        self,
        model: Any,
        identity: ModelIdentity,
        settings: DetectorSettings,
        class_ids: list[int] | None,
    ) -> None:
        self._model = model
        self.identity = identity
        self.settings = settings
        self.class_ids = class_ids
        self._names: dict[int, str] | None = None

    @classmethod
    def from_settings(cls, settings: DetectorSettings) -> YoloDetector:
        """Load the weights `settings.model` names, check the classes, and warm up once."""
        weights = load_weights(settings.model, settings.fallback)
        path = weights.path
        if settings.runtime == "openvino" and settings.device == "cpu" and path.suffix == ".pt":
            from core.detection.openvino_export import openvino_model

            path = openvino_model(path, weights.version, settings.imgsz)
        log.info("loading detector weights %s (%s %s)", path, weights.name, weights.version)
        with _quiet_ultralytics():
            try:
                from ultralytics import YOLO

                model = YOLO(str(path), task="detect")
            except Exception as exc:
                raise ModelError(f"could not load detector weights {path}: {exc}") from exc
        identity = ModelIdentity(backend="ultralytics", name=weights.name, version=weights.version)
        detector = cls(model, identity, settings, class_ids=None)
        detector.warm_up()  # builds the backend once; the class names come from it
        detector.class_ids = resolve_class_ids(detector.names, settings.preset, settings.classes)
        return detector

    def with_settings(self, settings: DetectorSettings) -> YoloDetector:
        """The same loaded model with other thresholds, batch size or classes (not weights)."""
        class_ids = resolve_class_ids(self.names, settings.preset, settings.classes)
        return YoloDetector(self._model, self.identity, settings, class_ids)

    @property
    def names(self) -> Mapping[int, str]:
        """Every class the model has, by id."""
        if self._names is None:
            with _quiet_ultralytics():
                self._names = {int(i): str(name) for i, name in self._model.names.items()}
        return self._names

    @property
    def labels(self) -> list[str]:
        """The classes this detector reports (after the preset / class filter)."""
        ids = self.class_ids if self.class_ids is not None else sorted(self.names)
        return [self.names[i] for i in ids]

    def warm_up(self) -> None:
        """Build the inference backend now, so the first real batch is not the slow one."""
        with _quiet_ultralytics():
            try:
                self._predict([Image.new("RGB", (64, 64), (114, 114, 114))])
            except Exception as exc:
                raise ModelError(f"detector {self.identity.key} failed to run: {exc}") from exc

    def detect(self, images: Sequence[Image.Image]) -> list[list[Detection]]:
        """Detections per image, in input order, each list sorted by score (highest first)."""
        images = [image if image.mode == "RGB" else image.convert("RGB") for image in images]
        size = self.settings.batch_size
        found: list[list[Detection]] = []
        for start in range(0, len(images), size):
            batch = images[start : start + size]
            for image, result in zip(batch, self._predict(batch), strict=True):
                found.append(self._to_detections(result, image.width, image.height))
        return found

    def _predict(self, images: list[Image.Image]) -> list[Any]:
        return list(
            self._model.predict(
                images,
                conf=self.settings.confidence,
                iou=self.settings.iou,
                imgsz=self.settings.imgsz,
                classes=self.class_ids,
                device=self.settings.device,
                verbose=False,
            )
        )

    def _to_detections(self, result: Any, width: int, height: int) -> list[Detection]:
        boxes = result.boxes
        detections = []
        rows = zip(boxes.xyxy.tolist(), boxes.cls.tolist(), boxes.conf.tolist(), strict=True)
        for xyxy, class_id, score in rows:
            box = _pixel_box(xyxy, width, height)
            if box.width > 0 and box.height > 0:
                label = self.names[int(class_id)]
                detections.append(Detection(label, int(class_id), float(score), box))
        return sorted(detections, key=lambda d: (-d.score, d.box.as_tuple(), d.label))


def _pixel_box(xyxy: Sequence[float], width: int, height: int) -> Box:
    """Whole pixels covering the float box, clipped to the image."""
    x1, y1, x2, y2 = xyxy
    return Box(
        x1=min(max(math.floor(x1), 0), width),
        y1=min(max(math.floor(y1), 0), height),
        x2=min(max(math.ceil(x2), 0), width),
        y2=min(max(math.ceil(y2), 0), height),
    )


@contextmanager
def _quiet_ultralytics() -> Iterator[None]:
    """ultralytics logs model loading to stdout (keep stdout for our own output), and its
    device selection lowers torch's thread count for the whole process (keep it for the
    embedder that shares the process)."""
    import torch
    from ultralytics.utils import LOGGER

    previous, threads = LOGGER.level, torch.get_num_threads()
    LOGGER.setLevel(max(previous, logging.WARNING))
    try:
        yield
    finally:
        LOGGER.setLevel(previous)
        torch.set_num_threads(threads)
