"""open_clip image/text embedder whose weights are resolved OFFLINE from a local cache.

Weights are never downloaded: a pretrained tag (`ViT-B-32` + `openai`), an `hf-hub:org/repo` id
or a direct weights-file path is looked up on disk, and a missing file raises `ModelError` that
says where to put it. `pretrained=None` builds the architecture with random weights (contract
tests only; its vectors mean nothing).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.domain import ModelIdentity
from core.embedding.base import BatchedEmbedder
from core.errors import ModelError

log = logging.getLogger(__name__)

HF_PREFIX = "hf-hub:"
HF_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
HF_CONFIG_FILE = "open_clip_config.json"
DEFAULT_CACHE_DIRS = (Path.home() / ".cache/clip", Path.home() / ".cache/huggingface/hub")
_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode")


@dataclass(frozen=True)
class ResolvedWeights:
    """What open_clip needs to build the model without touching the network."""

    model_name: str  # a built-in name, or `local-dir:<snapshot>` for hf-hub ids
    checkpoint: str | None
    version: str
    quick_gelu: bool = False
    preprocess: dict[str, Any] = field(default_factory=dict)


def hf_snapshot(repo_id: str, filenames: tuple[str, ...], cache_dirs: list[Path]) -> Path | None:
    """First `<cache>/models--org--repo/snapshots/<rev>/<file>` present (huggingface_hub layout)."""
    folder = "models--" + repo_id.strip("/").replace("/", "--")
    for cache in cache_dirs:
        snapshots = cache / folder / "snapshots"
        ref = cache / folder / "refs" / "main"
        revs = [snapshots / ref.read_text().strip()] if ref.is_file() else []
        revs += sorted(snapshots.glob("*")) if snapshots.is_dir() else []
        for rev in revs:
            for name in filenames:
                if (rev / name).is_file():
                    return rev / name
    return None


def file_version(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256-" + digest.hexdigest()[:16]


def resolve_weights(model: str, pretrained: str | None, cache_dir: Path | None) -> ResolvedWeights:
    """Find the weights for (`model`, `pretrained`) on disk or raise `ModelError` saying how."""
    import open_clip

    caches = [Path(cache_dir)] if cache_dir else list(DEFAULT_CACHE_DIRS)
    if model.startswith(HF_PREFIX):
        return _resolve_hf_repo(model[len(HF_PREFIX) :], caches)
    if model.startswith("local-dir:"):
        return _resolve_local_dir(Path(model[len("local-dir:") :]))
    if model not in open_clip.list_models():
        raise ModelError(f"unknown open_clip model {model!r}; see open_clip.list_models()")
    if pretrained is None:
        return ResolvedWeights(model, None, "random-init")
    tag_cfg = open_clip.get_pretrained_cfg(model, pretrained)
    if not tag_cfg:
        if Path(pretrained).is_file():
            return ResolvedWeights(model, pretrained, file_version(Path(pretrained)))
        tags = open_clip.list_pretrained_tags_by_model(model)
        raise ModelError(
            f"open_clip pretrained {pretrained!r} for {model} is neither a known tag {tags} "
            "nor an existing weights file"
        )
    found = _find_tag_file(tag_cfg, caches)
    if found is None:
        raise ModelError(_missing_tag_message(model, pretrained, tag_cfg, caches))
    preprocess = {k: tag_cfg[k] for k in _PREPROCESS_KEYS if k in tag_cfg}
    quick_gelu = bool(tag_cfg.get("quick_gelu", False))
    return ResolvedWeights(model, str(found), pretrained, quick_gelu, preprocess)


def _find_tag_file(tag_cfg: dict[str, Any], caches: list[Path]) -> Path | None:
    hub = tag_cfg.get("hf_hub", "")
    if hub:
        repo_id, filename = os.path.split(hub)
        names = (filename,) if filename else HF_WEIGHT_FILES
        hit = hf_snapshot(repo_id, names, caches)
        if hit:
            return hit
    url = tag_cfg.get("url", "")
    for cache in caches:
        if url and (cache / os.path.basename(url)).is_file():
            return cache / os.path.basename(url)
    return None


def _missing_tag_message(model: str, tag: str, cfg: dict[str, Any], caches: list[Path]) -> str:
    where = ", ".join(str(c) for c in caches)
    ways = []
    if cfg.get("hf_hub"):
        repo_id, filename = os.path.split(cfg["hf_hub"])
        folder = "models--" + repo_id.replace("/", "--")
        ways.append(
            f"the Hugging Face repo {repo_id} in huggingface_hub cache layout: "
            f"<cache_dir>/{folder}/snapshots/<any-revision>/"
            f"{filename or ' or '.join(HF_WEIGHT_FILES)} (on a connected machine: "
            f"`hf download {repo_id} --cache-dir <cache_dir>`, then copy the folder)"
        )
    if cfg.get("url"):
        ways.append(f"the file <cache_dir>/{os.path.basename(cfg['url'])} (from {cfg['url']})")
    ways.append(
        "or set CATALENS_EMBEDDER__PRETRAINED to the path of a local .pt/.bin/.safetensors file"
    )
    return (
        f"open_clip weights for {model}/{tag} are not in the offline cache ({where}); nothing is "
        "downloaded here. Provide " + "; ".join(ways) + ". The cache_dir setting is "
        "CATALENS_EMBEDDER__CACHE_DIR."
    )


def _local_weights(folder: Path) -> Path | None:
    found = [folder / name for name in HF_WEIGHT_FILES if (folder / name).is_file()]
    return found[0] if (folder / HF_CONFIG_FILE).is_file() and found else None


def _resolve_local_dir(folder: Path) -> ResolvedWeights:
    weights = _local_weights(folder)
    if weights is None:
        raise ModelError(
            f"local-dir:{folder} needs {HF_CONFIG_FILE} and one of {', '.join(HF_WEIGHT_FILES)}"
        )
    return ResolvedWeights(f"local-dir:{folder}", None, file_version(weights))


def _resolve_hf_repo(repo_id: str, caches: list[Path]) -> ResolvedWeights:
    config = hf_snapshot(repo_id, (HF_CONFIG_FILE,), caches)
    if config is not None and _local_weights(config.parent) is not None:
        return _resolve_local_dir(config.parent)
    folder = "models--" + repo_id.replace("/", "--")
    transformers_only = hf_snapshot(repo_id, ("config.json",), caches)
    hint = (
        f" Found {transformers_only.parent} but it is a transformers CLIPModel checkpoint "
        "(config.json), not open_clip format: load it with CATALENS_EMBEDDER__BACKEND=hf_clip "
        "(CATALENS_EMBEDDER__MODEL=<that folder>) or use an open_clip-format repo."
        if transformers_only and config is None
        else ""
    )
    raise ModelError(
        f"open_clip weights for hf-hub:{repo_id} are not in the offline cache "
        f"({', '.join(str(c) for c in caches)}); nothing is downloaded here. Put "
        f"{HF_CONFIG_FILE} and {' or '.join(HF_WEIGHT_FILES)} in "
        f"<cache_dir>/{folder}/snapshots/<any-revision>/ (huggingface_hub cache layout; on a "
        f"connected machine `hf download {repo_id} --cache-dir <cache_dir>`), and set "
        f"CATALENS_EMBEDDER__CACHE_DIR=<cache_dir>.{hint}"
    )


class OpenClipEmbedder(BatchedEmbedder):
    """Any open_clip model; image and text vectors share one space."""

    def __init__(
        self,
        model: str = "ViT-B-32",
        pretrained: str | None = "openai",
        *,
        cache_dir: Path | None = None,
        batch_size: int = 32,
        device: str = "cpu",
    ) -> None:
        super().__init__(batch_size=batch_size, device=device)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        resolved = resolve_weights(model, pretrained, cache_dir)
        if resolved.version == "random-init":
            log.warning("open_clip %s has RANDOM weights: its vectors are meaningless", model)
        self._model, self._preprocess, self._tokenizer = _build(resolved, device)
        dim = int(self._encode_texts(["dimension probe"]).shape[-1])
        self.identity = ModelIdentity("open_clip", model, resolved.version, dim)

    def _embed_image_batch(self, images: list[Image.Image]) -> np.ndarray:
        import torch

        pixels = torch.stack([self._preprocess(image) for image in images]).to(self.device)
        with torch.inference_mode():
            return self._model.encode_image(pixels).float().cpu().numpy()

    def _embed_text_batch(self, texts: list[str]) -> np.ndarray:
        return self._encode_texts(texts)

    def _encode_texts(self, texts: list[str]) -> np.ndarray:
        import torch

        tokens = self._tokenizer(texts).to(self.device)
        with torch.inference_mode():
            return self._model.encode_text(tokens).float().cpu().numpy()


def _build(resolved: ResolvedWeights, device: str) -> tuple[Any, Any, Any]:
    import open_clip

    options = {f"image_{k}": v for k, v in resolved.preprocess.items()}
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            resolved.model_name,
            pretrained=resolved.checkpoint,
            device=device,
            force_quick_gelu=resolved.quick_gelu,
            pretrained_text=False,
            **options,
        )
        tokenizer = open_clip.get_tokenizer(resolved.model_name)
    except (RuntimeError, ValueError, OSError, KeyError) as exc:
        raise ModelError(f"open_clip could not load {resolved.model_name}: {exc}") from exc
    model.eval()
    return model, preprocess, tokenizer
