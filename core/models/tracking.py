"""Where MLflow is: the tracking URI every model tool uses, and `mlflow` pointed at it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def default_tracking_uri(explicit: str | None = None) -> str:
    """`explicit`, else `$MLFLOW_TRACKING_URI`, else `CATALENS_MLFLOW__TRACKING_URI` / default."""
    if explicit:
        return explicit
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    from core.settings import Settings

    return Settings().mlflow.tracking_uri


@contextmanager
def tracking_at(uri: str) -> Iterator[Any]:
    """The `mlflow` module pointed at `uri`; `MLFLOW_TRACKING_URI` (which `set_tracking_uri`
    also exports) is restored afterwards, so one call never redirects the next."""
    import mlflow

    previous = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        mlflow.set_tracking_uri(uri)
        yield mlflow
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
