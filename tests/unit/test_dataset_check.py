"""`catalens data check`: planted defects in a small YOLO dataset are found; a clean one passes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from catalens.cli.main import app
from catalens.datasets.check import NEAR_DUPLICATE_DISTANCE, check_dataset
from catalens.datasets.image_hash import difference_hash, hamming

NAMES = ("shirt", "bag", "shoe")


def smooth_picture(seed: int) -> Image.Image:
    """A 96x96 picture of soft blobs: a few random pixels blown up, unlike any other seed's."""
    small = np.random.default_rng(seed).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((96, 96), Image.Resampling.BICUBIC)


def clean_dataset(root: Path) -> Path:
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    names = "".join(f"  {index}: {name}\n" for index, name in enumerate(NAMES))
    (root / "data.yaml").write_text(f"path: .\ntrain: images/train\nnames:\n{names}")
    for seed in range(5):
        smooth_picture(seed).save(root / "images" / "train" / f"img{seed}.png")
        label = f"{seed % 3} 0.5 0.5 0.4 0.3\n1 0.2 0.2 0.1 0.1\n" if seed else ""
        (root / "labels" / "train" / f"img{seed}.txt").write_text(label)  # img0: background
    return root


@pytest.fixture
def defective(tmp_path) -> Path:
    root = clean_dataset(tmp_path / "defective")
    images, labels = root / "images" / "train", root / "labels" / "train"
    smooth_picture(10).save(images / "unlabelled.png")
    (labels / "orphan.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (labels / "img1.txt").write_text("0 0.5 0.5 0.0 0.3\n")  # zero width
    (labels / "img2.txt").write_text("1 0.9 0.5 0.4 0.3\n")  # right edge at 1.1
    (labels / "img3.txt").write_text("3 0.5 0.5 0.4 0.3\n")  # only names 0..2 exist
    shutil.copy(images / "img4.png", images / "copy.png")
    (labels / "copy.txt").write_text("2 0.5 0.5 0.4 0.3\n")
    brighter = np.clip(np.asarray(smooth_picture(3), np.int16) + 6, 0, 255).astype(np.uint8)
    Image.fromarray(brighter).save(images / "recompressed.jpg", quality=85)
    (labels / "recompressed.txt").write_text("2 0.5 0.5 0.4 0.3\n")
    return root


def found(root: Path) -> set[tuple[str, frozenset[str]]]:
    """(kind, names of the files involved: one, or both images of a duplicate pair)."""
    return {
        (finding.kind, frozenset(p.name for p in (finding.path, finding.other) if p))
        for finding in check_dataset(root).findings
    }


def test_a_clean_dataset_has_no_defects_and_counts_its_background_and_classes(tmp_path):
    report = check_dataset(clean_dataset(tmp_path / "clean"))

    assert report.findings == []
    assert report.images == 5
    assert report.empty_label_files == 1
    assert dict(report.class_counts) == {0: 1, 1: 6, 2: 1}


def test_every_planted_defect_is_found_and_nothing_else(defective):
    assert found(defective) == {
        ("image without label", frozenset({"unlabelled.png"})),
        ("label without image", frozenset({"orphan.txt"})),
        ("degenerate box", frozenset({"img1.txt"})),
        ("degenerate box", frozenset({"img2.txt"})),
        ("class id out of range", frozenset({"img3.txt"})),
        ("exact duplicate", frozenset({"copy.png", "img4.png"})),
        ("near duplicate", frozenset({"recompressed.jpg", "img3.png"})),
    }


def test_a_brightened_recompressed_copy_is_near_and_different_pictures_are_far_apart(defective):
    images = defective / "images" / "train"

    def hash_of(name: str) -> bytes:
        return difference_hash((images / name).read_bytes())

    assert hamming(hash_of("img3.png"), hash_of("recompressed.jpg")) <= NEAR_DUPLICATE_DISTANCE
    assert hamming(hash_of("img1.png"), hash_of("img2.png")) > 3 * NEAR_DUPLICATE_DISTANCE


def test_the_command_exits_1_on_defects_and_0_when_clean_and_writes_a_chart(tmp_path, defective):
    runner = CliRunner()
    bad = runner.invoke(app, ["data", "check", str(defective), "--out", str(tmp_path / "bad")])
    clean = clean_dataset(tmp_path / "clean")
    good = runner.invoke(app, ["data", "check", str(clean), "--out", str(tmp_path / "good")])

    assert bad.exit_code == 1, bad.output
    assert "class id out of range" in bad.output
    assert good.exit_code == 0, good.output
    with Image.open(tmp_path / "good" / "class_counts.png") as chart:
        assert chart.width > 300
    assert (tmp_path / "good" / "report.json").is_file()
