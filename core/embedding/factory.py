"""Build the configured `Embedder`: the trained aligned towers (default), an open_clip model or
a transformers CLIP folder (`hf_clip`, e.g. FashionCLIP)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from core.errors import ModelError
from core.paths import REPO_ROOT, default_data_dir
from core.ports import Embedder
from core.settings import EmbedderSettings

REGISTRY_SCHEME = "models:/"
TRAIN_HINT = "catalens train embedder --data ../shared/datasets/fashion-products"
# the committed artifact an empty `embedder.model` loads (models/aligned/manifest.json)
SHIPPED_ALIGNED = REPO_ROOT / "models" / "aligned" / "lite2-colour"
LATEST = "latest"  # `embedder.model` naming the newest artifact trained into <data_dir>


def build_embedder(settings: EmbedderSettings, data_dir: Path | None = None) -> Embedder:
    """The embedder `settings.backend` names, loaded once; `ModelError` when it cannot load."""
    if settings.backend == "open_clip":
        from core.embedding.open_clip_backend import OpenClipEmbedder

        return OpenClipEmbedder(
            settings.model or "ViT-B-32",
            settings.pretrained,
            cache_dir=settings.cache_dir,
            batch_size=settings.batch_size,
            device=settings.device,
        )
    if settings.backend == "hf_clip":
        from core.embedding.hf_clip_backend import HfClipEmbedder

        return HfClipEmbedder(
            settings.model,
            cache_dir=settings.cache_dir,
            batch_size=settings.batch_size,
            device=settings.device,
        )
    if settings.backend == "aligned":
        from core.embedding.aligned import AlignedEmbedder

        if settings.model.startswith(REGISTRY_SCHEME):
            return load_registered_aligned(settings)
        path = aligned_artifact(settings.model, data_dir)
        return AlignedEmbedder.load(
            path, device=settings.device, batch_size=settings.batch_size, runtime=settings.runtime
        )
    raise ModelError(
        f"unknown embedder backend {settings.backend!r}; use 'aligned', 'open_clip' or 'hf_clip'"
    )


def aligned_artifact(model: str, data_dir: Path | None = None) -> Path:
    """The artifact folder `embedder.model` names: a path as given; "latest" for the newest one
    trained into `<data_dir>/models/aligned`; empty for the committed `SHIPPED_ALIGNED` (the
    newest trained one when the repository's models/ folder is absent). `ModelError` when
    "latest"/empty finds nothing."""
    if model == LATEST:
        return latest_aligned_artifact(data_dir)
    if model:
        return Path(model)
    if (SHIPPED_ALIGNED / "manifest.json").is_file():
        return SHIPPED_ALIGNED
    return latest_aligned_artifact(data_dir)


def latest_aligned_artifact(data_dir: Path | None = None) -> Path:
    """`<data_dir>/models/aligned/latest`: a symlink, or a text file naming the version folder."""
    root = (data_dir or default_data_dir()) / "models" / "aligned"
    pointer = root / "latest"
    target: Path | None = None
    if pointer.is_symlink() or pointer.is_dir():
        target = pointer.resolve()
    elif pointer.is_file():
        name = pointer.read_text().strip()
        target = (root / name) if name else None
    if target is None or not target.is_dir():
        raise ModelError(
            f"no trained aligned embedder under {root} (no usable `latest` pointer); "
            f"train one with `{TRAIN_HINT}`, or set CATALENS_EMBEDDER__MODEL to an artifact folder"
        )
    return target


def load_registered_aligned(settings: EmbedderSettings) -> Embedder:
    """`models:/aligned-embedder@production` through the checksum-verified model cache; the
    identity's version becomes `v<registry version>-<heads hash>`, so every vector event names
    the registry version. An unreachable registry falls back to `settings.fallback`."""
    from core.embedding.aligned import AlignedEmbedder
    from core.models.registry import (
        RegisteredModel,
        default_cache_dir,
        resolve_or_fallback,
        version_stamp,
    )

    spare = Path(settings.fallback).expanduser() if settings.fallback else None
    found = resolve_or_fallback(settings.model, default_cache_dir(), spare)
    path = found.path if isinstance(found, RegisteredModel) else found
    embedder = AlignedEmbedder.load(
        path, device=settings.device, batch_size=settings.batch_size, runtime=settings.runtime
    )
    if isinstance(found, RegisteredModel):
        stamp = version_stamp(found.version, embedder.identity.version)
        embedder.identity = replace(embedder.identity, version=stamp)
    return embedder
