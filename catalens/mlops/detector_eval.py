"""Evaluate detector weights on a dataset split: overall and per-class precision, recall, mAP50
and mAP50-95, logged as an MLflow run and, for a registered version, as tags on that version
(`eval.<split>.<metric>`), which is what `catalens promote` compares."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from catalens.mlops.detector_training import (
    box_metrics,
    count_images,
    offline_ultralytics,
    prepare_data,
)

EVAL_EXPERIMENT = "detector-evaluation"
HEADLINE = ("precision", "recall", "map50", "map50_95")


@dataclass(frozen=True)
class Evaluation:
    weights: Path
    split: str
    images: int
    metrics: dict[str, float]
    model: str | None = None  # registered name, when a models:/ reference was evaluated
    version: str | None = None
    run_id: str | None = None


def evaluate_weights(
    weights: Path,
    data: Path,
    split: str = "val",
    imgsz: int = 320,
    limit: int | None = None,
    device: str = "cpu",
    batch: int = 8,
) -> Evaluation:
    """Validate `weights` on `split` of the YOLO dataset `data` (the first `limit` images)."""
    with tempfile.TemporaryDirectory(prefix="catalens-eval-") as scratch:
        work = Path(scratch)
        data_yaml = prepare_data(data, work, {split: limit} if limit else None)
        with offline_ultralytics():
            from ultralytics import YOLO

            model = YOLO(str(weights), task="detect")
            found = model.val(
                data=str(data_yaml),
                split=split,
                imgsz=imgsz,
                batch=batch,
                device=device,
                workers=0,
                plots=False,
                verbose=False,
                project=str(work),
                name="val",
            )
        images = count_images(data_yaml, split)
    return Evaluation(weights, split, images, box_metrics(found))


def evaluate_reference(
    reference: str,
    data: Path,
    split: str = "val",
    imgsz: int = 320,
    limit: int | None = None,
    device: str = "cpu",
    tracking_uri: str | None = None,
    cache_dir: Path | None = None,
) -> Evaluation:
    """Evaluate a weights path or a `models:/name@alias` version; log the metrics to MLflow and
    tag a registered version with them."""
    from catalens.mlops.tracking import metric_key
    from core.models.registry import SCHEME, default_cache_dir, resolve_registered
    from core.models.tracking import default_tracking_uri, tracking_at

    uri = default_tracking_uri(tracking_uri)
    name = version = None
    if reference.startswith(SCHEME):
        registered = resolve_registered(reference, cache_dir or default_cache_dir(), uri)
        weights, name, version = registered.path, registered.name, registered.version
    else:
        weights = Path(reference)
    result = evaluate_weights(weights, data, split, imgsz, limit, device)
    with tracking_at(uri) as mlflow:
        mlflow.set_experiment(EVAL_EXPERIMENT)
        with mlflow.start_run(run_name=f"{name or weights.stem}-{split}") as run:
            mlflow.set_tags({"model": name or str(weights), "model_version": version or ""})
            params = {"data": str(data), "split": split, "imgsz": imgsz, "limit": limit}
            mlflow.log_params(params | {"images": result.images, "reference": reference})
            mlflow.log_metrics({metric_key(k): v for k, v in result.metrics.items()})
            run_id = str(run.info.run_id)
        if name and version:
            client = mlflow.tracking.MlflowClient()
            for key in HEADLINE:
                value = f"{result.metrics.get(key, 0.0):.6f}"
                client.set_model_version_tag(name, version, f"eval.{split}.{key}", value)
            client.set_model_version_tag(name, version, f"eval.{split}.run_id", run_id)
    return Evaluation(weights, split, result.images, result.metrics, name, version, run_id)
