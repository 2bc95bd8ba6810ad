"""The pure parts of the model lifecycle: promotion decisions, version stamps, references,
metric names, checksums and the training data preparation (no MLflow, no ultralytics)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from catalens.mlops.detector_training import count_images, prepare_data, read_results_csv
from catalens.mlops.promote import decide
from catalens.mlops.tracking import metric_key
from core.errors import ModelError
from core.models.registry import content_sha256, parse_reference, version_stamp


def test_a_candidate_is_promoted_when_nothing_is_in_production_yet() -> None:
    assert decide(0.2, None).promote


def test_a_candidate_is_promoted_only_when_it_beats_production_by_the_margin() -> None:
    assert decide(0.41, 0.40).promote
    assert not decide(0.40, 0.40).promote
    assert not decide(0.41, 0.40, min_delta=0.02).promote
    assert decide(0.43, 0.40, min_delta=0.02).promote


def test_a_candidate_that_was_never_evaluated_is_never_promoted() -> None:
    decision = decide(None, 0.1)
    assert not decision.promote and "not been evaluated" in decision.reason


def test_the_version_stamp_names_the_registry_version_and_the_content() -> None:
    assert version_stamp("3", "c8c5ea2b540c" + "0" * 52) == "v3-c8c5ea2b540c"


def test_registry_references_name_an_alias_or_a_version_and_anything_else_is_refused() -> None:
    assert parse_reference("models:/fashion-detector@production") == (
        "fashion-detector",
        "production",
        None,
    )
    assert parse_reference("models:/fashion-detector/3") == ("fashion-detector", None, "3")
    for bad in ("models:/fashion-detector", "runs:/abc/weights", "models:/a/b/c"):
        with pytest.raises(ModelError):
            parse_reference(bad)


def test_ultralytics_metric_names_become_legal_mlflow_names() -> None:
    assert metric_key("metrics/mAP50-95(B)") == "metrics/mAP50-95_B"
    assert metric_key("train/box_loss") == "train/box_loss"


def test_a_checksum_changes_with_one_byte_and_a_folder_checksum_covers_names(
    tmp_path: Path,
) -> None:
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"weights")
    before = content_sha256(weights)
    weights.write_bytes(b"weightz")
    assert content_sha256(weights) != before
    folder = tmp_path / "artifact"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"x")
    first = content_sha256(folder)
    (folder / "a.bin").rename(folder / "b.bin")
    assert content_sha256(folder) != first


def test_results_csv_rows_become_floats_with_stripped_names(tmp_path: Path) -> None:
    csv = tmp_path / "results.csv"
    csv.write_text("  epoch, metrics/mAP50(B),lr/pg0\n1,0.25,0.01\n2,0.5,\n")
    rows = read_results_csv(csv)
    assert rows == [
        {"epoch": 1.0, "metrics/mAP50(B)": 0.25, "lr/pg0": 0.01},
        {"epoch": 2.0, "metrics/mAP50(B)": 0.5},
    ]
    assert read_results_csv(tmp_path / "missing.csv") == []


def test_prepared_data_has_an_absolute_root_and_lists_only_the_first_images(
    tmp_path: Path,
) -> None:
    data = tmp_path / "ds"
    for split in ("train", "val"):
        (data / "images" / split).mkdir(parents=True)
        for index in range(6):
            (data / "images" / split / f"{index}.jpg").write_bytes(b"")
    (data / "data.yaml").write_text(
        "path: .\ntrain: images/train\nval: images/val\nnames: {0: a}\n"
    )
    run = tmp_path / "run"
    run.mkdir()
    prepared = prepare_data(data, run, {"train": 4, "val": 2})
    spec = yaml.safe_load(prepared.read_text())
    assert spec["path"] == str(data.resolve())
    assert (run / "train.txt").read_text().splitlines() == [
        str(data.resolve() / "images" / "train" / f"{i}.jpg") for i in range(4)
    ]
    assert count_images(prepared, "train") == 4 and count_images(prepared, "val") == 2
    whole = prepare_data(data, run)
    assert count_images(whole, "val") == 6
