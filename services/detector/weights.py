"""Turn a detector model reference into a local weights file, and fingerprint it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from catalens.errors import ModelError

MLFLOW_SCHEME = "models:/"


def resolve_weights(reference: str) -> Path:
    """A local weights path for `reference`.

    Today a reference is a file path (`.tflite`, `.pt`, `.onnx`, ...). MLflow registry URIs
    (`models:/fashion-detector/Production`) are the planned second form: download the
    artifact with `mlflow.artifacts.download_artifacts(reference)` here and return the
    weights file inside it; nothing else in the detector has to change.
    """
    if reference.startswith(MLFLOW_SCHEME):
        raise ModelError(
            f"model registry references ({reference!r}) are not supported yet; "
            "give a local weights path"
        )
    path = Path(reference).expanduser()
    if not path.exists():
        raise ModelError(
            f"detector weights not found at {path}; set CATALENS_DETECTOR__MODEL to a weights "
            "file (the default is shared/models/yolov8n-coco/yolov8n_int8.tflite)"
        )
    return path


def weights_version(path: Path, length: int = 12) -> str:
    """The first `length` hex digits of the weights' sha256 (all files, for a folder)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:length]
