"""Turn a detector model reference into a local weights file and the identity events carry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import ModelError

MLFLOW_SCHEME = "models:/"


@dataclass(frozen=True)
class Weights:
    path: Path
    name: str  # registered model name, or the weights file's stem
    version: str  # `v<registry version>-<sha12>`, or the file's sha12


def load_weights(reference: str, fallback: str | None = None) -> Weights:
    """A local file for `reference`: a weights path (`.tflite`, `.pt`, `.onnx`, ...) or a
    registry reference (`models:/fashion-detector@production`), fetched into the model cache
    and verified by sha256. When the registry cannot be reached, `fallback` (a local path) is
    used with a warning; without one that is a `ModelError`."""
    if reference.startswith(MLFLOW_SCHEME):
        from core.models.registry import RegisteredModel, default_cache_dir, resolve_or_fallback

        spare = Path(fallback).expanduser() if fallback else None
        found = resolve_or_fallback(reference, default_cache_dir(), spare)
        if isinstance(found, RegisteredModel):
            return Weights(found.path, found.name, found.stamp)
        reference = str(found)
    path = resolve_weights(reference)
    return Weights(path, path.stem, weights_version(path))


def resolve_weights(reference: str) -> Path:
    """An existing local weights path (registry references go through `load_weights`)."""
    path = Path(reference).expanduser()
    if not path.exists():
        raise ModelError(
            f"detector weights not found at {path}; set CATALENS_DETECTOR__MODEL to a weights "
            "file (the default is shared/models/yolov8n-coco/yolov8n_int8.tflite) or to "
            "models:/<name>@<alias>"
        )
    return path


def weights_version(path: Path, length: int = 12) -> str:
    """The first `length` hex digits of the weights' sha256 (all files, for a folder)."""
    from core.models.registry import content_sha256

    return content_sha256(path)[:length]
