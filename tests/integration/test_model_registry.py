"""The model lifecycle against the real MLflow server from `infra/`: a tiny detector is trained
(20 fashion-detection images, imgsz 320, 1 epoch: about 20 s here), logged and registered
@candidate, evaluated, promoted, then loaded by alias by the detector service, which stamps the
version on its events. Each module run registers its own model name."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import uuid
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from PIL import Image
from typer.testing import CliRunner

from catalens.cli.main import app
from catalens.mlops.detector_eval import evaluate_reference
from catalens.mlops.detector_training import DetectorTrainConfig, TrainedDetector, train_detector
from catalens.mlops.promote import promote
from catalens.mlops.tracking import LoggedRun, log_detector_run
from core.catalog.pg_server import free_port
from core.detection.yolo import YoloDetector
from core.errors import ModelError
from core.inference import ModelRunner
from core.models.registry import (
    content_sha256,
    register_version,
    resolve_or_fallback,
    resolve_registered,
)
from core.paths import shared_path
from core.settings import CropSettings, DetectorSettings
from schemas import ImageUploaded
from services.detector.handler import DetectorPorts, handle_images
from tests.fakes.ports import DictStore
from tests.integration.registry_kit import client, mlflow_uri, registry_env

pytest_plugins = ["tests.integration.infra_fixtures"]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

__all__ = ["client", "mlflow_uri", "registry_env"]  # fixtures

Trained = tuple[str, TrainedDetector, LoggedRun]
FASHION = {"sunglass", "hat", "jacket", "shirt", "pants", "shorts", "skirt", "dress", "bag", "shoe"}


@pytest.fixture(scope="module")
def fashion() -> Path:
    found = shared_path("datasets", "fashion-detection")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("shared/datasets/fashion-detection is missing")
        pytest.skip("shared/datasets/fashion-detection is missing")
    return found


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, fashion: Path, mlflow_uri: str) -> Trained:
    name = f"test-detector-{uuid.uuid4().hex[:8]}"
    config = DetectorTrainConfig(
        data=fashion, out=tmp_path_factory.mktemp("runs"), name="tiny", limit=20, epochs=1
    )
    result = train_detector(config)
    return name, result, log_detector_run(result, uri=mlflow_uri, registered=name)


def test_a_training_run_records_params_per_epoch_metrics_curves_and_the_weights(
    trained: Trained, client: MlflowClient
) -> None:
    _, result, logged = trained
    run = client.get_run(logged.run_id)
    assert run.data.params["epochs"] == "1" and run.data.params["imgsz"] == "320"
    assert run.data.params["limit"] == "20"
    history = client.get_metric_history(logged.run_id, "metrics/mAP50-95_B")
    assert [m.step for m in history] == [1]
    for key in ("map50", "map50_95", "precision", "recall", "train/box_loss"):
        assert key in run.data.metrics, key
    plots = {Path(a.path).name for a in client.list_artifacts(logged.run_id, "plots")}
    assert {"BoxPR_curve.png", "confusion_matrix.png", "results.png"} <= plots
    files = {a.path for a in client.list_artifacts(logged.run_id)}
    assert {"results.csv", "summary.json", "weights"} <= files
    [weights] = client.list_artifacts(logged.run_id, "weights")
    assert weights.path == "weights/best.pt" and weights.file_size == result.weights.stat().st_size


def test_the_best_weights_are_a_registered_version_with_the_candidate_alias(
    trained: Trained, client: MlflowClient
) -> None:
    name, result, logged = trained
    version = client.get_model_version_by_alias(name, "candidate")
    assert version.version == logged.version and version.run_id == logged.run_id
    assert version.tags["sha256"] == content_sha256(result.weights)
    assert version.tags["file"] == "best.pt"


def test_evaluation_logs_per_class_metrics_and_tags_the_version(
    trained: Trained, client: MlflowClient, fashion: Path, registry_env: Path
) -> None:
    name, _, logged = trained
    found = evaluate_reference(f"models:/{name}@candidate", fashion, limit=8)
    assert found.images == 8 and found.version == logged.version
    metrics = client.get_run(str(found.run_id)).data.metrics
    per_class = {key.split(".", 1)[1] for key in metrics if key.startswith("map50_95.")}
    assert per_class and per_class <= FASHION
    for label in per_class:
        assert {f"precision.{label}", f"recall.{label}", f"map50.{label}"} <= set(metrics)
    tags = client.get_model_version(name, logged.version).tags
    assert float(tags["eval.val.map50_95"]) == pytest.approx(metrics["map50_95"], abs=1e-6)


def test_promotion_moves_production_only_to_a_better_candidate(
    trained: Trained, client: MlflowClient, mlflow_uri: str, registry_env: Path
) -> None:
    name, _, first = trained
    client.set_model_version_tag(name, first.version, "eval.test.map50_95", "0.30")
    assert promote(name, split="test", tracking_uri=mlflow_uri).promote
    assert client.get_model_version_by_alias(name, "production").version == first.version

    source = client.get_model_version(name, first.version)
    second = register_version(
        name, str(source.source), first.run_id, "best.pt", source.tags["sha256"]
    )
    client.set_model_version_tag(name, second, "eval.test.map50_95", "0.25")
    worse = promote(name, split="test", tracking_uri=mlflow_uri)
    assert not worse.promote and worse.production == pytest.approx(0.30)
    assert client.get_model_version_by_alias(name, "production").version == first.version

    client.set_model_version_tag(name, second, "eval.holdout.map50_95", "0.99")
    unmeasured = promote(name, split="holdout", tracking_uri=mlflow_uri)
    assert not unmeasured.promote and "evaluate it on the same split" in unmeasured.reason

    client.set_model_version_tag(name, second, "eval.test.map50_95", "0.35")
    better = promote(name, split="test", tracking_uri=mlflow_uri)
    assert better.promote and better.candidate_version == second
    assert client.get_model_version_by_alias(name, "production").version == second


def test_the_detector_service_loads_the_production_alias_and_stamps_its_version_on_events(
    trained: Trained, client: MlflowClient, registry_env: Path
) -> None:
    name, result, logged = trained
    client.set_registered_model_alias(name, "production", logged.version)
    settings = DetectorSettings(model=f"models:/{name}@production", preset="all")
    detector = YoloDetector.from_settings(settings)
    sha = content_sha256(result.weights)
    assert detector.identity.name == name
    assert detector.identity.version == f"v{logged.version}-{sha[:12]}"

    store, data = DictStore(), _jpeg()
    upload = ImageUploaded(
        producer="test",
        image_id="img-1",
        bucket="b",
        key="images/img-1",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    asyncio.run(store.put(upload.key, data))
    ports = DetectorPorts(store, store, detector, ModelRunner("t"), CropSettings())
    outcome = asyncio.run(handle_images([upload], ports))
    [(_, event)] = outcome.publish
    assert (event.detector.name, event.detector.version) == (name, f"v{logged.version}-{sha[:12]}")


def test_a_running_detector_follows_its_alias_to_a_new_version_and_stamps_it(
    trained: Trained, client: MlflowClient, registry_env: Path
) -> None:
    from core.models.registry import current_stamp
    from services.detector.model_watch import check_once

    name, result, logged = trained
    client.set_registered_model_alias(name, "production", logged.version)
    settings = DetectorSettings(model=f"models:/{name}@production", preset="all")
    store, load = DictStore(), YoloDetector.from_settings
    ports = DetectorPorts(store, store, load(settings), ModelRunner("t"), CropSettings())
    assert not asyncio.run(check_once(ports, settings, current_stamp, load))  # alias unchanged

    first = client.get_model_version(name, logged.version)
    second = client.create_model_version(
        name, source=first.source, run_id=first.run_id, tags=first.tags
    )
    client.set_registered_model_alias(name, "production", second.version)
    assert asyncio.run(check_once(ports, settings, current_stamp, load))
    stamp = f"v{second.version}-{content_sha256(result.weights)[:12]}"
    assert ports.detector.identity.version == stamp

    data = _jpeg()
    upload = ImageUploaded(
        producer="test",
        image_id="img-2",
        bucket="b",
        key="images/img-2",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    asyncio.run(store.put(upload.key, data))
    [(_, event)] = asyncio.run(handle_images([upload], ports)).publish
    assert event.detector.version == stamp

    def unreachable(reference: str) -> str:
        raise ConnectionError("registry down")

    assert not asyncio.run(check_once(ports, settings, unreachable, load))
    assert ports.detector.identity.version == stamp  # still serving


def test_a_cached_model_that_fails_its_checksum_is_downloaded_again(
    trained: Trained, mlflow_uri: str, tmp_path: Path
) -> None:
    name, result, logged = trained
    reference = f"models:/{name}/{logged.version}"
    first = resolve_registered(reference, tmp_path, mlflow_uri)
    assert first.path == tmp_path / name / logged.version / "best.pt"
    first.path.write_bytes(b"not the weights")
    again = resolve_registered(reference, tmp_path, mlflow_uri)
    assert again.path == first.path
    assert content_sha256(again.path) == content_sha256(result.weights) == again.sha256


def test_an_unreachable_registry_falls_back_to_the_configured_local_file_with_a_warning(
    trained: Trained,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, result, _ = trained
    monkeypatch.setenv("CATALENS_MLFLOW__TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("CATALENS_MLFLOW__MODEL_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = DetectorSettings(model="models:/anything@production", preset="all")
    with pytest.raises(ModelError, match="cannot resolve models:/anything@production"):
        YoloDetector.from_settings(settings)
    with caplog.at_level(logging.WARNING, logger="core.models.registry"):
        detector = YoloDetector.from_settings(
            settings.model_copy(update={"fallback": str(result.weights)})
        )
    assert detector.identity.name == "best"
    assert detector.identity.version == content_sha256(result.weights)[:12]
    assert any("local fallback" in r.getMessage() for r in caplog.records)


def test_an_alias_the_registry_does_not_know_is_an_error_even_with_a_fallback(
    trained: Trained, mlflow_uri: str, tmp_path: Path
) -> None:
    name, result, _ = trained
    with pytest.raises(ModelError, match="alias nope not found"):
        resolve_or_fallback(f"models:/{name}@nope", tmp_path, result.weights, mlflow_uri)


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 40, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_the_cli_logs_a_finished_run_evaluates_it_and_promotes_it_once(
    trained: Trained, fashion: Path, mlflow_uri: str, registry_env: Path
) -> None:
    _, result, _ = trained
    name, uri = f"test-cli-{uuid.uuid4().hex[:8]}", ["--mlflow-uri", mlflow_uri]
    logged = CliRunner().invoke(
        app, ["train", "detector", "--log-existing", str(result.run_dir), "--register", name, *uri]
    )
    assert logged.exit_code == 0, logged.output
    assert f"{name} version 1 @candidate" in " ".join(logged.output.split())
    reference = f"models:/{name}@candidate"
    evaluated = CliRunner().invoke(
        app, ["evaluate", "detector", reference, "--data", str(fashion), "--limit", "4", *uri]
    )
    assert evaluated.exit_code == 0, evaluated.output
    promoted = CliRunner().invoke(app, ["promote", name, *uri])
    assert promoted.exit_code == 0 and "promoted version 1" in promoted.output
    again = CliRunner().invoke(app, ["promote", name, *uri])
    assert again.exit_code == 3 and "already version 1" in again.output
