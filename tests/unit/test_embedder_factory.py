"""Which embedder the settings build, and what the user is told when none can be built."""

from __future__ import annotations

import pytest

from core.embedding.factory import (
    SHIPPED_ALIGNED,
    aligned_artifact,
    build_embedder,
    latest_aligned_artifact,
)
from core.errors import ModelError
from core.settings import EmbedderSettings


def test_an_unknown_backend_is_a_model_error_naming_the_choices(tmp_path):
    settings = EmbedderSettings.model_construct(**{**EmbedderSettings().__dict__, "backend": "x"})
    with pytest.raises(ModelError, match=r"unknown embedder backend 'x'.*aligned.*open_clip"):
        build_embedder(settings, data_dir=tmp_path)


def test_an_empty_model_is_the_committed_artifact_and_a_path_is_taken_as_given(tmp_path):
    assert aligned_artifact("", tmp_path) == SHIPPED_ALIGNED
    assert (SHIPPED_ALIGNED / "manifest.json").is_file()
    assert (SHIPPED_ALIGNED / "heads.safetensors").stat().st_size < 25 * 2**20
    assert aligned_artifact(str(tmp_path / "mine"), tmp_path) == tmp_path / "mine"


def test_latest_without_a_trained_artifact_tells_the_user_to_train_one(tmp_path):
    with pytest.raises(ModelError) as caught:
        build_embedder(EmbedderSettings(backend="aligned", model="latest"), data_dir=tmp_path)
    assert "catalens train embedder" in caught.value.message
    assert str(tmp_path / "models" / "aligned") in caught.value.message


def test_a_latest_text_file_names_the_version_folder(tmp_path):
    root = tmp_path / "models" / "aligned"
    (root / "v2").mkdir(parents=True)
    (root / "latest").write_text("v2\n")
    assert latest_aligned_artifact(tmp_path) == root / "v2"


def test_a_latest_symlink_is_followed(tmp_path):
    root = tmp_path / "models" / "aligned"
    (root / "v3").mkdir(parents=True)
    (root / "latest").symlink_to(root / "v3")
    assert latest_aligned_artifact(tmp_path) == (root / "v3").resolve()


def test_a_latest_pointer_to_a_missing_folder_is_a_model_error(tmp_path):
    root = tmp_path / "models" / "aligned"
    root.mkdir(parents=True)
    (root / "latest").write_text("gone")
    with pytest.raises(ModelError, match="catalens train embedder"):
        latest_aligned_artifact(tmp_path)


def test_open_clip_backend_builds_an_open_clip_embedder(tmp_path):
    settings = EmbedderSettings(backend="open_clip", model="ViT-S-32-alt", pretrained=None)
    embedder = build_embedder(settings, data_dir=tmp_path)
    assert embedder.identity.backend == "open_clip"
    assert embedder.embed_texts(["a red dress"]).shape == (1, embedder.identity.dim)


def test_open_clip_with_missing_weights_is_a_model_error(tmp_path):
    settings = EmbedderSettings(backend="open_clip", model="ViT-B-32", cache_dir=tmp_path)
    with pytest.raises(ModelError, match="offline cache"):
        build_embedder(settings, data_dir=tmp_path)
