"""`AlignedEmbedder`: the locked towers plus the trained heads, behind the Embedder port."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.domain import ModelIdentity
from core.embedding.aligned.artifact import read_artifact
from core.embedding.aligned.heads import AlignedHeads, HeadConfig
from core.embedding.aligned.towers import TEXT_TOWER, ImageTower, TextTower, image_tower_spec
from core.embedding.base import BatchedEmbedder
from core.errors import ModelError


class AlignedEmbedder(BatchedEmbedder):
    def __init__(
        self,
        identity: ModelIdentity,
        heads: AlignedHeads,
        image_tower: ImageTower,
        text_tower: TextTower,
        flip_average: bool,
        batch_size: int = 32,
        device: str = "cpu",
    ) -> None:
        super().__init__(batch_size=batch_size, device=device)
        self.identity = identity
        self._heads = heads.to(device).eval()
        self._image_tower = image_tower
        self._text_tower = text_tower
        self._flip_average = flip_average

    @classmethod
    def load(
        cls, path: str | Path, device: str = "cpu", batch_size: int = 32, runtime: str = "torch"
    ) -> AlignedEmbedder:
        """Load an artifact dir (or a root with a `latest` file); towers load once, here."""
        artifact = read_artifact(path)
        manifest = artifact.manifest
        towers = manifest["towers"]
        if towers.get("text") != TEXT_TOWER:
            raise ModelError(f"aligned artifact {artifact.path}: unknown text tower {towers}")
        try:
            heads = AlignedHeads(HeadConfig(**manifest["heads"]))
            heads.load_state_dict(artifact.state)
        except (TypeError, RuntimeError) as exc:
            raise ModelError(f"aligned artifact {artifact.path}: heads do not load: {exc}") from exc
        ident = manifest["identity"]
        identity = ModelIdentity(
            backend="aligned", name=ident["name"], version=ident["version"], dim=int(ident["dim"])
        )
        return cls(
            identity,
            heads,
            ImageTower(image_tower_spec(towers["image"]), device=device, runtime=runtime),
            TextTower(device=device),
            flip_average=bool(manifest["preprocessing"].get("flip_average", False)),
            batch_size=batch_size,
            device=device,
        )

    def _embed_image_batch(self, images: list[Image.Image]) -> np.ndarray:
        views = (False, True) if self._flip_average else (False,)
        with torch.inference_mode():
            outputs = [
                self._heads.embed_images(torch.from_numpy(features).to(self.device))
                for features in self._image_tower.views(images, views)
            ]
            return torch.stack(outputs).mean(0).float().cpu().numpy()

    def _embed_text_batch(self, texts: list[str]) -> np.ndarray:
        with torch.inference_mode():
            features = torch.from_numpy(self._text_tower.features(texts)).to(self.device)
            return self._heads.embed_texts(features).float().cpu().numpy()
