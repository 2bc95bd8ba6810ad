"""The aligned embedder against the real MLflow server from `infra/`: a training run registers
@candidate, promotion moves @production, and the embedder loads it by alias and stamps the
version on its events (the detector's lifecycle: test_model_registry.py)."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from catalens.mlops.promote import promote
from catalens.training.aligned.tracking import log_run
from core.embedding.aligned.heads import HeadConfig
from core.embedding.factory import build_embedder
from core.inference import ModelRunner
from core.models.registry import content_sha256
from core.settings import EmbedderSettings
from schemas import CaptionAttributes, ObjectsCaptioned
from services.embedder.handler import EmbedderPorts, handle_captioned
from tests.fakes.aligned import write_untrained_artifact
from tests.fakes.ports import DictStore
from tests.integration.registry_kit import client, mlflow_uri, registry_env

pytest_plugins = ["tests.integration.infra_fixtures"]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

__all__ = ["client", "mlflow_uri", "registry_env"]  # fixtures


def test_aligned_training_registers_a_candidate_and_the_embedder_loads_it_by_alias(
    client: MlflowClient, mlflow_uri: str, registry_env: Path, tmp_path: Path
) -> None:
    name = f"test-aligned-{uuid.uuid4().hex[:8]}"
    artifact = write_untrained_artifact(tmp_path / "aligned", HeadConfig(dim=32, hidden=64))
    run_id = log_run(mlflow_uri, "aligned-embedder-test", {}, {"t2i_r1": 0.0}, artifact, name)
    candidate = client.get_model_version_by_alias(name, "candidate")
    assert candidate.run_id == run_id and candidate.tags["sha256"] == content_sha256(artifact)
    decision = promote(name, metric="t2i_r1", split="heldout", tracking_uri=mlflow_uri)
    assert decision.promote and decision.candidate == 0.0
    assert client.get_model_version_by_alias(name, "production").version == candidate.version

    settings = EmbedderSettings(backend="aligned", model=f"models:/{name}@production")
    embedder = build_embedder(settings)
    heads_hash = json.loads((artifact / "manifest.json").read_text())["identity"]["version"]
    assert embedder.identity.version == f"v{candidate.version}-{heads_hash}"
    captioned = ObjectsCaptioned(
        producer="test",
        image_id="img-1",
        object_id="obj-1",
        caption="a red dress",
        attributes=CaptionAttributes(category="dress"),
        captioner="test",
    )
    ports = EmbedderPorts(DictStore(), embedder, ModelRunner("e"))
    [(_, event)] = asyncio.run(handle_captioned([captioned], ports)).publish
    assert event.embedder.version == f"v{candidate.version}-{heads_hash}"
