"""Contract of the open_clip embedder. Random-weight models here test shapes and loading only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.embedding.open_clip_backend import OpenClipEmbedder
from core.errors import ModelError

open_clip = pytest.importorskip("open_clip")
SMALL = "ViT-S-32-alt"  # 43M parameters, builds in about half a second


def _images(n: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 255, (64 + 8 * i, 80, 3), dtype=np.uint8)) for i in range(n)
    ]


@pytest.fixture(scope="module")
def small() -> OpenClipEmbedder:
    return OpenClipEmbedder(SMALL, pretrained=None, batch_size=4)


@pytest.fixture(scope="module")
def small_weights(tmp_path_factory: pytest.TempPathFactory, small: OpenClipEmbedder) -> Path:
    from safetensors.torch import save_file

    path = tmp_path_factory.mktemp("weights") / "open_clip_model.safetensors"
    state = {k: v.contiguous() for k, v in small._model.state_dict().items()}
    save_file(state, str(path))
    return path


def test_image_and_text_vectors_are_float32_unit_rows_of_the_model_dim(small):
    images = small.embed_images(_images(3))
    texts = small.embed_texts(["red dress", "black leather boots", "a bag"])
    assert small.identity.dim == 256
    for vectors in (images, texts):
        assert vectors.shape == (3, 256)
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_batch_gives_the_same_vectors_as_single_calls(small):
    images, texts = _images(3), ["red dress", "blue jeans", "a white sneaker"]
    batched_images, batched_texts = small.embed_images(images), small.embed_texts(texts)
    single_images = np.concatenate([small.embed_images([image]) for image in images])
    single_texts = np.concatenate([small.embed_texts([text]) for text in texts])
    np.testing.assert_allclose(batched_images, single_images, atol=1e-5)
    np.testing.assert_allclose(batched_texts, single_texts, atol=1e-5)


def test_empty_input_gives_zero_rows_of_the_model_dim(small):
    assert small.embed_images([]).shape == (0, 256)
    assert small.embed_texts([]).shape == (0, 256)


def test_random_init_is_labelled_as_such_in_the_identity(small):
    assert small.identity.backend == "open_clip"
    assert small.identity.name == SMALL
    assert small.identity.version == "random-init"


def test_the_default_vit_b_32_builds_with_its_512_dim(tmp_path):
    model = OpenClipEmbedder("ViT-B-32", pretrained=None, cache_dir=tmp_path)
    assert model.embed_texts(["a red dress"]).shape == (1, 512)
    assert model.identity.dim == 512


def test_missing_openai_weights_explain_how_to_provide_them_offline(tmp_path):
    with pytest.raises(ModelError) as caught:
        OpenClipEmbedder("ViT-B-32", pretrained="openai", cache_dir=tmp_path)
    message = caught.value.message
    assert str(tmp_path) in message
    assert "models--timm--vit_base_patch32_clip_224.openai/snapshots/" in message
    assert "ViT-B-32.pt" in message
    assert "CATALENS_EMBEDDER__PRETRAINED" in message


def test_missing_hf_hub_weights_explain_the_cache_layout(tmp_path):
    with pytest.raises(ModelError) as caught:
        OpenClipEmbedder("hf-hub:patrickjohncyh/fashion-clip", cache_dir=tmp_path)
    assert "models--patrickjohncyh--fashion-clip/snapshots/" in caught.value.message
    assert "open_clip_config.json" in caught.value.message


def test_a_transformers_only_snapshot_is_named_as_the_wrong_format(tmp_path):
    snapshot = tmp_path / "models--patrickjohncyh--fashion-clip" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="transformers CLIPModel"):
        OpenClipEmbedder("hf-hub:patrickjohncyh/fashion-clip", cache_dir=tmp_path)


def test_a_weights_file_path_loads_those_weights_and_versions_by_hash(small, small_weights):
    loaded = OpenClipEmbedder(SMALL, pretrained=str(small_weights))
    assert loaded.identity.version.startswith("sha256-")
    images = _images(2)
    np.testing.assert_allclose(loaded.embed_images(images), small.embed_images(images), atol=1e-5)


def test_an_hf_hub_id_loads_from_the_huggingface_cache_layout(tmp_path, small, small_weights):
    snapshot = tmp_path / "models--acme--tiny-clip" / "snapshots" / "rev1"
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").symlink_to(small_weights)
    config = {"model_cfg": open_clip.get_model_config(SMALL), "preprocess_cfg": {}}
    (snapshot / "open_clip_config.json").write_text(json.dumps(config))
    loaded = OpenClipEmbedder("hf-hub:acme/tiny-clip", cache_dir=tmp_path)
    assert loaded.identity.name == "hf-hub:acme/tiny-clip"
    texts = ["red dress", "boots"]
    np.testing.assert_allclose(loaded.embed_texts(texts), small.embed_texts(texts), atol=1e-5)


def test_an_unknown_pretrained_tag_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="neither a known tag"):
        OpenClipEmbedder(SMALL, pretrained="no-such-tag", cache_dir=tmp_path)
