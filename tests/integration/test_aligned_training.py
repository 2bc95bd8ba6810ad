"""A tiny aligned embedder trained on 300 real product pairs learns to find held-out products
by their names, and the artifact it writes reloads to the very same vectors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from catalens.training.aligned import dataset
from catalens.training.aligned.evaluate import recall_at
from catalens.training.aligned.fit import FitParams
from catalens.training.aligned.train import TrainConfig, train_aligned
from core.embedding.aligned.embedder import AlignedEmbedder
from core.embedding.aligned.heads import HeadConfig
from core.imaging import load_image_file
from core.paths import shared_path

PRODUCTS = shared_path("datasets", "fashion-products")
pytestmark = [
    pytest.mark.slow,  # ~2 min here: extracts 300 images' features and loads both towers
    pytest.mark.skipif(PRODUCTS is None, reason="shared/datasets/fashion-products is missing"),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("aligned-train")
    config = TrainConfig(
        data=PRODUCTS,  # type: ignore[arg-type]
        data_dir=root,
        limit=300,
        holdout=100,
        seed=7,
        flip_views=False,
        heads=HeadConfig(dim=64, hidden=256),
        fit=FitParams(epochs=60, batch_size=64, seed=7),
    )
    return config, train_aligned(config)


def test_held_out_text_to_image_recall_beats_chance_by_far(trained):
    _, result = trained
    assert result.metrics["gallery_size"] == 100
    assert result.metrics["t2i_r10"] >= 0.35  # chance is 0.10
    assert result.metrics["t2i_r1"] > 0.05  # chance is 0.01


def test_the_held_out_split_is_never_trained_on_and_is_the_same_every_time(trained):
    config, result = trained
    products = dataset.select_subset(dataset.load_products(config.data), 300, config.seed)
    train, held = dataset.split_holdout(products, 100, config.seed)
    assert not {p.id for p in train} & {p.id for p in held}
    assert result.metrics["train_items"] == len(train) == 200
    again = dataset.split_holdout(list(reversed(products)), 100, config.seed)[1]
    assert {p.id for p in again} == {p.id for p in held}


def test_the_artifact_is_versioned_and_recorded_in_mlflow(trained):
    config, result = trained
    manifest = json.loads((result.artifact_path / "manifest.json").read_text())
    assert manifest["identity"]["version"] == result.artifact_path.name
    assert manifest["metrics"]["t2i_r10"] == result.metrics["t2i_r10"]
    latest = config.data_dir / "models" / "aligned" / "latest"
    assert latest.read_text().strip() == result.artifact_path.name
    assert result.run_id is not None
    assert (config.data_dir / "mlflow.db").is_file()
    assert (config.data_dir / "mlartifacts").is_dir()


def test_the_reloaded_artifact_reproduces_the_reported_recall(trained):
    config, result = trained
    products = dataset.select_subset(dataset.load_products(config.data), 300, config.seed)
    held = dataset.split_holdout(products, 100, config.seed)[1]
    embedder = AlignedEmbedder.load(result.artifact_path, batch_size=16)
    images = embedder.embed_images([load_image_file(p.image) for p in held])
    queries = embedder.embed_texts([p.name for p in held])
    recalls = recall_at(queries @ images.T, (1, 10))
    assert recalls[10] == pytest.approx(result.metrics["t2i_r10"], abs=0.011)
    assert recalls[1] == pytest.approx(result.metrics["t2i_r1"], abs=0.011)
    again = AlignedEmbedder.load(result.artifact_path.parent)
    assert np.array_equal(again.embed_texts(["blue jeans"]), embedder.embed_texts(["blue jeans"]))
