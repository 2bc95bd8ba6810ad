"""`catalens detect PATH...`: one JSON line per image with the objects the detector keeps."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from PIL import Image
    from pydantic import ValidationError

    from core.detection.yolo import YoloDetector
    from core.domain import Crop
    from core.settings import CropSettings

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}

HELP = "\n\n".join(
    [
        "Detect objects in images (files, or folders searched recursively) and print one JSON "
        "object per image on stdout: path, width, height and objects (label, score, box, "
        "kind, crop size). The "
        "objects are the crops the crop policy keeps (CATALENS_DETECTOR__CROP__*), the whole "
        "image last.",
        "Defaults come from settings (CATALENS_DETECTOR__*); the model is "
        "CATALENS_DETECTOR__MODEL (shared/models/yolov8n-coco/yolov8n_int8.tflite).",
        "A bad image prints `error: PATH: reason` on stderr (and a JSON line with `error` on "
        "stdout) and the others go on; the exit code is 1 when any image failed, 2 when the "
        "model cannot be loaded. Progress goes to stderr.",
    ]
)


PRESET_HELP = (
    "class preset: coco7 (person, car, cell phone, laptop, book, handbag, sports ball), "
    "fashion (the clothing detector's 10 classes) or all (every class the model has)"
)
CLASSES_HELP = (
    "keep only these classes (comma-separated or repeated); overrides --preset, "
    "e.g. --classes person,bus"
)


def detect(
    paths: list[Path] = typer.Argument(..., help="image files or folders", show_default=False),
    preset: str | None = typer.Option(None, help=PRESET_HELP),
    classes: list[str] = typer.Option([], "--classes", help=CLASSES_HELP),
    conf: float | None = typer.Option(None, help="minimum detection confidence, 0..1"),
    iou: float | None = typer.Option(None, help="NMS IoU: overlapping boxes above it merge"),
    imgsz: int | None = typer.Option(None, help="model input size in pixels"),
    batch_size: int | None = typer.Option(None, help="images per model call"),
    save_crops: Path | None = typer.Option(
        None, help="write each kept crop as DIR/<image>/<nn>-<label>.jpg"
    ),
    draw: Path | None = typer.Option(
        None, help="write each image with its boxes and labels drawn as DIR/<image>.jpg"
    ),
) -> None:
    from pydantic import ValidationError

    from core.detection.yolo import YoloDetector
    from core.errors import CatalensError
    from core.settings import DetectorSettings, Settings

    names = [name.strip() for item in classes for name in item.split(",") if name.strip()]
    given = {
        "preset": preset,
        "confidence": conf,
        "iou": iou,
        "imgsz": imgsz,
        "batch_size": batch_size,
        "classes": names or None,
    }
    update = {k: v for k, v in given.items() if v is not None}
    try:
        config = DetectorSettings.model_validate({**Settings().detector.model_dump(), **update})
    except ValidationError as exc:
        raise typer.BadParameter(_first_error(exc)) from exc
    try:
        detector = YoloDetector.from_settings(config)
    except CatalensError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc

    files = list(_image_files(paths))
    typer.echo(f"detect: {len(files)} images, model {detector.identity.key}", err=True)
    failed = 0
    for start in range(0, len(files), config.batch_size):
        batch = files[start : start + config.batch_size]
        failed += _detect_batch(detector, config.crop, batch, save_crops, draw)
        typer.echo(f"detect: {start + len(batch)}/{len(files)}", err=True)
    if failed:
        raise typer.Exit(1)


def _detect_batch(
    detector: YoloDetector,
    policy: CropSettings,
    files: list[Path],
    crops_dir: Path | None,
    draw_dir: Path | None,
) -> int:
    """Print one JSON line per file (in order, failures included); return how many failed."""
    from core.detection.crop_policy import make_crops
    from core.errors import CatalensError
    from core.imaging import load_image_file

    loaded = []
    for path in files:
        try:
            loaded.append((path, load_image_file(path)))
        except (CatalensError, OSError) as exc:
            reason = getattr(exc, "reason", "unreadable")
            message = getattr(exc, "message", str(exc))
            typer.echo(f"error: {path}: {message}", err=True)
            typer.echo(json.dumps({"path": str(path), "error": reason, "message": message}))
    found = detector.detect([image for _, image in loaded]) if loaded else []
    for (path, image), detections in zip(loaded, found, strict=True):
        crops = make_crops(image, detections, policy)
        _write_outputs(path, image, crops, crops_dir, draw_dir)
        typer.echo(json.dumps(_record(path, image, crops)))
    sys.stdout.flush()
    return len(files) - len(loaded)


def _record(path: Path, image: Image.Image, crops: list[Crop]) -> dict[str, object]:
    objects = [
        {
            "label": crop.label,
            "score": round(crop.score, 4),
            "box": list(crop.box.as_tuple()),
            "kind": crop.kind,
            "crop": [crop.box.width, crop.box.height],
        }
        for crop in crops
    ]
    return {"path": str(path), "width": image.width, "height": image.height, "objects": objects}


def _write_outputs(
    path: Path,
    image: Image.Image,
    crops: list[Crop],
    crops_dir: Path | None,
    draw_dir: Path | None,
) -> None:
    from core.drawing import LabelledBox, draw_boxes
    from core.imaging import encode_jpeg

    name = _output_name(path)
    if crops_dir is not None:
        folder = crops_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, crop in enumerate(crops):
            label = crop.label.replace(" ", "_")
            (folder / f"{i:02d}-{label}.jpg").write_bytes(encode_jpeg(crop.image))
    if draw_dir is not None:
        draw_dir.mkdir(parents=True, exist_ok=True)
        boxes = [
            LabelledBox(c.box.as_tuple(), c.label, c.score) for c in crops if c.kind == "object"
        ]
        (draw_dir / f"{name}.jpg").write_bytes(encode_jpeg(draw_boxes(image, boxes)))


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"])
    return f"{field}: {error['msg']}"


def _image_files(paths: list[Path]) -> Iterator[Path]:
    """Files as given (whatever their suffix); folders walked for image suffixes, sorted."""
    for path in paths:
        if path.is_dir():
            found = (p for p in sorted(path.rglob("*")) if p.is_file())
            yield from (p for p in found if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            yield path


def _output_name(path: Path) -> str:
    """A file name for outputs about `path`: its stem plus a short hash of the full path, so
    `a/x.jpg` and `b/x.jpg` do not overwrite each other."""
    return f"{path.stem}-{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:6]}"


def register(app: typer.Typer) -> None:
    app.command("detect", help=HELP)(detect)
