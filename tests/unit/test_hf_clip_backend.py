"""Contract of the transformers CLIP embedder (`hf_clip`, the backend for FashionCLIP's folder).

The model here is a tiny, RANDOMLY initialised `CLIPModel` (hidden 32, 2 layers, 32-pixel images
in 8-pixel patches, 16-dim projection) with a hand-written byte-level BPE vocabulary, saved in
the same layout as patrickjohncyh/fashion-clip (config.json, model.safetensors, vocab.json,
merges.txt, preprocessor_config.json). Its vectors mean nothing: these tests check shapes, dtype,
normalisation, offline loading and that the backend's preprocessing and pooling agree with
transformers' own `CLIPProcessor` + `get_image_features` / `get_text_features`. Nothing is
downloaded.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.embedding.factory import build_embedder
from core.embedding.hf_clip_backend import HfClipEmbedder
from core.errors import ModelError
from core.settings import EmbedderSettings, Settings

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

DIM = 16
MAX_TOKENS = 16
MERGES = [("r", "e"), ("re", "d</w>"), ("d", "r")]


def _vocab() -> dict[str, int]:
    from tokenizers.pre_tokenizers import ByteLevel

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in sorted(ByteLevel.alphabet()):
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(char + "</w>", len(vocab))
    for left, right in MERGES:
        vocab.setdefault(left + right, len(vocab))
    return vocab


def _tiny_config(vocab_size: int) -> Any:
    text = {
        "vocab_size": vocab_size,
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": MAX_TOKENS,
        "bos_token_id": 0,
        "eos_token_id": 1,  # pooling reads the eos position: it must be this vocab's
        "pad_token_id": 1,
    }
    vision = {
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "image_size": 32,
        "patch_size": 8,
    }
    return transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=DIM)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    """(folder, model, processor): the saved folder and the in-memory objects it was saved from."""
    folder = tmp_path_factory.mktemp("tiny-clip")
    vocab = _vocab()
    (folder / "vocab.json").write_text(json.dumps(vocab))
    merges = "".join(f"{left} {right}\n" for left, right in MERGES)
    (folder / "merges.txt").write_text("#version: 0.2\n" + merges)
    torch.manual_seed(0)
    model = transformers.CLIPModel(_tiny_config(len(vocab))).eval()
    model.save_pretrained(folder)
    image_processor = transformers.CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    )
    image_processor.save_pretrained(folder)
    tokenizer = transformers.CLIPTokenizer(vocab=vocab, merges=MERGES)
    processor = transformers.CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)
    return folder, model, processor


@pytest.fixture(scope="module")
def tiny(reference: tuple[Path, Any, Any]) -> HfClipEmbedder:
    return HfClipEmbedder(reference[0], batch_size=2)


def _images(n: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 255, (40 + 8 * i, 56, 3), dtype=np.uint8)) for i in range(n)
    ]


def _unit(features: Any) -> np.ndarray:
    array = getattr(features, "pooler_output", features).float().numpy()
    return array / np.linalg.norm(array, axis=1, keepdims=True)


TEXTS = ["red dress", "black leather boots", "a bag " * 20]  # the last is over MAX_TOKENS


def test_image_and_text_vectors_are_float32_unit_rows_of_the_projection_dim(tiny):
    assert tiny.identity.dim == DIM
    for vectors in (tiny.embed_images(_images(3)), tiny.embed_texts(TEXTS)):
        assert vectors.shape == (3, DIM)
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_image_vectors_equal_clip_processor_then_get_image_features(tiny, reference):
    _, model, processor = reference
    images = _images(3)
    with torch.inference_mode():
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]
        expected = _unit(model.get_image_features(pixel_values=pixels))
    np.testing.assert_allclose(tiny.embed_images(images), expected, atol=1e-5)


def test_text_vectors_equal_clip_processor_then_get_text_features(tiny, reference):
    _, model, processor = reference
    tokens = processor(
        text=TEXTS, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
    )
    assert tokens["input_ids"].shape[1] == MAX_TOKENS  # the long text was truncated
    with torch.inference_mode():
        expected = _unit(model.get_text_features(**tokens))
    np.testing.assert_allclose(tiny.embed_texts(TEXTS), expected, atol=1e-5)


def test_a_batch_gives_the_same_vectors_as_single_calls(tiny):
    images = _images(3)
    single_images = np.concatenate([tiny.embed_images([image]) for image in images])
    single_texts = np.concatenate([tiny.embed_texts([text]) for text in TEXTS])
    np.testing.assert_allclose(tiny.embed_images(images), single_images, atol=1e-5)
    np.testing.assert_allclose(tiny.embed_texts(TEXTS), single_texts, atol=1e-5)


def test_empty_input_gives_zero_rows_and_grey_images_are_taken_as_rgb(tiny):
    assert tiny.embed_images([]).shape == (0, DIM)
    assert tiny.embed_texts([]).shape == (0, DIM)
    grey = _images(1)[0].convert("L")
    np.testing.assert_allclose(
        tiny.embed_images([grey]), tiny.embed_images([grey.convert("RGB")]), atol=1e-6
    )


def test_identity_names_the_folder_and_versions_by_the_weights_hash(tiny, reference):
    assert tiny.identity.backend == "hf_clip"
    assert tiny.identity.name == reference[0].name
    assert tiny.identity.version.startswith("sha256-")


def test_the_factory_builds_it_from_settings_and_from_the_environment(reference, monkeypatch):
    folder = reference[0]
    settings = EmbedderSettings(backend="hf_clip", model=str(folder), batch_size=4)
    embedder = build_embedder(settings)
    assert embedder.identity.backend == "hf_clip"
    assert embedder.embed_texts(["a red dress"]).shape == (1, DIM)
    monkeypatch.setenv("CATALENS_EMBEDDER__BACKEND", "hf_clip")
    monkeypatch.setenv("CATALENS_EMBEDDER__MODEL", str(folder))
    from_env = Settings().embedder
    assert (from_env.backend, from_env.model) == ("hf_clip", str(folder))


def test_an_org_repo_id_is_found_in_the_huggingface_cache_layout(tmp_path, reference):
    snapshot = tmp_path / "models--acme--tiny-clip" / "snapshots" / "rev1"
    shutil.copytree(reference[0], snapshot)
    loaded = HfClipEmbedder("acme/tiny-clip", cache_dir=tmp_path)
    assert loaded.identity.name == "acme/tiny-clip"
    np.testing.assert_allclose(
        loaded.embed_texts(TEXTS), HfClipEmbedder(reference[0]).embed_texts(TEXTS), atol=1e-6
    )


def test_a_missing_folder_is_a_model_error_naming_the_path(tmp_path):
    missing = tmp_path / "fashion-clip"
    with pytest.raises(ModelError, match="does not exist") as caught:
        build_embedder(EmbedderSettings(backend="hf_clip", model=str(missing)))
    assert str(missing) in caught.value.message


def test_an_org_repo_id_not_in_the_cache_names_the_cache_layout(tmp_path):
    with pytest.raises(ModelError) as caught:
        HfClipEmbedder("patrickjohncyh/fashion-clip", cache_dir=tmp_path)
    assert "models--patrickjohncyh--fashion-clip/snapshots/" in caught.value.message
    assert str(tmp_path) in caught.value.message


def test_no_model_setting_says_which_variable_to_set():
    with pytest.raises(ModelError, match="CATALENS_EMBEDDER__MODEL"):
        build_embedder(EmbedderSettings(backend="hf_clip"))


def test_an_incomplete_folder_lists_what_it_lacks(tmp_path, reference):
    folder = tmp_path / "partial"
    shutil.copytree(reference[0], folder)
    (folder / "merges.txt").unlink()
    (folder / "preprocessor_config.json").unlink()
    with pytest.raises(ModelError) as caught:
        HfClipEmbedder(folder)
    assert str(folder) in caught.value.message
    assert "vocab.json + merges.txt" in caught.value.message
    assert "preprocessor_config.json" in caught.value.message


def test_a_non_clip_checkpoint_is_refused(tmp_path, reference):
    folder = tmp_path / "siglip"
    shutil.copytree(reference[0], folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "siglip"}))
    with pytest.raises(ModelError, match="'siglip' checkpoint"):
        HfClipEmbedder(folder)
