"""Hugging Face `transformers` CLIP embedder, loaded OFFLINE from a local model folder.

For CLIP checkpoints published as a transformers `CLIPModel` folder, which open_clip cannot read,
e.g. FashionCLIP (`patrickjohncyh/fashion-clip`). The folder holds `config.json` (model_type
`clip`), the weights (`model.safetensors` or `pytorch_model.bin`, or a sharded `*.index.json`),
the tokenizer (`tokenizer.json`, or `vocab.json` + `merges.txt`) and the image processor
(`preprocessor_config.json` or `processor_config.json`). Nothing is downloaded: every load passes
`local_files_only=True`. `model` is that folder's path, or an `org/repo` id found in
huggingface_hub cache layout (`<cache>/models--org--repo/snapshots/<rev>/`). Preprocessing is
the folder's own `CLIPProcessor`, so vectors match `CLIPModel.get_image_features` /
`get_text_features` on `CLIPProcessor` inputs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.domain import ModelIdentity
from core.embedding.base import BatchedEmbedder
from core.embedding.open_clip_backend import DEFAULT_CACHE_DIRS, file_version, hf_snapshot
from core.errors import ModelError

log = logging.getLogger(__name__)

BACKEND = "hf_clip"
WEIGHT_FILES = (
    "model.safetensors",
    "pytorch_model.bin",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = (("tokenizer.json",), ("vocab.json", "merges.txt"))
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
LOAD_ERRORS = (OSError, ValueError, RuntimeError, KeyError, TypeError)


@dataclass(frozen=True)
class ClipFolder:
    """A checked transformers CLIP folder: where it is, its identity name and weights version."""

    path: Path
    name: str  # `org/repo` when found in the cache or in a snapshot folder, else the folder name
    version: str  # `sha256-<16 hex>` of the weights file (of the index file when sharded)


def find_clip_folder(model: str, cache_dir: Path | None = None) -> ClipFolder:
    """Resolve `model` (a folder path, or an `org/repo` id in the offline cache) to a checked
    CLIP folder. Raises `ModelError` naming the path (and the caches searched) when the folder
    is missing, and listing the missing files when it is incomplete or not a CLIP checkpoint."""
    if not model:
        raise ModelError(
            "the hf_clip embedder needs a transformers CLIP folder: set CATALENS_EMBEDDER__MODEL "
            "to its path (config.json, model.safetensors, tokenizer and preprocessor files)"
        )
    path = Path(model).expanduser()
    if path.is_dir():
        return _checked(path, _snapshot_repo(path) or path.resolve().name)
    caches = [Path(cache_dir)] if cache_dir else list(DEFAULT_CACHE_DIRS)
    repo_shaped = model.count("/") == 1 and not model.startswith((".", "/", "~"))
    config = hf_snapshot(model, ("config.json",), caches) if repo_shaped else None
    if config is not None:
        return _checked(config.parent, model)
    searched = (
        f", nor is {model} in the offline cache ({', '.join(str(c) for c in caches)}; "
        f"huggingface_hub layout <cache>/models--{model.replace('/', '--')}/snapshots/<rev>/, "
        "set by CATALENS_EMBEDDER__CACHE_DIR)"
        if repo_shaped
        else ""
    )
    raise ModelError(
        f"hf_clip model folder {path} does not exist{searched}; nothing is downloaded here. "
        "Copy a transformers CLIP folder (e.g. patrickjohncyh/fashion-clip) to this machine "
        "and set CATALENS_EMBEDDER__MODEL to its path"
    )


def _snapshot_repo(path: Path) -> str | None:
    """`org/repo` for `<cache>/models--org--repo/snapshots/<rev>`, else None."""
    parts = path.resolve().parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        return parts[-3][len("models--") :].replace("--", "/")
    return None


def _checked(folder: Path, name: str) -> ClipFolder:
    weights = [folder / f for f in WEIGHT_FILES if (folder / f).is_file()]
    missing = [] if (folder / "config.json").is_file() else ["config.json"]
    missing += [] if weights else [" or ".join(WEIGHT_FILES)]
    if not any(all((folder / f).is_file() for f in group) for group in TOKENIZER_FILES):
        missing.append("tokenizer.json or vocab.json + merges.txt")
    if not any((folder / f).is_file() for f in PROCESSOR_FILES):
        missing.append(" or ".join(PROCESSOR_FILES))
    if missing:
        raise ModelError(f"hf_clip model folder {folder} lacks {'; '.join(missing)}")
    try:
        model_type = json.loads((folder / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelError(f"hf_clip: cannot read {folder / 'config.json'}: {exc}") from exc
    if model_type != "clip":
        raise ModelError(
            f"hf_clip model folder {folder} holds a {model_type!r} checkpoint; only "
            "transformers CLIPModel folders (model_type 'clip') load here"
        )
    return ClipFolder(folder, name, file_version(weights[0]))


class HfClipEmbedder(BatchedEmbedder):
    """A transformers `CLIPModel` + `CLIPProcessor`; image and text vectors share one space.

    `embed_images` / `embed_texts` return float32 `(n, projection_dim)` arrays with unit L2 rows
    (FashionCLIP: 512). Images are converted to RGB, then resized, cropped and normalised by the
    folder's image processor; texts are lower-cased, BPE-tokenised and truncated to the text
    tower's `max_position_embeddings` tokens (77 for CLIP). Runs under `torch.inference_mode`
    on `device` in float32. Raises `ModelError` when the folder or a file in it cannot be loaded.
    """

    def __init__(
        self,
        model: str | Path,
        *,
        cache_dir: Path | None = None,
        batch_size: int = 32,
        device: str = "cpu",
    ) -> None:
        super().__init__(batch_size=batch_size, device=device)
        folder = find_clip_folder(str(model), cache_dir)
        self._model, self._processor = _load(folder.path, device)
        config = self._model.config
        self._max_tokens = int(config.text_config.max_position_embeddings)
        dim = int(config.projection_dim)
        self.identity = ModelIdentity(BACKEND, folder.name, folder.version, dim)
        log.info("hf_clip %s (%s) loaded from %s on %s", folder.name, dim, folder.path, device)

    def _embed_image_batch(self, images: list[Image.Image]) -> np.ndarray:
        import torch

        rgb = [image if image.mode == "RGB" else image.convert("RGB") for image in images]
        pixels = self._processor(images=rgb, return_tensors="pt")["pixel_values"]
        with torch.inference_mode():
            out = self._model.get_image_features(pixel_values=pixels.to(self.device))
        return _pooled(out)

    def _embed_text_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        tokens = self._processor(
            text=texts,
            padding=True,
            truncation=True,
            max_length=self._max_tokens,
            return_tensors="pt",
        )
        with torch.inference_mode():
            out = self._model.get_text_features(
                input_ids=tokens["input_ids"].to(self.device),
                attention_mask=tokens["attention_mask"].to(self.device),
            )
        return _pooled(out)


def _pooled(out: Any) -> np.ndarray:
    """The projected features as float32 numpy: transformers 5 returns a model output whose
    `pooler_output` holds them, 4.x the tensor itself."""
    tensor = getattr(out, "pooler_output", out)
    return np.asarray(tensor.float().cpu().numpy(), dtype=np.float32)


def _load(folder: Path, device: str) -> tuple[Any, Any]:
    try:
        import torch
        from transformers import CLIPModel, CLIPProcessor
    except ImportError as exc:
        raise ModelError(f"the hf_clip embedder needs `transformers` installed: {exc}") from exc
    try:
        model: Any = CLIPModel.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
        processor = CLIPProcessor.from_pretrained(folder, local_files_only=True)
        model.to(device)
    except LOAD_ERRORS as exc:
        raise ModelError(f"transformers could not load the CLIP folder {folder}: {exc}") from exc
    model.eval()
    return model, processor
