"""Log a detector training run to MLflow and register its best weights (`@candidate`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from catalens.mlops.detector_training import TrainedDetector, artifact_files
from core.models.tracking import default_tracking_uri, tracking_at

DETECTOR_EXPERIMENT = "detector-training"
WEIGHTS_DIR = "weights"  # artifact folder of a run holding the registered file


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    version: str  # registered model version ("3")


def metric_key(name: str) -> str:
    """An MLflow-legal metric name: `metrics/mAP50(B)` → `metrics/mAP50_B`."""
    return re.sub(r"[^\w.\-/ :]", "_", name).strip("_").replace("__", "_")


def log_detector_run(
    result: TrainedDetector,
    uri: str | None = None,
    registered: str = "fashion-detector",
    alias: str = "candidate",
    experiment: str = DETECTOR_EXPERIMENT,
) -> LoggedRun:
    """Params, per-epoch metrics (step = epoch), final per-class metrics, curves, confusion
    matrices, results.csv and best.pt in one run; best.pt registered as a version @alias."""
    from core.models.registry import content_sha256, register_version

    with tracking_at(default_tracking_uri(uri)) as mlflow:
        mlflow.set_experiment(experiment)
        with mlflow.start_run(run_name=result.run_dir.name) as run:
            mlflow.log_params({k: str(v)[:500] for k, v in result.params.items()})
            for row in result.epochs:
                step = int(row.get("epoch", 0))
                values = {metric_key(k): v for k, v in row.items() if k != "epoch"}
                mlflow.log_metrics(values, step=step)
            mlflow.log_metrics({metric_key(k): v for k, v in result.metrics.items()})
            for file in artifact_files(result.run_dir):
                mlflow.log_artifact(str(file), artifact_path="plots" if _is_plot(file) else None)
            mlflow.log_artifact(str(result.weights), artifact_path=WEIGHTS_DIR)
            run_id = str(run.info.run_id)
            source = f"{run.info.artifact_uri}/{WEIGHTS_DIR}"
        version = register_version(
            registered,
            source=source,
            run_id=run_id,
            file=result.weights.name,
            sha256=content_sha256(result.weights),
            alias=alias,
            tags={"map50_95": f"{result.metrics.get('map50_95', 0.0):.6f}"},
        )
    return LoggedRun(run_id, version)


def _is_plot(file: Any) -> bool:
    return str(file.suffix).lower() in {".png", ".jpg"}
