"""Record a training run in MLflow when it is installed; say so and go on when it is not."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
REGISTERED_NAME = "aligned-embedder"
ARTIFACT_FOLDER = "model"  # the run's artifact folder holding manifest.json + heads


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
    registered: str = REGISTERED_NAME,
    alias: str = "candidate",
) -> str | None:
    """Log one run; returns its run id, or None when mlflow is not installed. On a tracking
    server the artifact folder also becomes a registered version of `registered` @alias."""
    try:
        import mlflow  # noqa: F401
    except ModuleNotFoundError:
        log.warning("mlflow is not installed: the run is not tracked (pip install catalens[mlops])")
        return None
    from core.models.registry import content_sha256, register_version
    from core.models.tracking import tracking_at

    with tracking_at(uri) as tracking:
        _use_experiment(tracking, uri, experiment)
        with tracking.start_run() as run:
            tracking.log_params({k: str(v)[:500] for k, v in params.items()})
            tracking.log_metrics(metrics)
            tracking.log_artifacts(str(artifact_dir), artifact_path=ARTIFACT_FOLDER)
            run_id = str(run.info.run_id)
            source = str(run.info.artifact_uri)
        if uri.startswith(("http://", "https://")):
            digest = content_sha256(artifact_dir)
            # held-out metrics as eval tags: `catalens promote aligned-embedder --split heldout
            # --metric t2i_r10` compares versions on them
            tags = {f"eval.heldout.{key}": f"{value:.6f}" for key, value in metrics.items()}
            version = register_version(
                registered, source, run_id, ARTIFACT_FOLDER, digest, alias, tags
            )
            log.info("registered %s version %s @%s", registered, version, alias)
    return run_id
