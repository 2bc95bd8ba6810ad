"""Record a training run in MLflow when it is installed; say so and go on when it is not."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def tracking_uri(explicit: str | None, data_dir: Path) -> str:
    """`explicit`, else `MLFLOW_TRACKING_URI`, else a local SQLite store under the data dir
    (MLflow 3 refuses the old `./mlruns` file store)."""
    local = f"sqlite:///{data_dir / 'mlflow.db'}"
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or local


def _use_experiment(mlflow: Any, uri: str, name: str) -> None:
    """Select the experiment; a new one on a local SQLite store keeps its artifacts beside the
    database (not in the working directory, MLflow's default)."""
    if mlflow.get_experiment_by_name(name) is None and uri.startswith("sqlite:///"):
        root = Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts"
        mlflow.create_experiment(name, artifact_location=root.as_uri())
    mlflow.set_experiment(name)


def log_run(
    uri: str,
    experiment: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    artifact_dir: Path,
) -> str | None:
    """Log one run; returns its run id, or None when mlflow is not installed."""
    try:
        import mlflow
    except ModuleNotFoundError:
        log.warning("mlflow is not installed: the run is not tracked (pip install catalens[mlops])")
        return None
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        mlflow.set_tracking_uri(uri)  # also exports MLFLOW_TRACKING_URI: restored below
        _use_experiment(mlflow, uri, experiment)
        with mlflow.start_run() as run:
            mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
            mlflow.log_metrics(metrics)
            mlflow.log_artifacts(str(artifact_dir), artifact_path="model")
            return str(run.info.run_id)
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
