"""The aligned artifact format and the vectors `AlignedEmbedder` gives.

The heads here are untrained (random): these tests check the format and the vector contract,
never search quality (tests/integration/test_aligned_training.py does that).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from core.embedding.aligned.artifact import MANIFEST, WEIGHTS
from core.embedding.aligned.embedder import AlignedEmbedder
from core.embedding.aligned.heads import HeadConfig
from core.errors import ModelError
from tests.fakes.aligned import write_untrained_artifact

HEADS = HeadConfig(dim=32, hidden=64, members=2)


def _write(root):
    return write_untrained_artifact(root, HEADS)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("aligned"))


@pytest.fixture(scope="module")
def embedder(artifact):
    return AlignedEmbedder.load(artifact, batch_size=2)


def _pictures() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    sizes = [(224, 224), (120, 300), (64, 64)]
    return [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for w, h in sizes]


def test_an_unknown_format_version_is_a_model_error_naming_it(tmp_path):
    target = _write(tmp_path)
    manifest = json.loads((target / MANIFEST).read_text())
    manifest["format_version"] = 99
    (target / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="format_version 99"):
        AlignedEmbedder.load(target)


def test_a_missing_weights_file_is_a_model_error_naming_it(tmp_path):
    target = _write(tmp_path)
    (target / WEIGHTS).unlink()
    with pytest.raises(ModelError, match=WEIGHTS):
        AlignedEmbedder.load(target)


def test_a_folder_without_a_manifest_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match=MANIFEST):
        AlignedEmbedder.load(tmp_path)


def test_the_root_latest_pointer_loads_the_newest_version(artifact, embedder):
    again = AlignedEmbedder.load(artifact.parent)
    assert again.identity == embedder.identity
    assert embedder.identity.version == artifact.name


def test_identity_names_the_backend_and_the_manifest_dim(embedder):
    assert embedder.identity.backend == "aligned"
    assert embedder.identity.name == "aligned-lite0-minilm"
    assert embedder.identity.dim == HEADS.out_dim == 64


def test_image_vectors_are_unit_float32_of_the_manifest_dim(embedder):
    vectors = embedder.embed_images(_pictures())
    assert vectors.dtype == np.float32
    assert vectors.shape == (3, embedder.identity.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_text_vectors_share_the_image_dim_and_are_unit(embedder):
    vectors = embedder.embed_texts(["blue jeans", "a red dress", "white sneakers"])
    assert vectors.dtype == np.float32
    assert vectors.shape == (3, embedder.identity.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_batch_gives_the_same_vectors_as_one_by_one(embedder):
    pictures = _pictures()
    batch = embedder.embed_images(pictures)
    single = np.concatenate([embedder.embed_images([p]) for p in pictures])
    assert np.allclose(batch, single, atol=1e-4)
    texts = ["blue jeans", "a red dress", "white sneakers"]
    assert np.allclose(
        embedder.embed_texts(texts),
        np.concatenate([embedder.embed_texts([t]) for t in texts]),
        atol=1e-4,
    )


def test_different_pictures_get_different_vectors(embedder):
    vectors = embedder.embed_images(_pictures())
    assert not np.allclose(vectors[0], vectors[1], atol=1e-3)
