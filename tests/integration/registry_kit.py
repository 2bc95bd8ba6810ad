"""Fixtures of the model registry tests (test_model_registry.py,
test_model_registry_aligned.py): the real stack's MLflow server, a client of it, and the
environment that points the services' registry lookups at it with a model cache of the test's
own. Import them into the test module (with `__all__`, so they count as used)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from infra.stack import Endpoints


@pytest.fixture(scope="module")
def mlflow_uri(real_stack: Endpoints) -> str:
    return real_stack.mlflow_uri


@pytest.fixture
def client(mlflow_uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=mlflow_uri)


@pytest.fixture
def registry_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mlflow_uri: str) -> Path:
    cache = tmp_path / "model-cache"
    monkeypatch.setenv("CATALENS_MLFLOW__TRACKING_URI", mlflow_uri)
    monkeypatch.setenv("CATALENS_MLFLOW__MODEL_CACHE_DIR", str(cache))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return cache
